"""Meal aid use cases: points and menus, bookings inside the window, redemption with an
identity check, daily and monthly statistics, the monthly settlement per point."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role, system_actor
from platform_core.assessment.service import get_elder
from platform_core.audit import service as audit
from platform_core.budgets.spending import Spending
from platform_core.budgets.spending import add as add_spending
from platform_core.care_policy.service import policy_for
from platform_core.elders.models import Elder
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.gov_purchase import service as gov_purchase
from platform_core.meal_aid.events import (
    MealBooked,
    MealBookingCancelled,
    MealPointSettled,
    MealRedeemed,
)
from platform_core.meal_aid.models import MealBooking, MealMenu, MealPoint, MealSettlement
from platform_core.meal_aid.policy import MealAidPolicy
from platform_core.orders import service as orders
from platform_core.orders import states as order_states
from platform_core.orders.evidence import IDENTITY_CHECK, Evidence, register_verifier
from platform_core.orders.models import OrderSource, ServiceOrder
from platform_core.orders.states import Command, OrderStatus
from platform_core.providers import service as providers
from platform_core.providers.models import CLOSED_STATUSES
from platform_core.regions.service import ensure_region, require_within, within
from platform_core.runtime import settings_of
from platform_core.sites import service as sites
from platform_core.sites.events import SiteRegistered
from platform_core.sites.vocabulary import SiteKind

MEALS = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐"}
MODES = {"dine_in": "堂食", "delivery": "送餐"}
SOURCES = {"hotline": "热线", "family": "家属", "point": "助餐点"}
STATUS_LABELS = {
    "booked": "已预订",
    "cancelled": "已取消",
    "redeemed": "已就餐",
    "no_show": "未就餐",
}
# Where a booking came from -> the source of its delivery order.
ORDER_SOURCES = {
    "hotline": OrderSource.CALL,
    "family": OrderSource.APP,
    "point": OrderSource.PROVIDER,
}
IDENTITY_METHODS = {"id_card": "身份证核验", "face": "人脸核验"}
CENT = Decimal("0.01")


class MealAidError(Conflict):
    code = "meal_aid_conflict"


class BookingWindowClosed(MealAidError):
    code = "meal_booking_window_closed"


class MealAlreadyRedeemed(MealAidError):
    code = "meal_already_redeemed"


class IdentityMismatch(PermissionDenied):
    code = "meal_identity_mismatch"


class DeliveryPositionRequired(ValidationFailed):
    code = "delivery_position_required"


def _money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT)


def _now_local(session: Session, now: datetime | None) -> datetime:
    return clock.local(now or clock.now(), clock.timezone_of(session))


def _policy(session: Session, region_code: str) -> MealAidPolicy:
    return policy_for(session, MealAidPolicy, region_code=region_code)


# ---------------------------------------------------------------- points and menus


def open_meal_point(
    session: Session,
    *,
    actor: Actor,
    name: str,
    region_code: str,
    address: str,
    meal_times: dict[str, str],
    delivers: bool = False,
    provider_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    phone: str | None = None,
    opening_hours: dict[str, Any] | None = None,
    capacity: int | None = None,
) -> MealPoint:
    """Open a meal point: a site of the service-site registry (kind ``meal_point``) with its
    serving times; the operator, when a provider runs it, publishes menus and redeems meals."""
    region = ensure_region(session, region_code)
    require_within(region.code, actor.region_code)
    for meal, hhmm in meal_times.items():
        if meal not in MEALS:
            raise ValidationFailed(
                f"餐次 {meal!r} 应为 {'/'.join(MEALS)} / unknown meal", code="unknown_meal"
            )
        try:
            time.fromisoformat(hhmm)
        except ValueError as exc:
            raise ValidationFailed(
                f"{MEALS[meal]}供餐时间 {hhmm!r} 应为 HH:MM / time must be HH:MM",
                code="invalid_meal_time",
            ) from exc
    if not meal_times:
        raise ValidationFailed(
            "助餐点至少供应一个餐次 / a point serves at least one meal", code="unknown_meal"
        )
    fields = sites.check_site_fields(
        session,
        kind=SiteKind.MEAL_POINT.value,
        name=name,
        region_code=region.code,
        address=address,
        latitude=latitude,
        longitude=longitude,
        phone=phone,
        opening_hours=opening_hours,
        capacity=capacity,
        services=["meals"],
        provider_id=provider_id,
    )
    point = MealPoint(
        **fields.as_values(), status="open", meal_times=dict(meal_times), delivers=delivers
    )
    session.add(point)
    session.flush()
    audit.record(
        session, actor=actor, action="meal_point.open", target_type="meal_point", target_id=point.id
    )
    publish_on_commit(session, SiteRegistered(point.id, point.region_code, point.kind, point.name))
    return point


def get_meal_point(session: Session, *, meal_point_id: int) -> MealPoint:
    point = session.get(MealPoint, meal_point_id)
    if point is None:
        raise NotFound(
            f"助餐点不存在: {meal_point_id} / no such meal point", code="meal_point_not_found"
        )
    return point


def require_point_staff(actor: Actor, point: MealPoint) -> None:
    require_within(point.region_code, actor.region_code)
    if (
        actor.role == Role.PROVIDER
        and point.provider_id is not None
        and actor.provider_id != point.provider_id
    ):
        raise PermissionDenied("只有本助餐点的运营方可以操作 / not this point's operator")


def publish_menu(
    session: Session,
    *,
    actor: Actor,
    meal_point_id: int,
    served_on: date,
    meal: str,
    dishes: str,
    price: Decimal,
    capacity: int | None = None,
) -> MealMenu:
    """Set (or correct, while nobody has booked it) the menu of one meal."""
    point = get_meal_point(session, meal_point_id=meal_point_id)
    require_point_staff(actor, point)
    if meal not in point.meal_times:
        raise ValidationFailed(
            f"{point.name}不供应{MEALS.get(meal, meal)} / the point does not serve this meal",
            code="meal_not_served",
        )
    if _money(price) < 0 or (capacity is not None and capacity < 1):
        raise ValidationFailed(
            "价格不能为负, 份数至少 1 / invalid price or capacity", code="invalid_menu"
        )
    menu = session.scalar(
        select(MealMenu).where(
            MealMenu.meal_point_id == point.id,
            MealMenu.served_on == served_on,
            MealMenu.meal == meal,
        )
    )
    if menu is None:
        menu = MealMenu(meal_point_id=point.id, served_on=served_on, meal=meal)
        session.add(menu)
    elif _live_count(session, menu.id) and _money(price) != menu.price:
        raise MealAidError(
            "已有预订, 不能再改价格 / bookings exist: the price is fixed", code="menu_has_bookings"
        )
    menu.dishes, menu.price, menu.capacity = dishes, _money(price), capacity
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="meal.publish_menu",
        target_type="meal_point",
        target_id=point.id,
        detail={
            "served_on": served_on.isoformat(),
            "meal": meal,
            "price": str(menu.price),
            "capacity": capacity,
        },
    )
    return menu


def _live_count(session: Session, menu_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(MealBooking)
            .where(MealBooking.menu_id == menu_id, MealBooking.status != "cancelled")
        )
        or 0
    )


def get_menu(session: Session, *, meal_point_id: int, served_on: date, meal: str) -> MealMenu:
    menu = session.scalar(
        select(MealMenu).where(
            MealMenu.meal_point_id == meal_point_id,
            MealMenu.served_on == served_on,
            MealMenu.meal == meal,
        )
    )
    if menu is None:
        raise NotFound(
            f"{served_on} {MEALS.get(meal, meal)}尚未发布菜单 / no menu for this meal",
            code="menu_not_found",
        )
    return menu


# ---------------------------------------------------------------- bookings


def serving_time(session: Session, point: MealPoint, served_on: date, meal: str) -> datetime:
    tz = ZoneInfo(settings_of(session).timezone)
    return datetime.combine(served_on, time.fromisoformat(point.meal_times[meal]), tzinfo=tz)


def _window(
    session: Session, point: MealPoint, served_on: date, meal: str, policy: MealAidPolicy
) -> tuple[datetime, datetime]:
    """When booking a meal opens (midnight, the policy's days before) and closes (the policy's
    minutes before it is served)."""
    serve = serving_time(session, point, served_on, meal)
    closes = serve - timedelta(minutes=policy.booking_cutoff_minutes)
    opens = datetime.combine(
        served_on - timedelta(days=policy.booking_open_days), time(0, 0), tzinfo=serve.tzinfo
    )
    return opens, closes


def _check_window(
    session: Session,
    point: MealPoint,
    served_on: date,
    meal: str,
    policy: MealAidPolicy,
    now: datetime,
) -> None:
    opens, closes = _window(session, point, served_on, meal, policy)
    if now >= closes:
        raise BookingWindowClosed(
            f"{served_on} {MEALS[meal]}的预订已于 {closes:%m-%d %H:%M} 截止 (供餐前 {policy.booking_cutoff_minutes} 分钟) / "
            "booking window closed",
            closes=closes.isoformat(),
            rule="booking_cutoff_minutes",
        )
    if now < opens:
        raise BookingWindowClosed(
            f"{served_on} {MEALS[meal]}的预订 {opens:%m-%d} 起开放 (提前 {policy.booking_open_days} 天) / booking not open yet",
            opens=opens.isoformat(),
            rule="booking_open_days",
            code="meal_booking_not_open",
        )


def _nearness(point: MealPoint, region_code: str) -> int:
    """How many leading digits of the region code the point shares with the elder's."""
    return next(
        (n for n in (12, 9, 6, 4) if point.region_code[:n] == region_code[:n]),
        0,
    )


def next_bookable_meal(
    session: Session,
    *,
    elder_id: int,
    meal_point_id: int | None = None,
    now: datetime | None = None,
) -> tuple[MealPoint, date, str] | None:
    """The first meal the elder can still book: at the given point, or at the nearest active
    point of the elder's league (same community, then township, then banner), the soonest
    meal whose booking window is open, with a menu, a place left and no booking of theirs."""
    elder = get_elder(session, elder_id)
    local_now = _now_local(session, now)
    if meal_point_id is not None:
        points = [get_meal_point(session, meal_point_id=meal_point_id)]
    else:
        league = elder.region_code[:4]
        candidates = session.scalars(_league_points(), {"league": league})
        points = sorted(candidates, key=lambda p: -_nearness(p, elder.region_code))
    booked = {
        (b.served_on, b.meal)
        for b in session.scalars(_bookings_from(), {"elder_id": elder.id, "day": local_now.date()})
    }
    for point in points:
        if not point.active:
            continue
        policy = _policy(session, point.region_code)
        meals_in_order = sorted(point.meal_times, key=lambda m: point.meal_times[m])
        for offset in range(policy.booking_open_days + 1):
            day = local_now.date() + timedelta(days=offset)
            for meal in meals_in_order:
                if (day, meal) in booked:
                    continue
                opens, closes = _window(session, point, day, meal, policy)
                if not opens <= local_now < closes:
                    continue
                menu = session.scalar(
                    select(MealMenu).where(
                        MealMenu.meal_point_id == point.id,
                        MealMenu.served_on == day,
                        MealMenu.meal == meal,
                    )
                )
                if menu is None or (
                    menu.capacity is not None and _live_count(session, menu.id) >= menu.capacity
                ):
                    continue
                return point, day, meal
    return None


def quote_subsidy(
    session: Session, *, elder: Elder, served_on: date, price: Decimal, policy: MealAidPolicy
) -> tuple[Decimal, str | None, str | None]:
    """(subsidy, category, capped_by) for one more meal of ``elder`` on ``served_on``."""
    rates = {
        c.category: policy.subsidy_per_meal[c.category]
        for c in elder.categories
        if c.category in policy.subsidy_per_meal
    }
    if not rates:
        return Decimal("0.00"), None, None
    category = max(sorted(rates), key=lambda c: rates[c])
    subsidy, capped_by = _money(rates[category]), None
    if subsidy > price:
        subsidy, capped_by = _money(price), "price"
    live = (MealBooking.elder_id == elder.id, MealBooking.status != "cancelled")
    same_day = int(
        session.scalar(
            select(func.count())
            .select_from(MealBooking)
            .where(*live, MealBooking.served_on == served_on, MealBooking.subsidy > 0)
        )
        or 0
    )
    if same_day >= policy.subsidised_meals_per_day:
        return Decimal("0.00"), category, "daily_meals"
    month_start = served_on.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    used = session.scalar(
        select(func.coalesce(func.sum(MealBooking.subsidy), 0)).where(
            *live, MealBooking.served_on >= month_start, MealBooking.served_on < next_month
        )
    )
    headroom = max(Decimal("0.00"), _money(policy.monthly_subsidy_cap) - _money(used or 0))
    if subsidy > headroom:
        subsidy, capped_by = headroom, "monthly_cap"
    return subsidy, category, capped_by


def book_meal(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    meal_point_id: int,
    served_on: date,
    meal: str,
    mode: str = "dine_in",
    source: str = "hotline",
    delivery_address: str | None = None,
    call_id: str | None = None,
    now: datetime | None = None,
) -> MealBooking:
    """Book a meal for an elder from the hotline, the family or the point itself.

    The subsidy is fixed at booking (best category, at most N subsidised meals a day, what is
    left of the monthly cap); the rest is self-paid. A delivery becomes a service order of the
    league's delivery service type, opened in the same unit of work (see
    :func:`_open_delivery_order`): no delivery exists without its order.
    """
    if mode not in MODES:
        raise ValidationFailed(
            f"就餐方式 {mode!r} 应为 {'/'.join(MODES)} / unknown mode", code="unknown_meal_mode"
        )
    if source not in SOURCES:
        raise ValidationFailed(
            f"预订来源 {source!r} 应为 {'/'.join(SOURCES)} / unknown source",
            code="unknown_booking_source",
        )
    elder = get_elder(session, elder_id)
    require_within(elder.region_code, actor.region_code)
    if elder.status != "active":
        raise MealAidError("老人档案非在册状态 / elder is not active", code="elder_not_active")
    point = get_meal_point(session, meal_point_id=meal_point_id)
    if not point.active:
        raise MealAidError(
            f"{point.name}已停止服务 / the meal point is closed", code="meal_point_closed"
        )
    if meal not in point.meal_times:
        raise ValidationFailed(
            f"{point.name}不供应{MEALS.get(meal, meal)} / not served here", code="meal_not_served"
        )
    if mode == "delivery" and not point.delivers:
        raise MealAidError(
            f"{point.name}不提供送餐 / this point does not deliver", code="meal_point_no_delivery"
        )
    policy = _policy(session, point.region_code)
    _check_window(session, point, served_on, meal, policy, _now_local(session, now))
    menu = session.scalar(
        select(MealMenu)
        .where(
            MealMenu.meal_point_id == point.id,
            MealMenu.served_on == served_on,
            MealMenu.meal == meal,
        )
        .with_for_update()
    )
    if menu is None:
        raise NotFound(
            f"{served_on} {MEALS[meal]}尚未发布菜单 / no menu for this meal", code="menu_not_found"
        )
    existing = session.scalar(
        select(MealBooking).where(
            MealBooking.elder_id == elder.id,
            MealBooking.served_on == served_on,
            MealBooking.meal == meal,
            MealBooking.status != "cancelled",
        )
    )
    if existing is not None:
        raise MealAidError(
            f"老人已预订 {served_on} {MEALS[meal]} (预订号 {existing.id}) / already booked",
            code="meal_already_booked",
            booking_id=existing.id,
        )
    if menu.capacity is not None and _live_count(session, menu.id) >= menu.capacity:
        raise MealAidError(
            f"{served_on} {MEALS[meal]}已订满 ({menu.capacity} 份) / fully booked",
            code="meal_fully_booked",
        )
    subsidy, category, capped_by = quote_subsidy(
        session, elder=elder, served_on=served_on, price=menu.price, policy=policy
    )
    booking = MealBooking(
        code=_new_code(session, point.id, served_on),
        menu_id=menu.id,
        meal_point_id=point.id,
        elder_id=elder.id,
        region_code=elder.region_code,
        served_on=served_on,
        meal=meal,
        mode=mode,
        source=source,
        status="booked",
        price=menu.price,
        subsidy=subsidy,
        self_pay=menu.price - subsidy,
        subsidy_category=category,
        capped_by=capped_by,
        delivery_address=(delivery_address or elder.address) if mode == "delivery" else None,
        booked_by=actor.name,
        call_id=call_id,
    )
    try:
        with session.begin_nested():
            session.add(booking)
    except IntegrityError as exc:  # a concurrent booking of the same meal won
        raise MealAidError("老人已预订该餐 / already booked", code="meal_already_booked") from exc
    if mode == "delivery":
        _open_delivery_order(
            session,
            actor=actor,
            booking=booking,
            elder=elder,
            point=point,
            menu=menu,
            policy=policy,
        )
    audit.record(
        session,
        actor=actor,
        action="meal.book",
        target_type="elder",
        target_id=elder.id,
        detail={
            "booking_id": booking.id,
            "mode": mode,
            "source": source,
            **({"order_id": booking.order_id} if booking.order_id else {}),
        },
    )
    publish_on_commit(
        session,
        MealBooked(booking.id, elder.id, elder.region_code, point.id, served_on, meal, mode),
    )
    return booking


def _new_code(session: Session, meal_point_id: int, served_on: date) -> str:
    """Six random digits no other booking of the point on that day has."""
    taken = set(
        session.scalars(
            select(MealBooking.code).where(
                MealBooking.meal_point_id == meal_point_id, MealBooking.served_on == served_on
            )
        )
    )
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if code not in taken:
            return code


# ---------------------------------------------------------------- the delivery's service order
#
# A delivery is a service order of the league's delivery type (MealAidPolicy), and the order
# follows its booking:
#   booked    -> opened (source: call / app / provider from the booking's origin), submitted
#                for dispatch, and sent straight to the meal point's operator when the point
#                has one that covers the elder (it cooks and delivers its own meals); a point
#                without an operator leaves the order to dispatch;
#   cancelled -> the order is cancelled, which its own rules allow only before service starts;
#   redeemed  -> the redemption at the door, with the elder's identity checked, is the proof of
#                delivery: the provider-side steps still missing (accept, start, check-in at
#                the courier's position) are recorded then, the order completed and confirmed
#                by that identity check. An order nobody dispatched yet is left to the hotline.
# The meal's own money (menu price, per-meal subsidy with its caps, per 盟市) stays on the
# booking and is settled per point and month here; the order's price is the catalogue's
# delivery terms, and it draws on a government-purchase allowance only where the league buys
# meals (GovPurchasePolicy.allowance_service_categories).


def _on_behalf(why: str, actor: Actor, region_code: str) -> Actor:
    """The system taking an order step that follows a person's meal-aid action (named in it)."""
    return system_actor(f"系统({why}: {actor.name})"[:64], region_code=region_code)


def _open_delivery_order(
    session: Session,
    *,
    actor: Actor,
    booking: MealBooking,
    elder: Elder,
    point: MealPoint,
    menu: MealMenu,
    policy: MealAidPolicy,
) -> ServiceOrder:
    source = (
        OrderSource.PROVIDER
        if providers.is_provider_actor(actor)
        else ORDER_SOURCES[booking.source]
    )
    order = orders.open_order(
        session,
        actor=actor,
        elder_id=elder.id,
        service_type_code=policy.delivery_service_type,
        source=source,
        notes=(
            f"助餐送餐 {booking.served_on} {MEALS[booking.meal]}: {menu.dishes} "
            f"({point.name}, 助餐预订 #{booking.id})"
        ),
        # another address than the profile's has no known coordinates
        address=booking.delivery_address if booking.delivery_address != elder.address else None,
        source_ref=booking.call_id or f"meal_booking:{booking.id}",
        requested_at=serving_time(session, point, booking.served_on, booking.meal),
        quantity=1,
    )
    booking.order_id = order.id
    session.flush()
    gov_purchase.charge_for_order(session, actor=actor, order_id=order.id)
    router = _on_behalf("助餐送餐派单", actor, elder.region_code)
    orders.submit_for_dispatch(
        session, actor=router, order_id=order.id, reason=f"助餐预订 #{booking.id}"
    )
    operator = (
        providers.find_provider(session, provider_id=point.provider_id)
        if point.provider_id is not None
        else None
    )
    if (
        operator is not None
        and operator.status not in CLOSED_STATUSES
        and providers.covers(
            operator, region_code=order.region_code, service_type_code=order.service_type_code
        )
    ):
        orders.dispatch_to(
            session,
            actor=router,
            order_id=order.id,
            provider_id=operator.id,
            reason=f"{point.name}自行配送",
        )
    return order


def find_booking_for_order(session: Session, *, order_id: int) -> MealBooking | None:
    """The meal booking a delivery order carries, if any."""
    return session.scalar(select(MealBooking).where(MealBooking.order_id == order_id))


def _cancellable(order: ServiceOrder) -> bool:
    return any(t.command == Command.CANCEL for t in order_states.transitions_from(order.status))


# Provider-side steps a redemption at the door stands in for, from each status.
_DELIVERY_STEPS: dict[str, tuple[str, ...]] = {
    OrderStatus.DISPATCHED: ("accept", "start_travel", "check_in", "complete", "confirm"),
    OrderStatus.ACCEPTED: ("start_travel", "check_in", "complete", "confirm"),
    OrderStatus.EN_ROUTE: ("check_in", "complete", "confirm"),
    OrderStatus.IN_SERVICE: ("complete", "confirm"),
    OrderStatus.COMPLETED: ("confirm",),
}


def _delivery_steps(actor: Actor, order: ServiceOrder | None) -> tuple[str, ...]:
    """What the redemption records on the delivery order: nothing for an order not yet with a
    provider or already past confirmation, nor for someone who may not act for its provider."""
    if order is None:
        return ()
    steps = _DELIVERY_STEPS.get(order.status, ())
    if providers.is_provider_actor(actor):
        return steps if actor.provider_id == order.provider_id else ()
    if actor.role is not None and actor.role not in orders.COMMAND_ROLES[Command.COMPLETE]:
        return ()
    return steps


def _walk_delivery(
    session: Session,
    *,
    actor: Actor,
    booking: MealBooking,
    order: ServiceOrder,
    steps: tuple[str, ...],
    latitude: float | None,
    longitude: float | None,
) -> None:
    method = IDENTITY_METHODS.get(booking.identity_method or "", "身份核验")
    for step in steps:
        if step == "accept":
            orders.accept(session, actor=actor, order_id=order.id)
        elif step == "start_travel":
            orders.start_travel(session, actor=actor, order_id=order.id)
        elif step == "check_in":
            orders.check_in(
                session, actor=actor, order_id=order.id, latitude=latitude, longitude=longitude
            )
        elif step == "complete":
            orders.complete(
                session,
                actor=actor,
                order_id=order.id,
                report=f"送餐到户, {method}通过后核销 (助餐预订 #{booking.id})",
            )
        elif step == "confirm":
            orders.confirm(
                session,
                actor=actor,
                order_id=order.id,
                confirmed_by="老人本人",
                evidence=Evidence(IDENTITY_CHECK, f"meal_booking:{booking.id}", method),
            )


def _identity_checked(session: Session, order: ServiceOrder, ref: str) -> bool:
    """A delivery confirmed at the door: its booking was redeemed with the elder's identity."""
    kind, _, raw = ref.partition(":")
    if kind != "meal_booking" or not (raw.isascii() and raw.isdigit()):
        return False
    booking = session.get(MealBooking, int(raw))
    return (
        booking is not None
        and booking.order_id == order.id
        and booking.status == "redeemed"
        and booking.identity_method in IDENTITY_METHODS
    )


register_verifier(IDENTITY_CHECK, _identity_checked)


def get_booking(session: Session, *, booking_id: int) -> MealBooking:
    booking = session.get(MealBooking, booking_id)
    if booking is None:
        raise NotFound(f"预订不存在: {booking_id} / no such booking", code="meal_booking_not_found")
    return booking


def cancel_booking(
    session: Session,
    *,
    actor: Actor,
    booking_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> MealBooking:
    booking = get_booking(session, booking_id=booking_id)
    require_within(booking.region_code, actor.region_code)
    if booking.status != "booked":
        raise IllegalTransition(
            f"预订状态为「{STATUS_LABELS[booking.status]}」, 不能取消 / cannot cancel",
            status=booking.status,
        )
    point = get_meal_point(session, meal_point_id=booking.meal_point_id)
    policy = _policy(session, point.region_code)
    closes = serving_time(session, point, booking.served_on, booking.meal) - timedelta(
        minutes=policy.cancel_cutoff_minutes
    )
    if _now_local(session, now) >= closes:
        raise BookingWindowClosed(
            f"供餐前 {policy.cancel_cutoff_minutes} 分钟内不能取消 / too late to cancel",
            rule="cancel_cutoff_minutes",
        )
    order = session.get(ServiceOrder, booking.order_id) if booking.order_id else None
    if order is not None and order.status not in order_states.TERMINAL and not _cancellable(order):
        raise IllegalTransition(
            f"送餐工单 {order.order_no} 当前为「{order_states.STATUS_LABELS[order.status]}」, "
            "送餐已在进行, 不能取消预订 / the delivery is under way",
            status=booking.status,
            order_status=order.status,
        )
    booking.status, booking.cancelled_reason = "cancelled", reason
    session.flush()
    if order is not None:
        on_behalf = _on_behalf("助餐预订取消", actor, booking.region_code)
        if order.status not in order_states.TERMINAL:
            orders.cancel(
                session,
                actor=on_behalf,
                order_id=order.id,
                reason=f"助餐预订 #{booking.id} 已取消" + (f": {reason}" if reason else ""),
            )
        gov_purchase.release_allowance(session, actor=on_behalf, order_id=order.id)
    publish_on_commit(
        session, MealBookingCancelled(booking.id, booking.elder_id, booking.region_code)
    )
    return booking


def _refuse_audited(session: Session, actor: Actor, booking: MealBooking, why: str) -> None:
    audit.record_refusal(
        session,
        actor=actor,
        action="meal.redeem",
        target_type="elder",
        target_id=booking.elder_id,
        result="denied",
        detail={"booking_id": booking.id, "reason": why},
    )


def redeem_meal(
    session: Session,
    *,
    actor: Actor,
    booking_id: int,
    method: str = "id_card",
    id_number: str | None = None,
    verified_elder_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime | None = None,
) -> MealBooking:
    """Serve a booked meal after checking who is eating it.

    ``id_card``: the ID number read from the card must be the booked elder's. ``face``: the
    point's face terminal reports the elder it matched (``verified_elder_id``). A meal already
    redeemed is refused, however the second attempt arrives. Refusals are audited in their own
    transaction, so call this as its own unit of work (as the point's terminal does): a caller
    that already wrote in the same transaction would hold the locks that record needs.

    A delivery is redeemed at the door: its order is carried to completed and confirmed (see
    the delivery-order notes above), checked in at ``latitude``/``longitude`` (the courier's
    phone), which are then required when the courier has not checked in yet.
    """
    booking = get_booking(session, booking_id=booking_id)
    point = get_meal_point(session, meal_point_id=booking.meal_point_id)
    require_point_staff(actor, point)
    local_now = _now_local(session, now)
    if booking.status == "redeemed":
        _refuse_audited(session, actor, booking, "already_redeemed")
        raise MealAlreadyRedeemed(
            f"该餐已于 {(booking.redeemed_at or local_now).astimezone(local_now.tzinfo):%m-%d %H:%M} 核销 / "
            "meal already redeemed",
            redeemed_at=booking.redeemed_at.isoformat() if booking.redeemed_at else None,
        )
    if booking.status != "booked":
        raise IllegalTransition(
            f"预订状态为「{STATUS_LABELS[booking.status]}」, 不能核销 / cannot redeem",
            status=booking.status,
        )
    if booking.served_on != local_now.date():
        raise MealAidError(
            f"该预订是 {booking.served_on} 的餐, 今天不能核销 / not today's meal",
            code="meal_not_today",
        )
    if method == "id_card":
        found = find_elder_by_id_number(session, id_number=id_number or "")
        matched = found is not None and found.id == booking.elder_id
    elif method == "face":
        matched = verified_elder_id == booking.elder_id
    else:
        raise ValidationFailed(
            f"身份核验方式 {method!r} 应为 id_card/face / unknown method",
            code="unknown_identity_method",
        )
    if not matched:
        _refuse_audited(session, actor, booking, "identity_mismatch")
        raise IdentityMismatch(
            "身份核验未通过: 就餐人与预订老人不符 / identity does not match the booking"
        )
    order = session.get(ServiceOrder, booking.order_id) if booking.order_id else None
    steps = _delivery_steps(actor, order)
    if "check_in" in steps and (latitude is None or longitude is None):
        raise DeliveryPositionRequired(
            "送餐核销须在老人家门口进行, 请开启定位后重试 / a delivery is redeemed at the door: "
            "the courier's position is required"
        )
    # Conditional update: of two concurrent redemptions only one changes the row.
    done = session.execute(
        update(MealBooking)
        .where(MealBooking.id == booking.id, MealBooking.status == "booked")
        .values(
            status="redeemed", redeemed_at=local_now, redeemed_by=actor.name, identity_method=method
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        raise MealAlreadyRedeemed("该餐已核销 / meal already redeemed")
    session.refresh(booking)
    if order is not None and steps:
        _walk_delivery(
            session,
            actor=actor,
            booking=booking,
            order=order,
            steps=steps,
            latitude=latitude,
            longitude=longitude,
        )
    audit.record(
        session,
        actor=actor,
        action="meal.redeem",
        target_type="elder",
        target_id=booking.elder_id,
        detail={
            "booking_id": booking.id,
            "method": method,
            **({"order_id": order.id, "order_status": order.status} if order else {}),
        },
    )
    publish_on_commit(
        session, MealRedeemed(booking.id, booking.elder_id, booking.region_code, point.id)
    )
    return booking


def close_meal(
    session: Session, *, actor: Actor, meal_point_id: int, served_on: date, meal: str
) -> int:
    """After service: bookings nobody redeemed become no-shows (no subsidy is settled for them)."""
    point = get_meal_point(session, meal_point_id=meal_point_id)
    require_point_staff(actor, point)
    result = session.execute(
        update(MealBooking)
        .where(
            MealBooking.meal_point_id == point.id,
            MealBooking.served_on == served_on,
            MealBooking.meal == meal,
            MealBooking.status == "booked",
        )
        .values(status="no_show")
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- statistics and settlement


def _totals(rows: Iterable[MealBooking]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "booked": 0,
        "redeemed": 0,
        "no_show": 0,
        "cancelled": 0,
        "dine_in": 0,
        "delivery": 0,
        "amount": Decimal("0.00"),
        "subsidy": Decimal("0.00"),
        "self_pay": Decimal("0.00"),
    }
    for b in rows:
        if b.status == "cancelled":
            out["cancelled"] += 1
            continue
        out["booked"] += 1
        out[b.mode] += 1
        if b.status == "no_show":
            out["no_show"] += 1
        if b.status == "redeemed":
            out["redeemed"] += 1
            out["amount"] += b.price
            out["subsidy"] += b.subsidy
            out["self_pay"] += b.self_pay
    return out


def daily_statistics(session: Session, *, meal_point_id: int, day: date) -> dict[str, Any]:
    """Per meal and for the day: booked, redeemed, no-shows, cancelled, dine-in vs delivery and
    the money of redeemed meals (what settlement will pay)."""
    rows = list(
        session.scalars(
            select(MealBooking).where(
                MealBooking.meal_point_id == meal_point_id, MealBooking.served_on == day
            )
        )
    )
    return {
        "day": day.isoformat(),
        "meals": {m: _totals(b for b in rows if b.meal == m) for m in MEALS},
        "total": _totals(rows),
    }


def _month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def monthly_statistics(session: Session, *, meal_point_id: int, month: date) -> dict[str, Any]:
    start, end = _month_bounds(month)
    rows = list(
        session.scalars(
            select(MealBooking).where(
                MealBooking.meal_point_id == meal_point_id,
                MealBooking.served_on >= start,
                MealBooking.served_on < end,
            )
        )
    )
    days = sorted({b.served_on for b in rows})
    return {
        "month": start.strftime("%Y-%m"),
        "days": {d.isoformat(): _totals(b for b in rows if b.served_on == d) for d in days},
        "total": _totals(rows),
        "elders": len({b.elder_id for b in rows if b.status == "redeemed"}),
    }


def settle_month(
    session: Session, *, actor: Actor, meal_point_id: int, month: date, today: date | None = None
) -> MealSettlement:
    """Settle a finished month of one point: the subsidy of every redeemed meal, once."""
    if actor.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("只有民政监管人员可以结算 / only officers settle")
    point = get_meal_point(session, meal_point_id=meal_point_id)
    require_within(point.region_code, actor.region_code)
    start, end = _month_bounds(month)
    if (today or clock.today_in(session)) < end:
        raise MealAidError(
            f"{start:%Y-%m} 尚未结束, 不能结算 / the month is not over", code="month_not_over"
        )
    if (
        session.scalar(
            select(MealSettlement.id).where(
                MealSettlement.meal_point_id == point.id, MealSettlement.month == start
            )
        )
        is not None
    ):
        raise MealAidError(
            f"{point.name} {start:%Y-%m} 已结算 / already settled", code="meal_settlement_exists"
        )
    close_q = update(MealBooking).where(
        MealBooking.meal_point_id == point.id,
        MealBooking.status == "booked",
        MealBooking.served_on >= start,
        MealBooking.served_on < end,
    )
    session.execute(close_q.values(status="no_show").execution_options(synchronize_session=False))
    rows = list(
        session.scalars(
            select(MealBooking).where(
                MealBooking.meal_point_id == point.id,
                MealBooking.status == "redeemed",
                MealBooking.served_on >= start,
                MealBooking.served_on < end,
                MealBooking.settlement_id.is_(None),
            )
        )
    )
    totals = _totals(rows)
    settlement = MealSettlement(
        meal_point_id=point.id,
        month=start,
        meals=totals["redeemed"],
        amount=totals["amount"],
        subsidy=totals["subsidy"],
        self_pay=totals["self_pay"],
        settled_by=actor.name,
    )
    try:
        with session.begin_nested():
            session.add(settlement)
    except IntegrityError as exc:
        raise MealAidError(
            f"{point.name} {start:%Y-%m} 已结算 / already settled", code="meal_settlement_exists"
        ) from exc
    for b in rows:
        b.settlement_id = settlement.id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="meal.settle",
        target_type="meal_point",
        target_id=point.id,
        detail={
            "month": start.strftime("%Y-%m"),
            "meals": settlement.meals,
            "subsidy": str(settlement.subsidy),
        },
    )
    publish_on_commit(session, MealPointSettled(settlement.id, point.id, point.region_code, start))
    return settlement


# The care status beside every screen pop asks these: statements built once, run with the
# elder's values (building and keying a statement cost more than PostgreSQL's answer).


@lru_cache(maxsize=1)
def _booked_ahead() -> Select[MealBooking]:
    """The elder's next five booked meals from ``day`` on."""
    return (
        select(MealBooking)
        .where(
            MealBooking.elder_id == bindparam("elder_id"),
            MealBooking.status == "booked",
            MealBooking.served_on >= bindparam("day"),
        )
        .order_by(MealBooking.served_on, MealBooking.id)
        .limit(5)
    )


@lru_cache(maxsize=1)
def _subsidy_used() -> Select[Any]:
    """The subsidy of the elder's meals not cancelled, served in [``start``, ``end``)."""
    return select(func.coalesce(func.sum(MealBooking.subsidy), 0)).where(
        MealBooking.elder_id == bindparam("elder_id"),
        MealBooking.status != "cancelled",
        MealBooking.served_on >= bindparam("start"),
        MealBooking.served_on < bindparam("end"),
    )


@lru_cache(maxsize=1)
def _league_points() -> Select[MealPoint]:
    """The active meal points whose region code starts with ``league``."""
    return (
        select(MealPoint)
        .where(MealPoint.active, MealPoint.region_code.startswith(bindparam("league")))
        .order_by(MealPoint.id)
    )


@lru_cache(maxsize=1)
def _bookings_from() -> Select[MealBooking]:
    """The elder's bookings not cancelled, served on ``day`` or later."""
    return select(MealBooking).where(
        MealBooking.elder_id == bindparam("elder_id"),
        MealBooking.status != "cancelled",
        MealBooking.served_on >= bindparam("day"),
    )


def status_for_elder(session: Session, *, elder_id: int, on: date | None = None) -> dict[str, Any]:
    day = on or clock.today_in(session)
    upcoming = list(session.scalars(_booked_ahead(), {"elder_id": elder_id, "day": day}))
    start, end = _month_bounds(day)
    used = session.scalar(_subsidy_used(), {"elder_id": elder_id, "start": start, "end": end})
    out: dict[str, Any] = {
        "module": "meal_aid",
        "label": "助餐",
        "state": "booked" if upcoming else "none",
        "state_label": f"已预订 {len(upcoming)} 餐" if upcoming else "无预订",
        "subsidy_used_this_month": str(_money(used or 0)),
        "upcoming": [_upcoming(session, b) for b in upcoming],
    }
    elder = session.get(Elder, elder_id)
    if elder is not None:
        out["monthly_subsidy_cap"] = str(
            _money(_policy(session, elder.region_code).monthly_subsidy_cap)
        )
    return out


def _upcoming(session: Session, b: MealBooking) -> dict[str, Any]:
    out: dict[str, Any] = {
        "booking_id": b.id,
        "code": b.code,
        "served_on": b.served_on.isoformat(),
        "meal": MEALS[b.meal],
        "mode": MODES[b.mode],
    }
    order = session.get(ServiceOrder, b.order_id) if b.order_id else None
    if order is not None:
        out.update(
            order_id=order.id,
            order_no=order.order_no,
            order_status=order.status,
            order_status_label=order_states.STATUS_LABELS[order.status],
        )
    return out


def spending_by_league(session: Session, *, region_code: str, year: int) -> dict[str, Spending]:
    """Meal subsidies of ``year`` at the region's points, per 盟市 of the point: months settled
    (spent), and the subsidy of meals booked or eaten in that year and not settled yet
    (committed)."""
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    league = func.substr(MealPoint.region_code, 1, 4)
    out: dict[str, Spending] = {}
    for code, amount in session.execute(
        select(league, func.coalesce(func.sum(MealSettlement.subsidy), 0))
        .join(MealPoint, MealPoint.id == MealSettlement.meal_point_id)
        .where(
            within(MealPoint.region_code, region_code),
            MealSettlement.month >= first,
            MealSettlement.month < after,
        )
        .group_by(league)
    ):
        add_spending(out, code, spent=amount)
    for code, amount in session.execute(
        select(league, func.coalesce(func.sum(MealBooking.subsidy), 0))
        .join(MealPoint, MealPoint.id == MealBooking.meal_point_id)
        .where(
            within(MealPoint.region_code, region_code),
            MealBooking.served_on >= first,
            MealBooking.served_on < after,
            MealBooking.status.in_(("booked", "redeemed")),
            MealBooking.settlement_id.is_(None),
        )
        .group_by(league)
    ):
        add_spending(out, code, committed=amount)
    return out
