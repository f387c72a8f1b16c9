"""Opening orders: price split from the catalogue, SLA deadlines, numbers, events after commit,
and the queries the console and dispatch rely on."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from platform_core.catalogue import service as catalogue
from platform_core.catalogue.models import SubsidyKind
from platform_core.db import utcnow
from platform_core.elders import service as elders
from platform_core.errors import Conflict, ValidationFailed
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from tests.platform_core import test_orders_support as support
from tests.platform_core.test_orders_support import ADMIN, AGENT, SUPERVISOR, walk

world = support.world  # the shared fixture


def test_price_split_comes_from_the_catalogue_at_open_time(world) -> None:
    with world.rt.session() as s:
        plain = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_bathing", source="call"
        )
        poor = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="care_bathing",
            source="call",
        )
        assert (plain.price, plain.subsidy, plain.self_pay, plain.subsidy_category) == (
            D("80"),
            0,
            D("80"),
            None,
        )
        # 低保 80% beats 高龄 30%
        assert (poor.price, poor.subsidy, poor.self_pay, poor.subsidy_category) == (
            D("80.00"),
            D("64.00"),
            D("16.00"),
            "subsistence",
        )
        # a later price change does not touch orders already opened
        catalogue.define_service_type(
            s,
            actor=ADMIN,
            code="care_bathing",
            name="助浴",
            category="daily_care",
            unit="次",
            price=D("120"),
            response_minutes=120,
            arrival_minutes=1440,
        )
        assert orders.get_order(s, order_id=poor.id).price == D("80.00")
        meals = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="meal_delivery",
            source="call",
            quantity=3,
        )
        # per meal: 低保 5 元, 高龄 3 元 -> 15 of 45
        assert (meals.quantity, meals.price, meals.subsidy, meals.unit) == (
            3,
            D("45.00"),
            D("15.00"),
            "餐",
        )


def test_monthly_cap_spans_orders_and_a_cancellation_gives_the_share_back(world) -> None:
    with world.rt.session() as s:
        rule = catalogue.set_subsidy_rule(
            s,
            actor=ADMIN,
            league_code="150100",
            elder_category="subsistence",
            service_type_code="care_bathing",
            kind=SubsidyKind.PERCENT,
            value=D("80"),
            monthly_cap=D("100"),
        )
        first = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="care_bathing",
            source="call",
        )
        second = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="care_bathing",
            source="call",
        )
        third = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="care_bathing",
            source="call",
        )
        assert (first.subsidy, first.subsidy_rule_id) == (D("64.00"), rule.id)
        assert (second.subsidy, second.subsidy_category) == (D("36.00"), "subsistence")  # 100 - 64
        assert (third.subsidy, third.subsidy_category) == (
            D("24.00"),
            "advanced_age",
        )  # 低保 spent: 高龄 30%
        assert orders.subsidy_used_this_month(s, elder_id=world.poor_elder, at=utcnow())[
            rule.id
        ] == D("100.00")
        orders.cancel(s, actor=AGENT, order_id=second.id, reason="重复下单")
        fourth = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.poor_elder,
            service_type_code="care_bathing",
            source="call",
        )
        assert (fourth.subsidy, fourth.subsidy_category) == (D("36.00"), "subsistence")


def test_sla_deadlines_urgency_and_appointments(world) -> None:
    with world.rt.session() as s:
        before = utcnow()
        fall = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.elder,
            service_type_code="emergency_fall",
            source="sos_alarm",
            source_ref="alarm-881",
        )
        assert fall.urgency == "emergency"  # an emergency service is never routine
        assert (
            timedelta(minutes=15)
            <= fall.response_due_at - before
            < timedelta(minutes=15, seconds=30)
        )
        assert (
            timedelta(minutes=30)
            <= fall.arrival_due_at - before
            < timedelta(minutes=30, seconds=30)
        )
        unlock = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.elder,
            service_type_code="care_unlock",
            source="call",
            urgency="emergency",
        )
        assert (unlock.response_minutes, unlock.arrival_minutes) == (15, 30)
        consult = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="consultation", source="call"
        )
        assert consult.arrival_due_at is None and consult.arrival_minutes is None
        tuesday = utcnow() + timedelta(days=3)
        booked = orders.open_order(
            s,
            actor=AGENT,
            elder_id=world.elder,
            service_type_code="care_cleaning",
            source="call",
            requested_at=tuesday,
            address="女儿家: 赛罕区大学路 8 号",
        )
        assert booked.arrival_due_at == tuesday + timedelta(
            minutes=30
        )  # the appointment plus its grace
        assert booked.address.startswith("女儿家") and booked.latitude is None
        with pytest.raises(ValidationFailed) as err:
            orders.open_order(
                s,
                actor=AGENT,
                elder_id=world.elder,
                service_type_code="care_cleaning",
                source="walk_in",
            )
        assert err.value.code == "invalid_source"
        with pytest.raises(ValidationFailed):
            orders.open_order(
                s,
                actor=AGENT,
                elder_id=world.elder,
                service_type_code="care_cleaning",
                source="call",
                urgency="asap",
            )
        with pytest.raises(catalogue.UnknownServiceType):
            orders.open_order(
                s, actor=AGENT, elder_id=world.elder, service_type_code="massage", source="call"
            )
        with pytest.raises(orders.ElderNotFound):
            orders.open_order(
                s, actor=AGENT, elder_id=987654, service_type_code="care_cleaning", source="call"
            )


def test_a_deceased_elder_gets_no_new_orders(world) -> None:
    with world.rt.session() as s:
        elders.record_death(s, elder_id=world.elder, died_on=date(2025, 1, 2), actor=ADMIN)
    with pytest.raises(Conflict) as err, world.rt.session() as s:
        orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
    assert err.value.code == "elder_deceased" and "已故" in err.value.message
    with world.rt.session() as s:
        assert orders.list_orders(s, elder_id=world.elder) == []


def test_events_publish_after_commit_and_never_on_rollback(world) -> None:
    world.rt.event_bus.drain()
    seen: list[dict] = []
    world.rt.event_bus.subscribe(seen.append)
    with pytest.raises(RuntimeError), world.rt.session() as s:
        orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        raise RuntimeError("the call dropped before the agent saved")
    world.rt.event_bus.drain()
    assert seen == []
    with world.rt.session() as s:
        assert orders.list_orders(s, elder_id=world.elder) == []
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        orders.submit_for_dispatch(s, actor=AGENT, order_id=order.id)
        world.rt.event_bus.drain()
        assert seen == []  # not yet committed
    world.rt.event_bus.drain()
    assert [e["type"] for e in seen] == ["OrderOpened", "OrderSubmittedForDispatch"]
    opened = seen[0]
    assert opened["region_code"] == support.XINCHENG_VILLAGE
    assert opened["data"]["order_no"] == order.order_no and opened["data"]["status"] == "created"
    assert seen[1]["data"]["from_status"] == "created"


def test_order_numbers_are_per_day_sequences(world) -> None:
    with world.rt.session() as s:
        made = [
            orders.open_order(
                s,
                actor=AGENT,
                elder_id=world.elder,
                service_type_code="consultation",
                source="call",
            ).order_no
            for _ in range(3)
        ]
    assert all(re.fullmatch(r"GD\d{8}-\d{5}", n) for n in made)
    day = made[0][2:10]
    assert [int(n[-5:]) for n in made] == [1, 2, 3] and {n[2:10] for n in made} == {day}
    with world.rt.session() as s:
        assert orders.find_order_by_no(s, order_no=made[1].lower()).order_no == made[1]
        assert orders.find_order_by_no(s, order_no="GD19990101-00001") is None


def test_concurrent_openings_never_share_a_number(runtime) -> None:
    from platform_core.regions.service import load_dictionary

    with runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=ADMIN)
        elder = support.add_elder(s, 5)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def open_some() -> None:
        try:
            for _ in range(5):
                with runtime.session() as s:
                    numbers.append(
                        orders.open_order(
                            s,
                            actor=AGENT,
                            elder_id=elder,
                            service_type_code="consultation",
                            source="call",
                        ).order_no
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_some) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(int(n[-5:]) for n in numbers) == list(range(1, 21))


def test_an_opening_under_way_does_not_hold_up_the_next(runtime) -> None:
    """The day's number is taken in its own transaction: a second agent's opening completes
    while the first agent's is still uncommitted (it used to wait for that commit)."""
    from platform_core.regions.service import load_dictionary

    with runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=ADMIN)
        elder = support.add_elder(s, 6)

    def open_one(s) -> str:
        return orders.open_order(
            s, actor=AGENT, elder_id=elder, service_type_code="consultation", source="call"
        ).order_no

    second: list[str] = []
    with runtime.session() as first:
        held = open_one(first)  # not committed yet
        other = threading.Thread(target=lambda: second.append(_open_and_commit(runtime, open_one)))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "the second opening waited for the first one's commit"
        first.rollback()
    assert int(second[0][-5:]) == int(held[-5:]) + 1
    with runtime.session() as s:
        assert orders.find_order_by_no(s, order_no=held) is None  # a gap, never a duplicate
        assert int(open_one(s)[-5:]) == int(held[-5:]) + 2


def _open_and_commit(runtime, open_one) -> str:
    with runtime.session() as s:
        return open_one(s)


def test_queries_for_the_screen_pop_dispatch_and_lists(world) -> None:
    with world.rt.session() as s:

        def new(service: str = "care_cleaning", elder: int = world.elder) -> ServiceOrder:
            return orders.open_order(
                s, actor=AGENT, elder_id=elder, service_type_code=service, source="call"
            )

        done = new()
        walk(s, done.id, world.provider, until="closed")
        busy = new()
        walk(s, busy.id, world.provider, until="en_route")
        waiting = new()
        walk(s, waiting.id, world.provider, until="dispatched")
        bounced = new()
        walk(s, bounced.id, world.other, until="dispatched")
        orders.reject(s, actor=world.other.actor, order_id=bounced.id, reason="无空闲人员")
        orders.submit_for_dispatch(s, actor=AGENT, order_id=bounced.id)
        emergency = new("emergency_fall")
        cancelled = new()
        orders.cancel(s, actor=AGENT, order_id=cancelled.id, reason="误建")
        others = new(elder=world.poor_elder)

        pop = orders.open_orders_for_elder(s, elder_id=world.elder)
        assert pop[0].id == emergency.id  # emergencies first
        assert {o.id for o in pop} == {busy.id, waiting.id, bounced.id, emergency.id}
        assert orders.provider_loads(
            s, provider_ids=[world.provider.id, world.other.id, world.saihan.id]
        ) == {world.provider.id: 2, world.other.id: 0, world.saihan.id: 0}
        assert orders.rejected_provider_ids(s, order_id=bounced.id) == {world.other.id}
        assert orders.get_order(s, order_id=bounced.id).reject_count == 1
        assert [o.id for o in orders.list_orders(s, provider_id=world.provider.id)] == [
            waiting.id,
            busy.id,
            done.id,
        ]
        assert {o.id for o in orders.list_orders(s, status=["created", "pending_dispatch"])} == {
            bounced.id,
            emergency.id,
            others.id,
        }
        assert [o.id for o in orders.list_orders(s, elder_id=world.poor_elder)] == [others.id]
        assert len(orders.list_orders(s, region_code="150102003")) == 7
        assert [
            o.id for o in orders.list_orders(s, region_code="150102003", limit=2, offset=1)
        ] == [cancelled.id, emergency.id]
        assert orders.next_commands(s, order=orders.get_order(s, order_id=busy.id)) == [
            "check_in",
            "cancel",
            "escalate",
            "file_complaint",
            "assign_staff",
        ]
        consult = new("consultation")
        assert "complete" in orders.next_commands(s, order=consult)
        assert (
            orders.complete(
                s, actor=AGENT, order_id=consult.id, report="已告知高龄津贴申请流程"
            ).status
            == "completed"
        )
        # a completed order waits on the elder's screen for confirmation
        assert consult.id in {o.id for o in orders.open_orders_for_elder(s, elder_id=world.elder)}
        history = orders.order_history(s, order_id=bounced.id)
        assert [h.command for h in history] == [
            "open_order",
            "submit_for_dispatch",
            "dispatch_to",
            "reject",
            "submit_for_dispatch",
        ]
        assert history[3].reason == "无空闲人员" and history[3].detail == {
            "provider_id": world.other.id,
            "cause": "declined",
        }
        walk_supervisor = orders.escalate(
            s, actor=SUPERVISOR, order_id=bounced.id, reason="30 分钟无人接单", breach="response"
        )
        assert walk_supervisor.escalation_count == 1
        again = orders.dispatch_to(
            s,
            actor=SUPERVISOR,
            order_id=bounced.id,
            provider_id=world.provider.id,
            explanation={"rank": 1, "distance_km": 1.2, "load": 2},
        )
        assert again.provider_id == world.provider.id
        assert orders.order_history(s, order_id=bounced.id)[-1].detail["explanation"]["rank"] == 1


def test_an_opening_writes_the_order_once(world) -> None:
    """The order's row is inserted as the opening step leaves it, not inserted and then updated
    (a second version of the row in each of the table's indexes, for every order)."""
    from sqlalchemy import event

    writes: list[str] = []

    def note(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.startswith(("INSERT INTO service_orders ", "UPDATE service_orders ")):
            writes.append(statement.split(" ")[0])

    engine = world.rt.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        with world.rt.session() as s:
            opened = orders.open_order(
                s,
                actor=AGENT,
                elder_id=world.elder,
                service_type_code="care_bathing",
                source="call",
            )
            order_id = opened.id
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert writes == ["INSERT"]
    with world.rt.session() as s:
        order = s.get(ServiceOrder, order_id)
        assert order is not None and order.transition_count == 1
        assert [t.command for t in orders.order_history(s, order_id=order_id)] == ["open_order"]
