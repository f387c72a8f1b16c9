"""Orders through their lifecycle on PostgreSQL and SQLite: every legal transition, a set of
illegal ones, who may act, and the transition log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from platform_core.audit import service as audit
from platform_core.audit.models import AuditRecord
from platform_core.errors import IllegalTransition, OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.orders import confirmation, photos, states
from platform_core.orders import service as orders
from platform_core.orders.events import EVENT_OF
from platform_core.orders.models import OrderTransition
from platform_core.orders.states import Guard
from platform_core.providers import service as providers
from tests.order_steps import confirm_by_elder, time_at_home
from tests.platform_core import test_orders_support as support
from tests.platform_core.test_orders_support import AGENT, HOME, SUPERVISOR, walk

# a signature drawn on the staff member's phone (the PNG signature is what the check reads)
SIGNATURE_PNG = b"\x89PNG\r\n\x1a\n" + b"signature-strokes" * 8

world = support.world  # the shared fixture

# How to bring a fresh order to each status (each list continues the one before it).
REACH: dict[str, list[str]] = {
    "created": [],
    "pending_dispatch": ["submit_for_dispatch"],
    "dispatched": ["submit_for_dispatch", "dispatch_to"],
    "rejected": ["submit_for_dispatch", "dispatch_to", "reject"],
    "escalated": ["submit_for_dispatch", "escalate"],
    "accepted": ["submit_for_dispatch", "dispatch_to", "accept"],
    "en_route": ["submit_for_dispatch", "dispatch_to", "accept", "start_travel"],
    "in_service": ["submit_for_dispatch", "dispatch_to", "accept", "start_travel", "check_in"],
}
REACH["completed"] = REACH["in_service"] + ["check_out"]
REACH["confirmed"] = REACH["completed"] + ["confirm"]
REACH["rated"] = REACH["confirmed"] + ["rate"]
REACH["return_visited"] = REACH["rated"] + ["record_return_visit"]
REACH["settled"] = REACH["return_visited"] + ["settle"]
REACH["complaint"] = REACH["completed"] + ["file_complaint"]


def command_runner(s, w, *, for_provider=None) -> Callable[[str, int], object]:
    """Runs a command by name; provider-side commands by the provider's user, or by
    ``for_provider`` (hotline staff acting on its behalf)."""
    p = w.provider

    def run(command: str, order_id: int):
        pa = for_provider or p.actor
        calls = {
            "submit_for_dispatch": lambda: orders.submit_for_dispatch(
                s, actor=AGENT, order_id=order_id
            ),
            "dispatch_to": lambda: orders.dispatch_to(
                s, actor=AGENT, order_id=order_id, provider_id=p.id
            ),
            "accept": lambda: orders.accept(s, actor=pa, order_id=order_id, staff_id=p.staff_id),
            "reject": lambda: orders.reject(s, actor=pa, order_id=order_id, reason="人手不足"),
            "start_travel": lambda: orders.start_travel(s, actor=pa, order_id=order_id),
            "check_in": lambda: orders.check_in(
                s, actor=pa, order_id=order_id, latitude=HOME[0], longitude=HOME[1]
            ),
            "check_out": lambda: (
                time_at_home(s, order_id),
                orders.check_out(
                    s, actor=pa, order_id=order_id, latitude=HOME[0], longitude=HOME[1]
                ),
            )[1],
            "complete": lambda: (
                time_at_home(s, order_id),
                orders.complete(
                    s,
                    actor=AGENT if _hotline(s, order_id) else pa,
                    order_id=order_id,
                    report="已解答",
                ),
            )[1],
            "confirm": lambda: confirm_by_elder(s, actor=pa, order_id=order_id),
            "rate": lambda: orders.rate(s, actor=AGENT, order_id=order_id, score=4),
            "record_return_visit": lambda: orders.record_return_visit(
                s, actor=AGENT, order_id=order_id, result="satisfied"
            ),
            "settle": lambda: orders.settle(
                s, actor=SUPERVISOR, order_id=order_id, settlement_ref="JS-1"
            ),
            "close": lambda: orders.close(s, actor=SUPERVISOR, order_id=order_id, reason="归档"),
            "cancel": lambda: orders.cancel(
                s, actor=AGENT, order_id=order_id, reason="老人不需要了"
            ),
            "escalate": lambda: orders.escalate(
                s, actor=SUPERVISOR, order_id=order_id, reason="响应超时", breach="response"
            ),
            "file_complaint": lambda: orders.file_complaint(
                s, actor=AGENT, order_id=order_id, text="服务人员迟到"
            ),
        }
        return calls[command]()

    return run


def _hotline(s, order_id: int) -> bool:
    return orders.get_order(s, order_id=order_id).service_type_code == "consultation"


def test_every_legal_transition_moves_and_is_logged(world) -> None:
    world.rt.event_bus.drain()
    seen: list[dict] = []
    world.rt.event_bus.subscribe(seen.append)
    checked = 0
    with world.rt.session() as s:
        run = command_runner(s, world)
        for t in states.TRANSITIONS:
            service_type = {
                Guard.HOTLINE_HANDLED: "consultation",
                Guard.NOTHING_TO_SETTLE: "emergency_fall",
            }.get(t.guard, "care_cleaning")
            order = orders.open_order(
                s, actor=AGENT, elder_id=world.elder, service_type_code=service_type, source="call"
            )
            for step in REACH[t.source.value]:
                run(step, order.id)
            assert order.status == t.source
            before = order.transition_count
            after = run(t.command.value, order.id)
            assert after.status == t.target, t
            history = orders.order_history(s, order_id=order.id)
            assert len(history) == before + 1
            last = history[-1]
            assert (last.command, last.from_status, last.to_status, last.seq) == (
                t.command.value,
                t.source.value,
                t.target.value,
                before + 1,
            )
            assert last.actor_name and last.at is not None
            checked += 1
    assert checked == len(states.TRANSITIONS)
    world.rt.event_bus.drain()
    order_event_types = {cls.__name__ for cls in EVENT_OF.values()}
    order_events = [e for e in seen if e["type"] in order_event_types]
    with world.rt.session() as s:
        transitions = s.scalar(select(func.count()).select_from(OrderTransition))
    assert len(order_events) == transitions  # one event per logged step


def test_the_main_path_records_who_when_where_and_why(world) -> None:
    with world.rt.session() as s:
        order = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.elder,
            service_type_code="care_cleaning",
            source="call",
            notes="厨房和卫生间",
            source_ref="1700000000.42",
        )
        walk(s, order.id, world.provider, until="closed")
    with world.rt.session() as s:
        history = orders.order_history(s, order_id=order.id)
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, "created"),
            ("created", "pending_dispatch"),
            ("pending_dispatch", "dispatched"),
            ("dispatched", "accepted"),
            ("accepted", "en_route"),
            ("en_route", "in_service"),
            ("in_service", "completed"),
            ("completed", "confirmed"),
            ("confirmed", "rated"),
            ("rated", "return_visited"),
            ("return_visited", "settled"),
            ("settled", "closed"),
        ]
        assert [h.seq for h in history] == list(range(1, 13))
        assert [h.at for h in history] == sorted(h.at for h in history)
        by_cmd = {h.command: h for h in history}
        assert (by_cmd["check_in"].latitude, by_cmd["check_in"].longitude) == HOME
        assert (
            by_cmd["check_in"].detail["distance_m"] == 0
            and not by_cmd["check_in"].detail["far_from_address"]
        )
        assert by_cmd["accept"].actor_provider_id == world.provider.id
        assert by_cmd["accept"].actor_role == "provider"
        assert (
            by_cmd["dispatch_to"].actor_name == "坐席07"
            and by_cmd["dispatch_to"].actor_user_id == 7
        )
        assert by_cmd["open_order"].detail["source_ref"] == "1700000000.42"
        done = orders.get_order(s, order_id=order.id)
        milestones = [
            done.opened_at,
            done.submitted_at,
            done.dispatched_at,
            done.accepted_at,
            done.departed_at,
            done.checked_in_at,
            done.completed_at,
            done.confirmed_at,
            done.rated_at,
            done.return_visited_at,
            done.settled_at,
            done.closed_at,
        ]
        assert all(m is not None for m in milestones) and milestones == sorted(milestones)
        assert (
            done.provider_id,
            done.staff_id,
            done.rating,
            done.return_visit_result,
            done.settlement_ref,
        ) == (world.provider.id, world.provider.staff_id, 5, "satisfied", "JS202501-001")
        assert done.completion_report == "打扫完毕"


ILLEGAL = [
    ("created", "accept"),
    ("created", "complete"),  # a cleaning needs a provider
    ("pending_dispatch", "check_in"),
    ("dispatched", "check_in"),
    ("accepted", "check_out"),
    ("en_route", "complete"),  # completing an order never checked in
    ("in_service", "cancel"),
    ("completed", "settle"),
    ("confirmed", "close"),
    ("return_visited", "close"),  # it has an amount to settle
    ("settled", "file_complaint"),
    ("rejected", "accept"),
    ("escalated", "accept"),
]


@pytest.mark.parametrize("status, command", ILLEGAL)
def test_illegal_transitions_change_nothing(world, status: str, command: str) -> None:
    with world.rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        run = command_runner(s, world)
        for step in REACH[status]:
            run(step, order.id)
    world.rt.event_bus.drain()  # what the set-up published is delivered before we listen
    seen: list[dict] = []
    world.rt.event_bus.subscribe(seen.append)
    with pytest.raises(IllegalTransition) as err, world.rt.session() as s:
        # a supervisor may give every command: only the state machine can refuse it
        command_runner(s, world, for_provider=SUPERVISOR)(command, order.id)
    d = err.value.details
    assert (d["from_status"], d["command"], d["to_status"]) == (
        status,
        command,
        states.target_of(command).value,
    )
    facts = {
        Guard.HOTLINE_HANDLED: False,
        Guard.NOTHING_TO_SETTLE: False,
        Guard.SERVICE_DELIVERED: True,
    }
    assert d["allowed"] == [x.value for x in states.allowed_next(status, facts)]
    assert all(states.STATUS_LABELS[x] in err.value.message for x in d["allowed"])
    with world.rt.session() as s:
        again = orders.get_order(s, order_id=order.id)
        assert again.status == status
        history = orders.order_history(s, order_id=order.id)
        assert len(history) == len(REACH[status]) + 1 == again.transition_count
        assert history[-1].to_status == status
        refusal = audit.list_records(s, action=f"order.{command}")[0]
        assert (refusal.result, refusal.target_id, refusal.detail["reason"]) == (
            "denied",
            str(order.id),
            "illegal_transition",
        )
    world.rt.event_bus.drain()
    assert seen == []


def test_complaint_on_an_undelivered_service_can_only_be_closed(world) -> None:
    with world.rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, order.id, world.provider, until="en_route")
        orders.file_complaint(s, actor=AGENT, order_id=order.id, text="说好九点到, 十点还没来")
        with pytest.raises(IllegalTransition) as err:
            orders.record_return_visit(s, actor=AGENT, order_id=order.id, result="dissatisfied")
        assert "服务未完成" in err.value.message and err.value.details["allowed"] == ["closed"]
        assert (
            orders.close(s, actor=SUPERVISOR, order_id=order.id, reason="投诉属实, 不予结算").status
            == "closed"
        )


def test_a_provider_acts_only_on_its_own_orders(world) -> None:
    with world.rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, order.id, world.provider, until="dispatched")
    with pytest.raises(PermissionDenied) as err, world.rt.session() as s:
        orders.accept(s, actor=world.other.actor, order_id=order.id)
    assert err.value.code == "not_your_order"
    for attempt in (
        lambda s: orders.dispatch_to(
            s, actor=world.provider.actor, order_id=order.id, provider_id=world.provider.id
        ),
        lambda s: orders.cancel(s, actor=world.provider.actor, order_id=order.id, reason="不想做"),
        lambda s: orders.accept(
            s, actor=world.provider.actor, order_id=order.id, staff_id=world.other.staff_id
        ),
    ):
        with pytest.raises((PermissionDenied, ValidationFailed)), world.rt.session() as s:
            attempt(s)
    with world.rt.session() as s:
        assert orders.get_order(s, order_id=order.id).status == "dispatched"
        denied = s.scalars(
            select(AuditRecord).where(AuditRecord.result == "denied").order_by(AuditRecord.id)
        ).all()
        assert [(r.actor_name, r.action, r.detail["reason"]) for r in denied] == [
            ("服务商操作员", "order.accept", "not_your_order"),
            ("服务商操作员", "order.dispatch_to", "permission_denied"),
            ("服务商操作员", "order.cancel", "permission_denied"),
        ]
        # staff of another provider is not this provider's to send
        accepted = orders.accept(
            s, actor=world.provider.actor, order_id=order.id, staff_id=world.provider.staff_id
        )
        assert accepted.staff_id == world.provider.staff_id
        walk_rest = orders.start_travel(s, actor=world.provider.actor, order_id=order.id)
        assert walk_rest.status == "en_route"
        with pytest.raises(PermissionDenied):
            orders.check_in(
                s, actor=world.other.actor, order_id=order.id, latitude=HOME[0], longitude=HOME[1]
            )


def test_agents_act_only_in_their_region(world) -> None:
    from tests.platform_core.test_orders_support import BAOTOU_AGENT

    with pytest.raises(OutOfRegion), world.rt.session() as s:
        orders.open_order(
            s,
            actor=BAOTOU_AGENT,
            elder_id=world.elder,
            service_type_code="care_cleaning",
            source="call",
        )
    with world.rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
    with pytest.raises(OutOfRegion), world.rt.session() as s:
        orders.cancel(s, actor=BAOTOU_AGENT, order_id=order.id, reason="误建")
    with world.rt.session() as s:
        assert orders.get_order(s, order_id=order.id).status == "created"
        assert orders.list_orders(s, region_code="150200") == []
        assert [o.id for o in orders.list_orders(s, region_code="150102")] == [order.id]
        with pytest.raises(OutOfRegion):
            orders.get_order(s, order_id=order.id, within_region="150200")


def test_commands_validate_their_inputs(world) -> None:
    with world.rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, order.id, world.provider, until="en_route")
        pa = world.provider.actor
        for lat, lon, code in (
            (None, None, "coordinates_required"),
            (0.0, 0.0, "invalid_coordinates"),
            (91.0, 111.0, "invalid_coordinates"),
        ):
            with pytest.raises(ValidationFailed) as err:
                orders.check_in(s, actor=pa, order_id=order.id, latitude=lat, longitude=lon)
            assert err.value.code == code
        far = orders.check_in(
            s, actor=pa, order_id=order.id, latitude=HOME[0] + 0.02, longitude=HOME[1]
        )
        step = orders.order_history(s, order_id=far.id)[-1]
        assert step.detail["far_from_address"] and 2000 < step.detail["distance_m"] < 2400
        time_at_home(s, order.id)
        orders.check_out(s, actor=pa, order_id=order.id, latitude=HOME[0], longitude=HOME[1])
        signature = photos.store_photo(
            s, actor=pa, order_id=order.id, kind="signature", data=SIGNATURE_PNG
        )
        confirmation.confirm_with_signature(
            s, actor=pa, order_id=order.id, photo_id=signature.id, confirmed_by="女儿"
        )
        for score in (0, 6, True, 4.5, "5"):
            with pytest.raises(ValidationFailed) as err:
                orders.rate(s, actor=AGENT, order_id=order.id, score=score)
            assert err.value.code == "invalid_rating"
        assert orders.rate(s, actor=AGENT, order_id=order.id, score=1, comment="不满意").rating == 1
        with pytest.raises(ValidationFailed):
            orders.record_return_visit(s, actor=AGENT, order_id=order.id, result="happy")
        second = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        with pytest.raises(ValidationFailed) as err:
            orders.cancel(s, actor=AGENT, order_id=second.id, reason="  ")
        assert err.value.code == "reason_required"
        orders.submit_for_dispatch(s, actor=AGENT, order_id=second.id)
        with pytest.raises(providers.Conflict) as err:
            orders.dispatch_to(s, actor=AGENT, order_id=second.id, provider_id=world.saihan.id)
        assert err.value.code == "provider_does_not_cover"
        providers.set_status(
            s,
            actor=SUPERVISOR.__class__(kind="system", name="评估", region_code="150000000000"),
            provider_id=world.other.id,
            status="suspended",
            reason="评估 D 级",
        )
        with pytest.raises(providers.Conflict) as err:
            orders.dispatch_to(s, actor=AGENT, order_id=second.id, provider_id=world.other.id)
        assert err.value.code == "provider_unavailable"
        orders.dispatch_to(s, actor=AGENT, order_id=second.id, provider_id=world.provider.id)
        with pytest.raises(ValidationFailed) as err:
            orders.reject(s, actor=world.provider.actor, order_id=second.id, reason="")
        assert err.value.code == "reason_required"
        assert orders.get_order(s, order_id=second.id).status == "dispatched"
