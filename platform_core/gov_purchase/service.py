"""The application chain of government-purchased services and the monthly allowance.

apply -> accept -> first review (or correction, resubmit) -> assessment -> publicity ->
approval, or refusal -> review on request -> approval or final refusal. Every move is a row in
``gov_purchase_steps`` with its date and owner, and issues the notice the applicant receives.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.permissions import Permission, require
from platform_core.actors import Actor
from platform_core.assessment.service import add_months, current_assessment, get_elder, grade_key
from platform_core.assessment.standard import AbilityGrade, parse_grade
from platform_core.budgets.spending import Spending
from platform_core.budgets.spending import add as add_spending
from platform_core.care_policy.service import policy_for
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.gov_purchase import notices
from platform_core.gov_purchase.events import (
    AllowanceCharged,
    AllowanceReleased,
    GovPurchaseStepTaken,
)
from platform_core.gov_purchase.models import (
    AllowanceCharge,
    GovPurchaseApplication,
    GovPurchaseNotice,
    GovPurchaseStep,
    ServiceAllowance,
)
from platform_core.gov_purchase.policy import GovPurchasePolicy
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import OrderStatus
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of
from platform_core.step_chain import StepChain

STATUS_LABELS = {
    "submitted": "已申请",
    "accepted": "已受理",
    "correction_requested": "待补正",
    "first_reviewed": "初审通过",
    "assessed": "已评估",
    "in_publicity": "公示中",
    "approved": "已批准",
    "rejected": "不予批准",
    "under_review": "复核中",
    "refused": "复核维持不予批准",
    "terminated": "已终止",
    "withdrawn": "已撤回",
}
# the applicant may withdraw until a decision stands (a rejection may still be withdrawn
# instead of reviewed); these and the two statuses after it are the open applications
WITHDRAWABLE = (
    "submitted",
    "accepted",
    "correction_requested",
    "first_reviewed",
    "assessed",
    "in_publicity",
    "rejected",
)
# (status, action) -> new status. Anything else is refused as a step out of order.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("submitted", "accept"): "accepted",
    ("accepted", "pass_first_review"): "first_reviewed",
    ("accepted", "request_correction"): "correction_requested",
    ("correction_requested", "resubmit"): "accepted",
    ("first_reviewed", "record_assessment"): "assessed",
    ("assessed", "start_publicity"): "in_publicity",
    ("in_publicity", "approve"): "approved",
    ("in_publicity", "raise_objection"): "under_review",
    ("rejected", "request_review"): "under_review",
    ("under_review", "approve"): "approved",
    ("under_review", "uphold_refusal"): "refused",
    ("approved", "terminate"): "terminated",
    **{
        (s, "reject"): "rejected"
        for s in ("accepted", "first_reviewed", "assessed", "in_publicity")
    },
    **{(s, "withdraw"): "withdrawn" for s in WITHDRAWABLE},
}
OPEN_STATUSES = {*WITHDRAWABLE, "under_review", "approved"}
ACTION_LABELS = {
    "accept": "受理",
    "pass_first_review": "初审通过",
    "request_correction": "要求补正",
    "resubmit": "补正材料",
    "record_assessment": "登记评估结果",
    "start_publicity": "公示",
    "approve": "批准",
    "raise_objection": "公示异议",
    "request_review": "申请复核",
    "uphold_refusal": "复核维持",
    "terminate": "终止",
    "reject": "不予批准",
    "withdraw": "撤回",
}


class ApplicationNotFound(NotFound):
    code = "gov_purchase_application_not_found"


class NotEligible(Conflict):
    code = "gov_purchase_not_eligible"


class AllowanceExceeded(Conflict):
    code = "allowance_exceeded"


class NoAllowance(NotFound):
    code = "no_service_allowance"


def _decider(actor: Actor) -> None:
    """Approval, refusal and termination are the civil-affairs bureau's decisions: a person
    deciding needs the role for it (the system, an import, acts on a decision made)."""
    if actor.kind == "user":
        require(actor, Permission.CARE_DECIDE)


def _today(session: Session, on: date | None) -> date:
    return on or clock.today_in(session)


def get_application(session: Session, *, application_id: int) -> GovPurchaseApplication:
    app = session.get(GovPurchaseApplication, application_id)
    if app is None:
        raise ApplicationNotFound(f"申请不存在: {application_id} / no such application")
    return app


def _policy(session: Session, app: GovPurchaseApplication | Elder) -> GovPurchasePolicy:
    return policy_for(session, GovPurchasePolicy, region_code=app.region_code)


CHAIN = StepChain(
    noun_zh="申请",
    noun_en="an application",
    audit_prefix="gov_purchase",
    target_type="gov_purchase_application",
    step_model=GovPurchaseStep,
    transitions=TRANSITIONS,
    status_labels=STATUS_LABELS,
    action_labels=ACTION_LABELS,
)


def _move(
    session: Session,
    *,
    actor: Actor,
    app: GovPurchaseApplication,
    action: str,
    on: date,
    note: str = "",
    notice_values: dict[str, Any] | None = None,
) -> GovPurchaseApplication:
    """Take a step and print its notice (a resubmission's notice is its own kind)."""
    _, new = CHAIN.move(session, actor=actor, record=app, action=action, on=on, note=note)
    notice = _issue(
        session,
        app,
        new if action != "resubmit" else "resubmitted",
        actor=actor,
        on=on,
        note=note,
        values=notice_values or {},
    )
    publish_on_commit(
        session, GovPurchaseStepTaken(app.id, app.elder_id, app.region_code, action, new, notice.id)
    )
    return app


def _issue(
    session: Session,
    app: GovPurchaseApplication,
    kind: str,
    *,
    actor: Actor,
    on: date,
    note: str,
    values: dict[str, Any],
) -> GovPurchaseNotice:
    elder = get_elder(session, app.elder_id)
    notice = notices.compose(
        app, kind, name=elder.name, on=on, issued_by=actor.name, values={"note": note, **values}
    )
    app.notices.append(notice)
    session.flush()
    return notice


def apply(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    applicant_name: str,
    applicant_relation: str = "本人",
    applied_on: date | None = None,
    source: str = "counter",
    call_id: str | None = None,
) -> GovPurchaseApplication:
    """Open an application (at the counter, from a call, or referred); the receipt is issued."""
    elder = get_elder(session, elder_id)
    require_within(elder.region_code, actor.region_code)
    if elder.status != "active":
        raise Conflict(
            "老年人档案非在册状态, 不能申请 / elder is not active", code="elder_not_active"
        )
    if not applicant_name.strip():
        raise ValidationFailed("请填写申请人 / applicant name required", code="applicant_required")
    open_app = session.scalar(
        select(GovPurchaseApplication).where(
            GovPurchaseApplication.elder_id == elder.id,
            GovPurchaseApplication.status.in_(OPEN_STATUSES),
        )
    )
    if open_app is not None:
        raise Conflict(
            f"该老人已有进行中的申请 (编号 {open_app.id}, {STATUS_LABELS[open_app.status]}) / "
            "an application is already open",
            code="application_already_open",
            application_id=open_app.id,
        )
    on = _today(session, applied_on)
    app = GovPurchaseApplication(
        elder_id=elder.id,
        region_code=elder.region_code,
        status="submitted",
        applicant_name=applicant_name.strip(),
        applicant_relation=applicant_relation,
        applied_on=on,
        source=source,
        call_id=call_id,
    )
    CHAIN.open(
        session, actor=actor, record=app, on=on, detail={"elder_id": elder.id, "source": source}
    )
    notice = _issue(session, app, "submitted", actor=actor, on=on, note="", values={})
    publish_on_commit(
        session,
        GovPurchaseStepTaken(app.id, elder.id, elder.region_code, "apply", "submitted", notice.id),
    )
    return app


def accept(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    app = get_application(session, application_id=application_id)
    return _move(session, actor=actor, app=app, action="accept", on=_today(session, on))


def request_correction(
    session: Session, *, actor: Actor, application_id: int, missing: str, on: date | None = None
) -> GovPurchaseApplication:
    if not missing.strip():
        raise ValidationFailed(
            "请写明需补正的材料 / say what is missing", code="correction_needs_items"
        )
    app = get_application(session, application_id=application_id)
    return _move(
        session,
        actor=actor,
        app=app,
        action="request_correction",
        on=_today(session, on),
        note=missing.strip(),
    )


def resubmit(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    app = get_application(session, application_id=application_id)
    return _move(session, actor=actor, app=app, action="resubmit", on=_today(session, on))


def _eligible_category(session: Session, app: GovPurchaseApplication) -> None:
    elder = get_elder(session, app.elder_id)
    allowed = set(_policy(session, app).eligible_categories)
    if not allowed & {c.category for c in elder.categories}:
        raise NotEligible(
            "老人不属于政府购买服务对象类别 (特困、低保等, 以本盟市配置为准) / "
            "no eligible elder category",
            rule="eligible_categories",
        )


def pass_first_review(
    session: Session, *, actor: Actor, application_id: int, note: str = "", on: date | None = None
) -> GovPurchaseApplication:
    """初审: the elder must belong to a category the league buys services for."""
    app = get_application(session, application_id=application_id)
    if app.status == "accepted":
        _eligible_category(session, app)
    return _move(
        session, actor=actor, app=app, action="pass_first_review", on=_today(session, on), note=note
    )


def record_assessment(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    """Link the elder's current, valid assessment; the result notice tells the grade."""
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    assessment = current_assessment(session, elder_id=app.elder_id)
    if app.status == "first_reviewed":
        if assessment is None or assessment.next_due_on < day:
            raise Conflict(
                "老人没有有效的能力评估, 请先完成 GB/T 42195-2022 评估 / no valid assessment",
                code="assessment_required",
            )
        app.assessment_id = assessment.id
    grade = AbilityGrade(assessment.final_grade) if assessment else None
    return _move(
        session,
        actor=actor,
        app=app,
        action="record_assessment",
        on=day,
        notice_values={
            "grade": assessment.legacy_grade_label or grade.label
            if assessment and grade is not None
            else "",
            "assessed_on": assessment.assessed_on if assessment else "",
        },
    )


def start_publicity(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if app.status == "assessed":
        app.publicity_starts_on = day
        app.publicity_ends_on = day + timedelta(days=_policy(session, app).publicity_days - 1)
    return _move(
        session,
        actor=actor,
        app=app,
        action="start_publicity",
        on=day,
        notice_values={
            "publicity_starts_on": app.publicity_starts_on,
            "publicity_ends_on": app.publicity_ends_on,
        },
    )


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def approve(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    """Approve after the publicity period (or on review); fixes the monthly allowance by grade."""
    _decider(actor)
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if CHAIN.allows(app.status, "approve"):
        if (
            app.status == "in_publicity"
            and app.publicity_ends_on is not None
            and day <= app.publicity_ends_on
        ):
            raise IllegalTransition(
                f"公示期至 {app.publicity_ends_on} 结束, 期满后方可批准 / publicity period not over",
                code="publicity_not_over",
            )
        policy = _policy(session, app)
        _eligible_category(session, app)
        assessment = current_assessment(session, elder_id=app.elder_id)
        if assessment is None or assessment.next_due_on < day:
            raise Conflict(
                "老人没有有效的能力评估 / no valid assessment", code="assessment_required"
            )
        grade = AbilityGrade(assessment.final_grade)
        if grade < parse_grade(policy.min_grade):
            raise NotEligible(
                f"能力等级为{grade.label}, 本盟市要求至少{parse_grade(policy.min_grade).label} / "
                "ability grade below the league's threshold",
                rule="min_grade",
            )
        amount = policy.monthly_allowance_by_grade.get(grade_key(grade))
        if amount is None:
            raise NotEligible(
                f"本盟市未配置{grade.label}的服务补贴 / no allowance configured for this grade",
                rule="monthly_allowance_by_grade",
            )
        app.decided_on = day
        app.monthly_allowance = amount.quantize(Decimal("0.01"))
        app.allowance_from = _month_start(day)
        app.allowance_until = _month_end(add_months(app.allowance_from, policy.approval_months - 1))
    return _move(
        session,
        actor=actor,
        app=app,
        action="approve",
        on=day,
        notice_values={
            "monthly_allowance": app.monthly_allowance,
            "allowance_from": app.allowance_from,
            "allowance_until": app.allowance_until,
        },
    )


def reject(
    session: Session, *, actor: Actor, application_id: int, reason: str, on: date | None = None
) -> GovPurchaseApplication:
    _decider(actor)
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if not reason.strip():
        raise ValidationFailed(
            "不予批准须说明理由 / a refusal states its reason", code="reason_required"
        )
    if CHAIN.allows(app.status, "reject"):
        app.decided_on = day
        app.closing_reason = reason.strip()
    deadline = day + timedelta(days=_policy(session, app).review_request_days)
    return _move(
        session,
        actor=actor,
        app=app,
        action="reject",
        on=day,
        note=reason.strip(),
        notice_values={"review_deadline": deadline},
    )


def raise_objection(
    session: Session, *, actor: Actor, application_id: int, objection: str, on: date | None = None
) -> GovPurchaseApplication:
    """An objection during publicity sends the application to review."""
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if (
        app.status == "in_publicity"
        and app.publicity_ends_on is not None
        and day > app.publicity_ends_on
    ):
        raise IllegalTransition(
            "公示期已结束, 不再受理异议 / publicity period is over", code="publicity_over"
        )
    return _move(
        session, actor=actor, app=app, action="raise_objection", on=day, note=objection.strip()
    )


def request_review(
    session: Session, *, actor: Actor, application_id: int, reason: str, on: date | None = None
) -> GovPurchaseApplication:
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if app.status == "rejected" and app.decided_on is not None:
        deadline = app.decided_on + timedelta(days=_policy(session, app).review_request_days)
        if day > deadline:
            raise IllegalTransition(
                f"复核申请期限已于 {deadline} 届满 / the review deadline has passed",
                code="review_deadline_passed",
            )
    return _move(
        session, actor=actor, app=app, action="request_review", on=day, note=reason.strip()
    )


def uphold_refusal(
    session: Session, *, actor: Actor, application_id: int, reason: str, on: date | None = None
) -> GovPurchaseApplication:
    _decider(actor)
    app = get_application(session, application_id=application_id)
    if app.status == "under_review":
        app.closing_reason = reason.strip()
    return _move(
        session,
        actor=actor,
        app=app,
        action="uphold_refusal",
        on=_today(session, on),
        note=reason.strip(),
    )


def terminate(
    session: Session, *, actor: Actor, application_id: int, reason: str, on: date | None = None
) -> GovPurchaseApplication:
    """Stop an approved service (death, moving away, re-assessment); the allowance ends that month."""
    _decider(actor)
    app = get_application(session, application_id=application_id)
    day = _today(session, on)
    if app.status == "approved":
        app.allowance_until = min(app.allowance_until or _month_end(day), _month_end(day))
        app.closing_reason = reason.strip()
    return _move(session, actor=actor, app=app, action="terminate", on=day, note=reason.strip())


def withdraw(
    session: Session, *, actor: Actor, application_id: int, on: date | None = None
) -> GovPurchaseApplication:
    app = get_application(session, application_id=application_id)
    return _move(session, actor=actor, app=app, action="withdraw", on=_today(session, on))


# ---------------------------------------------------------------- allowance


def _approved_for(session: Session, elder_id: int, day: date) -> GovPurchaseApplication | None:
    return session.scalar(
        select(GovPurchaseApplication)
        .where(
            GovPurchaseApplication.elder_id == elder_id,
            GovPurchaseApplication.status.in_(("approved", "terminated")),
            GovPurchaseApplication.allowance_from <= day,
            GovPurchaseApplication.allowance_until >= day,
        )
        .order_by(GovPurchaseApplication.id.desc())
    )


def _allowance_row(
    session: Session, elder_id: int, day: date, *, lock: bool
) -> ServiceAllowance | None:
    month = _month_start(day)
    q = select(ServiceAllowance).where(
        ServiceAllowance.elder_id == elder_id, ServiceAllowance.month == month
    )
    row = session.scalar(q.with_for_update() if lock else q)
    if row is not None:
        return row
    app = _approved_for(session, elder_id, day)
    if app is None or app.monthly_allowance is None:
        return None
    try:
        with session.begin_nested():
            session.add(
                ServiceAllowance(
                    application_id=app.id,
                    elder_id=elder_id,
                    region_code=app.region_code,
                    month=month,
                    granted=app.monthly_allowance,
                    consumed=Decimal("0"),
                )
            )
    except IntegrityError:
        pass  # another transaction opened the month first; use its row
    return session.scalar(q.with_for_update() if lock else q)


def open_month_allowance(
    session: Session, *, elder_id: int, month: date
) -> tuple[ServiceAllowance | None, bool]:
    """The elder's allowance of ``month``, opened now if the elder is approved for it and it
    was not opened yet; with whether this call opened it."""
    existed = session.scalar(
        select(ServiceAllowance.id).where(
            ServiceAllowance.elder_id == elder_id, ServiceAllowance.month == _month_start(month)
        )
    )
    row = _allowance_row(session, elder_id, month, lock=False)
    return row, row is not None and existed is None


def approved_elders(session: Session, *, region_code: str, month: date) -> Any:
    """Query of the elders (ids, ascending) approved for an allowance in ``month``."""
    start = _month_start(month)
    return (
        select(GovPurchaseApplication.elder_id)
        .where(
            within(GovPurchaseApplication.region_code, region_code),
            GovPurchaseApplication.status.in_(("approved", "terminated")),
            GovPurchaseApplication.allowance_from <= _month_end(start),
            GovPurchaseApplication.allowance_until >= start,
        )
        .distinct()
        .order_by(GovPurchaseApplication.elder_id)
    )


def allowance_remaining(session: Session, *, elder_id: int, on: date | None = None) -> Decimal:
    """What is left of the elder's service allowance in the month of ``on`` (0 without one)."""
    row = _allowance_row(session, elder_id, _today(session, on), lock=False)
    return Decimal("0.00") if row is None else row.granted - row.consumed


def charge_allowance(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    order_id: int,
    amount: Decimal,
    on: date | None = None,
) -> AllowanceCharge:
    """Draw ``amount`` for a service order from the month's allowance. Charging the same order
    again with the same amount returns the first charge; more than is left is refused."""
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if amount <= 0:
        raise ValidationFailed(
            f"扣减金额必须大于 0: {amount} / amount must be positive", code="invalid_amount"
        )
    existing = session.scalar(select(AllowanceCharge).where(AllowanceCharge.order_id == order_id))
    if existing is not None and existing.released_at is None:
        if existing.amount != amount:
            raise Conflict(
                f"工单 {order_id} 已扣减 {existing.amount} 元 / order already charged a different amount",
                code="allowance_already_charged",
            )
        return existing
    day = _today(session, on)
    row = _allowance_row(session, elder_id, day, lock=True)
    if row is None:
        raise NoAllowance(
            f"老人在 {day:%Y-%m} 没有政府购买服务补贴 / no service allowance this month"
        )
    require_within(row.region_code, actor.region_code)
    remaining = row.granted - row.consumed
    if amount > remaining:
        raise AllowanceExceeded(
            f"本月服务补贴剩余 {remaining} 元, 不足 {amount} 元 (每月上限 {row.granted} 元) / "
            "over the monthly allowance",
            remaining=str(remaining),
            cap=str(row.granted),
            rule="monthly_allowance",
        )
    row.consumed += amount
    if existing is not None:  # a released charge of this order is charged anew
        existing.allowance_id, existing.amount, existing.released_at = row.id, amount, None
        existing.charged_by = actor.name
        charge = existing
    else:
        charge = AllowanceCharge(
            allowance_id=row.id, order_id=order_id, amount=amount, charged_by=actor.name
        )
        session.add(charge)
    session.flush()
    publish_on_commit(
        session,
        AllowanceCharged(elder_id, row.region_code, order_id, amount, row.granted - row.consumed),
    )
    return charge


def release_allowance(session: Session, *, actor: Actor, order_id: int) -> Decimal:
    """Give back what a cancelled order drew; releasing twice gives back nothing more."""
    charge = session.scalar(select(AllowanceCharge).where(AllowanceCharge.order_id == order_id))
    if charge is None or charge.released_at is not None:
        return Decimal("0.00")
    row = session.scalar(
        select(ServiceAllowance).where(ServiceAllowance.id == charge.allowance_id).with_for_update()
    )
    assert row is not None
    require_within(row.region_code, actor.region_code)
    row.consumed -= charge.amount
    charge.released_at = utcnow()
    session.flush()
    publish_on_commit(
        session, AllowanceReleased(row.elder_id, row.region_code, order_id, charge.amount)
    )
    return charge.amount


def _order_day(session: Session, order: ServiceOrder) -> date:
    """The local calendar day the order was opened: its month is the allowance it draws on."""
    return order.opened_at.astimezone(ZoneInfo(settings_of(session).timezone)).date()


def _live_charge(session: Session, order_id: int) -> AllowanceCharge | None:
    return session.scalar(
        select(AllowanceCharge).where(
            AllowanceCharge.order_id == order_id, AllowanceCharge.released_at.is_(None)
        )
    )


def charge_for_order(session: Session, *, actor: Actor, order_id: int) -> AllowanceCharge | None:
    """Let a service order draw on the elder's allowance of the month it was opened in.

    The allowance is drawn when the order is opened, not when it is completed: what the agent
    promises on the call is then covered, and two orders opened the same day cannot both
    count on the last 50 元. A cancelled order gives it back (:func:`release_allowance`).
    The order draws its self-pay share only (the catalogue's category subsidy already paid
    the rest, and public money never pays more than the price), up to what is left; the
    elder pays any remainder. Nothing is drawn, and None returned, for an elder without an
    approved application that month, a service category the league does not buy, an order
    with nothing to pay, or a spent allowance. Drawing twice for one order returns the first.
    """
    order = orders.get_order(session, order_id=order_id)
    existing = _live_charge(session, order.id)
    if existing is not None or order.status == OrderStatus.CANCELLED:
        return existing
    day = _order_day(session, order)
    policy = policy_for(session, GovPurchasePolicy, region_code=order.region_code)
    if order.category not in policy.allowance_service_categories or order.self_pay <= 0:
        return None
    row = _allowance_row(session, order.elder_id, day, lock=True)
    if row is None:
        return None
    amount = min(order.self_pay, row.granted - row.consumed)
    if amount <= 0:
        return None
    return charge_allowance(
        session, actor=actor, elder_id=order.elder_id, order_id=order.id, amount=amount, on=day
    )


def reconcile_allowance(
    session: Session, *, actor: Actor, elder_id: int, month: date
) -> dict[str, list[int]]:
    """Bring one elder's month in line with its orders, for orders opened or cancelled by a
    path that did not charge or release (a nightly job runs this): charges of cancelled orders
    are released, then live orders without a charge draw in the order they were opened."""
    start = _month_start(month)
    tz = ZoneInfo(settings_of(session).timezone)
    opened_from = datetime.combine(start, time(0), tzinfo=tz)
    opened_before = datetime.combine(_month_end(start) + timedelta(days=1), time(0), tzinfo=tz)
    released: list[int] = []
    stale = session.execute(
        select(AllowanceCharge.order_id)
        .join(ServiceAllowance, ServiceAllowance.id == AllowanceCharge.allowance_id)
        .join(ServiceOrder, ServiceOrder.id == AllowanceCharge.order_id)
        .where(
            ServiceAllowance.elder_id == elder_id,
            ServiceAllowance.month == start,
            AllowanceCharge.released_at.is_(None),
            ServiceOrder.status == OrderStatus.CANCELLED.value,
        )
    ).scalars()
    for order_id in list(stale):
        release_allowance(session, actor=actor, order_id=order_id)
        released.append(order_id)
    charged: list[int] = []
    candidates = session.scalars(
        select(ServiceOrder.id)
        .where(
            ServiceOrder.elder_id == elder_id,
            ServiceOrder.status != OrderStatus.CANCELLED.value,
            ServiceOrder.opened_at >= opened_from,
            ServiceOrder.opened_at < opened_before,
        )
        .order_by(ServiceOrder.opened_at, ServiceOrder.id)
    )
    for order_id in list(candidates):
        if _live_charge(session, order_id) is None and charge_for_order(
            session, actor=actor, order_id=order_id
        ):
            charged.append(order_id)
    return {"released": released, "charged": charged}


def reconcile_allowances(
    session: Session, *, actor: Actor, month: date, region_code: str | None = None
) -> dict[str, Any]:
    """Every approved elder's allowance of ``month`` (in ``region_code`` and below) in line
    with their orders (see :func:`reconcile_allowance`)."""
    start = _month_start(month)
    q = select(GovPurchaseApplication.elder_id).where(
        GovPurchaseApplication.status.in_(("approved", "terminated")),
        GovPurchaseApplication.allowance_from <= _month_end(start),
        GovPurchaseApplication.allowance_until >= start,
    )
    if region_code is not None:
        q = q.where(within(GovPurchaseApplication.region_code, region_code))
    elders = sorted(set(session.scalars(q)))
    released: list[int] = []
    charged: list[int] = []
    for elder_id in elders:
        done = reconcile_allowance(session, actor=actor, elder_id=elder_id, month=start)
        released += done["released"]
        charged += done["charged"]
    return {"elders": len(elders), "released": released, "charged": charged}


def list_applications(session: Session, *, elder_id: int) -> list[GovPurchaseApplication]:
    return list(
        session.scalars(
            select(GovPurchaseApplication)
            .where(GovPurchaseApplication.elder_id == elder_id)
            .order_by(GovPurchaseApplication.id.desc())
        )
    )


def has_status(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the elder has applied (ever): the care status's probe."""
    return exists().where(GovPurchaseApplication.elder_id == elder_id)


def status_for_elder(
    session: Session, *, elder_id: int, on: date | None = None, has_any: bool = True
) -> dict[str, Any]:
    apps = list_applications(session, elder_id=elder_id) if has_any else []
    base: dict[str, Any] = {"module": "gov_purchase", "label": "政府购买服务"}
    if not apps:
        return {**base, "state": "none", "state_label": "未申请"}
    app = apps[0]
    out = {
        **base,
        "application_id": app.id,
        "state": app.status,
        "state_label": STATUS_LABELS[app.status],
        "since": app.steps[-1].on.isoformat() if app.steps else None,
    }
    if app.status == "approved":
        out["monthly_allowance"] = str(app.monthly_allowance)
        out["allowance_remaining"] = str(allowance_remaining(session, elder_id=elder_id, on=on))
    return out


def spending_by_league(session: Session, *, region_code: str, year: int) -> dict[str, Spending]:
    """Allowance money of ``year`` (by the allowance's month) in the region, per 盟市: what
    orders drew and were settled (spent), what orders drew and are not settled yet
    (committed)."""
    league = func.substr(ServiceAllowance.region_code, 1, 4)
    drawn = (
        select(league, func.coalesce(func.sum(AllowanceCharge.amount), 0))
        .join(ServiceAllowance, ServiceAllowance.id == AllowanceCharge.allowance_id)
        .join(ServiceOrder, ServiceOrder.id == AllowanceCharge.order_id)
        .where(
            within(ServiceAllowance.region_code, region_code),
            ServiceAllowance.month >= date(year, 1, 1),
            ServiceAllowance.month < date(year + 1, 1, 1),
            AllowanceCharge.released_at.is_(None),
        )
        .group_by(league)
    )
    out: dict[str, Spending] = {}
    for code, amount in session.execute(drawn.where(ServiceOrder.settled_at.is_not(None))):
        add_spending(out, code, spent=amount)
    for code, amount in session.execute(drawn.where(ServiceOrder.settled_at.is_(None))):
        add_spending(out, code, committed=amount)
    return out
