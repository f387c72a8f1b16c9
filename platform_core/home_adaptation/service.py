"""The home-adaptation chain (DOMAIN.md section 10) as an explicit state machine.

applied -> eligible (or ineligible) -> home_assessed -> planned -> signed -> works_started
(before photos) -> works_completed (after photos) -> accepted (or back to works for rework)
-> settled -> return_visited; cancelled from any step before settlement. Basic items are
subsidised up to what is left of the household's cap; optional items are self-paid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Unpack

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.assessment.service import current_grade, get_elder
from platform_core.assessment.standard import parse_grade
from platform_core.budgets.spending import Spending
from platform_core.budgets.spending import add as add_spending
from platform_core.care_policy.service import policy_for
from platform_core.elders.service import CareApplication, application_fields
from platform_core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.home_adaptation.events import AdaptationStepTaken
from platform_core.home_adaptation.models import AdaptationCase, AdaptationItem, AdaptationStep
from platform_core.home_adaptation.policy import HomeAdaptationPolicy
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of
from platform_core.step_chain import StepChain

STATUS_LABELS = {
    "applied": "已申请",
    "eligible": "符合条件",
    "ineligible": "不符合条件",
    "home_assessed": "已入户评估",
    "planned": "已制定方案",
    "signed": "已签字确认",
    "works_started": "施工中",
    "works_completed": "施工完成",
    "accepted": "已验收",
    "settled": "已结算",
    "return_visited": "已回访",
    "cancelled": "已取消",
}
TRANSITIONS: dict[tuple[str, str], str] = {
    ("applied", "find_eligible"): "eligible",
    ("applied", "find_ineligible"): "ineligible",
    ("eligible", "assess_home"): "home_assessed",
    ("home_assessed", "plan"): "planned",
    ("planned", "plan"): "planned",
    ("planned", "sign"): "signed",
    ("signed", "start_works"): "works_started",
    ("works_started", "complete_works"): "works_completed",
    ("works_completed", "accept"): "accepted",
    ("works_completed", "require_rework"): "works_started",
    ("accepted", "settle"): "settled",
    ("settled", "return_visit"): "return_visited",
    **{
        (s, "cancel"): "cancelled"
        for s in ("applied", "eligible", "home_assessed", "planned", "signed")
    },
}
ACTION_LABELS = {
    "find_eligible": "认定符合条件",
    "find_ineligible": "认定不符合条件",
    "assess_home": "入户评估",
    "plan": "制定方案",
    "sign": "签字确认",
    "start_works": "开工",
    "complete_works": "完工",
    "accept": "验收",
    "require_rework": "要求返工",
    "settle": "结算",
    "return_visit": "回访",
    "cancel": "取消",
}
# Cases whose basic items count against the household's cap.
COUNTED = {
    "planned",
    "signed",
    "works_started",
    "works_completed",
    "accepted",
    "settled",
    "return_visited",
}
_IMAGE_MAGIC = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


class CaseNotFound(NotFound):
    code = "home_adaptation_not_found"


class OverHouseholdCap(Conflict):
    code = "adaptation_over_household_cap"


@dataclass(frozen=True)
class PlannedItem:
    name: str
    cost: Decimal
    basic: bool


@dataclass(frozen=True)
class Photo:
    filename: str
    content: bytes


def get_case(session: Session, *, case_id: int) -> AdaptationCase:
    case = session.get(AdaptationCase, case_id)
    if case is None:
        raise CaseNotFound(f"适老化改造案不存在: {case_id} / no such case")
    return case


def _policy(session: Session, case: AdaptationCase) -> HomeAdaptationPolicy:
    return policy_for(session, HomeAdaptationPolicy, region_code=case.region_code)


CHAIN = StepChain(
    noun_zh="改造案",
    noun_en="a case",
    audit_prefix="home_adaptation",
    target_type="home_adaptation",
    step_model=AdaptationStep,
    transitions=TRANSITIONS,
    status_labels=STATUS_LABELS,
    action_labels=ACTION_LABELS,
    step_taken=AdaptationStepTaken,
)


def _require(case: AdaptationCase, action: str) -> str:
    return CHAIN.next_status(case, action)


def _move(
    session: Session,
    *,
    actor: Actor,
    case: AdaptationCase,
    action: str,
    on: date | None,
    note: str = "",
) -> AdaptationCase:
    CHAIN.move(session, actor=actor, record=case, action=action, on=on, note=note)
    return case


def apply_for_adaptation(
    session: Session, **application: Unpack[CareApplication]
) -> AdaptationCase:
    elder = get_elder(session, application["elder_id"])
    fields = application_fields(elder, application)
    open_case = session.scalar(
        select(AdaptationCase).where(
            AdaptationCase.elder_id == elder.id,
            AdaptationCase.status.not_in(("ineligible", "cancelled", "settled", "return_visited")),
        )
    )
    if open_case is not None:
        raise Conflict(
            f"该老人已有进行中的改造案 (编号 {open_case.id}) / a case is already open",
            code="adaptation_already_open",
        )
    case = AdaptationCase(**fields)
    CHAIN.open(
        session,
        actor=application["actor"],
        record=case,
        on=application.get("on"),
        detail={"elder_id": elder.id},
    )
    return case


def check_eligibility(
    session: Session, *, actor: Actor, case_id: int, on: date | None = None
) -> AdaptationCase:
    """Eligible by category, or by an ability grade at the league's threshold; otherwise closed."""
    case = get_case(session, case_id=case_id)
    _require(case, "find_eligible")
    policy = _policy(session, case)
    elder = get_elder(session, case.elder_id)
    categories = sorted({c.category for c in elder.categories} & set(policy.eligible_categories))
    grade = current_grade(session, elder_id=elder.id, on=on)
    if categories:
        case.eligibility_basis = "category:" + ",".join(categories)
    elif grade is not None and grade >= parse_grade(policy.min_grade):
        case.eligibility_basis = f"grade:{grade.label}"
    else:
        return _move(
            session,
            actor=actor,
            case=case,
            action="find_ineligible",
            on=on,
            note="不属于补贴对象类别, 能力等级未达到要求 / neither category nor grade qualifies",
        )
    return _move(
        session, actor=actor, case=case, action="find_eligible", on=on, note=case.eligibility_basis
    )


def assess_home(
    session: Session, *, actor: Actor, case_id: int, findings: Sequence[str], on: date | None = None
) -> AdaptationCase:
    case = get_case(session, case_id=case_id)
    _require(case, "assess_home")
    notes = [f.strip() for f in findings if f.strip()]
    if not notes:
        raise ValidationFailed(
            "请记录入户评估发现的风险点 / record the home's risks", code="findings_required"
        )
    case.home_findings = "\n".join(notes)
    return _move(session, actor=actor, case=case, action="assess_home", on=on)


def used_by_household(session: Session, case: AdaptationCase) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(AdaptationItem.cost), 0))
        .join(AdaptationCase, AdaptationCase.id == AdaptationItem.case_id)
        .where(
            AdaptationCase.household_key == case.household_key,
            AdaptationCase.id != case.id,
            AdaptationCase.status.in_(COUNTED),
            AdaptationItem.basic,
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def propose_plan(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    items: Sequence[PlannedItem | Mapping[str, Any]],
    on: date | None = None,
) -> AdaptationCase:
    """Basic (subsidised) and optional (self-paid) items; the basic total must fit what is left
    of the household's cap, or the plan is refused as a whole."""
    case = get_case(session, case_id=case_id)
    _require(case, "plan")
    planned: list[PlannedItem] = []
    for raw in items:
        item = (
            raw
            if isinstance(raw, PlannedItem)
            else PlannedItem(
                str(raw.get("name", "")),
                raw.get("cost"),  # type: ignore[arg-type]
                bool(raw.get("basic", False)),
            )
        )
        try:
            cost = Decimal(str(item.cost)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError) as exc:
            raise ValidationFailed(
                f"改造项目 {item.name!r} 的金额 {item.cost!r} 不合法 / invalid cost",
                code="invalid_plan_item",
            ) from exc
        if not item.name.strip() or cost <= 0:
            raise ValidationFailed(
                f"改造项目需要名称和正数金额: {item.name!r} {cost} / name and positive cost required",
                code="invalid_plan_item",
            )
        planned.append(PlannedItem(item.name.strip(), cost, item.basic))
    if not any(p.basic for p in planned):
        raise ValidationFailed(
            "方案至少包含一项基础改造项目 / at least one basic item",
            code="plan_without_basic_items",
        )
    cap = Decimal(_policy(session, case).household_subsidy_cap).quantize(Decimal("0.01"))
    used = used_by_household(session, case)
    basic = sum((p.cost for p in planned if p.basic), Decimal("0.00"))
    if used + basic > cap:
        raise OverHouseholdCap(
            f"基础改造项目合计 {basic} 元, 本户已用 {used} 元, 超过每户补贴上限 {cap} 元; 请调减或改为自费项目 / "
            "basic items over the household cap",
            rule="household_subsidy_cap",
            remaining=str(cap - used),
        )
    case.items.clear()
    session.flush()
    case.items.extend(AdaptationItem(name=p.name, basic=p.basic, cost=p.cost) for p in planned)
    note = (
        f"基础 {basic} 元, 自费 {sum((p.cost for p in planned if not p.basic), Decimal('0.00'))} 元"
    )
    return _move(session, actor=actor, case=case, action="plan", on=on, note=note)


def sign_plan(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    signer_name: str,
    signer_relation: str = "本人",
    on: date | None = None,
) -> AdaptationCase:
    case = get_case(session, case_id=case_id)
    _require(case, "sign")
    if not signer_name.strip():
        raise ValidationFailed("请填写签字人 / signer required", code="signer_required")
    case.signer_name, case.signer_relation = signer_name.strip(), signer_relation
    return _move(
        session,
        actor=actor,
        case=case,
        action="sign",
        on=on,
        note=f"{signer_name}({signer_relation})",
    )


def _store_photos(
    session: Session, case: AdaptationCase, photos: Mapping[int, Photo], which: str
) -> None:
    by_id = {item.id: item for item in case.items}
    missing = [item.name for item in case.items if item.id not in photos]
    if missing:
        label = "施工前" if which == "before" else "施工后"
        raise ValidationFailed(
            f"以下项目缺少{label}照片: {'、'.join(missing)} / a {which} photo for every item",
            code=f"{which}_photos_required",
            items=missing,
        )
    folder = Path(settings_of(session).data_dir) / "attachments" / "home_adaptation" / str(case.id)
    folder.mkdir(parents=True, exist_ok=True)
    for item_id, photo in photos.items():
        item = by_id.get(item_id)
        if item is None:
            raise ValidationFailed(
                f"项目 {item_id} 不属于本改造案 / not an item of this case",
                code="unknown_plan_item",
            )
        ext = next(
            (e for magic, e in _IMAGE_MAGIC.items() if photo.content.startswith(magic)), None
        )
        if ext is None:
            raise ValidationFailed(
                f"{photo.filename} 不是 JPEG 或 PNG 图片 / not a JPEG or PNG image",
                code="photo_not_image",
            )
        digest = hashlib.sha256(photo.content).hexdigest()
        path = folder / f"{item.id}-{which}-{digest[:16]}{ext}"
        path.write_bytes(photo.content)
        setattr(item, f"{which}_photo", str(path))
        setattr(item, f"{which}_sha256", digest)


def start_works(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    provider_id: int,
    before_photos: Mapping[int, Photo],
    on: date | None = None,
) -> AdaptationCase:
    """Works start with a photo of every item's place before the change."""
    case = get_case(session, case_id=case_id)
    _require(case, "start_works")
    require_within(case.region_code, actor.region_code)
    _store_photos(session, case, before_photos, "before")
    case.provider_id = provider_id
    return _move(session, actor=actor, case=case, action="start_works", on=on)


def complete_works(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    after_photos: Mapping[int, Photo],
    on: date | None = None,
) -> AdaptationCase:
    case = get_case(session, case_id=case_id)
    _require(case, "complete_works")
    require_within(case.region_code, actor.region_code)
    _store_photos(session, case, after_photos, "after")
    return _move(session, actor=actor, case=case, action="complete_works", on=on)


def inspect_works(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    passed: bool,
    note: str = "",
    on: date | None = None,
) -> AdaptationCase:
    """Acceptance inspection: accepted, or back to the works with what must be redone."""
    case = get_case(session, case_id=case_id)
    if not passed and not note.strip():
        raise ValidationFailed(
            "要求返工须写明原因 / say what must be redone", code="rework_reason_required"
        )
    return _move(
        session,
        actor=actor,
        case=case,
        action="accept" if passed else "require_rework",
        on=on,
        note=note,
    )


def settle(
    session: Session, *, actor: Actor, case_id: int, on: date | None = None
) -> AdaptationCase:
    if actor.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("只有民政监管人员可以结算 / only officers settle")
    case = get_case(session, case_id=case_id)
    _require(case, "settle")
    cap = Decimal(_policy(session, case).household_subsidy_cap).quantize(Decimal("0.01"))
    basic = sum((i.cost for i in case.items if i.basic), Decimal("0.00"))
    used = used_by_household(session, case)
    if used + basic > cap:  # the cap may have been lowered since the plan was signed
        raise OverHouseholdCap(
            f"结算 {basic} 元将超过每户补贴上限 {cap} 元 (已用 {used} 元) / over the household cap",
            rule="household_subsidy_cap",
            remaining=str(cap - used),
        )
    case.subsidy = basic
    case.self_paid = sum((i.cost for i in case.items if not i.basic), Decimal("0.00"))
    return _move(session, actor=actor, case=case, action="settle", on=on, note=f"补贴 {basic} 元")


def record_return_visit(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    satisfaction: int,
    note: str = "",
    on: date | None = None,
) -> AdaptationCase:
    if satisfaction not in range(1, 6):
        raise ValidationFailed(
            f"满意度应为 1-5: {satisfaction} / satisfaction must be 1-5",
            code="invalid_satisfaction",
        )
    case = get_case(session, case_id=case_id)
    _require(case, "return_visit")
    case.satisfaction = satisfaction
    return _move(session, actor=actor, case=case, action="return_visit", on=on, note=note)


def cancel(
    session: Session, *, actor: Actor, case_id: int, reason: str, on: date | None = None
) -> AdaptationCase:
    case = get_case(session, case_id=case_id)
    return _move(session, actor=actor, case=case, action="cancel", on=on, note=reason)


def has_status(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the elder has an adaptation case (open or past): the care status's probe."""
    return exists().where(AdaptationCase.elder_id == elder_id)


def status_for_elder(session: Session, *, elder_id: int, has_any: bool = True) -> dict[str, Any]:
    case = (
        session.scalar(
            select(AdaptationCase)
            .where(AdaptationCase.elder_id == elder_id)
            .order_by(AdaptationCase.id.desc())
        )
        if has_any
        else None
    )
    return CHAIN.status_card(case, module="home_adaptation", label="适老化改造", id_key="case_id")


# Signed plans not yet settled: the basic items' money is promised.
COMMITTED = ("signed", "works_started", "works_completed", "accepted")
PAID = ("settled", "return_visited")


def spending_by_league(session: Session, *, region_code: str, year: int) -> dict[str, Spending]:
    """Adaptation subsidies of the cases whose plan was signed in ``year``, per 盟市: settled
    cases' subsidy (spent), and the basic items of signed cases not yet settled (committed)."""
    signed_on = (
        select(AdaptationStep.case_id, func.min(AdaptationStep.on).label("on"))
        .where(AdaptationStep.action == "sign")
        .group_by(AdaptationStep.case_id)
        .subquery()
    )
    in_year = (
        select(AdaptationCase.id)
        .join(signed_on, signed_on.c.case_id == AdaptationCase.id)
        .where(
            within(AdaptationCase.region_code, region_code),
            signed_on.c.on >= date(year, 1, 1),
            signed_on.c.on < date(year + 1, 1, 1),
        )
    )
    league = func.substr(AdaptationCase.region_code, 1, 4)
    out: dict[str, Spending] = {}
    for code, amount in session.execute(
        select(league, func.coalesce(func.sum(AdaptationCase.subsidy), 0))
        .where(AdaptationCase.id.in_(in_year), AdaptationCase.status.in_(PAID))
        .group_by(league)
    ):
        add_spending(out, code, spent=amount)
    for code, amount in session.execute(
        select(league, func.coalesce(func.sum(AdaptationItem.cost), 0))
        .join(AdaptationCase, AdaptationCase.id == AdaptationItem.case_id)
        .where(
            AdaptationCase.id.in_(in_year),
            AdaptationCase.status.in_(COMMITTED),
            AdaptationItem.basic,
        )
        .group_by(league)
    ):
        add_spending(out, code, committed=amount)
    return out
