"""The family care bed chain (DOMAIN.md section 10) as an explicit state machine.

applied -> assessed -> contracted -> home_adapted -> devices_installed -> planned -> in_service,
and from any of them withdrawn (death, moving into an institution, request, re-assessment).
Each move records its date and owner. While in service, each month's plan is opened as
service orders (source ``assessment_plan``) sent to the contracted provider, each recorded as a
service of the bed; a month is settled once, under a per-household cap, counting only the
services whose orders were completed. Withdrawal cancels the plan's orders not yet under way.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role, system_actor
from platform_core.assessment.service import current_assessment, get_elder, grade_key
from platform_core.assessment.standard import AbilityGrade, parse_grade
from platform_core.audit import service as audit
from platform_core.budgets.spending import Spending
from platform_core.budgets.spending import add as add_spending
from platform_core.care_beds.events import CareBedStepTaken
from platform_core.care_beds.models import CareBed, CareBedService, CareBedSettlement, CareBedStep
from platform_core.care_beds.policy import CareBedPolicy
from platform_core.care_policy.service import policy_for
from platform_core.elders.service import CareApplication, application_fields
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.home_adaptation.models import AdaptationCase
from platform_core.orders import service as orders
from platform_core.orders import states as order_states
from platform_core.orders.models import OrderSource, ServiceOrder
from platform_core.orders.states import Command, OrderStatus
from platform_core.providers import service as providers
from platform_core.providers.models import CLOSED_STATUSES
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of
from platform_core.step_chain import StepChain

STATUS_LABELS = {
    "applied": "已申请",
    "assessed": "已评估",
    "contracted": "已签约",
    "home_adapted": "已完成适老化改造",
    "devices_installed": "已安装设备",
    "planned": "已制定服务计划",
    "in_service": "服务中",
    "withdrawn": "已退出",
}
TRANSITIONS: dict[tuple[str, str], str] = {
    ("applied", "assess"): "assessed",
    ("assessed", "contract"): "contracted",
    ("contracted", "adapt_home"): "home_adapted",
    ("home_adapted", "install_devices"): "devices_installed",
    ("devices_installed", "plan"): "planned",
    ("planned", "start_service"): "in_service",
    **{
        (s, "withdraw"): "withdrawn"
        for s in (
            "applied",
            "assessed",
            "contracted",
            "home_adapted",
            "devices_installed",
            "planned",
            "in_service",
        )
    },
}
ACTION_LABELS = {
    "assess": "登记评估",
    "contract": "签约",
    "adapt_home": "完成适老化改造",
    "install_devices": "安装设备",
    "plan": "制定服务计划",
    "start_service": "开始服务",
    "withdraw": "退出",
}
WITHDRAWAL_REASONS = {
    "death": "老人去世",
    "institution": "入住养老机构",
    "request": "本人或家属申请",
    "reassessment": "复评后不再符合条件",
}
VISIT_TYPES = {"visit_home"}
ADAPTATION_DONE = {"accepted", "settled", "return_visited"}


class CareBedNotFound(NotFound):
    code = "care_bed_not_found"


class NotEligible(Conflict):
    code = "care_bed_not_eligible"


def get_care_bed(session: Session, *, care_bed_id: int) -> CareBed:
    bed = session.get(CareBed, care_bed_id)
    if bed is None:
        raise CareBedNotFound(f"家庭养老床位不存在: {care_bed_id} / no such care bed")
    return bed


def _policy(session: Session, bed: CareBed) -> CareBedPolicy:
    return policy_for(session, CareBedPolicy, region_code=bed.region_code)


CHAIN = StepChain(
    noun_zh="床位",
    noun_en="a bed",
    audit_prefix="care_bed",
    target_type="care_bed",
    step_model=CareBedStep,
    transitions=TRANSITIONS,
    status_labels=STATUS_LABELS,
    action_labels=ACTION_LABELS,
    step_taken=CareBedStepTaken,
)


def _move(
    session: Session, *, actor: Actor, bed: CareBed, action: str, on: date | None, note: str = ""
) -> CareBed:
    CHAIN.move(session, actor=actor, record=bed, action=action, on=on, note=note)
    return bed


def _require(bed: CareBed, action: str) -> None:
    CHAIN.next_status(bed, action)


def apply_for_bed(session: Session, **application: Unpack[CareApplication]) -> CareBed:
    """An application by the family, or a referral (e.g. an agent after a call)."""
    source = application.get("source", "application")
    if source not in ("application", "referral"):
        raise ValidationFailed(
            f"来源 {source!r} 应为 application/referral / unknown source",
            code="unknown_care_bed_source",
        )
    elder = get_elder(session, application["elder_id"])
    fields = application_fields(elder, application)
    open_bed = session.scalar(
        select(CareBed).where(CareBed.elder_id == elder.id, CareBed.status != "withdrawn")
    )
    if open_bed is not None:
        raise Conflict(
            f"该老人已有家庭养老床位 (编号 {open_bed.id}) / a bed is already open",
            code="care_bed_already_open",
        )
    bed = CareBed(**fields)
    CHAIN.open(
        session,
        actor=application["actor"],
        record=bed,
        on=application.get("on"),
        detail={"elder_id": elder.id, "source": source},
    )
    return bed


def record_bed_assessment(
    session: Session, *, actor: Actor, care_bed_id: int, on: date | None = None
) -> CareBed:
    """Link the elder's current assessment; its grade must reach the league's threshold."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "assess")
    day = on or clock.today_in(session)
    assessment = current_assessment(session, elder_id=bed.elder_id)
    if assessment is None or assessment.next_due_on < day:
        raise Conflict("老人没有有效的能力评估 / no valid assessment", code="assessment_required")
    grade, threshold = (
        AbilityGrade(assessment.final_grade),
        parse_grade(_policy(session, bed).min_grade),
    )
    if grade < threshold:
        raise NotEligible(
            f"能力等级为{grade.label}, 家庭养老床位要求至少{threshold.label} / grade below the threshold",
            rule="min_grade",
        )
    bed.assessment_id, bed.grade = assessment.id, grade_key(grade)
    return _move(session, actor=actor, bed=bed, action="assess", on=day, note=grade.label)


def sign_contract(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    provider_id: int,
    contract_no: str,
    starts_on: date,
    ends_on: date,
    on: date | None = None,
) -> CareBed:
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "contract")
    if ends_on <= starts_on or not contract_no.strip():
        raise ValidationFailed(
            "合同须有编号, 且结束日期晚于开始日期 / contract number and a valid term required",
            code="invalid_contract",
        )
    provider = providers.get_provider(session, provider_id=provider_id)
    bed.provider_id, bed.contract_no = provider.id, contract_no.strip()
    bed.contract_starts_on, bed.contract_ends_on = starts_on, ends_on
    return _move(session, actor=actor, bed=bed, action="contract", on=on, note=contract_no)


def complete_home_adaptation(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    home_adaptation_id: int | None = None,
    waived_reason: str = "",
    on: date | None = None,
) -> CareBed:
    """The home is ready: an accepted adaptation case of the same elder, or a stated waiver."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "adapt_home")
    if home_adaptation_id is not None:
        case = session.get(AdaptationCase, home_adaptation_id)
        if case is None or case.elder_id != bed.elder_id or case.status not in ADAPTATION_DONE:
            raise Conflict(
                "适老化改造须为本人且已验收 / the adaptation must be this elder's and accepted",
                code="adaptation_not_accepted",
            )
        bed.home_adaptation_id = case.id
        note = f"改造案 {case.id}"
    elif waived_reason.strip():
        note = f"无需改造: {waived_reason.strip()}"
    else:
        raise ValidationFailed(
            "请关联已验收的改造案或说明无需改造的理由 / link an adaptation or give a waiver",
            code="adaptation_required",
        )
    return _move(session, actor=actor, bed=bed, action="adapt_home", on=on, note=note)


def install_devices(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    devices: Sequence[str],
    on: date | None = None,
) -> CareBed:
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "install_devices")
    names = [d.strip() for d in devices if d.strip()]
    if not names:
        raise ValidationFailed(
            "至少安装一台设备 (如一键呼叫) / at least one device", code="devices_required"
        )
    bed.devices = names
    return _move(
        session, actor=actor, bed=bed, action="install_devices", on=on, note="、".join(names)
    )


def set_service_plan(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    items: Sequence[dict[str, Any]],
    on: date | None = None,
) -> CareBed:
    """The monthly plan: service types and how often; it must meet the league's minimums."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "plan")
    policy = _policy(session, bed)
    plan: list[dict[str, Any]] = []
    for item in items:
        code, times = str(item.get("service_type_code", "")).strip(), item.get("times_per_month")
        if not code or not isinstance(times, int) or times < 1:
            raise ValidationFailed(
                f"服务计划项 {item!r} 需要服务类型和每月次数 / each item needs a type and a count",
                code="invalid_service_plan",
            )
        plan.append({"service_type_code": code, "times_per_month": times})
    total = sum(int(p["times_per_month"]) for p in plan)
    visits = sum(int(p["times_per_month"]) for p in plan if p["service_type_code"] in VISIT_TYPES)
    if total < policy.min_services_per_month or visits < policy.min_visits_per_month:
        raise ValidationFailed(
            f"服务计划每月至少 {policy.min_services_per_month} 次服务、{policy.min_visits_per_month} 次探访 / "
            "plan below the league's minimum",
            code="service_plan_below_minimum",
            rule="min_services_per_month",
        )
    bed.service_plan = plan
    return _move(session, actor=actor, bed=bed, action="plan", on=on)


def start_service(
    session: Session, *, actor: Actor, care_bed_id: int, on: date | None = None
) -> CareBed:
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    return _move(session, actor=actor, bed=bed, action="start_service", on=on)


def withdraw(
    session: Session, *, actor: Actor, care_bed_id: int, reason: str, on: date | None = None
) -> CareBed:
    if reason not in WITHDRAWAL_REASONS:
        raise ValidationFailed(
            f"退出原因 {reason!r} 应为 {'/'.join(WITHDRAWAL_REASONS)} / unknown reason",
            code="unknown_withdrawal_reason",
        )
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    _require(bed, "withdraw")
    bed.withdrawal_reason, bed.withdrawn_on = reason, on or clock.today_in(session)
    _move(session, actor=actor, bed=bed, action="withdraw", on=on, note=WITHDRAWAL_REASONS[reason])
    on_behalf = _on_behalf("家庭养老床位退出", actor, bed.region_code)
    for order in _plan_orders(session, bed):
        # an order already under way runs to its end; it counts for its month as delivered
        if order.status not in order_states.TERMINAL and _cancellable(order):
            orders.cancel(
                session,
                actor=on_behalf,
                order_id=order.id,
                reason=f"家庭养老床位 #{bed.id} 退出: {WITHDRAWAL_REASONS[reason]}",
            )
    return bed


def _on_behalf(why: str, actor: Actor, region_code: str) -> Actor:
    """The system taking an order step that follows a person's care-bed action (named in it)."""
    return system_actor(f"系统({why}: {actor.name})"[:64], region_code=region_code)


def _cancellable(order: ServiceOrder) -> bool:
    return any(t.command == Command.CANCEL for t in order_states.transitions_from(order.status))


def _plan_orders(session: Session, bed: CareBed) -> list[ServiceOrder]:
    return list(
        session.scalars(
            select(ServiceOrder)
            .join(CareBedService, CareBedService.order_id == ServiceOrder.id)
            .where(CareBedService.care_bed_id == bed.id)
            .order_by(ServiceOrder.id)
        )
    )


def _slot_ref(bed: CareBed, month: date, code: str, n: int) -> str:
    return f"care_bed:{bed.id}:{month:%Y%m}:{code}:{n}"


def _planned_days(month: date, times: int, today: date) -> list[date]:
    """``times`` days spread evenly over the month, or over what is left of it when the month
    is under way (a month opened late does not plan services in the past)."""
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    first = today if month <= today <= last else month
    span = (last - first).days + 1
    return [first + timedelta(days=(i * span) // times) for i in range(times)]


def open_month_orders(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    month: date,
    today: date | None = None,
) -> list[CareBedService]:
    """Open the month's planned services as service orders (source ``assessment_plan``), each
    on its planned day and sent to the contracted provider, and record each as a service of the
    bed. Running it again opens only what is still missing (each planned service has its slot,
    the order's ``source_ref``), so a job may run it daily."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    require_within(bed.region_code, actor.region_code)
    if bed.status != "in_service":
        raise IllegalTransition(
            f"床位当前为「{STATUS_LABELS[bed.status]}」, 不能安排服务 / not in service",
            status=bed.status,
        )
    start = month.replace(day=1)
    end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    if (
        bed.contract_starts_on is None
        or bed.contract_ends_on is None
        or not (bed.contract_starts_on <= end and start <= bed.contract_ends_on)
    ):
        raise Conflict(
            f"{start:%Y-%m} 不在服务合同期内 ({bed.contract_starts_on} 至 {bed.contract_ends_on}) / "
            "outside the contract",
            code="care_bed_outside_contract",
        )
    tz = ZoneInfo(settings_of(session).timezone)
    router = _on_behalf("家庭养老床位派单", actor, bed.region_code)
    provider = providers.find_provider(session, provider_id=bed.provider_id or 0)
    opened: list[CareBedService] = []
    for item in bed.service_plan:
        code, times = str(item["service_type_code"]), int(item["times_per_month"])
        days = _planned_days(start, times, today or clock.today_in(session))
        for n, day in enumerate(days, start=1):
            ref = _slot_ref(bed, start, code, n)
            if session.scalar(select(ServiceOrder.id).where(ServiceOrder.source_ref == ref)):
                continue
            order = orders.open_order(
                session,
                actor=actor,
                elder_id=bed.elder_id,
                service_type_code=code,
                source=OrderSource.ASSESSMENT_PLAN,
                source_ref=ref,
                requested_at=datetime.combine(day, time(9, 0), tzinfo=tz),
                notes=f"家庭养老床位 #{bed.id} {start:%Y-%m} 服务计划第 {n}/{times} 次",
            )
            orders.submit_for_dispatch(
                session, actor=router, order_id=order.id, reason=f"家庭养老床位 #{bed.id}"
            )
            if (
                provider is not None
                and provider.status not in CLOSED_STATUSES
                and providers.covers(
                    provider, region_code=order.region_code, service_type_code=code
                )
            ):
                orders.dispatch_to(
                    session,
                    actor=router,
                    order_id=order.id,
                    provider_id=provider.id,
                    reason=f"签约服务商 (合同 {bed.contract_no})",
                )
            opened.append(
                record_service(
                    session,
                    actor=actor,
                    care_bed_id=bed.id,
                    service_type_code=code,
                    on=day,
                    order_id=order.id,
                )
            )
    return opened


def open_month_orders_now(
    session: Session, *, actor: Actor, care_bed_id: int, month: date | None = None
) -> list[CareBedService]:
    """A person asks for the month's planned orders now instead of at the daily run: they are
    opened as the daily job opens them (the plan opens orders, not the person), the request
    audited under the person's name."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    require_within(bed.region_code, actor.region_code)
    day = month or clock.today_in(session)
    opened = open_month_orders(
        session,
        actor=_on_behalf("家庭养老床位月度服务", actor, bed.region_code),
        care_bed_id=bed.id,
        month=day,
    )
    audit.record(
        session,
        actor=actor,
        action="care_bed.open_month_orders",
        target_type="care_bed",
        target_id=bed.id,
        detail={"month": day.strftime("%Y-%m"), "opened": len(opened)},
    )
    return opened


def record_service(
    session: Session,
    *,
    actor: Actor,
    care_bed_id: int,
    service_type_code: str,
    on: date,
    order_id: int,
) -> CareBedService:
    """A service or visit under the plan, with the elder's service order that carries it; it
    counts for its month once that order is completed (see :func:`settle_month`)."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    require_within(bed.region_code, actor.region_code)
    if bed.status != "in_service":
        raise IllegalTransition(
            f"床位当前为「{STATUS_LABELS[bed.status]}」, 不能登记服务 / not in service",
            status=bed.status,
        )
    if service_type_code not in {p["service_type_code"] for p in bed.service_plan}:
        raise ValidationFailed(
            f"{service_type_code} 不在服务计划中 / not in the service plan", code="not_in_plan"
        )
    order = orders.get_order(session, order_id=order_id)
    if order.elder_id != bed.elder_id or order.service_type_code != service_type_code:
        raise ValidationFailed(
            f"工单 {order.order_no} 不是该老人的{service_type_code}服务 / the order is for another "
            "elder or service",
            code="care_bed_order_mismatch",
        )
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(
            f"工单 {order.order_no} 已取消 / the order is cancelled",
            code="care_bed_order_cancelled",
        )
    if session.scalar(select(CareBedService.id).where(CareBedService.order_id == order_id)):
        raise Conflict(
            f"工单 {order_id} 已登记 / order already recorded", code="care_bed_service_duplicate"
        )
    row = CareBedService(
        care_bed_id=bed.id,
        service_type_code=service_type_code,
        on=on,
        order_id=order_id,
        is_visit=service_type_code in VISIT_TYPES,
        recorded_by=actor.name,
    )
    session.add(row)
    session.flush()
    return row


def settle_month(
    session: Session, *, actor: Actor, care_bed_id: int, month: date, today: date | None = None
) -> CareBedSettlement:
    """Settle one finished month of one bed: the grade's subsidy, within what the household's cap
    leaves; refused when the plan's minimum services were not delivered or it was settled before."""
    if actor.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("只有民政监管人员可以结算 / only officers settle")
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    require_within(bed.region_code, actor.region_code)
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    if (today or clock.today_in(session)) < end:
        raise Conflict(f"{start:%Y-%m} 尚未结束 / the month is not over", code="month_not_over")
    if bed.status not in ("in_service", "withdrawn") or bed.grade is None:
        raise IllegalTransition(
            f"床位当前为「{STATUS_LABELS[bed.status]}」, 不能结算 / not in service",
            status=bed.status,
        )
    if session.scalar(
        select(CareBedSettlement.id).where(
            CareBedSettlement.care_bed_id == bed.id, CareBedSettlement.month == start
        )
    ):
        raise Conflict(f"{start:%Y-%m} 已结算 / already settled", code="care_bed_settlement_exists")
    policy = _policy(session, bed)
    recorded = month_services(session, care_bed_id=bed.id, month=start)
    rows = [r for r, delivered in recorded if delivered]
    visits = sum(1 for r in rows if r.is_visit)
    if len(rows) < policy.min_services_per_month or visits < policy.min_visits_per_month:
        raise Conflict(
            f"本月完成服务 {len(rows)} 次、探访 {visits} 次 (另有 {len(recorded) - len(rows)} 次"
            f"工单未完成), 未达到至少 {policy.min_services_per_month} 次服务、"
            f"{policy.min_visits_per_month} 次探访的要求 / plan minimum not delivered",
            code="care_bed_plan_not_met",
            rule="min_services_per_month",
            completed=len(rows),
            not_completed=len(recorded) - len(rows),
        )
    due = Decimal(policy.monthly_subsidy_by_grade.get(bed.grade, Decimal("0"))).quantize(
        Decimal("0.01")
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(CareBedSettlement.subsidy), 0)).where(
            CareBedSettlement.household_key == bed.household_key, CareBedSettlement.month == start
        )
    ) or Decimal("0")
    cap = Decimal(policy.household_monthly_cap).quantize(Decimal("0.01"))
    if Decimal(paid) + due > cap:
        raise Conflict(
            f"本户本月已结算 {Decimal(paid):.2f} 元, 再结算 {due} 元将超过每户每月上限 {cap} 元 / over the household cap",
            code="care_bed_household_cap",
            rule="household_monthly_cap",
            remaining=str(max(Decimal("0"), cap - Decimal(paid))),
        )
    settlement = CareBedSettlement(
        care_bed_id=bed.id,
        household_key=bed.household_key,
        month=start,
        services=len(rows),
        subsidy=due,
        settled_by=actor.name,
    )
    session.add(settlement)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="care_bed.settle",
        target_type="care_bed",
        target_id=bed.id,
        detail={"month": start.strftime("%Y-%m"), "subsidy": str(due)},
    )
    return settlement


def month_services(
    session: Session, *, care_bed_id: int, month: date
) -> list[tuple[CareBedService, bool]]:
    """The bed's services planned in ``month``, each with whether its order was completed
    (a completed order stays delivered through confirmation, rating, a complaint, settlement)."""
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    rows = session.execute(
        select(CareBedService, ServiceOrder.completed_at, ServiceOrder.status)
        .join(ServiceOrder, ServiceOrder.id == CareBedService.order_id)
        .where(
            CareBedService.care_bed_id == care_bed_id,
            CareBedService.on >= start,
            CareBedService.on < end,
        )
        .order_by(CareBedService.on, CareBedService.id)
    )
    return [
        (row, completed_at is not None and status != OrderStatus.CANCELLED)
        for row, completed_at, status in rows
    ]


def has_status(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the elder has a care bed (applied for or past): the care status's probe."""
    return exists().where(CareBed.elder_id == elder_id)


def status_for_elder(session: Session, *, elder_id: int, has_any: bool = True) -> dict[str, Any]:
    bed = (
        session.scalar(
            select(CareBed).where(CareBed.elder_id == elder_id).order_by(CareBed.id.desc())
        )
        if has_any
        else None
    )
    card = CHAIN.status_card(bed, module="care_beds", label="家庭养老床位", id_key="care_bed_id")
    if bed is None:
        return card
    return {
        **card,
        "provider_id": bed.provider_id,
        **({"this_month": _month_summary(session, bed)} if bed.status == "in_service" else {}),
    }


def _month_summary(session: Session, bed: CareBed) -> dict[str, Any]:
    recorded = month_services(session, care_bed_id=bed.id, month=clock.today_in(session))
    return {
        "planned": sum(int(p["times_per_month"]) for p in bed.service_plan),
        "opened": len(recorded),
        "completed": sum(1 for _, done in recorded if done),
    }


def spending_by_league(session: Session, *, region_code: str, year: int) -> dict[str, Spending]:
    """Bed subsidies of ``year`` in the region, per 盟市: months settled (spent), and for every
    bed in service the months of its contract in that year not settled yet, at its grade's
    subsidy (committed; the household cap may pay less when they are settled)."""
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    league = func.substr(CareBed.region_code, 1, 4)
    out: dict[str, Spending] = {}
    for code, amount in session.execute(
        select(league, func.coalesce(func.sum(CareBedSettlement.subsidy), 0))
        .join(CareBed, CareBed.id == CareBedSettlement.care_bed_id)
        .where(
            within(CareBed.region_code, region_code),
            CareBedSettlement.month >= first,
            CareBedSettlement.month < after,
        )
        .group_by(league)
    ):
        add_spending(out, code, spent=amount)
    beds = session.execute(
        select(
            CareBed.id,
            CareBed.region_code,
            CareBed.grade,
            CareBed.contract_starts_on,
            CareBed.contract_ends_on,
        ).where(
            within(CareBed.region_code, region_code),
            CareBed.status == "in_service",
            CareBed.contract_starts_on < after,
            CareBed.contract_ends_on >= first,
        )
    ).all()
    settled = {
        (bed_id, month)
        for bed_id, month in session.execute(
            select(CareBedSettlement.care_bed_id, CareBedSettlement.month).where(
                CareBedSettlement.care_bed_id.in_([b.id for b in beds] or [0]),
                CareBedSettlement.month >= first,
                CareBedSettlement.month < after,
            )
        )
    }
    rates: dict[str, dict[str, Decimal]] = {}
    for bed in beds:
        code = bed.region_code[:4]
        if code not in rates:
            rates[code] = policy_for(
                session, CareBedPolicy, region_code=bed.region_code
            ).monthly_subsidy_by_grade
        rate = Decimal(rates[code].get(bed.grade or "", Decimal("0")))
        month = max(first, bed.contract_starts_on.replace(day=1))
        end = min(date(year, 12, 1), bed.contract_ends_on.replace(day=1))
        while month <= end:
            if (bed.id, month) not in settled:
                add_spending(out, code, committed=rate)
            month = (month + timedelta(days=32)).replace(day=1)
    return out
