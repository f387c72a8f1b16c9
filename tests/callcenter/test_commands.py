"""Console and job commands through callcenter's AMI connection, in-process and over Redis."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from callcenter.pbx_sim import CallerConfig, PhoneConfig
from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit.models import AuditRecord
from platform_core.calls import recalls
from platform_core.calls.models import Agent, AgentMembership, Call, RecallAttempt, RecallItem
from platform_core.telephony.commands import (
    Pause,
    TelephonyClient,
    TelephonyRejected,
    TelephonyUnavailable,
)
from tests.callcenter.conftest import settle, sim_config

AGENT = Actor(kind="user", name="王芳", region_code="150000000000", role=Role.AGENT, user_id=7)


def _agent(runtime, interface):
    with runtime.session() as s:
        a = s.get(Agent, interface)
        return None if a is None else (a.state, a.reason, sorted(m.queue for m in a.memberships))


def wait_until(fn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_login_pause_unpause_logout_change_state_only_on_confirmation(
    runtime, start_sim, start_center
):
    sim = start_sim(sim_config(agents=0))
    center = start_center(sim)
    client = TelephonyClient(runtime)
    result = client.login(
        interface="PJSIP/8005",
        queues=["hotline-general", "hotline-emergency"],
        member_name="斯琴",
        actor=AGENT,
    )
    assert result.ok
    settle(center, runtime, sim)
    assert _agent(runtime, "PJSIP/8005") == (
        "ready",
        None,
        ["hotline-emergency", "hotline-general"],
    )
    assert client.login(
        interface="PJSIP/8005", queues=["hotline-general"], actor=AGENT
    ).ok  # already there

    client.pause(interface="PJSIP/8005", reason="午餐", actor=AGENT)
    settle(center, runtime, sim)
    assert _agent(runtime, "PJSIP/8005")[:2] == ("paused", "午餐")
    client.unpause(interface="PJSIP/8005", actor=AGENT)
    settle(center, runtime, sim)
    assert _agent(runtime, "PJSIP/8005")[:2] == ("ready", None)

    with pytest.raises(TelephonyRejected) as info:
        client.pause(interface="PJSIP/9999", reason="x", actor=AGENT)
    assert "Interface not found" in info.value.message and info.value.code == "telephony_rejected"

    client.logout(
        interface="PJSIP/8005", queues=["hotline-general", "hotline-emergency"], actor=AGENT
    )
    settle(center, runtime, sim)
    assert _agent(runtime, "PJSIP/8005") == ("logged_out", None, [])
    with runtime.session() as s:
        actions = [
            r.action for r in s.scalars(select(AuditRecord).where(AuditRecord.actor_user_id == 7))
        ]
    assert actions.count("telephony.pause") == 2 and "telephony.queue_logout" in actions


def test_pause_is_not_shown_before_asterisk_confirms(runtime, start_sim, start_center):
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim)
    gate = threading.Event()
    original = sim.pbx.queue_pause

    def slow_pause(*args, **kwargs):  # Asterisk takes its time to confirm
        sim.loop.call_later(0.5, lambda: (original(*args, **kwargs), gate.set()))
        return None

    sim.pbx.queue_pause = slow_pause  # type: ignore[method-assign]
    TelephonyClient(runtime).pause(interface="PJSIP/8001", reason="培训")
    assert _agent(runtime, "PJSIP/8001")[0] == "ready"
    gate.wait(5)
    settle(center, runtime, sim)
    assert _agent(runtime, "PJSIP/8001")[:2] == ("paused", "培训")


def test_call_back_of_a_recall_reaches_the_elder_and_closes_it(
    runtime, start_sim, start_center, captured
):
    cfg = sim_config(agents=1)
    cfg.phones["13800000021"] = PhoneConfig(answer_after=2, talk=5)
    sim = start_sim(cfg)
    center = start_center(sim)
    with runtime.session() as s:
        item = recalls.open_recall_request(
            s,
            linkedid="ivr-1",
            number="13800000021",
            elder_id=None,
            queue="hotline-general",
            at=clock.now(),
        )
        recall_id = item.id
    client = TelephonyClient(runtime)
    result = client.call_back(
        agent_interface="PJSIP/8001",
        number="13800000021",
        recall_id=recall_id,
        wait=True,
        actor=AGENT,
    )
    assert result.ok and result.data["reason"] == 4
    captured.wait_for("RecallClosed", lambda d: d["recall_id"] == recall_id, timeout=10)
    settle(center, runtime, sim)
    with runtime.session() as s:
        item = s.get(RecallItem, recall_id)
        (attempt,) = s.scalars(select(RecallAttempt).where(RecallAttempt.recall_id == recall_id))
        callback = s.scalar(select(Call).where(Call.recall_id == recall_id))
        assert (item.status, item.closed_reason, attempt.result) == (
            "closed",
            "reached_callback",
            "reached",
        )
        assert callback.direction == "outbound" and item.closed_by_linkedid == callback.linkedid


def test_unanswered_call_back_is_an_attempt_and_a_repeated_key_never_dials_twice(
    runtime, start_sim, start_center
):
    cfg = sim_config(agents=1)
    cfg.agents[0].answer_after = None  # the agent does not pick up
    sim = start_sim(cfg)
    center = start_center(sim)
    originates = []
    original = sim.pbx.originate
    sim.pbx.originate = lambda *a, **k: (originates.append(a[0]), original(*a, **k))[1]  # type: ignore[method-assign]
    with runtime.session() as s:
        recall_id = recalls.open_recall_request(
            s,
            linkedid="ivr-2",
            number="13800000022",
            elder_id=None,
            queue=None,
            at=clock.now(),
        ).id
    client = TelephonyClient(runtime)
    first = client.call_back(
        agent_interface="PJSIP/8001",
        number="13800000022",
        recall_id=recall_id,
        wait=True,
        timeout_s=5,
        idempotency_key="recall-2-attempt-1",
    )
    again = client.call_back(
        agent_interface="PJSIP/8001",
        number="13800000022",
        recall_id=recall_id,
        wait=True,
        timeout_s=5,
        idempotency_key="recall-2-attempt-1",
    )
    assert (first.ok, again.ok, again.repeated) == (False, False, True)
    assert len(originates) == 1
    wait_until(lambda: _attempts(runtime, recall_id))
    settle(center, runtime, sim)
    assert _attempts(runtime, recall_id) == [("agent_no_answer", "open")]


def _attempts(runtime, recall_id):
    with runtime.session() as s:
        item = s.get(RecallItem, recall_id)
        return [
            (a.result, item.status)
            for a in s.scalars(select(RecallAttempt).where(RecallAttempt.recall_id == recall_id))
        ]


def test_transfer_keeps_the_call_credited_to_the_first_agent(
    runtime, start_sim, start_center, captured
):
    cfg = sim_config(agents=2)
    cfg.agents[1].queues = ["hotline-emergency"]
    cfg.agents[0].queues = ["hotline-general"]
    sim = start_sim(cfg)
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="13800000031", name="转接", talk=20))
    captured.wait_for("CallAnswered", lambda d: d["linkedid"] == call.linkedid)
    TelephonyClient(runtime).transfer(
        channel=call.channel.name, queue="hotline-emergency", actor=AGENT
    )
    sim.wait(call)
    settle(center, runtime, sim)
    with runtime.session() as s:
        c = s.get(Call, call.linkedid)
        assert (c.outcome, c.agent_interface, c.first_queue, c.transferred) == (
            "answered",
            "PJSIP/8001",
            "hotline-general",
            True,
        )
        assert [(e.queue, e.outcome) for e in c.entries] == [
            ("hotline-general", "answered"),
            ("hotline-emergency", "answered"),
        ]
        assert [(o.interface, o.complete_reason) for o in c.offers] == [
            ("PJSIP/8001", "transfer"),
            ("PJSIP/8002", "caller"),
        ]


def test_spy_modes_and_hangup(runtime, start_sim, start_center, captured):
    cfg = sim_config(agents=1)
    sim = start_sim(cfg)
    sim.call(sim.pbx.set_phone, "PJSIP/8101", answer_after=1)
    center = start_center(sim)
    spied = []
    original = sim.pbx.originate
    sim.pbx.originate = lambda *a, **k: (spied.append(dict(a[0])), original(*a, **k))[1]  # type: ignore[method-assign]
    call = sim.place_call(CallerConfig(number="13800000041", talk=200))
    captured.wait_for("CallAnswered", lambda d: d["linkedid"] == call.linkedid)
    client = TelephonyClient(runtime)
    for mode in ("listen", "whisper", "barge"):
        assert getattr(client, mode)(
            supervisor_interface="PJSIP/8101", agent_interface="PJSIP/8001"
        ).ok
    assert [(f["application"], f["data"]) for f in spied] == [
        ("ChanSpy", "PJSIP/8001,q"),
        ("ChanSpy", "PJSIP/8001,qw"),
        ("ChanSpy", "PJSIP/8001,qB"),
    ]
    assert client.hangup(channel=call.channel.name).ok
    sim.wait(call)
    settle(center, runtime, sim)
    with runtime.session() as s:
        assert s.get(Call, call.linkedid).outcome == "answered"
    with pytest.raises(TelephonyRejected):
        client.hangup(channel="PJSIP/nobody-00000001")


def test_no_callcenter_means_a_clear_unavailable_error(runtime):
    with pytest.raises(TelephonyUnavailable) as info:
        TelephonyClient(runtime, timeout=0.5).pause(interface="PJSIP/8001", reason="x")
    assert info.value.code == "telephony_unavailable" and "未运行" in info.value.message


def test_commands_over_redis(redis_runtime, start_sim, start_center):
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim, rt=redis_runtime)
    client = TelephonyClient(redis_runtime)
    assert client.pause(interface="PJSIP/8001", reason="会议").ok
    settle(center, redis_runtime, sim)
    with redis_runtime.session() as s:
        assert s.get(AgentMembership, ("PJSIP/8001", "hotline-general")).paused_reason == "会议"
    with pytest.raises(TelephonyRejected):
        client.unpause(interface="PJSIP/0000")
    command = Pause(interface="PJSIP/8001", reason="会议")
    first = client.execute(command, idempotency_key="k-redis-1")
    again = client.execute(command, idempotency_key="k-redis-1")
    assert first.ok and again.repeated
