"""Service-order use cases: open an order, move it through its lifecycle, query it.

Every command loads the order with a row lock, checks the actor and the transition table
(``states.py``), changes the order, appends one row to its transition log and queues one
past-tense event for after the commit. A refusal changes nothing and is audited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NoReturn, Required, TypedDict, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, bindparam, func, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.catalogue.models import Fulfilment, ServiceCategory
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.orders import evidence as evidence_rules
from platform_core.orders import followups, states
from platform_core.orders.events import EVENT_OF
from platform_core.orders.models import (
    OrderSource,
    OrderTransition,
    ReturnVisitResult,
    ServiceOrder,
    Urgency,
)
from platform_core.orders.numbering import next_order_no
from platform_core.orders.states import Command, Guard, OrderStatus
from platform_core.providers import qualifications
from platform_core.providers import service as providers
from platform_core.providers.models import CLOSED_STATUSES, ProviderStaff
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.sites.models import ServiceSite
from platform_core.sites.vocabulary import SiteStatus

_STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
_PROVIDER_SIDE = frozenset({Role.PROVIDER, Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
# Which user roles may give each command. Hotline staff may act for a provider (a staff member
# phones in a check-in); only the provider's own people may act as the provider.
COMMAND_ROLES: dict[str, frozenset[Role]] = {
    "open_order": _STAFF | {Role.PROVIDER},
    "assign_staff": _PROVIDER_SIDE,
    Command.SUBMIT_FOR_DISPATCH: _STAFF,
    Command.DISPATCH_TO: _STAFF,
    Command.ACCEPT: _PROVIDER_SIDE,
    Command.REJECT: _PROVIDER_SIDE,
    Command.START_TRAVEL: _PROVIDER_SIDE,
    Command.CHECK_IN: _PROVIDER_SIDE,
    Command.CHECK_OUT: _PROVIDER_SIDE,
    Command.COMPLETE: _PROVIDER_SIDE,
    # the elder signs on the staff member's phone
    Command.CONFIRM: _PROVIDER_SIDE,
    # a provider never rates, visits back or files a complaint about its own work
    Command.RATE: _STAFF,
    Command.RECORD_RETURN_VISIT: _STAFF,
    Command.FILE_COMPLAINT: _STAFF,
    Command.SETTLE: frozenset({Role.SUPERVISOR, Role.ADMIN, Role.OFFICER}),
    Command.CLOSE: frozenset({Role.SUPERVISOR, Role.ADMIN, Role.OFFICER}),
    Command.CANCEL: _STAFF,
    Command.ESCALATE: _STAFF,
}
# Commands an order's provider gives on it (and only on its own orders).
PROVIDER_COMMANDS = frozenset(
    {
        "assign_staff",
        Command.ACCEPT,
        Command.REJECT,
        Command.START_TRAVEL,
        Command.CHECK_IN,
        Command.CHECK_OUT,
        Command.COMPLETE,
        Command.CONFIRM,
    }
)
# Steps a practitioner with a login of their own takes on the orders they are sent on; taking
# the order and choosing who goes stay with their provider.
STAFF_COMMANDS = frozenset(
    {Command.START_TRAVEL, Command.CHECK_IN, Command.CHECK_OUT, Command.COMPLETE, Command.CONFIRM}
)
# The staff member of the order can be (re)assigned while these last.
STAFF_ASSIGNABLE = frozenset({OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE})


class OrderNotFound(NotFound):
    code = "order_not_found"


class ElderNotFound(NotFound):
    code = "elder_not_found"


# ---------------------------------------------------------------- helpers


def _is_provider(actor: Actor) -> bool:
    return providers.is_provider_actor(actor)


def refuse_on_order(
    session: Session, *, order_id: int | None, **refusal: Unpack[audit.Refusal]
) -> None:
    """Audit a refused action on an order (commands, the dispatch desk, provider reports).

    Written in its own transaction when this unit of work ends, which usually rolls back."""
    audit.refuse(session, target_type="service_order", target_id=order_id, **refusal)


def _refuse(
    session: Session,
    *,
    actor: Actor,
    action: str,
    order_id: int | None,
    error: DomainError,
    detail: dict[str, Any] | None = None,
) -> NoReturn:
    refuse_on_order(
        session,
        actor=actor,
        action=f"order.{action}",
        order_id=order_id,
        reason=error.code,
        detail=detail,
    )
    raise error


def _authorize(
    session: Session,
    *,
    actor: Actor,
    command: str,
    region_code: str,
    order: ServiceOrder | None = None,
) -> None:
    """Roles per command, a provider only on its own orders, everyone else only in their region."""
    order_id = order.id if order is not None else None

    def deny(error: DomainError) -> NoReturn:
        _refuse(session, actor=actor, action=command, order_id=order_id, error=error)

    if _is_provider(actor):
        if command == "open_order" and actor.staff_id is None:
            return
        practitioner = providers.is_practitioner(actor)
        if command not in (STAFF_COMMANDS if practitioner else PROVIDER_COMMANDS) or (
            actor.role is not None and actor.role not in (Role.PROVIDER, Role.STAFF)
        ):
            deny(
                PermissionDenied(
                    f"服务商不能{states.COMMAND_LABELS[command]} / a provider may not {command}"
                )
            )
        if order is None or order.provider_id is None or order.provider_id != actor.provider_id:
            deny(
                PermissionDenied(
                    "服务商只能处理派给本机构的工单 / a provider may act only on its own orders",
                    code="not_your_order",
                )
            )
        if practitioner and order.staff_id != actor.staff_id:
            deny(
                PermissionDenied(
                    "服务人员只能处理指派给本人的工单 / a practitioner acts only on their own orders",
                    code="not_your_order",
                )
            )
        return
    if actor.role is not None and actor.role not in COMMAND_ROLES[command]:
        deny(
            PermissionDenied(
                f"当前角色无权{states.COMMAND_LABELS[command]} / your role may not {command}"
            )
        )
    if actor.role is None and actor.kind == "user":
        deny(PermissionDenied("用户缺少角色 / a user without a role may not act"))
    if not codes.is_within(region_code, actor.region_code):
        deny(OutOfRegion("无权处理其他地区的工单 / outside your region"))


def _facts(session: Session, order: ServiceOrder) -> dict[str, bool]:
    st = catalogue.get_service_type(session, code=order.service_type_code)
    return {
        Guard.HOTLINE_HANDLED: st.fulfilment == Fulfilment.HOTLINE,
        Guard.NOTHING_TO_SETTLE: order.price == 0,
        Guard.SERVICE_DELIVERED: order.completed_at is not None,
    }


_LOCKED = "orders_locked"
# a step's line in the order's history: a plain INSERT built once, not an object through the
# unit of work (every command writes one)
_TRANSITIONS: Table = OrderTransition.__table__  # type: ignore[assignment]
_LOG_STEP = insert(_TRANSITIONS)


def _load(session: Session, order_id: int) -> ServiceOrder:
    """The order, locked for this unit of work: two commands on one order run one after the other."""
    if order_id in session.info.get(_LOCKED, ()):
        # locked earlier in this transaction (or created by it): nobody else can have changed it
        held = session.get(ServiceOrder, order_id)
        if held is not None:
            return held
    order = session.scalar(
        select(ServiceOrder)
        .where(ServiceOrder.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(f"工单不存在: {order_id} / unknown order")
    session.info.setdefault(_LOCKED, set()).add(order.id)
    return order


def lock_order(session: Session, *, order_id: int) -> ServiceOrder:
    """Lock the order for the rest of this unit of work (later commands on it read it once)."""
    return _load(session, order_id)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_locks(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_LOCKED, None)


def _begin(
    session: Session, *, actor: Actor, command: Command, order_id: int
) -> tuple[ServiceOrder, OrderStatus]:
    """Load, authorise and check the transition; nothing has changed yet."""
    order = _load(session, order_id)
    _authorize(session, actor=actor, command=command, region_code=order.region_code, order=order)
    try:
        target = states.check(order.status, command, _facts(session, order))
    except IllegalTransition as exc:
        _refuse(
            session,
            actor=actor,
            action=command,
            order_id=order.id,
            error=exc,
            detail={"from": order.status, "to": exc.details.get("to_status")},
        )
    return order, target


@dataclass(frozen=True)
class _Step:
    """A command on an order (begun by :func:`_start`: loaded, authorised, and allowed to lead
    to ``to``), by ``actor``."""

    session: Session
    order: ServiceOrder
    command: str
    to: OrderStatus | str
    actor: Actor

    def record(
        self,
        *,
        at: datetime,
        reason: str = "",
        latitude: float | None = None,
        longitude: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> ServiceOrder:
        """Move the order to ``to``, log the step and queue its event; the order, for the
        command to return."""
        session, order, command, actor = self.session, self.order, self.command, self.actor
        before = None if command == "open_order" else order.status
        order.status = str(self.to)
        order.transition_count = (order.transition_count or 0) + 1
        seq = order.transition_count
        session.flush()  # the order's own change (its INSERT, for an opening) goes first
        session.execute(
            _LOG_STEP,
            {
                "order_id": order.id,
                "seq": seq,
                "command": command,
                "from_status": before,
                "to_status": str(self.to),
                "at": at,
                "actor_kind": actor.kind,
                "actor_name": actor.name,
                "actor_user_id": actor.user_id,
                "actor_role": actor.role.value if actor.role else None,
                "actor_provider_id": actor.provider_id,
                "reason": reason,
                "latitude": latitude,
                "longitude": longitude,
                "detail": detail or {},
            },
        )
        if "transitions" in order.__dict__:  # a loaded history reads the new step next time
            session.expire(order, ["transitions"])
        publish_on_commit(
            session,
            EVENT_OF[command](
                order_id=order.id,
                order_no=order.order_no,
                region_code=order.region_code,
                elder_id=order.elder_id,
                service_type_code=order.service_type_code,
                urgency=order.urgency,
                status=order.status,
                from_status=before,
                provider_id=order.provider_id,
                staff_id=order.staff_id,
                actor=actor.label,
                reason=reason,
                detail=detail or {},
                seq=seq,
                opened_by_user_id=order.opened_by_user_id,
            ),
        )
        followups.plan(session, order, command=command, seq=seq)
        return order


def _start(session: Session, *, actor: Actor, command: Command, order_id: int) -> _Step:
    """:func:`_begin` a command, as the step that will record it."""
    order, target = _begin(session, actor=actor, command=command, order_id=order_id)
    return _Step(session, order, command, target, actor)


def _required_text(value: str, what: str, code: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"必须填写{what} / {code.replace('_', ' ')}", code=code)
    return text


def _coordinates(latitude: float | None, longitude: float | None) -> tuple[float, float]:
    if latitude is None or longitude is None:
        raise ValidationFailed(
            "签到签退必须提供定位坐标 / coordinates are required", code="coordinates_required"
        )
    lat, lon = float(latitude), float(longitude)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        # 0,0 is what a phone reports when it has no fix
        raise ValidationFailed(
            f"定位坐标无效: {latitude},{longitude} / invalid coordinates",
            code="invalid_coordinates",
        )
    return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _where(session: Session, order: ServiceOrder, lat: float, lon: float) -> dict[str, Any]:
    if order.latitude is None or order.longitude is None:
        return {}
    metres = round(distance_m(order.latitude, order.longitude, lat, lon))
    return {
        "distance_m": metres,
        "far_from_address": metres > settings_of(session).order_check_in_radius_m,
    }


def _record_at_home(
    step: _Step,
    at: datetime,
    where: tuple[float, float],
    extra: dict[str, Any],
    photo_ref: str | None,
) -> ServiceOrder:
    """Log a step taken at the elder's home (check-in, check-out): where it was taken, how far
    from the address, the step's own facts, and the photo when one was sent."""
    lat, lon = where
    detail = {**_where(step.session, step.order, lat, lon), **extra}
    if photo_ref:
        detail["photo_ref"] = photo_ref
    return step.record(at=at, latitude=lat, longitude=lon, detail=detail)


def _staff_for(session: Session, order: ServiceOrder, staff_id: int) -> ProviderStaff:
    staff = providers.get_staff(session, staff_id=staff_id)
    if staff.provider_id != order.provider_id:
        raise ValidationFailed(
            "服务人员不属于接单的服务商 / the staff member works for another provider",
            code="staff_not_eligible",
        )
    if not staff.active:
        raise ValidationFailed(
            f"服务人员 {staff.name} 已停用 / the staff member is inactive",
            code="staff_not_eligible",
        )
    if order.service_type_code not in staff.skills:
        raise ValidationFailed(
            f"服务人员 {staff.name} 不具备该服务技能 / the staff member lacks this skill",
            code="staff_not_eligible",
        )
    reason = qualifications.refusal(
        staff.name,
        staff.qualifications,
        service_type_code=order.service_type_code,
        today=clock.today_in(session),
        required=qualifications.required_names(settings_of(session).staff_required_qualifications),
    )
    if reason is not None:
        raise ValidationFailed(reason, code="staff_not_qualified", staff_id=staff.id)
    return staff


def _month_bounds(session: Session, at: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(settings_of(session).timezone)
    local = at.astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


# ---------------------------------------------------------------- opening


class OrderOpening(TypedDict, total=False):
    """The keywords of :func:`open_order`, for the paths that open an order through it with
    something more (``flows.care_orders.open_care_order``); mypy holds the two together."""

    actor: Required[Actor]
    elder_id: Required[int]
    service_type_code: Required[str]
    source: Required[str]
    urgency: str
    notes: str
    address: str | None
    source_ref: str | None
    requested_at: datetime | None
    quantity: Decimal | int
    site_id: int | None


def open_order(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    service_type_code: str,
    source: str,
    urgency: str = "normal",
    notes: str = "",
    address: str | None = None,
    source_ref: str | None = None,
    requested_at: datetime | None = None,
    quantity: Decimal | int = 1,
    site_id: int | None = None,
) -> ServiceOrder:
    """Open an order for an elder, priced and given its SLA deadlines by the catalogue.

    With ``site_id`` the service happens at that service site (an open site of the elder's
    盟市): the order's address and position are the site's, so dispatch measures distance
    from there and the check-in is expected there."""
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(f"老人档案不存在: {elder_id} / unknown elder")
    _authorize(session, actor=actor, command="open_order", region_code=elder.region_code)
    if elder.status == ElderStatus.DECEASED:
        raise Conflict(
            f"老人已故 ({elder.deceased_on}), 不能再建工单 / the elder has died; no new orders",
            code="elder_deceased",
            elder_id=elder.id,
        )
    if source not in set(OrderSource):
        raise ValidationFailed(
            f"未知工单来源: {source} / unknown source",
            code="invalid_source",
            allowed=[s.value for s in OrderSource],
        )
    if _is_provider(actor) and source != OrderSource.PROVIDER:
        raise PermissionDenied(
            "服务商只能上报来源为服务商的工单 / a provider opens orders only as their source",
            code="permission_denied",
        )
    if urgency not in set(Urgency):
        raise ValidationFailed(
            f"未知紧急程度: {urgency} / unknown urgency",
            code="invalid_urgency",
            allowed=[u.value for u in Urgency],
        )
    st = catalogue.get_service_type(session, code=service_type_code)
    if not st.active:
        raise ValidationFailed(
            f"服务类型已停用: {st.name} / service type is inactive", code="service_type_inactive"
        )
    if st.category == ServiceCategory.EMERGENCY:
        urgency = Urgency.EMERGENCY  # an emergency service is never queued behind routine work
    if requested_at is not None and requested_at.tzinfo is None:
        raise ValidationFailed(
            "预约时间必须带时区 / requested time needs a time zone", code="invalid_requested_at"
        )
    site = _service_site(session, site_id, elder) if site_id is not None else None
    now = utcnow()
    quote = catalogue.price_for(
        session,
        service_type_code=st.code,
        league_code=elder.region_code,
        categories=[c.category for c in elder.categories],
        quantity=quantity,
        subsidy_used_this_month=subsidy_used_this_month(session, elder_id=elder.id, at=now),
        urgency=urgency,
    )
    response_due = now + timedelta(minutes=quote.sla.response_minutes)
    arrival_due = (
        now + timedelta(minutes=quote.sla.arrival_minutes) if quote.sla.arrival_minutes else None
    )
    if requested_at is not None and arrival_due is not None and requested_at > now:
        # an appointment is kept at its time, not as soon as the SLA would allow
        arrival_due = max(
            arrival_due,
            requested_at + timedelta(minutes=settings_of(session).order_appointment_grace_min),
        )
    order = ServiceOrder(
        order_no=next_order_no(session, now),
        elder_id=elder.id,
        region_code=elder.region_code,
        service_type_code=st.code,
        category=st.category,
        urgency=urgency,
        source=source,
        source_ref=source_ref,
        notes=notes.strip(),
        address=f"{site.name} ({site.address})"[:255]
        if site
        else address.strip()
        if address
        else elder.address,
        latitude=site.latitude if site else None if address else elder.latitude,
        longitude=site.longitude if site else None if address else elder.longitude,
        site_id=site.id if site else None,
        requested_at=requested_at,
        status=OrderStatus.CREATED,
        quantity=quote.quantity,
        unit=quote.unit,
        unit_price=quote.unit_price,
        price=quote.amount,
        subsidy=quote.subsidy,
        self_pay=quote.self_pay,
        subsidy_category=quote.subsidy_category,
        subsidy_rule_id=quote.subsidy_rule_id,
        response_minutes=quote.sla.response_minutes,
        arrival_minutes=quote.sla.arrival_minutes,
        response_due_at=response_due,
        arrival_due_at=arrival_due,
        opened_at=now,
        opened_by=actor.label,
        opened_by_user_id=actor.user_id,
        transition_count=0,
    )
    session.add(order)
    # one INSERT, already as the step leaves it: flushed before the step is recorded, the row
    # was written twice (its INSERT, then an UPDATE of its step count), each write a new
    # version in every one of the table's indexes
    opened = _Step(session, order, "open_order", OrderStatus.CREATED, actor).record(
        at=now,
        detail={
            "source": source,
            "source_ref": source_ref,
            **({"site_id": site.id} if site else {}),
            "price": str(quote.amount),
            "subsidy": str(quote.subsidy),
            "self_pay": str(quote.self_pay),
            "subsidy_category": quote.subsidy_category,
            "capped_by": quote.capped_by,
            "price_source": quote.price_source,
            "response_due_at": response_due.isoformat(),
            "arrival_due_at": arrival_due.isoformat() if arrival_due else None,
        },
    )
    session.info.setdefault(_LOCKED, set()).add(opened.id)  # this transaction's own row
    return opened


# the key space of the per-call locks (pg_advisory_xact_lock's two-key form): a call's openings
# queue behind each other, nothing else does
_CALL_LOCK_SPACE = 12350


def serialize_call_openings(session: Session, *, call_ref: str) -> None:
    """Orders opened on one call are opened one at a time (until the transaction ends), so the
    second of two clicks sees the order the first one opened. SQLite has one writer anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:ref))"),
            {"space": _CALL_LOCK_SPACE, "ref": call_ref},
        )


def find_call_order(
    session: Session, *, elder_id: int, service_type_code: str, call_ref: str
) -> ServiceOrder | None:
    """The order of this service the call (or online conversation) already has and that is still
    under way: the one the caller chose in the IVR's menu (its draft) or the agent opened; the
    first opened."""
    return session.scalars(
        select(ServiceOrder)
        .where(
            ServiceOrder.elder_id == elder_id,
            ServiceOrder.source_ref == call_ref,
            ServiceOrder.service_type_code == service_type_code,
            # an online conversation's orders are found by its reference the same way
            ServiceOrder.source.in_(
                [OrderSource.CALL.value, OrderSource.IVR.value, OrderSource.ONLINE.value]
            ),
            ServiceOrder.status.in_([s.value for s in states.ELDER_OPEN_STATUSES]),
        )
        .order_by(ServiceOrder.id)
        .limit(1)
    ).first()


def is_draft(order: ServiceOrder) -> bool:
    """An order the IVR opened from the caller's keys, not yet confirmed by an agent."""
    return order.source == OrderSource.IVR and order.status == OrderStatus.CREATED


def same_terms(
    order: ServiceOrder,
    *,
    urgency: str,
    address: str | None,
    site_id: int | None,
) -> bool:
    """Whether an opening asks for what the order already is (its urgency, at the elder's home):
    price and deadlines depend on these, so another answer means another order."""
    if order.category == ServiceCategory.EMERGENCY:
        urgency = Urgency.EMERGENCY  # open_order makes every emergency service one
    return (
        urgency == order.urgency and not (address and address.strip()) and site_id == order.site_id
    )


def confirm_draft(
    session: Session, *, actor: Actor, order_id: int, notes: str = ""
) -> ServiceOrder:
    """The agent on the call confirms the IVR's draft as the call's order: the agent's notes
    replace the IVR's placeholder, which would otherwise still say it awaits them. Handing it
    to dispatch is the next step, as for any order opened from a call."""
    order = _load(session, order_id)
    _authorize(
        session, actor=actor, command="open_order", region_code=order.region_code, order=order
    )
    if not is_draft(order):
        raise Conflict(
            f"工单 {order.order_no} 不是待确认的语音菜单草稿 / not an IVR draft",
            code="not_a_draft",
            order_id=order.id,
        )
    order.notes = notes.strip() or "IVR 来电按键预填, 坐席已确认"
    return order


def _service_site(session: Session, site_id: int, elder: Elder) -> ServiceSite:
    site = session.get(ServiceSite, site_id)
    if site is None:
        raise NotFound(f"服务场所不存在: {site_id} / no such site", code="site_not_found")
    if site.status != SiteStatus.OPEN:
        raise Conflict(f"{site.name}未在运营 / the site is not open", code="site_not_open")
    if codes.league_of(site.region_code) != codes.league_of(elder.region_code):
        raise ValidationFailed(
            f"{site.name}不在老人所在盟市 / the site is in another league",
            code="site_out_of_league",
        )
    return site


# ---------------------------------------------------------------- dispatch


def submit_for_dispatch(
    session: Session, *, actor: Actor, order_id: int, reason: str = ""
) -> ServiceOrder:
    """Hand the order to dispatch (first time, after a rejection or after an escalation)."""
    step = _start(session, actor=actor, command=Command.SUBMIT_FOR_DISPATCH, order_id=order_id)
    order = step.order
    now = utcnow()
    previous = order.provider_id
    order.provider_id, order.staff_id, order.submitted_at = None, None, now
    return step.record(
        at=now,
        reason=reason,
        detail={"previous_provider_id": previous} if previous else {},
    )


def dispatch_to(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    provider_id: int,
    reason: str = "",
    explanation: Mapping[str, Any] | None = None,
) -> ServiceOrder:
    """Send the order to a provider; ``explanation`` keeps why dispatch ranked it first."""
    step = _start(session, actor=actor, command=Command.DISPATCH_TO, order_id=order_id)
    order = step.order
    provider = providers.get_provider(session, provider_id=provider_id)
    if provider.status in CLOSED_STATUSES:
        raise Conflict(
            f"服务商「{provider.name}」当前不接单 ({provider.status}) / the provider takes no orders",
            code="provider_unavailable",
            provider_status=provider.status,
        )
    if not providers.covers(
        provider, region_code=order.region_code, service_type_code=order.service_type_code
    ):
        raise Conflict(
            f"服务商「{provider.name}」不覆盖该地区或不提供该服务 / the provider does not serve this "
            "order's region or service",
            code="provider_does_not_cover",
        )
    now = utcnow()
    order.provider_id, order.staff_id, order.dispatched_at = provider.id, None, now
    return step.record(
        at=now,
        reason=reason,
        detail={
            "provider_id": provider.id,
            "provider_name": provider.name,
            **({"explanation": dict(explanation)} if explanation else {}),
        },
    )


def accept(
    session: Session, *, actor: Actor, order_id: int, staff_id: int | None = None
) -> ServiceOrder:
    step = _start(session, actor=actor, command=Command.ACCEPT, order_id=order_id)
    order = step.order
    staff = _staff_for(session, order, staff_id) if staff_id is not None else None
    now = utcnow()
    order.accepted_at = now
    if staff is not None:
        order.staff_id = staff.id
    return step.record(
        at=now,
        detail={"staff_id": staff.id, "staff_name": staff.name} if staff else {},
    )


# Why an order left its provider: the provider declined, its acceptance window ran out, or
# hotline staff moved it to another provider. Dispatch passes over each of them for this order.
REJECT_CAUSES = frozenset({"declined", "timed_out", "reassigned"})


def reject(
    session: Session, *, actor: Actor, order_id: int, reason: str, cause: str = "declined"
) -> ServiceOrder:
    """The provider declines (or the acceptance window ran out); dispatch picks another."""
    step = _start(session, actor=actor, command=Command.REJECT, order_id=order_id)
    order = step.order
    reason = _required_text(reason, "拒单原因", "reason_required")
    if cause not in REJECT_CAUSES:
        raise ValidationFailed(
            f"未知拒单类型: {cause} / unknown cause", code="invalid_reject_cause"
        )
    now = utcnow()
    provider_id = order.provider_id
    order.provider_id, order.staff_id = None, None
    order.reject_count = (order.reject_count or 0) + 1
    return step.record(
        at=now,
        reason=reason,
        detail={"provider_id": provider_id, "cause": cause},
    )


def assign_staff(session: Session, *, actor: Actor, order_id: int, staff_id: int) -> ServiceOrder:
    """Name (or replace) the staff member who goes; logged, the status stays."""
    order = _load(session, order_id)
    _authorize(
        session, actor=actor, command="assign_staff", region_code=order.region_code, order=order
    )
    if order.status not in STAFF_ASSIGNABLE:
        _refuse(
            session,
            actor=actor,
            action="assign_staff",
            order_id=order.id,
            error=IllegalTransition(
                f"工单当前为「{states.STATUS_LABELS[order.status]}」, 只有已接单或出发中的工单可以指派服务人员 / staff "
                f"can be assigned only to accepted or en-route orders",
                code="illegal_transition",
                from_status=order.status,
                to_status=order.status,
                command="assign_staff",
                allowed=[
                    s.value for s in states.allowed_next(order.status, _facts(session, order))
                ],
            ),
        )
    staff = _staff_for(session, order, staff_id)
    previous = order.staff_id
    order.staff_id = staff.id
    return _Step(session, order, "assign_staff", order.status, actor).record(
        at=utcnow(),
        detail={"staff_id": staff.id, "staff_name": staff.name, "previous_staff_id": previous},
    )


def start_travel(
    session: Session, *, actor: Actor, order_id: int, staff_id: int | None = None
) -> ServiceOrder:
    step = _start(session, actor=actor, command=Command.START_TRAVEL, order_id=order_id)
    order = step.order
    if actor.staff_id is not None and staff_id not in (None, actor.staff_id):
        _refuse(
            session,
            actor=actor,
            action=Command.START_TRAVEL,
            order_id=order.id,
            error=PermissionDenied(
                "服务人员不能改派他人 / a practitioner may not send someone else",
                code="not_your_order",
            ),
        )
    if staff_id is not None:
        order.staff_id = _staff_for(session, order, staff_id).id
    now = utcnow()
    order.departed_at = now
    return step.record(
        at=now,
        detail={"staff_id": order.staff_id},
    )


# ---------------------------------------------------------------- service at the home


def check_in(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    latitude: float | None,
    longitude: float | None,
    photo_ref: str | None = None,
) -> ServiceOrder:
    """Arrived at the elder's home: where (coordinates required) and when."""
    step = _start(session, actor=actor, command=Command.CHECK_IN, order_id=order_id)
    order = step.order
    lat, lon = _coordinates(latitude, longitude)
    now = utcnow()
    order.checked_in_at, order.check_in_latitude, order.check_in_longitude = now, lat, lon
    extra = {} if order.arrival_due_at is None else {"arrived_late": now > order.arrival_due_at}
    return _record_at_home(step, now, (lat, lon), extra, photo_ref)


def check_out(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    latitude: float | None,
    longitude: float | None,
    report: str = "",
    photo_ref: str | None = None,
) -> ServiceOrder:
    """Leaving the home when the service is done: where, when, and optionally the report."""
    step = _start(session, actor=actor, command=Command.CHECK_OUT, order_id=order_id)
    order = step.order
    lat, lon = _coordinates(latitude, longitude)
    now = utcnow()
    _require_time_at_home(session, actor, order, Command.CHECK_OUT, now)
    order.checked_out_at, order.check_out_latitude, order.check_out_longitude = now, lat, lon
    order.completed_at = now
    if report.strip():
        order.completion_report = report.strip()
    extra: dict[str, Any] = {}
    if order.checked_in_at is not None:
        extra["service_minutes"] = round((now - order.checked_in_at).total_seconds() / 60, 1)
    return _record_at_home(step, now, (lat, lon), extra, photo_ref)


def _require_time_at_home(
    session: Session, actor: Actor, order: ServiceOrder, command: Command, now: datetime
) -> None:
    """A service at the home ends no sooner than its type's minimum after the check-in, on
    every channel: a check-out seconds after the check-in is not a service."""
    if order.checked_in_at is None:
        return
    minimum = evidence_rules.min_service_minutes(settings_of(session), order.service_type_code)
    spent = (now - order.checked_in_at).total_seconds() / 60
    if spent + 1e-9 < minimum:
        _refuse(
            session,
            actor=actor,
            action=command,
            order_id=order.id,
            error=Conflict(
                f"签到后服务时间不足 {minimum:g} 分钟 (已 {spent:.1f} 分钟), 不能结束服务 / the service "
                f"must last at least {minimum:g} minutes after check-in",
                code="service_too_short",
                minimum_minutes=minimum,
                minutes=round(spent, 1),
            ),
            detail={"minutes": round(spent, 1), "minimum": minimum},
        )


def complete(session: Session, *, actor: Actor, order_id: int, report: str) -> ServiceOrder:
    """Complete with a report: a checked-in service without check-out coordinates, or a
    service the hotline handles itself (a consultation answered on the call)."""
    step = _start(session, actor=actor, command=Command.COMPLETE, order_id=order_id)
    order = step.order
    report = _required_text(report, "完成情况", "report_required")
    now = utcnow()
    _require_time_at_home(session, actor, order, Command.COMPLETE, now)
    order.completed_at, order.completion_report = now, report
    return step.record(
        at=now,
        detail={"report": report},
    )


# ---------------------------------------------------------------- after the service


def confirm(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    evidence: evidence_rules.Evidence,
    confirmed_by: str = "老人本人",
) -> ServiceOrder:
    """The elder (or a family member) confirms the service was delivered.

    Only with the elder's evidence (``orders/evidence.py``: the SMS code spent for this order,
    a signature uploaded for it, or an identity check at the door): a provider's word alone,
    on whatever channel it arrives, confirms nothing.
    """
    proof = evidence
    step = _start(session, actor=actor, command=Command.CONFIRM, order_id=order_id)
    order = step.order
    confirmed_by = _required_text(confirmed_by, "确认人", "confirmed_by_required")
    if not evidence_rules.holds(session, order, proof):
        _refuse(
            session,
            actor=actor,
            action=Command.CONFIRM,
            order_id=order.id,
            error=Conflict(
                "确认须有老人本人的凭证 (短信确认码、签名或身份核验) / a confirmation needs the "
                "elder's evidence: the SMS code, a signature or an identity check",
                code="confirmation_evidence_required",
            ),
            detail={"evidence": getattr(proof, "kind", None)},
        )
    now = utcnow()
    order.confirmed_at, order.confirmed_by = now, confirmed_by
    order.confirmation_evidence = proof.stored
    method = proof.label or evidence_rules.KIND_LABELS[proof.kind]
    return step.record(
        at=now,
        detail={"confirmed_by": confirmed_by, "method": method, "evidence": proof.stored},
    )


def rate(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    score: int,
    comment: str = "",
    rated_by: str = "",
) -> ServiceOrder:
    """The elder's rating, 1 (very poor) to 5 (very good); ``rated_by`` says who gave it and how
    (老人本人, 家属 on a return-visit call, the IVR's survey)."""
    step = _start(session, actor=actor, command=Command.RATE, order_id=order_id)
    order = step.order
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed(
            f"评分必须是 1-5 的整数: {score!r} / a rating is a whole number from 1 to 5",
            code="invalid_rating",
        )
    now = utcnow()
    order.rated_at, order.rating, order.rating_comment = now, score, comment.strip()
    return step.record(
        at=now,
        detail={
            "score": score,
            **({"comment": comment.strip()} if comment.strip() else {}),
            **({"rated_by": rated_by.strip()[:40]} if rated_by.strip() else {}),
        },
    )


def record_return_visit(
    session: Session, *, actor: Actor, order_id: int, result: str, note: str = ""
) -> ServiceOrder:
    """The satisfaction call after the service; an unreachable elder is a result too."""
    step = _start(session, actor=actor, command=Command.RECORD_RETURN_VISIT, order_id=order_id)
    order = step.order
    if result not in set(ReturnVisitResult):
        raise ValidationFailed(
            f"未知回访结果: {result} / unknown return-visit result",
            code="invalid_return_visit",
            allowed=[r.value for r in ReturnVisitResult],
        )
    now = utcnow()
    order.return_visited_at, order.return_visit_result, order.return_visit_note = (
        now,
        result,
        note.strip(),
    )
    return step.record(
        at=now,
        detail={"result": result, **({"note": note.strip()} if note.strip() else {})},
    )


def settle(session: Session, *, actor: Actor, order_id: int, settlement_ref: str) -> ServiceOrder:
    """Include the order in a settlement (the provider's monthly statement)."""
    step = _start(session, actor=actor, command=Command.SETTLE, order_id=order_id)
    order = step.order
    settlement_ref = _required_text(settlement_ref, "结算单号", "settlement_ref_required")
    if not evidence_rules.is_evidenced(order):
        _refuse(
            session,
            actor=actor,
            action=Command.SETTLE,
            order_id=order.id,
            error=Conflict(
                f"工单 {order.order_no} 没有老人本人确认的凭证, 不能结算 / the order has no "
                "confirmation with the elder's evidence and cannot be paid",
                code="confirmation_unevidenced",
            ),
        )
    now = utcnow()
    order.settled_at, order.settlement_ref = now, settlement_ref
    return step.record(
        at=now,
        detail={
            "settlement_ref": settlement_ref,
            "price": str(order.price),
            "subsidy": str(order.subsidy),
            "self_pay": str(order.self_pay),
            "provider_id": order.provider_id,
        },
    )


def close(session: Session, *, actor: Actor, order_id: int, reason: str = "") -> ServiceOrder:
    step = _start(session, actor=actor, command=Command.CLOSE, order_id=order_id)
    order = step.order
    now = utcnow()
    order.closed_at = now
    return step.record(at=now, reason=reason.strip())


# ---------------------------------------------------------------- side exits


def cancel(session: Session, *, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    step = _start(session, actor=actor, command=Command.CANCEL, order_id=order_id)
    order = step.order
    reason = _required_text(reason, "取消原因", "reason_required")
    now = utcnow()
    order.cancelled_at, order.cancel_reason = now, reason
    return step.record(
        at=now,
        reason=reason,
        detail={"provider_id": order.provider_id} if order.provider_id else {},
    )


def escalate(
    session: Session, *, actor: Actor, order_id: int, reason: str, breach: str | None = None
) -> ServiceOrder:
    """SLA breached (``breach`` "response" or "arrival") or a supervisor steps in; the order
    goes back into dispatch from here."""
    step = _start(session, actor=actor, command=Command.ESCALATE, order_id=order_id)
    order = step.order
    reason = _required_text(reason, "升级原因", "reason_required")
    if breach is not None and breach not in ("response", "arrival"):
        raise ValidationFailed(
            f"未知超时类型: {breach} / breach is response or arrival", code="invalid_breach"
        )
    now = utcnow()
    order.escalated_at = now
    order.escalation_count = (order.escalation_count or 0) + 1
    return step.record(
        at=now,
        reason=reason,
        detail={
            "breach": breach,
            "provider_id": order.provider_id,
            "count": order.escalation_count,
        },
    )


def file_complaint(session: Session, *, actor: Actor, order_id: int, text: str) -> ServiceOrder:
    step = _start(session, actor=actor, command=Command.FILE_COMPLAINT, order_id=order_id)
    order = step.order
    text = _required_text(text, "投诉内容", "complaint_required")
    now = utcnow()
    order.complaint_at, order.complaint_text = now, text
    return step.record(
        at=now,
        reason=text,
        detail={"provider_id": order.provider_id, "staff_id": order.staff_id},
    )


# ---------------------------------------------------------------- queries


def get_order(session: Session, *, order_id: int, within_region: str | None = None) -> ServiceOrder:
    """The order, or NotFound; with ``within_region`` also OutOfRegion outside it."""
    order = session.get(ServiceOrder, order_id)
    if order is None:
        raise OrderNotFound(f"工单不存在: {order_id} / unknown order")
    if within_region is not None and not codes.is_within(
        order.region_code, codes.normalize_code(within_region)
    ):
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
    return order


def find_order_by_no(session: Session, *, order_no: str) -> ServiceOrder | None:
    return session.scalar(
        select(ServiceOrder).where(ServiceOrder.order_no == order_no.strip().upper())
    )


def list_orders(
    session: Session,
    *,
    region_code: str | None = None,
    elder_id: int | None = None,
    provider_id: int | None = None,
    staff_id: int | None = None,
    status: str | Iterable[str] | None = None,
    service_type_code: str | None = None,
    opened_from: datetime | None = None,
    opened_before: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ServiceOrder]:
    """Orders newest first, filtered; ``region_code`` scopes to that region and below."""
    q = select(ServiceOrder).order_by(ServiceOrder.opened_at.desc(), ServiceOrder.id.desc())
    if region_code is not None:
        q = q.where(within(ServiceOrder.region_code, region_code))
    if elder_id is not None:
        q = q.where(ServiceOrder.elder_id == elder_id)
    if provider_id is not None:
        q = q.where(ServiceOrder.provider_id == provider_id)
    if staff_id is not None:
        q = q.where(ServiceOrder.staff_id == staff_id)
    if status is not None:
        q = q.where(ServiceOrder.status.in_([status] if isinstance(status, str) else list(status)))
    if service_type_code is not None:
        q = q.where(ServiceOrder.service_type_code == service_type_code)
    if opened_from is not None:
        q = q.where(ServiceOrder.opened_at >= opened_from)
    if opened_before is not None:
        q = q.where(ServiceOrder.opened_at < opened_before)
    return list(session.scalars(q.limit(limit).offset(offset)))


@lru_cache(maxsize=1)
def _elder_open_orders() -> Select[ServiceOrder]:
    """An elder's orders under way (``elder_id``), newest first, built once: every screen pop
    lists them."""
    return (
        select(ServiceOrder)
        .where(
            ServiceOrder.elder_id == bindparam("elder_id"),
            ServiceOrder.status.in_([s.value for s in states.ELDER_OPEN_STATUSES]),
        )
        .order_by(ServiceOrder.opened_at.desc())
    )


def open_orders_for_elder(session: Session, *, elder_id: int) -> list[ServiceOrder]:
    """The elder's orders still under way, for the screen pop (emergencies first)."""
    rows = session.scalars(_elder_open_orders(), {"elder_id": elder_id})
    rank = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}
    return sorted(rows, key=lambda o: rank.get(Urgency(o.urgency), 3))


def order_history(session: Session, *, order_id: int) -> list[OrderTransition]:
    get_order(session, order_id=order_id)
    return list(
        session.scalars(
            select(OrderTransition)
            .where(OrderTransition.order_id == order_id)
            .order_by(OrderTransition.seq)
        )
    )


def next_commands(session: Session, *, order: ServiceOrder) -> list[str]:
    """Commands the order's status allows now (the console's buttons), in lifecycle order."""
    facts = _facts(session, order)
    out = [t.command.value for t in states.transitions_from(order.status, facts)]
    if order.status in STAFF_ASSIGNABLE:
        out.append("assign_staff")
    return list(dict.fromkeys(out))


def provider_loads(session: Session, *, provider_ids: Iterable[int]) -> dict[int, int]:
    """Open orders per provider (dispatched through in service), against its capacity."""
    ids = list(provider_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(ServiceOrder.provider_id, func.count())
        .where(
            ServiceOrder.provider_id.in_(ids),
            ServiceOrder.status.in_([s.value for s in states.LOAD_STATUSES]),
        )
        .group_by(ServiceOrder.provider_id)
    )
    loads = {pid: 0 for pid in ids}
    for pid, n in rows:
        if pid is not None:
            loads[pid] = int(n)
    return loads


def rejected_provider_ids(session: Session, *, order_id: int) -> set[int]:
    """Providers that already declined this order (dispatch passes them over)."""
    rows = session.scalars(
        select(OrderTransition.detail).where(
            OrderTransition.order_id == order_id, OrderTransition.command == Command.REJECT.value
        )
    )
    return {d["provider_id"] for d in rows if d.get("provider_id") is not None}


def subsidy_used_this_month(session: Session, *, elder_id: int, at: datetime) -> dict[int, Decimal]:
    """Subsidy paid to the elder per rule in the local calendar month of ``at``; cancelled
    orders give their share back."""
    start, end = _month_bounds(session, at)
    rows = session.execute(
        select(ServiceOrder.subsidy_rule_id, func.sum(ServiceOrder.subsidy))
        .where(
            ServiceOrder.elder_id == elder_id,
            ServiceOrder.subsidy_rule_id.is_not(None),
            ServiceOrder.status != OrderStatus.CANCELLED.value,
            ServiceOrder.opened_at >= start,
            ServiceOrder.opened_at < end,
        )
        .group_by(ServiceOrder.subsidy_rule_id)
    )
    used: dict[int, Decimal] = {}
    for rule_id, total in rows:
        if rule_id is not None:
            used[rule_id] = Decimal(total)
    return used
