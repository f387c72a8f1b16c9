"""What the meal aid desks show: the meal points of a region a page at a time, one point's menus
with their prices and booking windows, the point's own counter (today's bookings looked up by the
elder's ID number or the booking's code), and the month's settlement with its export (names
masked, the exporter's watermark, audited)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.care_policy.service import policy_for
from platform_core.elders.idcard import InvalidIdNumber
from platform_core.elders.models import Elder
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import NotFound, ValidationFailed
from platform_core.meal_aid.models import MealBooking, MealMenu, MealPoint, MealSettlement
from platform_core.meal_aid.policy import MealAidPolicy
from platform_core.meal_aid.service import (
    MEALS,
    MODES,
    STATUS_LABELS,
    get_meal_point,
    require_point_staff,
    serving_time,
)
from platform_core.paging import Page, fetch_page
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of
from platform_core.security.exports import watermark
from platform_core.security.masking import mask_name


def points(
    session: Session,
    *,
    region_code: str,
    provider_id: int | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[MealPoint]:
    q = select(MealPoint).where(within(MealPoint.region_code, region_code)).order_by(MealPoint.id)
    if provider_id is not None:
        q = q.where(MealPoint.provider_id == provider_id)
    found = fetch_page(session, q, page=page, size=size)
    return Page(
        rows=[r for (r,) in found.rows], total=found.total, page=found.page, size=found.size
    )


def points_run_by(session: Session, *, provider_id: int) -> list[MealPoint]:
    """The points a provider operates (its staff's counters)."""
    return list(
        session.scalars(
            select(MealPoint).where(MealPoint.provider_id == provider_id).order_by(MealPoint.id)
        )
    )


@dataclass(frozen=True)
class MenuRow:
    menu: MealMenu
    meal_label: str
    booked: int
    opens: datetime
    closes: datetime


def menus(
    session: Session, *, meal_point_id: int, start: date, days: int = 7
) -> tuple[list[MenuRow], MealAidPolicy]:
    """The point's menus from ``start`` for ``days`` days, each with its booking window."""
    point = get_meal_point(session, meal_point_id=meal_point_id)
    policy = policy_for(session, MealAidPolicy, region_code=point.region_code)
    rows = session.scalars(
        select(MealMenu)
        .where(
            MealMenu.meal_point_id == point.id,
            MealMenu.served_on >= start,
            MealMenu.served_on < start + timedelta(days=days),
        )
        .order_by(MealMenu.served_on, MealMenu.meal)
    )
    out = []
    for menu in rows:
        if menu.meal not in point.meal_times:
            continue
        serve = serving_time(session, point, menu.served_on, menu.meal)
        out.append(
            MenuRow(
                menu=menu,
                meal_label=MEALS[menu.meal],
                booked=_count(session, menu.id),
                opens=datetime.combine(
                    menu.served_on - timedelta(days=policy.booking_open_days),
                    datetime.min.time(),
                    tzinfo=serve.tzinfo,
                ),
                closes=serve - timedelta(minutes=policy.booking_cutoff_minutes),
            )
        )
    return sorted(out, key=lambda r: (r.menu.served_on, point.meal_times[r.menu.meal])), policy


def _count(session: Session, menu_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                MealBooking.menu_id == menu_id, MealBooking.status != "cancelled"
            )
        )
        or 0
    )


@dataclass(frozen=True)
class CounterBooking:
    booking: MealBooking
    elder_name: str  # masked
    meal_label: str
    mode_label: str
    status_label: str


def look_up_today(
    session: Session, *, actor: Actor, meal_point_id: int, query: str, now: datetime | None = None
) -> tuple[list[CounterBooking], str | None]:
    """Today's bookings at the point for what was typed at the counter: a booking's six-digit
    code, or an ID number (then the card itself was read: the second value is that number,
    ready for the identity check). Every lookup by ID number is audited."""
    point = get_meal_point(session, meal_point_id=meal_point_id)
    require_point_staff(actor, point)
    text = "".join(query.split()).upper()
    today = clock.local(now or clock.now(), settings_of(session).timezone).date()
    q = select(MealBooking).where(
        MealBooking.meal_point_id == point.id, MealBooking.served_on == today
    )
    id_number: str | None = None
    if len(text) == 6 and text.isdigit():
        q = q.where(MealBooking.code == text)
    elif len(text) in (15, 18):
        try:
            elder = find_elder_by_id_number(session, id_number=text)
        except InvalidIdNumber:
            raise ValidationFailed(
                "身份证号不正确 / not a valid ID number", code="invalid_id_number"
            ) from None
        id_number = text
        audit.record(
            session,
            actor=actor,
            action="meal.look_up",
            target_type="elder",
            target_id=elder.id if elder else None,
            detail={"meal_point_id": point.id, "found": elder is not None},
        )
        q = q.where(MealBooking.elder_id == (elder.id if elder else 0))
    else:
        raise ValidationFailed(
            "请输入 6 位预订码或身份证号 / a 6-digit booking code or an ID number",
            code="invalid_counter_query",
        )
    found = []
    for booking in session.scalars(q.order_by(MealBooking.meal)):
        elder_row = session.get(Elder, booking.elder_id)
        found.append(
            CounterBooking(
                booking=booking,
                elder_name=mask_name(elder_row.name if elder_row else ""),
                meal_label=MEALS[booking.meal],
                mode_label=MODES[booking.mode],
                status_label=STATUS_LABELS[booking.status],
            )
        )
    return found, id_number


# ---------------------------------------------------------------- settlement export


def settlement_of(session: Session, *, meal_point_id: int, month: date) -> MealSettlement | None:
    return session.scalar(
        select(MealSettlement).where(
            MealSettlement.meal_point_id == meal_point_id,
            MealSettlement.month == month.replace(day=1),
        )
    )


EXPORT_HEADER = ["预订号", "就餐日期", "餐次", "方式", "老人", "价格", "补贴", "自付", "补贴类别"]


def _lines(session: Session, settlement: MealSettlement) -> list[list[Any]]:
    out = []
    for b, name in session.execute(
        select(MealBooking, Elder.name)
        .join(Elder, Elder.id == MealBooking.elder_id)
        .where(MealBooking.settlement_id == settlement.id)
        .order_by(MealBooking.served_on, MealBooking.meal, MealBooking.id)
    ):
        out.append(
            [
                b.id,
                b.served_on.isoformat(),
                MEALS[b.meal],
                MODES[b.mode],
                mask_name(name),
                b.price,
                b.subsidy,
                b.self_pay,
                b.subsidy_category or "",
            ]
        )
    return out


def _export(
    session: Session, actor: Actor, meal_point_id: int, month: date
) -> tuple[MealPoint, MealSettlement]:
    point = get_meal_point(session, meal_point_id=meal_point_id)
    require_within(point.region_code, actor.region_code)
    settlement = settlement_of(session, meal_point_id=point.id, month=month)
    if settlement is None:
        raise NotFound(
            f"{point.name} {month:%Y-%m} 尚未结算 / not settled", code="meal_settlement_not_found"
        )
    return point, settlement


def _exported(session: Session, actor: Actor, settlement: MealSettlement, fmt: str) -> None:
    audit.record(
        session,
        actor=actor,
        action="meal.export_settlement",
        target_type="meal_point",
        target_id=settlement.meal_point_id,
        detail={"month": settlement.month.strftime("%Y-%m"), "format": fmt},
    )


def export_csv(session: Session, *, actor: Actor, meal_point_id: int, month: date) -> bytes:
    point, settlement = _export(session, actor, meal_point_id, month)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([watermark(actor, settings_of(session).timezone)])
    writer.writerow(["助餐补贴结算", point.name, settlement.month.strftime("%Y-%m")])
    writer.writerow(EXPORT_HEADER)
    writer.writerows(_lines(session, settlement))
    writer.writerow(
        [
            "合计",
            f"{settlement.meals} 餐",
            "",
            "",
            "",
            settlement.amount,
            settlement.subsidy,
            settlement.self_pay,
            "",
        ]
    )
    _exported(session, actor, settlement, "csv")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(session: Session, *, actor: Actor, meal_point_id: int, month: date) -> bytes:
    point, settlement = _export(session, actor, meal_point_id, month)
    mark = watermark(actor, settings_of(session).timezone)
    wb = Workbook()
    ws = wb.active
    ws.title = "助餐补贴结算"
    ws.append([f"助餐补贴结算 {settlement.month:%Y-%m}", point.name])
    ws.append(EXPORT_HEADER)
    for r in _lines(session, settlement):
        ws.append([float(v) if isinstance(v, Decimal) else v for v in r])
    ws.append(
        [
            "合计",
            f"{settlement.meals} 餐",
            "",
            "",
            "",
            float(settlement.amount),
            float(settlement.subsidy),
            float(settlement.self_pay),
            "",
        ]
    )
    ws.append([mark])
    ws.oddFooter.center.text = mark
    wb.properties.creator = mark
    buf = io.BytesIO()
    wb.save(buf)
    _exported(session, actor, settlement, "xlsx")
    return buf.getvalue()
