"""Meal aid: the booking window, subsidies and their caps, redemption with an identity check,
statistics and the monthly settlement per meal point."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from platform_core.audit.models import AuditRecord
from platform_core.care_policy.service import set_policy
from platform_core.errors import DomainError, PermissionDenied
from platform_core.meal_aid import service as meals
from platform_core.meal_aid.policy import MealAidPolicy
from platform_core.runtime import cipher_of
from tests.platform_core.care_support import (
    agent,
    install_catalogue,
    make_elder,
    officer,
    provider_staff,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 3, 10)  # a Monday; every clock below is set relative to it


def at(day: date, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=TZ)


EARLY = at(DAY - timedelta(days=1), "12:00")


def setup_point(s, *, delivers=True, capacity=None, days=(DAY,), provider_id=1):
    install_catalogue(s)  # a delivery is a service order of the catalogue's meal delivery type
    point = meals.open_meal_point(
        s,
        actor=officer(),
        name="锡林路社区助餐点",
        region_code="150102003001",
        address="锡林路 8 号",
        meal_times={"breakfast": "07:00", "lunch": "11:30", "dinner": "17:30"},
        delivers=delivers,
        provider_id=provider_id,
    )
    for d in days:
        for meal, price in (("breakfast", "5"), ("lunch", "15"), ("dinner", "12")):
            meals.publish_menu(
                s,
                actor=provider_staff(provider_id=provider_id),
                meal_point_id=point.id,
                served_on=d,
                meal=meal,
                dishes="米饭、番茄炒蛋、白菜豆腐汤",
                price=Decimal(price),
                capacity=capacity,
            )
    return point


def id_number_of(s, elder) -> str:
    return cipher_of(s).open(elder.id_number_sealed)


def test_booking_window_opens_and_closes_by_policy(regions) -> None:
    with regions.session() as s:
        point = setup_point(s)
        elder = make_elder(s)
        with pytest.raises(meals.BookingWindowClosed) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=elder.id,
                meal_point_id=point.id,
                served_on=DAY,
                meal="lunch",
                now=at(DAY - timedelta(days=8), "23:59"),
            )
        assert err.value.code == "meal_booking_not_open"
        with pytest.raises(meals.BookingWindowClosed) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=elder.id,
                meal_point_id=point.id,
                served_on=DAY,
                meal="lunch",
                now=at(DAY, "09:30"),
            )  # lunch 11:30, closes 120 minutes before
        assert err.value.code == "meal_booking_window_closed" and "09:30" in err.value.message
        b = meals.book_meal(
            s,
            actor=agent(),
            elder_id=elder.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=at(DAY, "09:29"),
        )
        assert b.status == "booked" and b.source == "hotline"


def test_subsidy_takes_the_best_category_and_respects_daily_and_monthly_caps(regions) -> None:
    with regions.session() as s:
        point = setup_point(s, days=(DAY, DAY + timedelta(days=1)))
        poor = make_elder(
            s, categories=("subsistence", "advanced_age")
        )  # 6 and 3 per meal: 6 applies
        nobody = make_elder(s, name="李淑芬")
        lunch = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        assert (lunch.subsidy, lunch.self_pay, lunch.subsidy_category) == (
            Decimal("6.00"),
            Decimal("9.00"),
            "subsistence",
        )
        breakfast = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="breakfast",
            source="family",
            now=EARLY,
        )
        assert (breakfast.subsidy, breakfast.capped_by) == (
            Decimal("5.00"),
            "price",
        )  # a 5 元 breakfast
        dinner = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="dinner",
            source="point",
            now=EARLY,
        )
        assert (dinner.subsidy, dinner.self_pay, dinner.capped_by) == (
            Decimal("0.00"),
            Decimal("12.00"),
            "daily_meals",
        )
        other = meals.book_meal(
            s,
            actor=agent(),
            elder_id=nobody.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        assert (other.subsidy, other.self_pay, other.subsidy_category) == (
            Decimal("0.00"),
            Decimal("15.00"),
            None,
        )
        # 呼和浩特 lowers the monthly cap to 14: 11 used (6 + 5), 3 left for the next lunch.
        set_policy(
            s,
            actor=officer(),
            cls=MealAidPolicy,
            league_code="150100",
            values={"monthly_subsidy_cap": "14"},
        )
        next_lunch = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=DAY + timedelta(days=1),
            meal="lunch",
            now=EARLY,
        )
        assert (next_lunch.subsidy, next_lunch.self_pay, next_lunch.capped_by) == (
            Decimal("3.00"),
            Decimal("12.00"),
            "monthly_cap",
        )
        status = meals.status_for_elder(s, elder_id=poor.id, on=DAY)
        assert (
            status["subsidy_used_this_month"] == "14.00"
            and status["monthly_subsidy_cap"] == "14.00"
        )
        assert len(status["upcoming"]) == 4


def test_one_live_booking_per_meal_and_capacity(regions) -> None:
    with regions.session() as s:
        point = setup_point(s, capacity=1)
        a, b = make_elder(s), make_elder(s, name="王秀英")
        first = meals.book_meal(
            s,
            actor=agent(),
            elder_id=a.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        with pytest.raises(DomainError) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=a.id,
                meal_point_id=point.id,
                served_on=DAY,
                meal="lunch",
                now=EARLY,
            )
        assert err.value.code == "meal_already_booked"
        with pytest.raises(DomainError) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=b.id,
                meal_point_id=point.id,
                served_on=DAY,
                meal="lunch",
                now=EARLY,
            )
        assert err.value.code == "meal_fully_booked"
        with pytest.raises(meals.BookingWindowClosed):
            meals.cancel_booking(s, actor=agent(), booking_id=first.id, now=at(DAY, "10:31"))
        meals.cancel_booking(
            s, actor=agent(), booking_id=first.id, reason="住院", now=at(DAY, "10:29")
        )
        assert (
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=b.id,
                meal_point_id=point.id,
                served_on=DAY,
                meal="lunch",
                now=at(DAY, "09:00"),
            ).status
            == "booked"
        )


def test_delivery_only_from_a_point_that_delivers(regions) -> None:
    with regions.session() as s:
        no_delivery = setup_point(s, delivers=False)
        elder = make_elder(s)
        with pytest.raises(DomainError) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=elder.id,
                meal_point_id=no_delivery.id,
                served_on=DAY,
                meal="lunch",
                mode="delivery",
                now=EARLY,
            )
        assert err.value.code == "meal_point_no_delivery"
        with pytest.raises(DomainError) as err:
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=elder.id,
                meal_point_id=no_delivery.id,
                served_on=DAY,
                meal="lunch",
                source="neighbour",
                now=EARLY,
            )
        assert err.value.code == "unknown_booking_source"


def test_redemption_checks_identity_and_refuses_a_second_time(regions) -> None:
    with regions.session() as s:
        point = setup_point(s)
        elder, stranger = make_elder(s), make_elder(s, name="冒名者")
        booking = meals.book_meal(
            s,
            actor=agent(),
            elder_id=elder.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        ids = {"elder": id_number_of(s, elder), "stranger": id_number_of(s, stranger)}
        booking_id, elder_id = booking.id, elder.id
    staff = provider_staff()
    with pytest.raises(meals.IdentityMismatch), regions.session() as s:
        meals.redeem_meal(
            s, actor=staff, booking_id=booking_id, id_number=ids["stranger"], now=at(DAY, "11:40")
        )
    with pytest.raises(DomainError) as err, regions.session() as s:
        meals.redeem_meal(
            s,
            actor=staff,
            booking_id=booking_id,
            id_number=ids["elder"],
            now=at(DAY - timedelta(days=1), "11:40"),
        )
    assert err.value.code == "meal_not_today"
    with pytest.raises(PermissionDenied), regions.session() as s:
        meals.redeem_meal(
            s,
            actor=provider_staff(provider_id=2),
            booking_id=booking_id,
            id_number=ids["elder"],
            now=at(DAY, "11:40"),
        )
    with regions.session() as s:
        done = meals.redeem_meal(
            s,
            actor=staff,
            booking_id=booking_id,
            id_number=ids["elder"].lower(),
            now=at(DAY, "11:41"),
        )
        assert (done.status, done.identity_method, done.redeemed_by) == (
            "redeemed",
            "id_card",
            "服务商赵云",
        )
    with pytest.raises(meals.MealAlreadyRedeemed) as err, regions.session() as s:
        meals.redeem_meal(
            s, actor=staff, booking_id=booking_id, id_number=ids["elder"], now=at(DAY, "11:50")
        )
    assert "11:41" in err.value.message
    with regions.session() as s:
        refusals = s.scalars(
            select(AuditRecord.detail).where(
                AuditRecord.action == "meal.redeem", AuditRecord.result == "denied"
            )
        ).all()
        assert sorted(r["reason"] for r in refusals) == ["already_redeemed", "identity_mismatch"]
        assert all(r["booking_id"] == booking_id for r in refusals)
        assert meals.get_booking(s, booking_id=booking_id).status == "redeemed"
        assert elder_id


def test_face_match_redeems_a_delivery(regions) -> None:
    with regions.session() as s:
        point = setup_point(s)
        elder = make_elder(s)
        booking = meals.book_meal(
            s,
            actor=agent(),
            elder_id=elder.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="dinner",
            mode="delivery",
            now=EARLY,
        )
        assert booking.delivery_address == elder.address
    with pytest.raises(meals.IdentityMismatch), regions.session() as s:
        meals.redeem_meal(
            s,
            actor=provider_staff(),
            booking_id=booking.id,
            method="face",
            verified_elder_id=elder.id + 1,
            now=at(DAY, "17:35"),
        )
    with regions.session() as s:
        assert (
            meals.redeem_meal(
                s,
                actor=provider_staff(),
                booking_id=booking.id,
                method="face",
                verified_elder_id=elder.id,
                now=at(DAY, "17:36"),
            ).status
            == "redeemed"
        )


def test_statistics_and_one_settlement_per_point_and_month(regions) -> None:
    day2 = DAY + timedelta(days=1)
    with regions.session() as s:
        point = setup_point(s, days=(DAY, day2))
        poor = make_elder(s, categories=("extreme_hardship",))  # 10 per meal
        old = make_elder(s, name="王秀英", categories=("advanced_age",))  # 3 per meal
        plain = make_elder(s, name="赵凤兰")
        b1 = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        b2 = meals.book_meal(
            s,
            actor=agent(),
            elder_id=old.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            mode="delivery",
            now=EARLY,
        )
        meals.book_meal(
            s,
            actor=agent(),
            elder_id=plain.id,
            meal_point_id=point.id,
            served_on=DAY,
            meal="lunch",
            now=EARLY,
        )
        b4 = meals.book_meal(
            s,
            actor=agent(),
            elder_id=poor.id,
            meal_point_id=point.id,
            served_on=day2,
            meal="dinner",
            now=EARLY,
        )
        b5 = meals.book_meal(
            s,
            actor=agent(),
            elder_id=old.id,
            meal_point_id=point.id,
            served_on=day2,
            meal="dinner",
            now=EARLY,
        )
        meals.cancel_booking(s, actor=agent(), booking_id=b5.id, now=EARLY)
        for b, who, when in (
            (b1, poor, at(DAY, "11:35")),
            (b2, old, at(DAY, "11:50")),
            (b4, poor, at(day2, "17:40")),
        ):
            meals.redeem_meal(
                s, actor=provider_staff(), booking_id=b.id, id_number=id_number_of(s, who), now=when
            )
        assert (
            meals.close_meal(
                s, actor=provider_staff(), meal_point_id=point.id, served_on=DAY, meal="lunch"
            )
            == 1
        )
        daily = meals.daily_statistics(s, meal_point_id=point.id, day=DAY)
        lunch = daily["meals"]["lunch"]
        assert (
            lunch["booked"],
            lunch["redeemed"],
            lunch["no_show"],
            lunch["dine_in"],
            lunch["delivery"],
        ) == (3, 2, 1, 2, 1)
        assert (lunch["amount"], lunch["subsidy"], lunch["self_pay"]) == (
            Decimal("30.00"),
            Decimal("13.00"),
            Decimal("17.00"),
        )
        monthly = meals.monthly_statistics(s, meal_point_id=point.id, month=DAY)
        assert (
            monthly["total"]["redeemed"] == 3
            and monthly["total"]["cancelled"] == 1
            and monthly["elders"] == 2
        )
        assert monthly["days"][day2.isoformat()]["subsidy"] == Decimal("10.00")
        with pytest.raises(DomainError) as err:
            meals.settle_month(
                s, actor=officer(), meal_point_id=point.id, month=DAY, today=date(2025, 3, 31)
            )
        assert err.value.code == "month_not_over"
        with pytest.raises(PermissionDenied):
            meals.settle_month(
                s, actor=agent(), meal_point_id=point.id, month=DAY, today=date(2025, 4, 1)
            )
        settlement = meals.settle_month(
            s, actor=officer(), meal_point_id=point.id, month=DAY, today=date(2025, 4, 1)
        )
        # 10 + 3 on the 10th, 10 on the 11th; amount 15 + 15 + 12
        assert (settlement.meals, settlement.subsidy, settlement.amount, settlement.self_pay) == (
            3,
            Decimal("23.00"),
            Decimal("42.00"),
            Decimal("19.00"),
        )
        with pytest.raises(DomainError) as err:
            meals.settle_month(
                s, actor=officer(), meal_point_id=point.id, month=DAY, today=date(2025, 4, 2)
            )
        assert err.value.code == "meal_settlement_exists"
