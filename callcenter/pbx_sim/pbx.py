"""The simulated Asterisk: channels, queues and members, and the event sequence of each call.

Sequences follow app_queue and the captures (reference/asterisk): an answered call is
QueueCallerJoin, AgentCalled, DialBegin, (answer) DialEnd, QueueCallerLeave, AgentConnect,
BridgeEnter x2, ..., AgentComplete, Hangup x2; ring-no-answer is AgentRingNoAnswer (RingTime in
ms) and a new AgentCalled after ``retry``; an abandon is QueueCallerAbandon then
QueueCallerLeave. Each inbound call first runs the IVR (FastAGI when a URL is configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from callcenter.pbx_sim import wire
from callcenter.pbx_sim.config import AgentConfig, CallerConfig, PhoneConfig, QueueConfig, SimConfig
from callcenter.pbx_sim.queue_log import QueueLogWriter
from callcenter.pbx_sim.wire import Bridge, Channel, Fields, MemberFields

log = logging.getLogger(__name__)

Sink = Callable[[str, str, bytes], None]  # (event name, class, encoded message)


@dataclass
class MemberQueue:
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_pause: int = 0
    login_time: int = 0
    membership: str = "dynamic"


class Member:
    """An agent's phone and its memberships; device state is shared by every queue."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.interface = cfg.interface
        self.name = cfg.name
        self.answer_after = cfg.answer_after
        self.registered = cfg.registered
        self.queues: dict[str, MemberQueue] = {}
        self.ringing = 0
        self.in_call = False
        self.busy_outbound = False
        self.wrapup_until = 0.0
        self.last_call = 0
        self.channel: Channel | None = None

    @property
    def peer(self) -> str:
        return self.interface.split("/", 1)[-1]

    def device_status(self) -> int:
        if not self.registered:
            return wire.DEVICE_UNAVAILABLE
        if self.ringing:
            return wire.DEVICE_RINGING
        if self.in_call or self.busy_outbound:
            return wire.DEVICE_INUSE
        return wire.DEVICE_NOT_INUSE

    def fields(self, queue: str, wrapuptime: float) -> MemberFields:
        mq = self.queues[queue]
        return MemberFields(
            queue=queue,
            name=self.name,
            interface=self.interface,
            state_interface=self.interface,
            membership=mq.membership,
            penalty=mq.penalty,
            calls_taken=mq.calls_taken,
            last_call=self.last_call,
            last_pause=mq.last_pause,
            login_time=mq.login_time,
            in_call=self.in_call,
            status=self.device_status(),
            paused=mq.paused,
            paused_reason=mq.reason,
            ringinuse=False,
            wrapuptime=0,
        )


@dataclass(eq=False)
class SimCall:
    """One inbound call and what really happened to it (the ground truth tests compare)."""

    caller: CallerConfig
    channel: Channel
    done: asyncio.Future[SimCall]
    outcome: str | None = None  # answered, abandoned, timeout, ivr_only
    queue: str | None = None
    queues: list[str] = field(default_factory=list)
    agent_interface: str | None = None
    member_name: str | None = None
    wait_s: int | None = None
    talk_s: int | None = None
    ring_no_answer: int = 0
    transferred: bool = False
    # (interface, wall clock) of each AgentCalled written: where screen-pop latency starts
    agent_called_at: list[tuple[str, float]] = field(default_factory=list)

    @property
    def uniqueid(self) -> str:
        return self.channel.uniqueid

    @property
    def linkedid(self) -> str:
        return self.channel.linkedid


class _Waiter:
    """A caller in one queue."""

    def __init__(self, call: SimCall, queue: QueueState, priority: int, joined: float) -> None:
        self.call = call
        self.queue = queue
        self.priority = priority
        self.joined = joined
        self.original_position = 0
        self.assigned: list[Member] = []
        self.wake = asyncio.Event()
        self.next_try = 0.0
        self.ringing = False
        self.interrupt: str | None = None  # "caller", "agent", "redirect"
        self.redirect_to: tuple[str, str] | None = None


class QueueState:
    def __init__(self, cfg: QueueConfig) -> None:
        self.cfg = cfg
        self.waiting: list[_Waiter] = []
        self.members: list[str] = []  # interfaces in join order (rrmemory/linear)
        self.rr_next = 0
        self.completed = 0
        self.abandoned = 0
        self.holdtime = 0.0
        self.talktime = 0.0
        self.sl_answered = 0

    def position(self, w: _Waiter) -> int:
        return self.waiting.index(w) + 1

    def insert(self, w: _Waiter) -> None:
        i = len(self.waiting)
        while i > 0 and self.waiting[i - 1].priority < w.priority:
            i -= 1
        self.waiting.insert(i, w)
        w.original_position = i + 1


class PbxSimulator:
    """Plays Asterisk for one or more AMI sessions (see :mod:`callcenter.pbx_sim.server`)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.scale = max(config.time_scale, 1e-6)
        self.rng = random.Random(config.seed)
        self.queues: dict[str, QueueState] = {q.name: QueueState(q) for q in config.queues}
        self.members: dict[str, Member] = {}
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, SimCall] = {}
        self._interruptible: dict[str, Callable[[str, tuple[str, str] | None], None]] = {}
        self._sinks: list[tuple[set[str] | None, Sink]] = []
        self._interest: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._uid = itertools.count(1)
        # asterisk.conf's systemname prefixes every channel id ("<systemname>-<epoch>.<n>")
        self._uid_prefix = f"{config.systemname}-" if config.systemname else ""
        self._chan = itertools.count(1)
        self._kick_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started = time.time()
        self.events_emitted = 0
        self.record: list[tuple[str, Fields]] | None = None
        self.queue_log = QueueLogWriter(config.queue_log) if config.queue_log else None
        # every QueuePause that reached a member, as (interface, paused, reason): ground truth
        # of how often the platform paused a desk
        self.pause_actions: list[tuple[str, bool, str]] = []
        now = int(time.time())
        for a in config.agents:
            m = Member(a)
            self.members[a.interface] = m
            if a.logged_in:
                for q in a.queues:
                    if q in self.queues:
                        m.queues[q] = MemberQueue(
                            penalty=a.penalty,
                            paused=a.paused,
                            reason=a.paused_reason,
                            login_time=now,
                            last_pause=now if a.paused else 0,
                        )
                        self.queues[q].members.append(a.interface)

    # -- plumbing -----------------------------------------------------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def add_sink(self, classes: set[str] | None, sink: Sink) -> Callable[[], None]:
        """Receive every event of ``classes`` (None: all) as encoded bytes."""
        entry = (classes, sink)
        self._sinks.append(entry)
        self._recompute_interest()

        def remove() -> None:
            if entry in self._sinks:
                self._sinks.remove(entry)
                self._recompute_interest()

        return remove

    def _recompute_interest(self) -> None:
        interest: set[str] = set()
        for classes, _ in self._sinks:
            interest |= set(wire.EVENT_CLASS.values()) if classes is None else classes
        self._interest = interest

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("模拟呼叫任务失败 / simulated call failed", exc_info=task.exception())

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.queue_log is not None:
            self.queue_log.close()

    def _qlog(self, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        """A queue_log line, written where app_queue writes it."""
        if self.queue_log is not None:
            self.queue_log.write(callid, queue, agent, event, *data)

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(0.0, sim_seconds) / self.scale)

    def sim_elapsed(self, since_monotonic: float) -> float:
        return (time.monotonic() - since_monotonic) * self.scale

    def _emit(self, name: str, body: Fields) -> None:
        cls = wire.EVENT_CLASS.get(name, "call")
        if cls not in self._interest and self.record is None:
            return
        header: Fields = [("Event", name), ("Privilege", f"{cls},all")]
        if self.config.timestamp_events:
            header.append(("Timestamp", f"{time.time():.6f}"))
        fields = header + body
        self.events_emitted += 1
        if self.record is not None:
            self.record.append((name, fields))
        data = wire.encode(fields)
        for classes, sink in list(self._sinks):
            if classes is None or cls in classes:
                sink(name, cls, data)

    def _emit_soon(self, name: str, body: Fields) -> None:
        """Member events reach AMI through stasis, after the action's own response."""
        if self._loop is None:
            self._emit(name, body)
        else:
            self._loop.call_soon(self._emit, name, body)

    def _snap(self, ch: Channel, prefix: str = "") -> Fields:
        return ch.snapshot(prefix, self.config.channelvars)

    def _new_channel(self, tech_peer: str, *, linkedid: str | None = None, **kw: Any) -> Channel:
        uid = f"{self._uid_prefix}{int(time.time())}.{next(self._uid)}"
        ch = Channel(
            name=f"{tech_peer}-{next(self._chan):08x}",
            uniqueid=uid,
            linkedid=linkedid or uid,
            created_at=time.monotonic(),
            **kw,
        )
        self.channels[ch.name] = ch
        self._emit("Newchannel", self._snap(ch))
        return ch

    def _agent_leg(self, m: Member, caller: Channel, **kw: Any) -> Channel:
        """A new channel to a member's phone on the caller's call, showing the caller; a queue's
        ring and a desk's dial open it alike."""
        return self._new_channel(
            m.interface,
            linkedid=caller.linkedid,
            caller_num=m.peer,
            caller_name=m.name,
            connected_num=caller.caller_num,
            connected_name=caller.caller_name,
            context=self.config.agent_context,
            exten=caller.exten,
            **kw,
        )

    def _caller_leaves(self, w: _Waiter, pos: int) -> None:
        # answered or given up, a caller leaves the queue's waiting list with the same event
        q, ch = w.queue, w.call.channel
        q.waiting.remove(w)
        self._emit(
            "QueueCallerLeave",
            [
                *self._snap(ch),
                ("Queue", q.cfg.name),
                ("Position", str(pos)),
                ("Count", str(len(q.waiting))),
            ],
        )

    def _state(self, ch: Channel, state: int) -> None:
        ch.state = state
        self._emit("Newstate", self._snap(ch))

    def _newexten(self, ch: Channel, app: str, data: str) -> None:
        ch.priority += 1
        ch.application, ch.application_data = app, data
        self._emit(
            "Newexten",
            [*self._snap(ch), ("Extension", ch.exten), ("Application", app), ("AppData", data)],
        )

    def _varset(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        ch.touch()
        self._emit("VarSet", [*self._snap(ch), ("Variable", name), ("Value", value)])

    def _hangup(self, ch: Channel, cause: int = 16) -> None:
        if ch.hungup:
            return
        ch.hungup = True
        self.channels.pop(ch.name, None)
        self._interruptible.pop(ch.name, None)
        self._emit(
            "Hangup",
            [
                *self._snap(ch),
                ("Cause", str(cause)),
                ("Cause-txt", wire.CAUSE_TXT.get(cause, "Unknown")),
            ],
        )

    def _member_status(self, m: Member, event: str = "QueueMemberStatus") -> None:
        for qname in m.queues:
            q = self.queues[qname]
            self._emit(event, m.fields(qname, q.cfg.wrapuptime).member_event_body())

    def _agent_body(self, caller: Channel, leg: Channel, q: QueueState, m: Member) -> Fields:
        return [
            *self._snap(caller),
            *self._snap(leg, "Dest"),
            ("Queue", q.cfg.name),
            ("Interface", m.interface),
            ("MemberName", m.name),
        ]

    def _kick(self) -> None:
        """Run the distributor soon (coalesced)."""
        if self._kick_pending:
            return
        self._kick_pending = True
        self.loop.call_soon(self._distribute)

    def _kick_at(self, monotonic_at: float) -> None:
        self.loop.call_later(max(0.0, monotonic_at - time.monotonic()), self._kick)

    # -- public API ---------------------------------------------------------------------------

    def place_call(self, caller: CallerConfig) -> SimCall:
        """Start an inbound call to 12349 (call in the simulator's loop)."""
        ch = self._new_channel(
            f"PJSIP/{self.config.trunk}",
            caller_num=caller.number,
            caller_name=caller.name,
            context=self.config.inbound_context,
            exten=caller.exten,
            priority=1,
            state=0,
        )
        call = SimCall(caller=caller, channel=ch, done=self.loop.create_future())
        self.calls[ch.uniqueid] = call
        self._spawn(self._inbound(call))
        return call

    def set_phone(
        self, interface: str, *, answer_after: float | None = None, registered: bool | None = None
    ) -> None:
        m = self.members.get(interface)
        if m is None:
            m = Member(AgentConfig(interface=interface, name=interface))
            self.members[interface] = m
        m.answer_after = answer_after
        if registered is not None and registered != m.registered:
            m.registered = registered
            self._member_status(m)
        self._kick()

    # -- inbound ------------------------------------------------------------------------------

    async def _inbound(self, call: SimCall) -> None:
        ch, caller = call.channel, call.caller
        hung_up: list[str] = []
        self._interruptible[ch.name] = lambda kind, target: hung_up.append(kind)
        self._state(ch, 4)
        self._newexten(ch, "Answer", "")
        self._state(ch, 6)
        variables: dict[str, str] = {"HOTLINE_QUEUE": self.config.default_queue}
        self._varset(ch, "HOTLINE_QUEUE", self.config.default_queue)
        if self.config.agi_url:
            url = self.config.agi_url.rstrip("/") + "/main"
            self._newexten(ch, "AGI", url)
            from callcenter.pbx_sim.agi import CallerBehaviour, run_fastagi_call

            outcome = await run_fastagi_call(
                url,
                channel=ch.name,
                uniqueid=ch.uniqueid,
                linkedid=ch.linkedid,
                callerid=caller.number,
                calleridname=caller.name,
                dnid=caller.exten,
                context=ch.context,
                extension=ch.exten,
                behaviour=CallerBehaviour(
                    digits=list(caller.digits), hangup_after=caller.agi_hangup_after
                ),
                channel_variables=dict(ch.variables),
            )
            for k, v in outcome.variables.items():
                self._varset(ch, k, v)
                variables[k] = v
            self._varset(ch, "AGISTATUS", outcome.status)
            if outcome.status == "HANGUP":
                return self._end_ivr_only(call)
        else:
            self._newexten(ch, "AGI", "agi://ivr:4573/main")
            await self.sleep(caller.ivr_time)
            if caller.hangup_in_ivr or hung_up:
                self._varset(ch, "AGISTATUS", "HANGUP")
                return self._end_ivr_only(call)
            for k, v in caller.variables.items():
                self._varset(ch, k, v)
                variables[k] = v
            self._varset(ch, "AGISTATUS", "SUCCESS")
        if hung_up:
            return self._end_ivr_only(call)
        queue = variables.get("HOTLINE_QUEUE") or caller.queue or self.config.default_queue
        if caller.queue and "HOTLINE_QUEUE" not in caller.variables and not self.config.agi_url:
            queue = caller.queue
        try:
            priority = int(variables.get("HOTLINE_PRIORITY") or 0)
        except ValueError:
            priority = 0
        await self._queue_app(call, queue, priority)

    def _end_ivr_only(self, call: SimCall) -> None:
        call.outcome = "ivr_only"
        self._hangup(call.channel)
        self._finish(call)

    def _finish(self, call: SimCall) -> None:
        if not call.done.done():
            call.done.set_result(call)

    async def _queue_app(self, call: SimCall, queue: str, priority: int) -> None:
        ch = call.channel
        q = self.queues.get(queue)
        max_wait = q.cfg.max_wait if q else None
        self._newexten(ch, "Queue", f"{queue},t,,,{int(max_wait or 0)}")
        if q is None:
            self._varset(ch, "QUEUESTATUS", "UNKNOWN")
            call.outcome = call.outcome or "ivr_only"
            self._hangup(ch)
            return self._finish(call)
        if not q.cfg.joinempty and not any(self.members[i].registered for i in q.members):
            self._varset(ch, "QUEUESTATUS", "JOINEMPTY")
            call.outcome = call.outcome or "ivr_only"
            self._hangup(ch)
            return self._finish(call)
        result = await self._in_queue(call, q, priority)
        if result == "timeout":
            self._varset(ch, "QUEUESTATUS", "TIMEOUT")
            self._newexten(ch, "Playback", "hotline/callback-promise")
            self._hangup(ch)
        self._finish(call)

    async def _in_queue(self, call: SimCall, q: QueueState, priority: int) -> str:
        """One stay in one queue; returns answered, abandoned, timeout or transferred."""
        ch, caller = call.channel, call.caller
        w = _Waiter(call, q, priority, time.monotonic())
        q.insert(w)
        call.queues.append(q.cfg.name)
        if call.queue is None:
            call.queue = q.cfg.name
        ch.application, ch.application_data = "Queue", f"{q.cfg.name},t"
        self._emit(
            "QueueCallerJoin",
            [
                *self._snap(ch),
                ("Queue", q.cfg.name),
                ("Position", str(q.position(w))),
                ("Count", str(len(q.waiting))),
            ],
        )
        self._qlog(
            ch.uniqueid, q.cfg.name, "NONE", "ENTERQUEUE", "", ch.caller_num, w.original_position
        )
        self._emit("MusicOnHoldStart", [*self._snap(ch), ("Class", "default")])

        def interrupt(kind: str, target: tuple[str, str] | None) -> None:
            w.interrupt = kind
            w.redirect_to = target
            w.wake.set()

        self._interruptible[ch.name] = interrupt
        patience_at = None if caller.patience is None else w.joined + caller.patience / self.scale
        max_wait_at = None if q.cfg.max_wait is None else w.joined + q.cfg.max_wait / self.scale
        self._kick()
        while True:
            if w.assigned:
                result = await self._ring(w, patience_at, max_wait_at)
                if result != "noanswer":
                    return result
                w.next_try = time.monotonic() + q.cfg.retry / self.scale
                self._kick_at(w.next_try)
                continue
            if w.interrupt is not None:
                return self._leave_unanswered(
                    w, "abandon" if w.interrupt != "redirect" else "redirect"
                )
            now = time.monotonic()
            deadlines = [d for d in (patience_at, max_wait_at) if d is not None]
            if (
                patience_at is not None
                and now >= patience_at
                and (max_wait_at is None or patience_at <= max_wait_at)
            ):
                return self._leave_unanswered(w, "abandon")
            if max_wait_at is not None and now >= max_wait_at:
                return self._leave_unanswered(w, "timeout")
            w.wake.clear()
            if w.assigned or w.interrupt is not None:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    w.wake.wait(), None if not deadlines else max(0.0, min(deadlines) - now)
                )

    def _leave_unanswered(self, w: _Waiter, how: str) -> str:
        q, call, ch = w.queue, w.call, w.call.channel
        pos = q.position(w)
        hold = round(self.sim_elapsed(w.joined))
        if how == "abandon":
            q.abandoned += 1
            self._qlog(ch.uniqueid, q.cfg.name, "NONE", "ABANDON", pos, w.original_position, hold)
            self._emit(
                "QueueCallerAbandon",
                [
                    *self._snap(ch),
                    ("Queue", q.cfg.name),
                    ("Position", str(pos)),
                    ("OriginalPosition", str(w.original_position)),
                    ("HoldTime", str(hold)),
                ],
            )
        self._caller_leaves(w, pos)
        self._kick()
        if call.outcome is None:
            call.outcome = "abandoned" if how == "abandon" else "timeout"
            call.wait_s = hold
        if how == "abandon":
            self._hangup(ch)
            return "abandoned"
        if how == "redirect" and w.redirect_to is not None:
            self._emit("MusicOnHoldStop", self._snap(ch))
            self._spawn(self._continue_dialplan(call, *w.redirect_to))
            return "transferred"
        self._qlog(
            ch.uniqueid, q.cfg.name, "NONE", "EXITWITHTIMEOUT", pos, w.original_position, hold
        )
        self._emit("MusicOnHoldStop", self._snap(ch))
        return "timeout"

    async def _ring(self, w: _Waiter, patience_at: float | None, max_wait_at: float | None) -> str:
        q, call, ch = w.queue, w.call, w.call.channel
        members, w.assigned = w.assigned, []
        w.ringing = True
        legs: dict[str, Channel] = {}
        started = time.monotonic()
        for m in members:
            leg = self._agent_leg(m, ch, state=0)
            leg.application, leg.application_data = "AppQueue", "(Outgoing Line)"
            legs[m.interface] = leg
            m.channel = leg
            self._member_status(m)
            call.agent_called_at.append((m.interface, time.time()))
            self._emit("AgentCalled", self._agent_body(ch, leg, q, m))
            self._emit(
                "DialBegin",
                [*self._snap(ch), *self._snap(leg, "Dest"), ("DialString", m.interface)],
            )
            self._state(leg, 5)
        ring_deadline = started + q.cfg.timeout / self.scale
        answers = sorted(
            (started + m.answer_after / self.scale, i, m)
            for i, m in enumerate(members)
            if m.answer_after is not None and m.registered
        )
        winner = answers[0] if answers and answers[0][0] < ring_deadline else None
        end_at = winner[0] if winner else ring_deadline
        limits = [d for d in (patience_at, max_wait_at) if d is not None]
        w.wake.clear()
        if w.interrupt is None:
            timeout = max(0.0, min([end_at, *limits]) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.wake.wait(), timeout)
        now = time.monotonic()
        w.ringing = False
        if w.interrupt is not None or (
            patience_at is not None and now >= patience_at and now < end_at
        ):
            if w.interrupt != "redirect":
                rang_ms = int(self.sim_elapsed(started) * 1000)
                for m in members:
                    self._qlog(ch.uniqueid, q.cfg.name, m.name, "RINGCANCELED", rang_ms)
            self._cancel_legs(ch, members, legs, None)
            how = "redirect" if w.interrupt == "redirect" else "abandon"
            return self._leave_unanswered(w, how)
        if winner is not None and now >= winner[0]:
            m = winner[2]
            self._cancel_legs(ch, [x for x in members if x is not m], legs, None)
            return await self._connect(w, m, legs[m.interface], started)
        # Nobody answered in time: app_queue reports the ring timeout it passed, x1000.
        ring_ms = (
            int(q.cfg.timeout * 1000)
            if now >= ring_deadline
            else int(self.sim_elapsed(started) * 1000)
        )
        for m in members:
            leg = legs[m.interface]
            call.ring_no_answer += 1
            self._qlog(ch.uniqueid, q.cfg.name, m.name, "RINGNOANSWER", ring_ms)
            self._emit(
                "AgentRingNoAnswer",
                [
                    *self._agent_body(ch, leg, q, m),
                    ("RingTime", str(ring_ms)),
                ],
            )
        self._cancel_legs(ch, members, legs, "NOANSWER")
        if max_wait_at is not None and now >= max_wait_at:
            return self._leave_unanswered(w, "timeout")
        return "noanswer"

    def _cancel_legs(
        self,
        caller: Channel,
        members: Iterable[Member],
        legs: dict[str, Channel],
        status: str | None,
    ) -> None:
        """End ringing member legs: NOANSWER after the ring timeout, CANCEL otherwise."""
        for m in members:
            leg = legs[m.interface]
            m.ringing = max(0, m.ringing - 1)
            m.channel = None
            self._emit(
                "DialEnd",
                [*self._snap(caller), *self._snap(leg, "Dest"), ("DialStatus", status or "CANCEL")],
            )
            self._hangup(leg, 16 if status else 26)
            self._member_status(m)
        self._kick()

    async def _connect(self, w: _Waiter, m: Member, leg: Channel, ring_started: float) -> str:
        q, call, ch = w.queue, w.call, w.call.channel
        m.ringing = max(0, m.ringing - 1)
        m.in_call = True
        hold = round(self.sim_elapsed(w.joined))
        ring = round(self.sim_elapsed(ring_started))
        self._member_status(m)
        self._state(leg, 6)
        ch.connected_num, ch.connected_name = m.peer, m.name
        self._emit("DialEnd", [*self._snap(ch), *self._snap(leg, "Dest"), ("DialStatus", "ANSWER")])
        self._emit("MusicOnHoldStop", self._snap(ch))
        pos = q.position(w)
        self._caller_leaves(w, pos)
        self._emit(
            "AgentConnect",
            [*self._agent_body(ch, leg, q, m), ("HoldTime", str(hold)), ("RingTime", str(ring))],
        )
        self._qlog(ch.uniqueid, q.cfg.name, m.name, "CONNECT", hold, leg.uniqueid, ring)
        q.completed += 1
        q.holdtime = (q.holdtime * 3 + hold) / 4
        if hold <= q.cfg.servicelevel:
            q.sl_answered += 1
        if call.outcome is None:
            call.outcome = "answered"
            call.agent_interface, call.member_name, call.wait_s = m.interface, m.name, hold
            call.queue = q.cfg.name
        bridge = Bridge(uuid.uuid4().hex)
        self._emit("BridgeCreate", bridge.block())
        for c in (leg, ch):
            bridge.channels += 1
            c.bridge_id = bridge.uniqueid
            self._emit("BridgeEnter", [*bridge.block(), *self._snap(c)])
        self._kick()
        return await self._talk(w, m, leg, bridge, hold)

    async def _talk(self, w: _Waiter, m: Member, leg: Channel, bridge: Bridge, hold: int) -> str:
        q, call, ch = w.queue, w.call, w.call.channel
        started = time.monotonic()

        def interrupt(kind: str, target: tuple[str, str] | None) -> None:
            w.interrupt, w.redirect_to = kind, target
            w.wake.set()

        self._interruptible[ch.name] = interrupt
        self._interruptible[leg.name] = lambda kind, target: interrupt(
            "agent" if kind == "caller" else kind, target
        )
        w.interrupt = None
        w.wake.clear()
        try:
            await asyncio.wait_for(w.wake.wait(), call.caller.talk / self.scale)
            reason = {"caller": "caller", "agent": "agent", "redirect": "transfer"}[
                w.interrupt or "caller"
            ]
        except TimeoutError:
            reason = "agent" if call.caller.hangup_by == "agent" else "caller"
        talk = round(self.sim_elapsed(started))
        if call.talk_s is None and call.agent_interface == m.interface:
            call.talk_s = talk
        q.talktime = (q.talktime * 3 + talk) / 4
        first, second = (ch, leg) if reason == "caller" else (leg, ch)
        if reason != "transfer":
            self._emit("HangupRequest", self._snap(first))
        if reason == "transfer" and w.redirect_to is not None:
            context, exten = w.redirect_to
            self._qlog(
                ch.uniqueid,
                q.cfg.name,
                m.name,
                "BLINDTRANSFER",
                exten,
                context,
                hold,
                talk,
                w.original_position,
            )
        else:
            event = "COMPLETECALLER" if reason == "caller" else "COMPLETEAGENT"
            self._qlog(ch.uniqueid, q.cfg.name, m.name, event, hold, talk, w.original_position)
        self._emit(
            "AgentComplete",
            [
                *self._agent_body(ch, leg, q, m),
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", reason),
            ],
        )
        for c in (first, second):
            bridge.channels -= 1
            c.bridge_id = ""
            self._emit("BridgeLeave", [*bridge.block(), *self._snap(c)])
        self._emit("BridgeDestroy", bridge.block())
        m.in_call = False
        m.channel = None
        m.last_call = int(time.time())
        m.queues.get(q.cfg.name, MemberQueue()).calls_taken += 1
        m.wrapup_until = time.monotonic() + q.cfg.wrapuptime / self.scale
        self._kick_at(m.wrapup_until)
        self._interruptible.pop(leg.name, None)
        if reason == "transfer" and w.redirect_to is not None:
            call.transferred = True
            self._hangup(leg)
            self._member_status(m)
            await self._continue_dialplan(call, *w.redirect_to)
            return "answered"
        if reason == "caller":
            self._hangup(ch)
            self._member_status(m)
            self._hangup(leg)
        else:
            self._hangup(leg)
            self._member_status(m)
            self._hangup(ch)
        return "answered"

    async def _continue_dialplan(self, call: SimCall, context: str, exten: str) -> None:
        """Where a redirected caller goes: another queue, a desk, or the end."""
        ch = call.channel
        ch.context, ch.exten, ch.priority = context, exten, 0
        self._newexten(ch, "NoOp", "transfer")
        queue = exten if exten in self.queues else f"hotline-{exten}"
        if queue in self.queues:
            await self._in_queue(call, self.queues[queue], 0)
        else:
            target = next((m for m in self.members.values() if m.peer == exten), None)
            if target is not None:
                await self._dial_desk(call, target)
            else:
                self._hangup(ch)
        self._finish(call)

    async def _dial_desk(self, call: SimCall, m: Member) -> None:
        ch = call.channel
        m.busy_outbound = True
        leg = self._agent_leg(m, ch)
        self._member_status(m)
        self._emit(
            "DialBegin", [*self._snap(ch), *self._snap(leg, "Dest"), ("DialString", m.interface)]
        )
        self._state(leg, 5)
        if m.answer_after is None:
            await self.sleep(self.config.dial_timeout)
            self._emit(
                "DialEnd", [*self._snap(ch), *self._snap(leg, "Dest"), ("DialStatus", "NOANSWER")]
            )
            self._hangup(leg, 19)
        else:
            await self.sleep(m.answer_after)
            self._state(leg, 6)
            self._emit(
                "DialEnd", [*self._snap(ch), *self._snap(leg, "Dest"), ("DialStatus", "ANSWER")]
            )
            bridge = Bridge(uuid.uuid4().hex)
            self._emit("BridgeCreate", bridge.block())
            for c in (ch, leg):
                bridge.channels += 1
                self._emit("BridgeEnter", [*bridge.block(), *self._snap(c)])
            await self.sleep(call.caller.talk)
            for c in (ch, leg):
                bridge.channels -= 1
                self._emit("BridgeLeave", [*bridge.block(), *self._snap(c)])
            self._emit("BridgeDestroy", bridge.block())
            self._hangup(leg)
        m.busy_outbound = False
        self._member_status(m)
        self._hangup(ch)

    # -- distribution -------------------------------------------------------------------------

    def _available(self, m: Member, queue: str, now: float) -> bool:
        mq = m.queues.get(queue)
        return (
            mq is not None
            and not mq.paused
            and m.registered
            and not m.ringing
            and not m.in_call
            and not m.busy_outbound
            and now >= m.wrapup_until
        )

    def _distribute(self) -> None:
        self._kick_pending = False
        now = time.monotonic()
        for q in sorted(self.queues.values(), key=lambda s: -s.cfg.weight):
            free: list[Member] | None = None
            for w in q.waiting:
                if w.ringing or w.assigned or w.interrupt is not None or w.next_try > now:
                    continue
                if free is None:
                    free = [
                        self.members[i]
                        for i in q.members
                        if i in self.members and self._available(self.members[i], q.cfg.name, now)
                    ]
                if not free:
                    break
                chosen = self._choose(q, free)
                for m in chosen:
                    m.ringing += 1
                    free.remove(m)
                w.assigned = chosen
                w.wake.set()

    def _choose(self, q: QueueState, free: list[Member]) -> list[Member]:
        best = min(m.queues[q.cfg.name].penalty for m in free)
        free = [m for m in free if m.queues[q.cfg.name].penalty == best]
        strategy = q.cfg.strategy
        if strategy == "ringall":
            return free
        if strategy == "leastrecent":
            return [min(free, key=lambda m: m.last_call)]
        if strategy == "fewestcalls":
            return [min(free, key=lambda m: m.queues[q.cfg.name].calls_taken)]
        if strategy == "random":
            return [self.rng.choice(free)]
        if strategy == "linear":
            return [free[0]]
        # rrmemory: the next free member after the one rung last, in join order
        order = q.members
        n = len(order)
        by_iface = {f.interface: f for f in free}
        for k in range(n):
            i = (q.rr_next + k) % n
            m = by_iface.get(order[i])
            if m is not None:
                q.rr_next = (i + 1) % n
                return [m]
        return [free[0]]

    # -- membership actions -------------------------------------------------------------------

    def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        name: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
    ) -> str | None:
        q = self.queues.get(queue)
        if q is None:
            return "Unable to add interface to queue: No such queue"
        m = self.members.get(interface)
        if m is None:
            m = Member(AgentConfig(interface=interface, name=name or interface))
            self.members[interface] = m
        if queue in m.queues:
            return "Unable to add interface: Already there"
        if name:
            m.name = name
        now = int(time.time())
        m.queues[queue] = MemberQueue(
            penalty=penalty,
            paused=paused,
            reason=reason if paused else "",
            login_time=now,
            last_pause=now if paused else 0,
        )
        q.members.append(interface)
        self._qlog("NONE", queue, m.name, "ADDMEMBER", "")
        self._emit_soon("QueueMemberAdded", m.fields(queue, q.cfg.wrapuptime).member_event_body())
        self._kick()
        return None

    def queue_remove(self, queue: str, interface: str) -> str | None:
        q = self.queues.get(queue)
        if q is None:
            return "Unable to remove interface from queue: No such queue"
        m = self.members.get(interface)
        if m is None or queue not in m.queues:
            return "Unable to remove interface: Not there"
        body = m.fields(queue, q.cfg.wrapuptime).member_event_body()
        del m.queues[queue]
        q.members.remove(interface)
        self._qlog("NONE", queue, m.name, "REMOVEMEMBER", "")
        self._emit_soon("QueueMemberRemoved", body)
        return None

    def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str = ""
    ) -> str | None:
        m = self.members.get(interface)
        targets = [queue] if queue else list(m.queues) if m else []
        if m is None or not targets or any(t not in m.queues for t in targets):
            return "Interface not found"
        self.pause_actions.append((interface, paused, reason))
        now = int(time.time())
        for t in targets:
            mq = m.queues[t]
            mq.paused = paused
            mq.reason = reason if paused else ""
            if paused:
                mq.last_pause = now
            self._qlog("NONE", t, m.name, "PAUSE" if paused else "UNPAUSE", mq.reason)
            self._emit_soon(
                "QueueMemberPause", m.fields(t, self.queues[t].cfg.wrapuptime).member_event_body()
            )
        self._kick()
        return None

    # -- channel actions ----------------------------------------------------------------------

    def hangup_channel(self, name: str) -> bool:
        ch = self.channels.get(name)
        if ch is None:
            return False
        handler = self._interruptible.get(name)
        if handler is not None:
            handler("caller" if self._is_caller(ch) else "agent", None)
        else:
            self._hangup(ch)
        return True

    def redirect_channel(self, name: str, context: str, exten: str) -> bool:
        ch = self.channels.get(name)
        if ch is None:
            return False
        handler = self._interruptible.get(name)
        if handler is not None:
            handler("redirect", (context, exten))
        return True

    def _is_caller(self, ch: Channel) -> bool:
        return ch.uniqueid in self.calls

    # -- originate ----------------------------------------------------------------------------

    def originate(
        self,
        fields: dict[str, Any],
        action_id: str | None,
        reply: Callable[[bytes], None],
        sync_result: Callable[[bool], None] | None = None,
    ) -> None:
        """Run an Originate: async ones report with OriginateResponse, sync ones through
        ``sync_result`` (Asterisk sends the action's response only when the call is up)."""
        self._spawn(self._originate(fields, action_id, sync_result))

    async def _originate(
        self, f: dict[str, Any], action_id: str | None, sync_result: Callable[[bool], None] | None
    ) -> None:
        target = str(f.get("channel", ""))
        timeout_ms = int(f.get("timeout") or 30000)
        caller_id = str(f.get("callerid", ""))
        cid_num, cid_name = _split_callerid(caller_id)
        variables = _variables(f.get("variable"))
        context, exten = str(f.get("context", "")), str(f.get("exten", ""))
        application, data = str(f.get("application", "")), str(f.get("data", ""))

        def respond(ok: bool, channel: str, reason: int, uniqueid: str) -> None:
            # every outcome answers with the request's own context, application and caller id
            self._originate_response(
                action_id,
                ok,
                channel,
                context,
                exten,
                application,
                data,
                reason,
                uniqueid,
                cid_num,
                cid_name,
                sync_result,
            )

        tech, _, rest = target.partition("/")
        member = self.members.get(target)
        phone: PhoneConfig | None = None
        if member is None:
            number = rest.split("@", 1)[0]
            phone = self.config.phones.get(number, self.config.default_phone)
        if not tech or not rest:
            respond(False, target, 0, "<null>")
            return
        leg_peer = f"{tech}/{self.config.trunk}" if phone is not None and "@" in rest else target
        leg = self._new_channel(
            leg_peer,
            caller_num=rest.split("@")[0] if phone else (member.peer if member else rest),
            caller_name=member.name if member else "",
            connected_num=cid_num,
            connected_name=cid_name,
            context=context or "default",
            exten=exten or "s",
        )
        leg.variables.update(variables)
        leg.touch()
        if member is not None:
            member.busy_outbound = True
            member.channel = leg
            member.ringing += 1
            self._member_status(member)
        self._state(leg, 5)
        answer_after = (
            member.answer_after
            if member is not None
            else (None if phone and phone.busy else phone.answer_after if phone else 2.0)
        )
        hung_up: list[str] = []
        self._interruptible[leg.name] = lambda kind, target_: hung_up.append(kind)
        answered = answer_after is not None and answer_after <= timeout_ms / 1000
        wait = answer_after if answered and answer_after is not None else timeout_ms / 1000
        if phone is not None and phone.busy:
            wait, answered = 0.5, False
        await self.sleep(wait)
        if member is not None:
            member.ringing = max(0, member.ringing - 1)
        if not answered or hung_up:
            reason = 5 if phone is not None and phone.busy else 3
            self._hangup(leg, 17 if reason == 5 else 19)
            if member is not None:
                member.busy_outbound = False
                member.channel = None
                self._member_status(member)
            respond(False, target, reason, "<null>")
            self._kick()
            return
        self._state(leg, 6)
        if member is not None:
            self._member_status(member)
        respond(True, leg.name, 4, leg.uniqueid)
        for k, v in variables.items():
            self._varset(leg, k, v)
        try:
            if application:
                await self._run_application(leg, application, data, hung_up)
            elif context == self.config.callback_context:
                await self._dial_out(leg, exten, cid_num, hung_up)
            elif context == self.config.transfer_context and exten in self.queues:
                call = SimCall(
                    caller=CallerConfig(
                        number=leg.caller_num,
                        name=leg.caller_name,
                        talk=(phone or self.config.default_phone).talk,
                    ),
                    channel=leg,
                    done=self.loop.create_future(),
                )
                self.calls[leg.uniqueid] = call
                await self._in_queue(call, self.queues[exten], 0)
            elif context == self.config.carecall_context and self.config.agi_url:
                await self._carecall(leg, phone or self.config.default_phone)
            elif context == self.config.survey_context and self.config.agi_url:
                # the order's survey call: the survey flow, then the dialplan hangs up
                await self._run_application(
                    leg, "AGI", self.config.agi_url.rstrip("/") + "/survey", []
                )
            else:
                await self.sleep((phone or self.config.default_phone).talk)
        finally:
            self._hangup(leg)
            if member is not None:
                member.busy_outbound = False
                member.channel = None
                self._member_status(member)
                self._kick()

    def _originate_response(
        self,
        action_id: str | None,
        ok: bool,
        channel: str,
        context: str,
        exten: str,
        application: str,
        data: str,
        reason: int,
        uniqueid: str,
        cid_num: str,
        cid_name: str,
        sync_result: Callable[[bool], None] | None = None,
    ) -> None:
        if sync_result is not None:
            sync_result(ok)
            return
        body: Fields = []
        if action_id is not None:
            body.append(("ActionID", action_id))
        body += [("Response", "Success" if ok else "Failure"), ("Channel", channel)]
        if application:
            body += [("Application", application), ("Data", data)]
        else:
            body += [("Context", context), ("Exten", exten)]
        body += [
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num or "<unknown>"),
            ("CallerIDName", cid_name or "<unknown>"),
        ]
        self._emit("OriginateResponse", body)

    async def _dial_out(self, leg: Channel, number: str, cid_num: str, hung_up: list[str]) -> None:
        """hotline-callback: the desk answered; now dial the elder through the trunk."""
        phone = self.config.phones.get(number, self.config.default_phone)
        self._newexten(
            leg, "Dial", f"PJSIP/{number}@{self.config.trunk},{int(self.config.dial_timeout)}"
        )
        out = self._new_channel(
            f"PJSIP/{self.config.trunk}",
            linkedid=leg.linkedid,
            caller_num=number,
            connected_num=leg.caller_num,
            connected_name=leg.caller_name,
            context=self.config.callback_context,
            exten=number,
        )
        self._emit(
            "DialBegin",
            [
                *self._snap(leg),
                *self._snap(out, "Dest"),
                ("DialString", f"{number}@{self.config.trunk}"),
            ],
        )
        if phone.busy:
            await self.sleep(0.5)
            self._emit(
                "DialEnd", [*self._snap(leg), *self._snap(out, "Dest"), ("DialStatus", "BUSY")]
            )
            self._hangup(out, 17)
            return
        self._state(out, 5)
        if phone.answer_after is None or phone.answer_after > self.config.dial_timeout:
            await self.sleep(self.config.dial_timeout)
            self._emit(
                "DialEnd", [*self._snap(leg), *self._snap(out, "Dest"), ("DialStatus", "NOANSWER")]
            )
            self._hangup(out, 19)
            return
        await self.sleep(phone.answer_after)
        self._state(out, 6)
        self._emit(
            "DialEnd", [*self._snap(leg), *self._snap(out, "Dest"), ("DialStatus", "ANSWER")]
        )
        bridge = Bridge(uuid.uuid4().hex)
        self._emit("BridgeCreate", bridge.block())
        for c in (leg, out):
            bridge.channels += 1
            c.bridge_id = bridge.uniqueid
            self._emit("BridgeEnter", [*bridge.block(), *self._snap(c)])
        self._interruptible[out.name] = lambda kind, target: hung_up.append(kind)
        remaining = phone.talk
        while remaining > 0 and not hung_up:
            step = min(remaining, 1.0)
            await self.sleep(step)
            remaining -= step
        for c in (out, leg):
            bridge.channels -= 1
            c.bridge_id = ""
            self._emit("BridgeLeave", [*bridge.block(), *self._snap(c)])
        self._emit("BridgeDestroy", bridge.block())
        self._hangup(out)

    async def _run_application(
        self, leg: Channel, application: str, data: str, hung_up: list[str]
    ) -> None:
        if application.lower() == "chanspy":
            spied_iface, _, options = data.partition(",")
            spyee = next(
                (c for c in self.channels.values() if c.name.startswith(spied_iface + "-")), None
            )
            leg.application, leg.application_data = "ChanSpy", data
            if spyee is None:
                return
            self._emit("ChanSpyStart", [*self._snap(leg, "Spyer"), *self._snap(spyee, "Spyee")])
            while not hung_up and spyee.name in self.channels:
                await self.sleep(1.0)
            self._emit("ChanSpyStop", [*self._snap(leg, "Spyer"), *self._snap(spyee, "Spyee")])
            return
        if application.lower() == "agi" and data.startswith("agi://"):
            from callcenter.pbx_sim.agi import CallerBehaviour, run_fastagi_call

            phone = self.config.phones.get(leg.caller_num, self.config.default_phone)
            outcome = await run_fastagi_call(
                data,
                channel=leg.name,
                uniqueid=leg.uniqueid,
                linkedid=leg.linkedid,
                callerid=leg.caller_num,
                calleridname=leg.caller_name,
                context=leg.context,
                extension=leg.exten,
                behaviour=CallerBehaviour(digits=list(phone.digits)),
                channel_variables=dict(leg.variables),
            )
            for k, v in outcome.variables.items():
                self._varset(leg, k, v)
            return
        await self.sleep(1.0)

    async def _carecall(self, leg: Channel, phone: PhoneConfig) -> None:
        assert self.config.agi_url
        await self._run_application(leg, "AGI", self.config.agi_url.rstrip("/") + "/carecall", [])
        queue = leg.variables.get("HOTLINE_QUEUE")
        if queue in self.queues:
            call = SimCall(
                caller=CallerConfig(number=leg.caller_num, talk=phone.talk),
                channel=leg,
                done=self.loop.create_future(),
            )
            self.calls[leg.uniqueid] = call
            await self._in_queue(
                call, self.queues[queue], int(leg.variables.get("HOTLINE_PRIORITY") or 0)
            )

    # -- list snapshots -----------------------------------------------------------------------

    def queue_status_items(
        self, action_id: str | None, queue: str | None, member: str | None
    ) -> list[bytes]:
        out: list[bytes] = []
        now_m = time.monotonic()
        for q in self.queues.values():
            if queue and q.cfg.name != queue:
                continue
            perf = 100.0 * q.sl_answered / q.completed if q.completed else 0.0
            perf2 = (
                100.0 * q.sl_answered / (q.completed + q.abandoned)
                if (q.completed + q.abandoned)
                else 0.0
            )
            out.append(
                wire.with_action_id_last(
                    [
                        ("Event", "QueueParams"),
                        ("Queue", q.cfg.name),
                        ("Max", "0"),
                        ("Strategy", q.cfg.strategy),
                        ("Calls", str(len(q.waiting))),
                        ("Holdtime", str(round(q.holdtime))),
                        ("TalkTime", str(round(q.talktime))),
                        ("Completed", str(q.completed)),
                        ("Abandoned", str(q.abandoned)),
                        ("ServiceLevel", str(q.cfg.servicelevel)),
                        ("ServicelevelPerf", f"{perf:2.1f}"),
                        ("ServicelevelPerf2", f"{perf2:2.1f}"),
                        ("Weight", str(q.cfg.weight)),
                    ],
                    action_id,
                )
            )
            for iface in q.members:
                if member and iface != member:
                    continue
                m = self.members[iface]
                out.append(
                    wire.encode(m.fields(q.cfg.name, q.cfg.wrapuptime).queue_member_item(action_id))
                )
            for pos, w in enumerate(q.waiting, 1):
                ch = w.call.channel
                out.append(
                    wire.with_action_id_last(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", q.cfg.name),
                            ("Position", str(pos)),
                            ("Channel", ch.name),
                            ("Uniqueid", ch.uniqueid),
                            ("CallerIDNum", ch.caller_num or "unknown"),
                            ("CallerIDName", ch.caller_name or "unknown"),
                            ("ConnectedLineNum", ch.connected_num or "unknown"),
                            ("ConnectedLineName", ch.connected_name or "unknown"),
                            ("Wait", str(round((now_m - w.joined) * self.scale))),
                            ("Priority", str(w.priority)),
                        ],
                        action_id,
                    )
                )
        return out

    def queue_summary_items(self, action_id: str | None, queue: str | None) -> list[bytes]:
        out: list[bytes] = []
        now = time.monotonic()
        for q in self.queues.values():
            if queue and q.cfg.name != queue:
                continue
            members = [self.members[i] for i in q.members]
            longest = max((round((now - w.joined) * self.scale) for w in q.waiting), default=0)
            out.append(
                wire.with_action_id_last(
                    [
                        ("Event", "QueueSummary"),
                        ("Queue", q.cfg.name),
                        ("LoggedIn", str(len(members))),
                        (
                            "Available",
                            str(sum(1 for m in members if self._available(m, q.cfg.name, now))),
                        ),
                        ("Callers", str(len(q.waiting))),
                        ("HoldTime", str(round(q.holdtime))),
                        ("TalkTime", str(round(q.talktime))),
                        ("LongestHoldTime", str(longest)),
                    ],
                    action_id,
                )
            )
        return out

    def core_show_channels_items(self, action_id: str | None) -> list[bytes]:
        now = time.monotonic()
        return [
            wire.core_show_channel(ch, action_id, int((now - ch.created_at) * self.scale))
            for ch in self.channels.values()
        ]

    def inject(self, name: str, body: Fields) -> None:
        """Send an event of a test's making to every session, framed, stamped and ordered like
        the simulator's own (a poison message, a call on the same Asterisk that is none of the
        hotline's)."""
        self._emit(name, body)

    def user_event(self, fields: list[tuple[str, str]]) -> None:
        name = next((v for k, v in fields if k.lower() == "userevent"), "")
        body = [("UserEvent", name)] + [
            (k, v) for k, v in fields if k.lower() not in ("action", "userevent")
        ]
        self._emit("UserEvent", body)


def _split_callerid(value: str) -> tuple[str, str]:
    """``"名字" <123>`` -> ("123", "名字")."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return value, ""


def _variables(raw: Any) -> dict[str, str]:
    items = raw if isinstance(raw, list) else [raw] if raw else []
    out: dict[str, str] = {}
    for item in items:
        for part in str(item).split(","):
            k, sep, v = part.partition("=")
            if sep and k.strip():
                out[k.strip()] = v
    return out
