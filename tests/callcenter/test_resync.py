"""A reconnect resyncs from QueueStatus and CoreShowChannels: calls that ended while callcenter
was away are closed, callers who joined meanwhile are adopted, nothing is counted twice."""

from __future__ import annotations

import time

from sqlalchemy import select

from callcenter.pbx_sim import CallerConfig
from platform_core import clock
from platform_core.calls import service as calls_service
from platform_core.calls.models import Agent, Call, QueueEntry, RecallItem, TelephonyQueue
from platform_core.calls.schemas import ChannelRef
from tests.callcenter.conftest import settle, sim_config


def test_calls_that_ended_while_away_are_closed_and_new_waiters_adopted(
    runtime, start_sim, start_center, captured
):
    cfg = sim_config(agents=1)
    cfg.agents[0].paused = True
    sim = start_sim(cfg)
    center = start_center(sim, reconnect_initial=1.0)
    gone = sim.place_call(CallerConfig(number="13800000011", name="离开的", patience=30))
    captured.wait_for("CallQueued", lambda d: d["linkedid"] == gone.linkedid)
    sim.call(sim.server.drop_all)  # callcenter is away for about a second
    newcomer = sim.place_call(CallerConfig(number="13800000012", name="新来的", talk=5))
    sim.wait(gone)  # abandons while nobody listens
    deadline = time.monotonic() + 10
    while center.center.resyncs < 2:
        assert time.monotonic() < deadline, "no reconnect"
        time.sleep(0.02)
    settle(center, runtime, sim)
    with runtime.session() as s:
        g = s.get(Call, gone.linkedid)
        assert (g.outcome, g.closed_by_resync, g.ended_at is not None) == ("abandoned", True, True)
        assert (
            s.scalar(select(RecallItem.reason).where(RecallItem.origin_linkedid == gone.linkedid))
            == "abandoned"
        )
        n = s.get(Call, newcomer.linkedid)
        assert (n.outcome, n.first_queue, n.caller_name) == (None, "hotline-general", "新来的")
        assert s.get(Agent, "PJSIP/8001").state == "paused"

    sim.call(sim.pbx.queue_pause, "PJSIP/8001", False)
    sim.wait(newcomer)
    settle(center, runtime, sim)
    with runtime.session() as s:
        n = s.get(Call, newcomer.linkedid)
        entries = list(
            s.scalars(select(QueueEntry).where(QueueEntry.linkedid == newcomer.linkedid))
        )
        assert (n.outcome, n.agent_interface, n.talk_s) == (
            "answered",
            "PJSIP/8001",
            newcomer.talk_s,
        )
        assert [(e.queue, e.outcome) for e in entries] == [("hotline-general", "answered")]
        assert abs(n.wait_s - newcomer.wait_s) <= 1


def test_a_call_answered_while_away_is_adopted_with_its_agent(
    runtime, start_sim, start_center, captured
):
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim, reconnect_initial=1.0)
    sim.call(sim.server.drop_all)
    call = sim.place_call(CallerConfig(number="13800000013", name="错过的", talk=80))
    deadline = time.monotonic() + 10
    while center.center.resyncs < 2:
        assert time.monotonic() < deadline, "no reconnect"
        time.sleep(0.02)
    assert call.outcome == "answered" and not call.done.done()  # still talking when we are back
    sim.wait(call)
    settle(center, runtime, sim)
    with runtime.session() as s:
        c = s.get(Call, call.linkedid)
        # the wait comes with the AgentComplete that follows (its HoldTime)
        assert (c.outcome, c.agent_interface, c.talk_s, c.wait_s) == (
            "answered",
            "PJSIP/8001",
            call.talk_s,
            call.wait_s,
        )
        assert c.ended_at is not None and not c.closed_by_resync


def test_a_bad_field_in_queue_status_costs_only_that_field(runtime, start_sim, start_center):
    """QueueParams with a Weight no integer column holds and a ServiceLevel that is no number:
    those two fields are left out (and counted); the waiting caller, the members and the rest
    of the queue's parameters still apply."""
    cfg = sim_config(agents=1)
    cfg.agents[0].paused = True
    cfg.agents[0].paused_reason = "午餐"
    sim = start_sim(cfg)
    listed = sim.pbx.queue_status_items

    def mangled(*args, **kwargs):
        return [
            item.replace(b"Weight: 10\r\n", b"Weight: 1e999\r\n").replace(
                b"ServiceLevel: 20\r\n", b"ServiceLevel: twenty\r\n"
            )
            for item in listed(*args, **kwargs)
        ]

    sim.pbx.queue_status_items = mangled
    waiting = sim.place_call(CallerConfig(number="13800000014", name="等待的", patience=60))
    deadline = time.monotonic() + 10
    while not sim.call(lambda: bool(sim.pbx.queues["hotline-general"].waiting)):
        assert time.monotonic() < deadline, "the caller never reached the queue"
        time.sleep(0.02)
    center = start_center(sim)  # its first resync reads the mangled QueueStatus
    with runtime.session() as s:
        c = s.get(Call, waiting.linkedid)
        assert c is not None, "the resync was thrown away with its bad field"
        assert (c.first_queue, c.outcome, c.caller_name) == ("hotline-general", None, "等待的")
        agent = s.get(Agent, "PJSIP/8001")
        assert (agent.state, agent.reason) == ("paused", "午餐")
        emergency = s.get(TelephonyQueue, "hotline-emergency")
        assert (emergency.strategy, emergency.weight, emergency.service_level_s) == (
            "ringall",
            0,
            None,
        )
        general = s.get(TelephonyQueue, "hotline-general")
        assert (general.strategy, general.weight) == ("rrmemory", 0)
    unreadable = center.center.stats()["resync_unreadable"]
    assert unreadable == {"QueueParams.Weight": 1, "QueueParams.ServiceLevel": 2}


def test_a_periodic_resync_closes_a_call_whose_hangup_never_arrived(
    runtime, start_sim, start_center
):
    """A caller left open in the records (its Hangup lost) and shown waiting in a queue is
    closed by the next periodic resync: Asterisk no longer has the channel."""
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim, resync_interval_s=0.3)
    ghost = ChannelRef(
        channel="PJSIP/trunk-0000beef",
        uniqueid="1700000000.4242",
        linkedid="1700000000.4242",
        caller_number="13800000015",
        context="hotline-inbound",
    )

    def lost_hangup(s) -> None:  # as if its events came and its Hangup never did
        at = clock.now()
        calls_service.record_channel(s, chan=ghost, at=at)
        calls_service.record_join(s, chan=ghost, queue="hotline-general", position=1, at=at)

    center.center.pipeline.submit_marker(lost_hangup)
    deadline = time.monotonic() + 10
    while True:
        with runtime.session() as s:
            c = s.get(Call, ghost.linkedid)
            if c is not None and c.ended_at is not None:
                break
        assert time.monotonic() < deadline, "no periodic resync closed the ghost"
        time.sleep(0.05)
    settle(center, runtime, sim)
    with runtime.session() as s:
        c = s.get(Call, ghost.linkedid)
        assert (c.outcome, c.closed_by_resync) == ("abandoned", True)
        assert s.get(TelephonyQueue, "hotline-general").waiting == 0
    assert center.center.last_resync["reason"] == "period"


def test_a_known_caller_who_joined_a_queue_while_away_is_shown_waiting(
    runtime, start_sim, start_center, captured
):
    """The caller's channel was seen, its QueueCallerJoin was not (the link was down): the
    resync's QueueStatus shows it waiting, so it is waiting, offered and answered in the records
    (it used to stay out of every queue and end as ivr_only)."""
    cfg = sim_config(agents=1)
    cfg.agents[0].paused = True
    sim = start_sim(cfg)
    center = start_center(sim, reconnect_initial=1.0)
    call = sim.place_call(
        CallerConfig(number="13800000016", name="断线时排队", ivr_time=20, talk=5)
    )

    def seen() -> bool:
        with runtime.session() as s:
            return s.get(Call, call.linkedid) is not None

    deadline = time.monotonic() + 5
    while not seen():
        assert time.monotonic() < deadline, "the caller's channel was never recorded"
        time.sleep(0.01)
    sim.call(sim.server.drop_all)  # the join comes 0.5 s after the call, while we are away
    deadline = time.monotonic() + 10
    while center.center.resyncs < 2:
        assert time.monotonic() < deadline, "no reconnect"
        time.sleep(0.02)
    settle(center, runtime, sim)
    assert call.queue == "hotline-general" and not call.done.done()
    with runtime.session() as s:
        assert s.get(Call, call.linkedid).first_queue == "hotline-general"
        assert s.get(TelephonyQueue, "hotline-general").waiting == 1
    sim.call(sim.pbx.queue_pause, "PJSIP/8001", False)
    sim.wait(call)
    settle(center, runtime, sim)
    with runtime.session() as s:
        c = s.get(Call, call.linkedid)
        assert (c.outcome, c.agent_interface, c.wait_s) == (
            "answered",
            "PJSIP/8001",
            float(call.wait_s),
        )
        assert s.get(TelephonyQueue, "hotline-general").waiting == 0
