"""SLA timers: scheduled when the order opens, doing nothing when the deadline was met or has not
come, and on a miss recording one breach, escalating, re-dispatching past the provider that
missed it and alerting the supervisor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from platform_core.db import utcnow
from platform_core.orders import service as orders
from platform_core.outbox.models import OutboxEntry
from platform_core.sla import jobs as sla_jobs
from platform_core.sla import service as sla
from platform_core.sla.models import SlaBreach
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import (
    backdate,
    history,
    open_order,
    order_of,
    scheduled,
    settle_jobs,
    submit,
)

rt, world = support.rt, support.world  # the shared fixtures


def breaches(rt, order_id: int) -> list[SlaBreach]:
    with rt.session() as s:
        return list(s.scalars(select(SlaBreach).where(SlaBreach.order_id == order_id)))


def test_opening_an_order_schedules_its_timers_at_the_deadlines(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder, "emergency_fall")
    order = order_of(rt, order_id)
    # an emergency: minutes, from the catalogue (15 to respond, 30 to be there)
    assert order.response_due_at - order.opened_at == timedelta(minutes=15)
    assert order.arrival_due_at - order.opened_at == timedelta(minutes=30)
    timers = scheduled(rt, f"sla-{order_id}-")
    assert set(timers) == {f"sla-{order_id}-response", f"sla-{order_id}-arrival"}
    assert timers[f"sla-{order_id}-response"].due_at == order.response_due_at
    assert timers[f"sla-{order_id}-arrival"].payload == [order_id, "arrival"]


def test_a_met_deadline_or_one_not_yet_due_does_nothing(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    assert sla_jobs.sla_due(order_id, "response") == "not_due"
    with rt.session() as s:
        orders.accept(s, actor=world.near.actor, order_id=order_id)
    backdate(rt, order_id, "opened_at", "response_due_at", "accepted_at", minutes=600)
    assert sla_jobs.sla_due(order_id, "response") == "met"
    assert breaches(rt, order_id) == []
    assert order_of(rt, order_id).status == "accepted"


def test_a_missed_response_escalates_redispatches_and_alerts(world) -> None:
    rt = world.rt
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    order_id = open_order(rt, world.elder, "emergency_fall")
    submit(rt, order_id)
    settle_jobs(rt)
    assert order_of(rt, order_id).provider_id == world.near.id
    backdate(rt, order_id, "response_due_at", minutes=16)
    assert sla_jobs.sla_due(order_id, "response") == "breached"
    settle_jobs(rt)
    (breach,) = breaches(rt, order_id)
    assert (breach.kind, breach.provider_id, breach.status_at_breach) == (
        "response",
        world.near.id,
        "dispatched",
    )
    assert breach.escalated and breach.redispatched and breach.late_by_minutes is None
    order = order_of(rt, order_id)
    assert order.status == "dispatched" and order.provider_id == world.middle.id
    assert order.escalation_count == 1
    commands = [t.command for t in history(rt, order_id)]
    assert commands[-2:] == ["escalate", "dispatch_to"]
    escalation = [t for t in history(rt, order_id) if t.command == "escalate"][0]
    assert escalation.actor_name == "SLA计时" and escalation.detail["breach"] == "response"
    excluded = [t for t in history(rt, order_id) if t.command == "dispatch_to"][-1].detail[
        "explanation"
    ]["excluded"]
    assert {"provider_id": world.near.id, "reason": "breached"}.items() <= excluded[0].items()
    rt.event_bus.drain()
    alert = [e for e in seen if e["type"] == "SlaBreached"]
    assert len(alert) == 1 and alert[0]["data"]["kind"] == "response"
    assert alert[0]["region_code"] == support.VILLAGE
    # the timer delivered again: still one breach, nothing else moves
    assert sla_jobs.sla_due(order_id, "response") == "already_breached"
    assert len(breaches(rt, order_id)) == 1 and order_of(rt, order_id).escalation_count == 1


def test_a_missed_arrival_while_en_route_escalates_too(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder, "emergency_fall")
    submit(rt, order_id)
    settle_jobs(rt)
    with rt.session() as s:
        orders.accept(s, actor=world.near.actor, order_id=order_id, staff_id=world.near.staff_id)
        orders.start_travel(s, actor=world.near.actor, order_id=order_id)
    backdate(rt, order_id, "arrival_due_at", minutes=31)
    assert sla_jobs.sla_due(order_id, "response") == "met"
    assert sla_jobs.sla_due(order_id, "arrival") == "breached"
    settle_jobs(rt)
    (breach,) = breaches(rt, order_id)
    assert (breach.kind, breach.status_at_breach, breach.provider_id) == (
        "arrival",
        "en_route",
        world.near.id,
    )
    assert order_of(rt, order_id).provider_id == world.middle.id


def test_without_redispatch_configured_the_order_waits_escalated(rt) -> None:
    from dataclasses import replace

    settings = replace(rt.settings, sla_redispatch_on_breach=False)
    rt.session_factory.kw["info"]["settings"] = settings
    try:
        w = support.build_world(rt)
        order_id = open_order(rt, w.elder, "emergency_fall")
        submit(rt, order_id)
        settle_jobs(rt)
        backdate(rt, order_id, "response_due_at", minutes=16)
        assert sla_jobs.sla_due(order_id, "response") == "breached"
        settle_jobs(rt)
        assert order_of(rt, order_id).status == "escalated"
        assert not breaches(rt, order_id)[0].redispatched
    finally:
        rt.session_factory.kw["info"]["settings"] = rt.settings


def test_a_deadline_met_late_while_no_timer_ran_is_recorded_without_escalating(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    backdate(rt, order_id, "response_due_at", minutes=150)  # due 120 min after opening
    with rt.session() as s:
        orders.accept(s, actor=world.near.actor, order_id=order_id)
    assert sla_jobs.sla_due(order_id, "response") == "breached"
    (breach,) = breaches(rt, order_id)
    assert not breach.escalated and breach.late_by_minutes == pytest.approx(30, abs=0.5)
    assert order_of(rt, order_id).status == "accepted"


def test_an_order_that_ended_before_its_deadline_is_not_a_breach(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    with rt.session() as s:
        orders.cancel(s, actor=support.AGENT, order_id=order_id, reason="老人不需要了")
    with rt.session() as s:
        check = sla.check_deadline(
            s, order_id=order_id, kind="response", now=utcnow() + timedelta(days=2)
        )
    assert check.result == "ended" and breaches(rt, order_id) == []


def test_worker_start_reschedules_the_timers_of_open_orders(world) -> None:
    rt = world.rt
    done = open_order(rt, world.elder, "consultation")
    with rt.session() as s:
        orders.complete(s, actor=support.AGENT, order_id=done, report="已解答")
    waiting = open_order(rt, world.elder)
    breached = open_order(rt, world.elder, "emergency_fall")
    submit(rt, breached)
    settle_jobs(rt)
    backdate(rt, breached, "response_due_at", minutes=20)
    sla_jobs.sla_due(breached, "response")
    settle_jobs(rt)
    with rt.session() as s:  # timers lost (a database restored from before they were set)
        s.execute(delete(OutboxEntry))
    with rt.session() as s:
        assert sla.reschedule_open_timers(s) == 3
    assert set(scheduled(rt, "sla-")) == {
        f"sla-{waiting}-response",
        f"sla-{waiting}-arrival",
        f"sla-{breached}-arrival",
    }
