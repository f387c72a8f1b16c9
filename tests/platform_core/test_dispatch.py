"""Dispatch on a real database: the job ranks and assigns, explains why, never double-assigns,
re-dispatches after a rejection or an acceptance window that ran out, and obeys an agent's
override (audited)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from platform_core.audit import service as audit
from platform_core.dispatch import jobs as dispatch_jobs
from platform_core.dispatch import service as dispatch
from platform_core.errors import Conflict, PermissionDenied, ValidationFailed
from platform_core.orders import service as orders
from platform_core.orders.models import OrderTransition, ServiceOrder
from platform_core.outbox.models import OutboxEntry
from platform_core.providers import service as providers
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import (
    ADMIN,
    AGENT,
    backdate,
    build_world,
    history,
    open_order,
    order_of,
    scheduled,
    settle_jobs,
    submit,
)

rt, world = support.rt, support.world  # the shared fixtures


def dispatches(rt, order_id: int) -> list[OrderTransition]:
    return [t for t in history(rt, order_id) if t.command == "dispatch_to"]


def test_a_submitted_order_goes_to_the_best_provider_with_the_reasons(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    order = order_of(rt, order_id)
    assert order.status == "dispatched" and order.provider_id == world.near.id
    (step,) = dispatches(rt, order_id)
    why = step.detail["explanation"]
    assert step.actor_name == "自动派单" and why["mode"] == "auto" and why["rank"] == 1
    assert why["provider_id"] == world.near.id and why["distance_km"] == pytest.approx(1, abs=0.05)
    assert sum(why["parts"].values()) == pytest.approx(why["score"], abs=0.3)
    # the runners-up are kept, best first; the 赛罕区 provider never was a candidate
    names = [c["provider_id"] for c in why["candidates"]]
    assert names == [world.near.id, world.middle.id, world.far.id]
    assert world.saihan.id not in names
    with rt.session() as s:
        assert dispatch.dispatch_history(s, order_id=order_id)[0]["explanation"]["rank"] == 1


@pytest.mark.parametrize("any_runtime", ["sqlite"], indirect=True)
def test_dispatch_runs_on_the_embedded_default_too(any_runtime) -> None:
    w = build_world(any_runtime)
    order_id = open_order(any_runtime, w.elder)
    submit(any_runtime, order_id)
    settle_jobs(any_runtime)
    assert order_of(any_runtime, order_id).provider_id == w.near.id


def test_running_the_job_again_or_twice_at_once_assigns_once(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    with rt.session() as s:
        orders.submit_for_dispatch(s, actor=AGENT, order_id=order_id)
        seq = orders.get_order(s, order_id=order_id).transition_count
    # a worker died after committing: RQ runs the same job again, and two workers race for it
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(dispatch_jobs.dispatch_order(order_id, seq)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle_jobs(rt)
    results.append(dispatch_jobs.dispatch_order(order_id, seq))
    assert len(dispatches(rt, order_id)) == 1
    assert results.count("dispatched") <= 1 and "dispatched" in results + ["dispatched"]
    assert set(results) <= {"dispatched", "unchanged"}


def test_capacity_holds_when_two_orders_are_dispatched_at_once(rt) -> None:
    w = build_world(rt, near={"capacity": 1})
    first, second = open_order(rt, w.elder), open_order(rt, w.poor_elder)
    seqs = {}
    with rt.session() as s:
        for oid in (first, second):
            orders.submit_for_dispatch(s, actor=AGENT, order_id=oid)
            seqs[oid] = orders.get_order(s, order_id=oid).transition_count
    barrier = threading.Barrier(2)

    def run(oid: int) -> None:
        barrier.wait()
        dispatch_jobs.dispatch_order(oid, seqs[oid])

    threads = [threading.Thread(target=run, args=(oid,)) for oid in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle_jobs(rt)
    got = sorted(order_of(rt, oid).provider_id for oid in (first, second))
    assert got == sorted([w.near.id, w.middle.id])  # the near one is full after one


def test_a_rejection_goes_to_the_next_provider_and_never_back(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    with rt.session() as s:
        orders.reject(s, actor=world.near.actor, order_id=order_id, reason="今天人手不足")
    settle_jobs(rt)
    assert order_of(rt, order_id).provider_id == world.middle.id
    second = dispatches(rt, order_id)[-1].detail["explanation"]
    assert {
        "provider_id": world.near.id,
        "provider_name": world.near.name,
        "reason": "declined",
        "label": "已拒单",
    } in second["excluded"]
    with rt.session() as s:
        orders.reject(s, actor=world.middle.actor, order_id=order_id, reason="车坏了")
    settle_jobs(rt)
    assert order_of(rt, order_id).provider_id == world.far.id


def test_an_acceptance_window_that_runs_out_takes_the_order_to_the_next(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    seq = dispatches(rt, order_id)[-1].seq
    # not yet due: nothing happens
    assert dispatch_jobs.acceptance_window_elapsed(order_id, seq) is False
    backdate(rt, order_id, "dispatched_at", minutes=31)
    assert dispatch_jobs.acceptance_window_elapsed(order_id, seq) is True
    settle_jobs(rt)
    order = order_of(rt, order_id)
    assert order.provider_id == world.middle.id
    timed_out = [t for t in history(rt, order_id) if t.command == "reject"][0]
    assert timed_out.detail == {"provider_id": world.near.id, "cause": "timed_out"}
    assert "30 分钟内未接单" in timed_out.reason
    why = dispatches(rt, order_id)[-1].detail["explanation"]
    assert any(
        e["provider_id"] == world.near.id and e["reason"] == "timed_out" for e in why["excluded"]
    )
    # the old window fires again (a second delivery): stale, nothing changes
    assert dispatch_jobs.acceptance_window_elapsed(order_id, seq) is False
    with rt.session() as s:
        orders.accept(s, actor=world.middle.actor, order_id=order_id)
    new_seq = dispatches(rt, order_id)[-1].seq
    assert dispatch_jobs.acceptance_window_elapsed(order_id, new_seq) is False  # accepted in time
    assert order_of(rt, order_id).status == "accepted"


def test_an_agent_overrides_with_a_reason_and_it_is_audited(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    with rt.session() as s:
        dispatch.override_dispatch(
            s, actor=AGENT, order_id=order_id, provider_id=world.far.id, reason="老人点名要这家"
        )
    settle_jobs(rt)
    order = order_of(rt, order_id)
    assert order.status == "dispatched" and order.provider_id == world.far.id
    steps = history(rt, order_id)
    assert [t.command for t in steps[-2:]] == ["reject", "dispatch_to"]
    assert steps[-2].detail["cause"] == "reassigned" and steps[-2].actor_name == AGENT.name
    why = steps[-1].detail["explanation"]
    assert why["mode"] == "override" and why["override_reason"] == "老人点名要这家"
    assert (
        why["provider_id"] == world.far.id
        and why["rank"] == 3
        and why["auto_choice_id"] == world.near.id
    )
    assert steps[-1].actor_user_id == AGENT.user_id
    with rt.session() as s:
        (row,) = audit.list_records(s, action="dispatch.override", target_id=str(order_id))
    assert row.result == "ok" and row.detail["previous_provider_id"] == world.near.id
    assert row.detail["reason"] == "老人点名要这家"


def test_bad_overrides_are_refused_audited_and_change_nothing(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    before = len(history(rt, order_id))
    cases = [
        (AGENT, world.middle.id, "  ", ValidationFailed, "reason_required"),
        (world.middle.actor, world.middle.id, "我们离得近", PermissionDenied, "permission_denied"),
        (AGENT, world.saihan.id, "试试赛罕区", Conflict, "provider_does_not_cover"),
    ]
    for actor, provider_id, reason, error, code in cases:
        with pytest.raises(error) as err, rt.session() as s:
            dispatch.override_dispatch(
                s, actor=actor, order_id=order_id, provider_id=provider_id, reason=reason
            )
        assert err.value.code == code
    assert len(history(rt, order_id)) == before
    assert order_of(rt, order_id).provider_id == world.near.id
    with rt.session() as s:
        refused = audit.list_records(s, action="dispatch.override", target_id=str(order_id))
    assert sorted(r.detail["reason"] for r in refused) == sorted(c[4] for c in cases)
    assert all(r.result == "denied" for r in refused)


def _stalled_order(world) -> int:
    """An order submitted while every provider of the world is suspended."""
    with world.rt.session() as s:
        for p in (world.near, world.middle, world.far):
            providers.set_status(
                s, actor=ADMIN, provider_id=p.id, status="suspended", reason="评估D级"
            )
    order_id = open_order(world.rt, world.elder)
    submit(world.rt, order_id)
    settle_jobs(world.rt)
    return order_id


def test_nobody_available_alerts_and_tries_again(world) -> None:
    rt = world.rt
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    order_id = _stalled_order(world)
    assert order_of(rt, order_id).status == "pending_dispatch"
    stalled = [e for e in seen if e["type"] == "DispatchStalled"]
    assert stalled and stalled[0]["data"]["order_id"] == order_id
    # a retry is scheduled for later; when a provider is back it takes the order
    # a retry waits in the outbox for the retry interval
    retry = list(scheduled(rt, f"dispatch-{order_id}-").values())
    assert retry and retry[0].payload[2] == 1
    with rt.session() as s:
        providers.set_status(
            s, actor=ADMIN, provider_id=world.middle.id, status="normal", reason="整改完成"
        )
    assert dispatch_jobs.dispatch_order(order_id, retry[0].payload[1], 1) == "dispatched"
    assert order_of(rt, order_id).provider_id == world.middle.id


def test_a_stalled_order_is_tried_again_less_often_each_time(world) -> None:
    """Nobody covering an order is rarely undone within minutes (the supervisor is alerted at
    each try): the waits double from the retry interval up to the longest, instead of a try
    every two minutes for as long as the order stalls."""
    rt = world.rt
    order_id = _stalled_order(world)
    [first] = scheduled(rt, f"dispatch-{order_id}-").values()
    waits = {}
    for attempt in range(1, 8):  # the jobs as RQ runs them, each try scheduling the next
        [due] = [
            r for r in scheduled(rt, f"dispatch-{order_id}-").values() if r.payload[2] == attempt
        ]
        waits[attempt] = round((due.due_at - due.created_at).total_seconds() / 60)
        assert dispatch_jobs.dispatch_order(order_id, first.payload[1], attempt) == "no_provider"
    assert rt.settings.dispatch_retry_interval_s == 120  # the defaults: 2 minutes up to 30
    assert waits == {1: 2, 2: 4, 3: 8, 4: 16, 5: 30, 6: 30, 7: 30}


def test_a_provider_under_warning_gets_fewer_orders(rt) -> None:
    w = build_world(rt, near={"capacity": 4}, middle={"capacity": 4})
    with rt.session() as s:
        providers.set_status(
            s, actor=ADMIN, provider_id=w.near.id, status="warning", reason="投诉较多"
        )
    ids = [open_order(rt, w.elder if i % 2 else w.poor_elder) for i in range(6)]
    for oid in ids:
        submit(rt, oid)
    settle_jobs(rt)
    with rt.session() as s:
        counts = dict(
            s.execute(
                select(ServiceOrder.provider_id, func.count())
                .where(ServiceOrder.id.in_(ids))
                .group_by(ServiceOrder.provider_id)
            ).all()
        )
    # the nearest, yet it gets fewer than the next one and never more than half its capacity
    assert sum(counts.values()) == 6
    assert counts.get(w.near.id, 0) < counts[w.middle.id] and counts.get(w.near.id, 0) <= 2


def test_requeue_at_worker_start_finds_waiting_orders(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    with rt.session() as s:
        orders.submit_for_dispatch(s, actor=AGENT, order_id=order_id)
        # an order left waiting with no job on its way (say, from before the outbox existed)
        for row in [o for o in s.new if isinstance(o, OutboxEntry)]:
            s.expunge(row)
    settle_jobs(rt)
    assert order_of(rt, order_id).status == "pending_dispatch"
    with rt.session() as s:
        assert dispatch.requeue_open_work(s) == 1
    settle_jobs(rt)
    assert order_of(rt, order_id).provider_id == world.near.id
