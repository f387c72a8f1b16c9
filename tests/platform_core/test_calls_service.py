"""The call services on PostgreSQL and SQLite: lifecycle, idempotence, agent states, recalls,
the live snapshot a console loads, and events only after commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from platform_core.calls import agents, queries, recalls
from platform_core.calls import service as calls
from platform_core.calls.models import Agent, AgentStateSpan, Call, RecallItem
from platform_core.calls.schemas import ChannelRef, MemberState

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def caller(
    n: int = 1, number: str = "13800000001", name: str = "张桂兰", **variables: str
) -> ChannelRef:
    uid = f"1700000000.{n}"
    return ChannelRef(
        channel=f"PJSIP/trunk-{n:08x}",
        uniqueid=uid,
        linkedid=uid,
        caller_number=number,
        caller_name=name,
        context="hotline-inbound",
        exten="12349",
        variables=variables,
    )


def leg(n: int, of: ChannelRef, iface: str = "PJSIP/8001") -> ChannelRef:
    return ChannelRef(
        channel=f"{iface}-{n:08x}",
        uniqueid=f"1700000000.{n}",
        linkedid=of.linkedid,
        context="hotline-agents",
    )


def member(
    iface: str = "PJSIP/8001",
    queue: str = "hotline-general",
    status: int = 1,
    paused: bool = False,
    reason: str = "",
    in_call: bool = False,
) -> MemberState:
    return MemberState(
        queue=queue,
        interface=iface,
        member_name="王芳",
        status=status,
        paused=paused,
        paused_reason=reason,
        in_call=in_call,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call(
    s,
    c: ChannelRef,
    agent_leg: ChannelRef,
    *,
    queue: str = "hotline-general",
    start: float = 0,
    hold: int = 8,
    talk: int = 60,
    iface: str = "PJSIP/8001",
) -> None:
    calls.record_channel(s, chan=c, at=at(start))
    calls.record_join(s, chan=c, queue=queue, position=1, at=at(start + 2))
    calls.record_agent_called(
        s,
        chan=c,
        dest=agent_leg,
        queue=queue,
        interface=iface,
        member_name="王芳",
        at=at(start + 3),
    )
    calls.record_leave(s, chan=c, queue=queue, position=1, at=at(start + 2 + hold))
    calls.record_connect(
        s,
        chan=c,
        dest=agent_leg,
        queue=queue,
        interface=iface,
        member_name="王芳",
        hold_s=hold,
        ring_s=hold - 1,
        at=at(start + 2 + hold),
    )
    calls.record_complete(
        s,
        chan=c,
        dest=agent_leg,
        queue=queue,
        interface=iface,
        member_name="王芳",
        hold_s=hold,
        talk_s=talk,
        reason="caller",
        at=at(start + 2 + hold + talk),
    )
    calls.record_hangup(s, chan=c, cause=16, at=at(start + 2 + hold + talk))
    calls.record_hangup(s, chan=agent_leg, cause=16, at=at(start + 2 + hold + talk))


def test_answered_call_and_agent_states(any_runtime) -> None:
    c = caller(HOTLINE_ELDER_ID="77", HOTLINE_INTENT="repair")
    with any_runtime.session() as s:
        calls.record_member(s, member=member(), at=at(-60))
        answered_call(s, c, leg(2, c))
    with any_runtime.session() as s:
        call = s.get(Call, c.linkedid)
        assert (call.outcome, call.elder_id, call.intent, call.wait_s, call.talk_s) == (
            "answered",
            77,
            "repair",
            8.0,
            60,
        )
        agent = s.get(Agent, "PJSIP/8001")
        assert (agent.state, agent.linkedid, agent.wrapup_until) == ("wrap_up", None, at(70 + 15))
        spans = [
            (sp.state, sp.started_at)
            for sp in s.scalars(
                select(AgentStateSpan).order_by(AgentStateSpan.started_at, AgentStateSpan.id)
            )
        ]
        assert spans == [
            ("ready", at(-60)),
            ("ringing", at(3)),
            ("on_call", at(10)),
            ("wrap_up", at(70)),
        ]
        assert calls.expire_wrapups(s, now=at(84)) == 0
        assert calls.expire_wrapups(s, now=at(86)) == 1
    with any_runtime.session() as s:
        assert s.get(Agent, "PJSIP/8001").state == "ready"


def test_the_same_events_twice_change_nothing(any_runtime) -> None:
    c = caller()

    def snapshot():
        with any_runtime.session() as s:
            call = s.get(Call, c.linkedid)
            return (
                [(e.seq, e.outcome, e.wait_s) for e in call.entries],
                [(o.status, o.talk_s) for o in call.offers],
                (call.outcome, call.wait_s, call.talk_s, call.ended_at),
                len(list(s.scalars(select(AgentStateSpan)))),
            )

    with any_runtime.session() as s:
        answered_call(s, c, leg(2, c))
    first = snapshot()
    with any_runtime.session() as s:
        answered_call(s, c, leg(2, c))
    assert snapshot() == first


def test_abandon_opens_one_recall_and_a_later_answered_call_closes_it(any_runtime) -> None:
    lost = caller(1, number="04716912345")
    with any_runtime.session() as s:
        calls.record_channel(s, chan=lost, at=at(0))
        calls.record_join(s, chan=lost, queue="hotline-general", position=1, at=at(1))
        for _ in range(2):
            calls.record_abandon(
                s,
                chan=lost,
                queue="hotline-general",
                position=1,
                original_position=1,
                hold_s=40,
                at=at(41),
            )
        calls.record_leave(s, chan=lost, queue="hotline-general", position=1, at=at(41))
        calls.record_hangup(s, chan=lost, cause=16, at=at(41))
    with any_runtime.session() as s:
        (item,) = recalls.list_recalls(s)
        assert (item.reason, item.number, item.wait_s, item.status) == (
            "abandoned",
            "04716912345",
            40.0,
            "open",
        )
        recall_id = item.id
        assert recalls.record_recall_attempt(
            s, recall_id=recall_id, attempt_key="cb-1", result="no_answer", at=at(100)
        )
        recalls.record_recall_attempt(
            s, recall_id=recall_id, attempt_key="cb-1", result="no_answer", at=at(100)
        )
    back = caller(3, number="04716912345")
    with any_runtime.session() as s:
        answered_call(s, back, leg(4, back), start=200)
    with any_runtime.session() as s:
        item = s.get(RecallItem, recall_id)
        assert (item.status, item.closed_reason, item.closed_by_linkedid, item.attempts) == (
            "closed",
            "reached_inbound",
            back.linkedid,
            1,
        )


def test_timeout_without_any_agent_is_no_agent_and_ivr_only_is_not_offered(any_runtime) -> None:
    waited, ivr = caller(1, number="13900000001"), caller(2, number="13900000002")
    with any_runtime.session() as s:
        calls.record_channel(s, chan=waited, at=at(0))
        calls.record_join(s, chan=waited, queue="hotline-general", position=1, at=at(1))
        calls.record_leave(s, chan=waited, queue="hotline-general", position=1, at=at(301))
        calls.record_hangup(s, chan=waited, cause=16, at=at(310))
        calls.record_channel(s, chan=ivr, at=at(5))
        calls.record_variables(s, chan=ivr, variables={"QUEUESTATUS": "JOINEMPTY"}, at=at(6))
        calls.record_hangup(s, chan=ivr, cause=16, at=at(7))
    with any_runtime.session() as s:
        w, i = s.get(Call, waited.linkedid), s.get(Call, ivr.linkedid)
        assert (w.outcome, w.wait_s, i.outcome, i.queued_at) == ("timeout", 300.0, "ivr_only", None)
        reasons = {r.origin_linkedid: r.reason for r in s.scalars(select(RecallItem))}
        assert reasons == {waited.linkedid: "no_agent", ivr.linkedid: "no_agent"}


def test_transfer_keeps_the_first_queue_and_agent_credited(any_runtime) -> None:
    c = caller()
    first, second = leg(2, c), leg(3, c, "PJSIP/8002")
    with any_runtime.session() as s:
        calls.record_channel(s, chan=c, at=at(0))
        calls.record_join(s, chan=c, queue="hotline-general", position=1, at=at(1))
        calls.record_agent_called(
            s,
            chan=c,
            dest=first,
            queue="hotline-general",
            interface="PJSIP/8001",
            member_name="王芳",
            at=at(2),
        )
        calls.record_leave(s, chan=c, queue="hotline-general", position=1, at=at(6))
        calls.record_connect(
            s,
            chan=c,
            dest=first,
            queue="hotline-general",
            interface="PJSIP/8001",
            member_name="王芳",
            hold_s=5,
            ring_s=4,
            at=at(6),
        )
        calls.record_complete(
            s,
            chan=c,
            dest=first,
            queue="hotline-general",
            interface="PJSIP/8001",
            member_name="王芳",
            hold_s=5,
            talk_s=30,
            reason="transfer",
            at=at(36),
        )
        calls.record_join(s, chan=c, queue="hotline-emergency", position=1, at=at(36))
        calls.record_agent_called(
            s,
            chan=c,
            dest=second,
            queue="hotline-emergency",
            interface="PJSIP/8002",
            member_name="李娜",
            at=at(37),
        )
        calls.record_leave(s, chan=c, queue="hotline-emergency", position=1, at=at(40))
        calls.record_connect(
            s,
            chan=c,
            dest=second,
            queue="hotline-emergency",
            interface="PJSIP/8002",
            member_name="李娜",
            hold_s=4,
            ring_s=3,
            at=at(40),
        )
        calls.record_complete(
            s,
            chan=c,
            dest=second,
            queue="hotline-emergency",
            interface="PJSIP/8002",
            member_name="李娜",
            hold_s=4,
            talk_s=50,
            reason="caller",
            at=at(90),
        )
        calls.record_hangup(s, chan=c, cause=16, at=at(90))
    with any_runtime.session() as s:
        call = s.get(Call, c.linkedid)
        assert (
            call.outcome,
            call.first_queue,
            call.answered_queue,
            call.agent_interface,
            call.wait_s,
            call.talk_s,
            call.transferred,
        ) == ("answered", "hotline-general", "hotline-general", "PJSIP/8001", 5.0, 30, True)
        assert [(e.queue, e.outcome) for e in call.entries] == [
            ("hotline-general", "answered"),
            ("hotline-emergency", "answered"),
        ]


@pytest.mark.parametrize(
    ("members", "device", "ringing", "on_call", "wrapup", "expected"),
    [
        ([], 1, False, False, False, ("logged_out", None)),
        ([member()], 1, False, False, False, ("ready", None)),
        ([member(paused=True, reason="午餐")], 1, False, False, False, ("paused", "午餐")),
        (
            [member(paused=True, reason="午餐"), member(queue="hotline-emergency")],
            1,
            False,
            False,
            False,
            ("ready", None),
        ),
        ([member(paused=True)], 1, True, False, False, ("ringing", None)),
        ([member()], 2, False, False, False, ("on_call", None)),
        ([member(paused=True)], 1, False, True, False, ("on_call", None)),
        ([member()], 1, False, False, True, ("wrap_up", None)),
        ([member()], 5, False, False, False, ("paused", "device_unavailable")),
    ],
)
def test_agent_state_rules(members, device, ringing, on_call, wrapup, expected) -> None:
    from platform_core.calls.models import AgentMembership

    agent = Agent(
        interface="PJSIP/8001",
        device_status=device,
        ringing_uniqueid="x" if ringing else None,
        linkedid="y" if on_call else None,
        wrapup_until=at(10) if wrapup else None,
    )
    agent.memberships = [
        AgentMembership(
            interface=m.interface,
            queue=m.queue,
            paused=m.paused,
            paused_reason=m.paused_reason,
            in_call=m.in_call,
        )
        for m in members
    ]
    assert agents.derive_agent_state(agent, at(0)) == expected


def test_live_snapshot_shows_waiting_callers_agents_and_today(any_runtime) -> None:
    now = datetime.now(UTC)
    waiting = caller(1, name="斯琴", HOTLINE_PRIORITY="10")
    with any_runtime.session() as s:
        calls.record_member(
            s, member=member(paused=True, reason="培训"), at=now - timedelta(minutes=5)
        )
        calls.record_channel(s, chan=waiting, at=now - timedelta(seconds=50))
        calls.record_join(
            s, chan=waiting, queue="hotline-emergency", position=1, at=now - timedelta(seconds=45)
        )
    with any_runtime.session() as s:
        snap = queries.live_snapshot(s)
        other_region = queries.live_snapshot(s, region_code="152900")
    queues = {q["queue"]: q for q in snap["queues"]}
    emergency = queues["hotline-emergency"]
    assert emergency["waiting_count"] == 1 and 44 <= emergency["longest_wait_s"] <= 60
    assert (
        emergency["waiting"][0]["caller_name"] == "斯琴"
        and emergency["waiting"][0]["priority"] == 10
    )
    (agent,) = snap["agents"]
    assert (agent["state"], agent["reason"], agent["queues"]) == (
        "paused",
        "培训",
        ["hotline-general"],
    )
    assert 299 <= agent["duration_s"] <= 400
    assert snap["kpi"]["offered"] == 0  # still waiting: not yet counted
    assert all(q["waiting_count"] == 0 for q in other_region["queues"])


def test_events_publish_after_commit_and_never_after_rollback(runtime) -> None:
    seen: list[str] = []
    runtime.event_bus.subscribe(lambda env: seen.append(env["type"]))
    c = caller()
    with pytest.raises(RuntimeError), runtime.session() as s:
        calls.record_channel(s, chan=c, at=at(0))
        calls.record_join(s, chan=c, queue="hotline-general", position=1, at=at(1))
        raise RuntimeError("boom")
    runtime.event_bus.drain()
    assert seen == []
    with runtime.session() as s:
        calls.record_channel(s, chan=c, at=at(0))
        calls.record_join(s, chan=c, queue="hotline-general", position=1, at=at(1))
        calls.record_join(
            s, chan=caller(5, number="13800000005"), queue="hotline-general", position=2, at=at(2)
        )
        assert seen == []
    runtime.event_bus.drain()
    assert seen == [
        "CallQueued",
        "CallQueued",
        "QueueStatsChanged",
    ]  # one stats event per queue and commit


def test_whole_numbers_in_float_columns_are_written(any_runtime) -> None:
    from platform_core.calls import live

    c, d = caller(1), caller(2, number="13800000002")
    with any_runtime.session() as s:
        for ch in (c, d):
            calls.record_channel(s, chan=ch, at=at(0))
        live.store(s).calls[c.linkedid].wait_s = 8  # an int where the column is a float
        live.store(s).calls[d.linkedid].wait_s = 2.5
    with any_runtime.session() as s:
        assert (s.get(Call, c.linkedid).wait_s, s.get(Call, d.linkedid).wait_s) == (8.0, 2.5)
