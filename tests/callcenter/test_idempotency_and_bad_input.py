"""The same AMI stream twice changes nothing; bad input is counted, never fatal, never a lost
or double-counted call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import func, select

from callcenter.ami import parse_block
from callcenter.app import CallCenterThread
from callcenter.pbx_sim import CallerConfig, PbxSimulator
from callcenter.pbx_sim import wire as simwire
from callcenter.pipeline import EventPipeline
from platform_core.calls.models import (
    Agent,
    AgentOffer,
    AgentStateSpan,
    Call,
    QueueEntry,
    RecallItem,
)
from tests.callcenter.conftest import SECRET, sim_config
from tests.callcenter.wire_server import Conn, ScriptedServer, msg


def record_stream(
    scenarios: list[CallerConfig], *, agents: int = 2, **changes: Any
) -> tuple[list[bytes], list[Any]]:
    """Play calls on a simulator with no AMI client and keep every event it wrote, in order."""

    async def main() -> tuple[list[bytes], list[Any]]:
        cfg = sim_config(agents=agents, **changes)
        cfg.agents[0].answer_after = None  # the first desk never picks up: ring-no-answer happens
        pbx = PbxSimulator(cfg)
        pbx.record = []
        pbx.bind_loop(asyncio.get_running_loop())
        calls = []
        for caller in scenarios:
            calls.append(pbx.place_call(caller))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(c.done for c in calls)), 20)
        await asyncio.sleep(0.1)
        await pbx.stop()
        return [simwire.encode(fields) for _, fields in pbx.record], calls

    return asyncio.run(main())


SCENARIOS = [
    CallerConfig(number="13800000001", name="张三丰", talk=10, variables={"HOTLINE_ELDER_ID": "7"}),
    CallerConfig(number="13800000002", name="李四", patience=8),
    CallerConfig(number="13800000003", hangup_in_ivr=True),
    CallerConfig(
        number="13800000004",
        name="王五",
        talk=5,
        variables={"HOTLINE_QUEUE": "hotline-emergency", "HOTLINE_PRIORITY": "10"},
    ),
    CallerConfig(number="13800000005", name="赵六", patience=3),  # both desks busy: abandons
]


def dump(runtime: Any) -> dict[str, Any]:
    with runtime.session() as s:
        return {
            "calls": sorted(
                (
                    c.linkedid,
                    c.outcome,
                    c.elder_id,
                    c.first_queue,
                    c.agent_interface,
                    c.wait_s,
                    c.talk_s,
                    c.queued_at,
                    c.answered_at,
                    c.ended_at,
                )
                for c in s.scalars(select(Call))
            ),
            "entries": sorted(
                (e.linkedid, e.seq, e.queue, e.outcome, e.wait_s, e.left_at)
                for e in s.scalars(select(QueueEntry))
            ),
            "offers": sorted(
                (o.dest_uniqueid, o.interface, o.status, o.ring_ms, o.talk_s)
                for o in s.scalars(select(AgentOffer))
            ),
            "recalls": sorted(
                (r.origin_linkedid, r.reason, r.status) for r in s.scalars(select(RecallItem))
            ),
            "agents": sorted((a.interface, a.state, a.reason) for a in s.scalars(select(Agent))),
            "spans": s.scalar(select(func.count()).select_from(AgentStateSpan)),
        }


def feed(pipeline: EventPipeline, stream: list[bytes], batch: int = 40) -> None:
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    for i in range(0, len(messages), batch):
        pipeline.process([(m, time.time(), None) for m in messages[i : i + batch]])


def test_the_same_stream_twice_leaves_the_same_records(runtime) -> None:
    stream, calls = record_stream(SCENARIOS)
    pipeline = EventPipeline(runtime)
    feed(pipeline, stream)
    first = dump(runtime)
    truth = {c.linkedid: (c.outcome, c.wait_s, c.talk_s) for c in calls}
    assert {row[0]: (row[1], row[5], row[6]) for row in first["calls"]} == truth
    lost = sorted(k for k, (outcome, _, _) in truth.items() if outcome in ("abandoned", "timeout"))
    assert "abandoned" in {o for o, _, _ in truth.values()}
    assert [r[0] for r in first["recalls"]] == lost
    feed(pipeline, stream, batch=7)  # again, cut into different batches
    assert dump(runtime) == first
    assert pipeline.stats.failed == 0 and pipeline.stats.malformed == 0


GARBAGE = [
    b"Event: AgentCalled\r\nPrivilege: agent,all\r\nUniqueid: 9.9\r\n\r\n",  # no Queue, no Interface
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nUniqueid: 9.8\r\nLinkedid: 9.8\r\nQueue: q\r\n"
    b"Position: first\r\n\r\n",  # Position is not a number
    b"Event: SomethingNew\r\nPrivilege: call,all\r\nFoo: bar\r\n\r\n",  # unknown event
    b"Event: Hangup\r\nPrivilege: call,all\r\nUniqueid: 1.77\r\nLinkedid: 1.77\r\nCause: 16\r\n\r\n",  # unknown channel
    b"no colon here\r\n\r\n",
    b"Event: VarSet\r\nPrivilege: dialplan,all\r\nUniqueid: 5.5\r\nEvent: VarSet\r\nUniqueid: 5.6\r\n\r\n",  # merged
]


class Peer:
    """An Asterisk stand-in that plays a recorded stream with garbage mixed in, and answers
    the resync's list actions from a script of live channels."""

    def __init__(self, stream: list[bytes], *, cut_at: int | None = None) -> None:
        self.stream = stream
        self.cut_at = cut_at
        self.connections = 0

    async def __call__(self, conn: Conn) -> None:
        self.connections += 1
        first = self.connections == 1
        if not await conn.login(secret=SECRET, fully_booted=True):
            return
        for _ in range(2):  # CoreShowChannels, then QueueStatus: nothing is live
            action = await conn.read_action()
            assert action is not None
            aid = action["actionid"]
            complete = {
                "coreshowchannels": "CoreShowChannelsComplete",
                "queuestatus": "QueueStatusComplete",
            }[action["action"].lower()]
            await conn.send(
                msg(
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("EventList", "start"),
                    ("Message", "will follow"),
                )
            )
            await conn.send(
                msg(
                    ("Event", complete),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", "0"),
                )
            )
        if first:
            stream = self.stream if self.cut_at is None else self.stream[: self.cut_at]
            for i, raw in enumerate(stream):
                await conn.send(raw)
                if i % 5 == 0 and i // 5 < len(GARBAGE):
                    await conn.send(GARBAGE[i // 5])
            if self.cut_at is not None:
                nxt = self.stream[self.cut_at]
                await conn.send(nxt[: len(nxt) // 2], pause=0.05)
                conn.writer.transport.abort()
                return
        await conn.serve_pings()


def _run_peer(
    runtime: Any, peer: Peer, *, expect_connections: int = 1
) -> tuple[CallCenterThread, dict[str, Any]]:
    async def serve(stop: asyncio.Event, ready: asyncio.Future[int]) -> None:
        async with ScriptedServer(peer) as srv:
            ready.set_result(srv.port)
            await stop.wait()

    import threading

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready: asyncio.Future[int] = loop.create_future()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(stop, ready),), daemon=True
    )
    thread.start()
    while not ready.done():
        time.sleep(0.01)
    center = CallCenterThread(
        runtime,
        host="127.0.0.1",
        port=ready.result(),
        username="hotline",
        secret=SECRET,
        ping_interval=0,
        reconnect_initial=0.1,
    )
    center.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        peer.connections < expect_connections or center.center.resyncs < expect_connections
    ):
        time.sleep(0.02)
    time.sleep(0.3)
    center.center.pipeline.wait_idle(10)
    stats = center.center.stats()
    center.stop()
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    return center, stats


def test_bad_input_is_counted_and_the_calls_are_recorded_once(runtime) -> None:
    stream, calls = record_stream(SCENARIOS[:2])
    _, stats = _run_peer(runtime, Peer(stream))
    assert stats["pipeline"]["malformed"] >= 2
    assert stats["pipeline"]["unknown_channel"] >= 1
    assert stats["ami"]["malformed"] >= 1 and stats["ami"]["merged_blocks"] >= 1
    assert stats["ami"]["disconnects"] == 0 and stats["pipeline"]["failed"] == 0
    state = dump(runtime)
    assert {row[0]: row[1] for row in state["calls"]} == {c.linkedid: c.outcome for c in calls}


def test_connection_dropped_mid_message_then_resync_closes_the_call_once(runtime) -> None:
    stream, calls = record_stream(SCENARIOS[:1])
    names = [raw.split(b"\r\n", 1)[0] for raw in stream]
    cut = names.index(b"Event: AgentComplete")  # answered; it ends while we are away
    _, stats = _run_peer(runtime, Peer(stream, cut_at=cut), expect_connections=2)
    assert stats["ami"]["disconnects"] == 1 and stats["resyncs"] == 2
    state = dump(runtime)
    (row,) = state["calls"]
    linkedid, outcome, *_ = row
    assert (linkedid, outcome) == (calls[0].linkedid, "answered")
    with runtime.session() as s:
        call = s.get(Call, linkedid)
        assert call.ended_at is not None and call.closed_by_resync
        agent = s.get(Agent, "PJSIP/8002")
        assert agent.linkedid is None
