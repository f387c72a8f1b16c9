"""A meal delivery is a service order: opened with the booking (its source from the booking's
origin), sent to the meal point's operator, cancelled with the booking, and carried to
completed and confirmed by the identity-checked redemption at the elder's door."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from platform_core.errors import DomainError, IllegalTransition
from platform_core.flows import care_orders
from platform_core.meal_aid import service as meals
from platform_core.meal_aid.policy import MealAidPolicy
from platform_core.orders import service as orders
from platform_core.regions.service import load_dictionary
from tests.platform_core.care_support import (
    HOME,
    add_provider,
    agent,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
)

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 3, 10)
EARLY = datetime(2025, 3, 9, 12, 0, tzinfo=TZ)


def at(hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=TZ)


def setup(s, *, operated: bool = True):
    install_catalogue(s)
    operator = add_provider(s) if operated else None
    point = meals.open_meal_point(
        s,
        actor=officer(),
        name="锡林路社区助餐点",
        region_code="150102003001",
        address="锡林路 8 号",
        meal_times={"lunch": "11:30", "dinner": "17:30"},
        delivers=True,
        provider_id=operator.id if operator else None,
    )
    for meal in ("lunch", "dinner"):
        meals.publish_menu(
            s,
            actor=officer(),
            meal_point_id=point.id,
            served_on=DAY,
            meal=meal,
            dishes="米饭、番茄炒蛋",
            price=Decimal("15"),
        )
    return point, operator


def book(s, elder, point, *, actor=None, meal="lunch", mode="delivery", **kw):
    return meals.book_meal(
        s,
        actor=actor or agent(),
        elder_id=elder.id,
        meal_point_id=point.id,
        served_on=DAY,
        meal=meal,
        mode=mode,
        now=EARLY,
        **kw,
    )


def commands(s, order_id: int) -> list[str]:
    return [t.command for t in orders.order_history(s, order_id=order_id)]


def test_a_delivery_booking_opens_its_order_and_sends_it_to_the_point(any_runtime) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        point, operator = setup(s)
        elder = make_elder(s, categories=("subsistence",))
        booking = book(s, elder, point, call_id="1741500000.42")
        order = orders.get_order(s, order_id=booking.order_id)
        assert (order.service_type_code, order.source, order.source_ref, order.elder_id) == (
            "meal_aid_delivery",
            "call",
            "1741500000.42",
            elder.id,
        )
        assert order.requested_at == meals.serving_time(s, point, DAY, "lunch")
        assert (order.status, order.provider_id) == ("dispatched", operator.id)
        assert f"助餐预订 #{booking.id}" in order.notes and order.address == elder.address
        assert commands(s, order.id) == ["open_order", "submit_for_dispatch", "dispatch_to"]
        # the meal's own money stays meal aid's, by the league's per-meal subsidy; the order
        # carries only the trip to the door, so no catalogue rule pays for the meal again
        assert booking.subsidy == MealAidPolicy().subsidy_per_meal["subsistence"]
        assert order.price == Decimal("3.00") and order.subsidy <= order.price
        # dine-in needs nobody on the road
        other = make_elder(s, name="王秀英")
        assert book(s, other, point, mode="dine_in").order_id is None
        # the family's booking is an app order, the point's own one a provider's
        family = book(s, other, point, meal="dinner", source="family")
        assert orders.get_order(s, order_id=family.order_id).source == "app"
        third = make_elder(s, name="赵凤兰")
        own = book(s, third, point, actor=operator.actor, source="point")
        own_order = orders.get_order(s, order_id=own.order_id)
        assert (own_order.source, own_order.source_ref) == ("provider", f"meal_booking:{own.id}")
        status = meals.status_for_elder(s, elder_id=elder.id, on=DAY)
        assert status["upcoming"][0]["order_no"] == order.order_no
        assert status["upcoming"][0]["order_status_label"] == "已派单"


def test_a_point_without_an_operator_leaves_the_delivery_to_dispatch(regions) -> None:
    with regions.session() as s:
        point, _ = setup(s, operated=False)
        booking = book(s, make_elder(s), point)
        order = orders.get_order(s, order_id=booking.order_id)
        assert (order.status, order.provider_id) == ("pending_dispatch", None)


def test_cancelling_the_booking_cancels_its_order_until_the_courier_is_at_the_door(
    regions,
) -> None:
    with regions.session() as s:
        point, operator = setup(s)
        elder, other = make_elder(s), make_elder(s, name="王秀英")
        first = book(s, elder, point)
        meals.cancel_booking(s, actor=agent(), booking_id=first.id, reason="女儿送饭", now=EARLY)
        order = orders.get_order(s, order_id=first.order_id)
        last = orders.order_history(s, order_id=order.id)[-1]
        assert (order.status, last.command, last.actor_kind) == ("cancelled", "cancel", "system")
        assert "坐席王敏" in last.actor_name and "女儿送饭" in last.reason
        # cancelling the order from the console cancels the booking with it
        second = book(s, elder, point, meal="dinner")
        care_orders.cancel_care_order(
            s, actor=agent(), order_id=second.order_id, reason="老人住院", now=EARLY
        )
        assert meals.get_booking(s, booking_id=second.id).status == "cancelled"
        assert orders.get_order(s, order_id=second.order_id).status == "cancelled"
        # a courier already in the elder's home: neither can be cancelled
        third = book(s, other, point)
        order_id, booking_id = third.order_id, third.id
        orders.accept(s, actor=operator.actor, order_id=order_id)
        orders.start_travel(s, actor=operator.actor, order_id=order_id)
        orders.check_in(
            s, actor=operator.actor, order_id=order_id, latitude=HOME[0], longitude=HOME[1]
        )
    with pytest.raises(IllegalTransition) as err, regions.session() as s:
        meals.cancel_booking(s, actor=agent(), booking_id=booking_id, now=EARLY)
    assert "送餐已在进行" in err.value.message
    with regions.session() as s:
        assert meals.get_booking(s, booking_id=booking_id).status == "booked"
        assert orders.get_order(s, order_id=order_id).status == "in_service"


def test_redemption_at_the_door_completes_and_confirms_the_delivery(regions) -> None:
    with regions.session() as s:
        point, operator = setup(s)
        elder = make_elder(s)
        booking = book(s, elder, point)
        ids = (booking.id, booking.order_id, elder.id)
    booking_id, order_id, elder_id = ids
    courier = operator.actor
    # the courier's phone has no position: nothing is redeemed, the order is untouched
    with pytest.raises(DomainError) as err, regions.session() as s:
        meals.redeem_meal(
            s,
            actor=courier,
            booking_id=booking_id,
            method="face",
            verified_elder_id=elder_id,
            now=at("11:20"),
        )
    assert err.value.code == "delivery_position_required"
    with regions.session() as s:
        assert meals.get_booking(s, booking_id=booking_id).status == "booked"
        assert orders.get_order(s, order_id=order_id).status == "dispatched"
    with regions.session() as s:
        done = meals.redeem_meal(
            s,
            actor=courier,
            booking_id=booking_id,
            method="face",
            verified_elder_id=elder_id,
            latitude=HOME[0] + 0.0001,
            longitude=HOME[1],
            now=at("11:25"),
        )
        assert done.status == "redeemed"
        order = orders.get_order(s, order_id=order_id)
        assert (order.status, order.confirmed_by) == ("confirmed", "老人本人")
        history = orders.order_history(s, order_id=order_id)
        assert [t.command for t in history][3:] == [
            "accept",
            "start_travel",
            "check_in",
            "complete",
            "confirm",
        ]
        assert {t.actor_name for t in history[3:]} == {courier.name}
        assert history[-1].detail["method"] == "人脸核验"
        assert history[5].detail["distance_m"] < 50
        assert f"预订 #{booking_id}" in order.completion_report


def test_a_courier_who_checked_in_by_the_app_needs_no_position_at_redemption(regions) -> None:
    with regions.session() as s:
        point, operator = setup(s)
        elder = make_elder(s)
        booking = book(s, elder, point)
        courier = operator.actor
        orders.accept(s, actor=courier, order_id=booking.order_id)
        orders.start_travel(s, actor=courier, order_id=booking.order_id)
        orders.check_in(
            s, actor=courier, order_id=booking.order_id, latitude=HOME[0], longitude=HOME[1]
        )
        ids = (booking.id, booking.order_id, elder.id)
    with regions.session() as s:
        meals.redeem_meal(
            s,
            actor=courier,
            booking_id=ids[0],
            method="face",
            verified_elder_id=ids[2],
            now=at("11:25"),
        )
        assert commands(s, ids[1])[-2:] == ["complete", "confirm"]
        assert orders.get_order(s, order_id=ids[1]).status == "confirmed"


def test_a_delivery_nobody_dispatched_is_redeemed_and_its_order_left_to_the_hotline(
    regions,
) -> None:
    with regions.session() as s:
        point, _ = setup(s, operated=False)
        elder = make_elder(s)
        booking = book(s, elder, point)
        ids = (booking.id, booking.order_id, elder.id)
    with regions.session() as s:
        meals.redeem_meal(
            s,
            actor=agent(),
            booking_id=ids[0],
            method="face",
            verified_elder_id=ids[2],
            now=at("11:25") + timedelta(minutes=1),
        )
        assert meals.get_booking(s, booking_id=ids[0]).status == "redeemed"
        assert orders.get_order(s, order_id=ids[1]).status == "pending_dispatch"
