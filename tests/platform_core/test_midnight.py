"""The hotline's day turns at Beijing midnight, whatever the host's clock or zone: order numbers,
daily KPIs, the meal booking window and the care-bed monthly plan are tested with time frozen
at 23:59:59 and at 00:00:00 Beijing time (15:59:59 and 16:00:00 UTC, when the UTC date still
lags Beijing's or has just caught up)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select

from platform_core import clock
from platform_core.care_beds import jobs as bed_jobs
from platform_core.care_beds.models import CareBedService
from platform_core.meal_aid import service as meals
from platform_core.orders.models import ServiceOrder
from tests.platform_core.after_call_support import build_world, open_order
from tests.platform_core.care_support import agent, jobs_settled, make_elder
from tests.platform_core.test_care_beds_orders import bed_in_service
from tests.platform_core.test_kpi import _call
from tests.platform_core.test_meal_aid import setup_point


def beijing(day: date, hh: int, mm: int, ss: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=clock.zone()).astimezone(UTC)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    with time_machine.travel(instant, tick=False):
        yield


DAY = date(2026, 3, 9)
LAST_SECOND = beijing(DAY, 23, 59, 59)
MIDNIGHT = beijing(DAY + timedelta(days=1), 0, 0, 0)


def test_order_numbers_take_the_beijing_day(runtime) -> None:
    elder = build_world(runtime).elder
    with frozen_at(LAST_SECOND):
        late = open_order(runtime, elder)
    with frozen_at(MIDNIGHT):
        early = open_order(runtime, elder)
    with runtime.session() as s:
        numbers = {o.id: o.order_no for o in s.scalars(select(ServiceOrder))}
    assert numbers[late].startswith("GD20260309-")
    assert numbers[early] == "GD20260310-00001"


def test_todays_kpis_count_the_beijing_day(regions) -> None:
    from platform_core.calls.queries import live_snapshot

    with regions.session() as s:
        _call(
            s,
            1,
            start=LAST_SECOND - timedelta(seconds=30),
            queue="hotline-general",
            outcome="abandoned",
            wait=10,
            talk=0,
        )
        _call(s, 2, start=MIDNIGHT, queue="hotline-general", outcome="abandoned", wait=0, talk=0)
    with frozen_at(LAST_SECOND), regions.session() as s:
        assert live_snapshot(s)["kpi"]["offered"] == 1
    with frozen_at(MIDNIGHT + timedelta(seconds=1)), regions.session() as s:
        assert live_snapshot(s)["kpi"]["offered"] == 1  # only the call after midnight


def test_the_meal_booking_window_opens_at_beijing_midnight(regions) -> None:
    served_on = DAY + timedelta(days=8)  # bookable 7 days ahead: from 00:00 of DAY + 1
    with regions.session() as s:
        point = setup_point(s, days=(served_on,))
        elder = make_elder(s)
        point_id, elder_id = point.id, elder.id

    def book() -> str:
        with regions.session() as s:
            try:
                meals.book_meal(
                    s,
                    actor=agent(),
                    elder_id=elder_id,
                    meal_point_id=point_id,
                    served_on=served_on,
                    meal="lunch",
                )
            except meals.BookingWindowClosed as exc:
                return exc.code
            return "booked"

    with frozen_at(LAST_SECOND):
        assert book() == "meal_booking_not_open"
    with frozen_at(MIDNIGHT):
        assert book() == "booked"


def test_the_monthly_plan_opens_the_beijing_month(regions, request) -> None:
    request.getfixturevalue(jobs_settled.__name__)
    march = date(2026, 3, 1)
    with regions.session() as s:
        bed, _ = bed_in_service(s, contract_from=march)
        bed_id = bed.id
    end_of_march = beijing(date(2026, 3, 31), 23, 59, 59)
    with frozen_at(end_of_march):
        bed_jobs.open_month_orders_for_all()
    with regions.session() as s:
        months = {
            (sv.on.year, sv.on.month)
            for sv in s.scalars(select(CareBedService).where(CareBedService.care_bed_id == bed_id))
        }
    assert months == {(2026, 3)}
    with frozen_at(end_of_march + timedelta(seconds=1)):
        bed_jobs.open_month_orders_for_all()
    with regions.session() as s:
        months = {
            (sv.on.year, sv.on.month)
            for sv in s.scalars(select(CareBedService).where(CareBedService.care_bed_id == bed_id))
        }
    assert months == {(2026, 3), (2026, 4)}
