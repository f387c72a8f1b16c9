"""The KPIs of DOMAIN.md section 8, computed by hand here and by kpi_report there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from platform_core.calls import service as calls
from platform_core.calls.kpi import CallFacts, compute_kpis, kpi_report
from platform_core.calls.models import AgentStateSpan
from platform_core.calls.schemas import ChannelRef
from platform_core.errors import ValidationFailed

T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 23:30 in Asia/Shanghai


def fact(
    outcome: str | None, wait: float | None, n: int = 0, queue: str = "hotline-general"
) -> CallFacts:
    return CallFacts(
        linkedid=f"c{n}-{outcome}-{wait}", queued_at=T0, queue=queue, outcome=outcome, wait_s=wait
    )


def test_rates_by_the_pinned_definitions() -> None:
    facts = [
        fact("answered", 3, 1),
        fact("answered", 20, 2),
        fact("answered", 21, 3),  # 20 s is within the level
        fact("abandoned", 2, 4),
        fact("abandoned", 5, 5),
        fact("abandoned", 40, 6),
        fact("timeout", 300, 7),
        fact(None, None, 8),
        fact("ivr_only", None, 9),
    ]
    k = compute_kpis(facts, service_level_s=20, short_abandon_s=5)
    assert (k.offered, k.answered, k.abandoned, k.timeout, k.short_abandoned) == (7, 3, 3, 1, 1)
    assert k.answer_rate == round(3 / 7, 4)  # strict: every abandon counts
    assert k.answer_rate_excl_short == round(3 / 6, 4)  # only the 2 s abandon (< 5 s) is left out
    assert k.service_level == round(2 / 7, 4)
    assert k.asa_s == round((3 + 20 + 21) / 3, 1)
    assert k.abandon_rate == round(3 / 7, 4)
    labelled = k.as_dict()
    assert "answer_rate_excl_abandons_under_5s" in labelled and labelled["service_level_s"] == 20


def test_no_offered_calls_give_no_rates() -> None:
    k = compute_kpis(
        [fact(None, None), fact("ivr_only", None)], service_level_s=20, short_abandon_s=5
    )
    assert (k.offered, k.answer_rate, k.service_level, k.asa_s, k.abandon_rate) == (
        0,
        None,
        None,
        None,
        None,
    )


def _call(
    s,
    n: int,
    *,
    start: datetime,
    queue: str,
    outcome: str,
    wait: int,
    iface: str = "PJSIP/8001",
    talk: int = 100,
    region_elder: int | None = None,
) -> None:
    uid = f"1800000000.{n}"
    c = ChannelRef(
        channel=f"PJSIP/trunk-{n}",
        uniqueid=uid,
        linkedid=uid,
        caller_number=f"1380000{n:04d}",
        context="hotline-inbound",
    )
    agent_leg = ChannelRef(channel=f"{iface}-{n}", uniqueid=f"{uid}9", linkedid=uid)
    calls.record_channel(s, chan=c, at=start)
    calls.record_join(s, chan=c, queue=queue, position=1, at=start)
    if outcome == "answered":
        calls.record_agent_called(
            s,
            chan=c,
            dest=agent_leg,
            queue=queue,
            interface=iface,
            member_name=iface,
            at=start + timedelta(seconds=1),
        )
        connected = start + timedelta(seconds=wait)
        calls.record_leave(s, chan=c, queue=queue, position=1, at=connected)
        calls.record_connect(
            s,
            chan=c,
            dest=agent_leg,
            queue=queue,
            interface=iface,
            member_name=iface,
            hold_s=wait,
            ring_s=1,
            at=connected,
        )
        calls.record_complete(
            s,
            chan=c,
            dest=agent_leg,
            queue=queue,
            interface=iface,
            member_name=iface,
            hold_s=wait,
            talk_s=talk,
            reason="caller",
            at=connected + timedelta(seconds=talk),
        )
    elif outcome == "abandoned":
        calls.record_abandon(
            s,
            chan=c,
            queue=queue,
            position=1,
            original_position=1,
            hold_s=wait,
            at=start + timedelta(seconds=wait),
        )
    calls.record_hangup(s, chan=c, cause=16, at=start + timedelta(seconds=wait + talk))


def test_report_by_day_hour_queue_and_agent_in_local_time(any_runtime) -> None:
    with any_runtime.session() as s:
        _call(
            s, 1, start=T0, queue="hotline-general", outcome="answered", wait=10
        )  # 03-02 23:30 local
        _call(
            s,
            2,
            start=T0 + timedelta(hours=1),
            queue="hotline-emergency",
            outcome="answered",
            wait=30,
            iface="PJSIP/8002",
            talk=200,
        )  # 03-03 00:30 local
        _call(
            s,
            3,
            start=T0 + timedelta(hours=1, minutes=5),
            queue="hotline-general",
            outcome="abandoned",
            wait=3,
        )
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    with any_runtime.session() as s:
        by_day = kpi_report(s, start=start, end=end, by="day")
        by_hour = kpi_report(s, start=start, end=end, by="hour")
        by_queue = kpi_report(s, start=start, end=end, by="queue")
        by_agent = kpi_report(s, start=start, end=end, by="agent")
        general = kpi_report(s, start=start, end=end, queue="hotline-general")
        with pytest.raises(ValidationFailed):
            kpi_report(s, start=start, end=end, by="week")
    assert {r.key: r.figures.offered for r in by_day.rows} == {"2026-03-02": 1, "2026-03-03": 2}
    assert {r.key: r.figures.answered for r in by_hour.rows} == {
        "2026-03-02 23:00": 1,
        "2026-03-03 00:00": 1,
    }
    assert {r.key: (r.figures.offered, r.figures.answered) for r in by_queue.rows} == {
        "hotline-general": (2, 1),
        "hotline-emergency": (1, 1),
    }
    total = by_day.total
    assert (total.offered, total.answered, total.abandoned, total.answer_rate) == (
        3,
        2,
        1,
        round(2 / 3, 4),
    )
    assert total.service_level == round(1 / 3, 4) and total.asa_s == 20.0
    # AHT: talk + wrap-up (hotline-general 15 s, hotline-emergency 10 s) per answered leg
    assert total.aht_s == pytest.approx(((100 + 15) + (200 + 10)) / 2)
    assert {
        r.key: (r.figures.offered, r.figures.answered, r.figures.aht_s) for r in by_agent.rows
    } == {"PJSIP/8001": (1, 1, 115.0), "PJSIP/8002": (1, 1, 210.0)}
    assert (general.total.offered, general.total.answered) == (2, 1)


def test_occupancy_from_state_spans(any_runtime) -> None:
    base = datetime.now(UTC) - timedelta(hours=3)
    with any_runtime.session() as s:
        for minute, state in [
            (0, "ready"),
            (30, "on_call"),
            (120, "wrap_up"),
            (125, "paused"),
            (150, "logged_out"),
        ]:
            s.add(
                AgentStateSpan(
                    interface="PJSIP/8001",
                    state=state,
                    reason=None,
                    started_at=base + timedelta(minutes=minute),
                )
            )
        s.add(
            AgentStateSpan(
                interface="PJSIP/8009",
                state="ready",
                reason=None,
                started_at=base - timedelta(days=3),
            )
        )
    with any_runtime.session() as s:
        rep = kpi_report(s, start=base, end=base + timedelta(minutes=150), by="agent")
    rows = {r.key: r.figures for r in rep.rows}
    assert rows["PJSIP/8001"].occupancy == round(
        90 / (90 + 30), 4
    )  # wrap-up and pauses count as neither
    assert (
        rows["PJSIP/8009"].occupancy == 0.0
    )  # ready the whole period (its span began days before)
    assert rep.total.on_call_s == pytest.approx(90 * 60) and rep.total.ready_s == pytest.approx(
        (30 + 150) * 60
    )


def test_invalid_period_is_refused(any_runtime) -> None:
    with any_runtime.session() as s, pytest.raises(ValidationFailed):
        kpi_report(s, start=T0, end=T0 - timedelta(hours=1))


def test_an_answer_of_unknown_wait_counts_as_answered_but_not_in_asa_or_service_level() -> None:
    k = compute_kpis(
        [fact("answered", 10, 1), fact("answered", None, 2)], service_level_s=20, short_abandon_s=5
    )
    assert (k.offered, k.answered, k.answer_rate, k.service_level, k.asa_s) == (
        2,
        2,
        1.0,
        0.5,
        10.0,
    )


def _ring_all(
    s,
    n: int,
    *,
    start: datetime,
    queue: str,
    rung: list[str],
    answered_by: str | None = None,
    rang_out: tuple[str, ...] = (),
    talk: int = 60,
) -> None:
    """One call: the desks in ``rung`` ring at once (a ring-all queue), ``rang_out`` let it ring
    to the timeout first, then ``answered_by`` answers (its colleagues' legs are hung up) or the
    caller gives up."""
    uid = f"1900000000.{n}"
    c = ChannelRef(
        channel=f"PJSIP/trunk-{n}",
        uniqueid=uid,
        linkedid=uid,
        caller_number=f"1390000{n:04d}",
        context="hotline-inbound",
    )
    calls.record_channel(s, chan=c, at=start)
    calls.record_join(s, chan=c, queue=queue, position=1, at=start)
    at = start + timedelta(seconds=1)
    for k, iface in enumerate(rang_out):
        leg = ChannelRef(channel=f"{iface}-r{n}", uniqueid=f"{uid}.r{k}", linkedid=uid)
        calls.record_agent_called(
            s, chan=c, dest=leg, queue=queue, interface=iface, member_name=iface, at=at
        )
        at += timedelta(seconds=15)
        calls.record_ring_no_answer(
            s,
            chan=c,
            dest=leg,
            queue=queue,
            interface=iface,
            member_name=iface,
            ring_ms=15000,
            at=at,
        )
        calls.record_hangup(s, chan=leg, cause=16, at=at)
    legs = {
        iface: ChannelRef(channel=f"{iface}-{n}", uniqueid=f"{uid}.{k}", linkedid=uid)
        for k, iface in enumerate(rung)
    }
    for iface, leg in legs.items():
        calls.record_agent_called(
            s, chan=c, dest=leg, queue=queue, interface=iface, member_name=iface, at=at
        )
    at += timedelta(seconds=4)
    wait = int((at - start).total_seconds())
    if answered_by is None:
        calls.record_abandon(
            s, chan=c, queue=queue, position=1, original_position=1, hold_s=wait, at=at
        )
        calls.record_hangup(s, chan=c, cause=16, at=at)
        return
    for iface, leg in legs.items():
        if iface != answered_by:
            calls.record_hangup(s, chan=leg, cause=26, at=at)  # app_queue cancels the others
    leg = legs[answered_by]
    calls.record_leave(s, chan=c, queue=queue, position=1, at=at)
    calls.record_connect(
        s,
        chan=c,
        dest=leg,
        queue=queue,
        interface=answered_by,
        member_name=answered_by,
        hold_s=wait,
        ring_s=4,
        at=at,
    )
    calls.record_complete(
        s,
        chan=c,
        dest=leg,
        queue=queue,
        interface=answered_by,
        member_name=answered_by,
        hold_s=wait,
        talk_s=talk,
        reason="caller",
        at=at + timedelta(seconds=talk),
    )
    calls.record_hangup(s, chan=c, cause=16, at=at + timedelta(seconds=talk))


def test_agent_rows_count_ring_all_legs_as_rings_and_add_up_to_the_totals(any_runtime) -> None:
    """A ring-all queue rings every desk for one call: each ring is a ring presented to that
    agent, not a call offered to it; agent rows are named by the agent and their answered calls,
    rings, talk and wrap-up add up to the hotline's totals."""
    from platform_core.accounts import service as accounts
    from platform_core.actors import Role, system_actor
    from platform_core.regions.service import load_dictionary

    with any_runtime.session() as s:
        load_dictionary(s)
    with any_runtime.session() as s:
        for iface, name in (("PJSIP/8001", "王芳"), ("PJSIP/8002", "李娜")):
            accounts.create_user(
                s,
                actor=system_actor(),
                username=f"u{iface[-4:]}",
                password="Steppe-Wind-2026",
                role=Role.AGENT,
                region_code="150100000000",
                display_name=name,
                sip_interface=iface,
            )
        desks = ["PJSIP/8001", "PJSIP/8002", "PJSIP/8003"]
        _ring_all(s, 1, start=T0, queue="hotline-emergency", rung=desks, answered_by="PJSIP/8002")
        _ring_all(
            s,
            2,
            start=T0 + timedelta(minutes=5),
            queue="hotline-general",
            rung=["PJSIP/8002"],
            rang_out=("PJSIP/8001",),
            answered_by="PJSIP/8002",
            talk=120,
        )
        _ring_all(
            s,
            3,
            start=T0 + timedelta(minutes=10),
            queue="hotline-emergency",
            rung=["PJSIP/8001", "PJSIP/8002"],
        )
    with any_runtime.session() as s:
        rep = kpi_report(s, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1), by="agent")
        data = rep.as_dict()
    total = data["total"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (3, 2, 1)
    assert (total["rings"], total["rings_not_answered"], total["no_answer"]) == (7, 5, 1)
    rows = {r["key"]: r for r in data["rows"]}
    assert {k: r["label"] for k, r in rows.items()} == {
        "PJSIP/8001": "王芳",
        "PJSIP/8002": "李娜",
        "PJSIP/8003": "PJSIP/8003",  # a desk without an account keeps its member name
    }
    figures = {
        k: (r["answered"], r["rings"], r["rings_not_answered"], r["no_answer"])
        for k, r in rows.items()
    }
    assert figures == {
        "PJSIP/8001": (0, 3, 3, 1),
        "PJSIP/8002": (2, 3, 1, 0),
        "PJSIP/8003": (0, 1, 1, 0),
    }
    # per call, never per agent: no agent was "offered" a call or has an answer rate of its own
    for r in rows.values():
        assert r["offered"] is None and r["answer_rate"] is None and r["abandon_rate"] is None
    for measure in ("answered", "rings", "rings_not_answered", "no_answer", "talk_s", "wrapup_s"):
        assert sum(r[measure] for r in rows.values()) == pytest.approx(total[measure]), measure
    assert rows["PJSIP/8002"]["talk_s"] == 180 and rows["PJSIP/8002"]["wrapup_s"] == 10 + 15


def test_rows_by_queue_and_day_add_up_to_the_totals(any_runtime) -> None:
    with any_runtime.session() as s:
        desks = ["PJSIP/8001", "PJSIP/8002"]
        _ring_all(s, 1, start=T0, queue="hotline-emergency", rung=desks, answered_by="PJSIP/8001")
        _ring_all(
            s,
            2,
            start=T0 + timedelta(hours=1),
            queue="hotline-general",
            rung=["PJSIP/8002"],
            rang_out=("PJSIP/8001",),
            answered_by="PJSIP/8002",
        )
    for by in ("queue", "day", "hour"):
        with any_runtime.session() as s:
            data = kpi_report(
                s, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), by=by
            ).as_dict()
        for measure in ("offered", "answered", "rings", "rings_not_answered", "talk_s"):
            assert sum(r[measure] for r in data["rows"]) == data["total"][measure], (by, measure)
    with any_runtime.session() as s:
        data = kpi_report(
            s, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), by="queue"
        ).as_dict()
    assert {r["key"]: r["label"] for r in data["rows"]} == {
        "hotline-emergency": "紧急求助队列",
        "hotline-general": "综合服务队列",
    }
