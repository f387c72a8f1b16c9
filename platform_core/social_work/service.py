"""Social work (社会工作管理): social workers and the cases of elders the hotline or an officer
refers to them.

A case moves through one chain (``vocabulary.TRANSITIONS``): referred (待接案) -> taken in by a
worker (接案) -> needs assessed (评估需求) -> a plan (服务计划: goals, services, how often to
visit) -> in service, with visits and their notes and periodic reviews -> closed (结案) with a
reason. A referral waits in its region's queue until a supervising officer assigns it or a
worker of the region takes it in; a worker may hand a case back (退回) before planning it.

Who may do what: the hotline's agents and supervisors refer (``start_care``, from the screen
pop) and officers refer, assign, watch caseloads and overdue visits (``supervise_social_work``);
a worker (``social_casework``) works their own cases only. Everybody acts within their region;
every step is a step row and an audit record; the case's notes are sealed and every reading of
them is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import User
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import require_within, within
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_name
from platform_core.social_work.events import (
    SocialCaseAssigned,
    SocialCaseReferred,
    SocialCaseStepTaken,
    SocialVisitOverdue,
)
from platform_core.social_work.models import (
    SocialCase,
    SocialCaseStep,
    SocialCaseVisit,
    SocialWorker,
)
from platform_core.social_work.vocabulary import (
    ACTION_LABELS,
    CARRIED,
    CLOSE_REASONS,
    NEED_DOMAINS,
    NEED_LEVELS,
    NOTE_KINDS,
    OPEN_STATUSES,
    PLAN_SERVICES,
    QUALIFICATIONS,
    SOURCES,
    STATUS_LABELS,
    TRANSITIONS,
    VISIT_KINDS,
)
from platform_core.step_chain import StepChain

CHAIN = StepChain(
    noun_zh="社工个案",
    noun_en="a social-work case",
    audit_prefix="social_case",
    target_type="social_case",
    step_model=SocialCaseStep,
    transitions=TRANSITIONS,
    status_labels=STATUS_LABELS,
    action_labels=ACTION_LABELS,
)
NOTE_MAX = 4000


class CaseNotFound(NotFound):
    code = "social_case_not_found"


class NotYourCase(PermissionDenied):
    code = "not_your_case"


class CaseloadFull(Conflict):
    code = "caseload_full"


@dataclass(frozen=True)
class Overdue:
    case: SocialCase
    due: date
    days_late: int


# ---------------------------------------------------------------- helpers


def _text(value: str, label: str, *, required: bool = True, limit: int = NOTE_MAX) -> str:
    text = (value or "").strip()
    if (required and not text) or len(text) > limit:
        raise ValidationFailed(
            f"{label}{'不能为空且' if required else ''}不超过 {limit} 字 / {label}: at most {limit} "
            "characters",
            code="invalid_note",
            field=label,
        )
    return text


def _seal(session: Session, value: Any) -> str:
    return cipher_of(session).seal(
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    )


def _open(session: Session, sealed: str | None, *, as_json: bool = False) -> Any:
    if sealed is None:
        return None
    plain = cipher_of(session).open(sealed)
    return json.loads(plain) if as_json else plain


def _refuse(session: Session, actor: Actor, action: str, case_id: int | None, why: str) -> None:
    audit.record_refusal(
        session,
        actor=actor,
        action=f"social_case.{action}",
        target_type="social_case",
        target_id=case_id,
        detail={"reason": why},
    )


def supervises(actor: Actor) -> bool:
    return actor.kind == "system" or allows(actor.role, Permission.SUPERVISE_SOCIAL_WORK)


def get_case(session: Session, *, case_id: int) -> SocialCase:
    case = session.get(SocialCase, case_id)
    if case is None:
        raise CaseNotFound(f"社工个案不存在: {case_id} / no such case")
    return case


def worker_of(session: Session, *, user_id: int | None) -> SocialWorker | None:
    if user_id is None:
        return None
    return session.scalar(
        select(SocialWorker).where(SocialWorker.user_id == user_id, SocialWorker.active.is_(True))
    )


def _require_region(session: Session, actor: Actor, case: SocialCase, action: str) -> None:
    if actor.kind != "system" and not codes.is_within(case.region_code, actor.region_code):
        _refuse(session, actor, action, case.id, "out_of_region")
        require_within(case.region_code, actor.region_code)


def _require_worker(
    session: Session, actor: Actor, action: str, case_id: int | None
) -> SocialWorker:
    worker = worker_of(session, user_id=actor.user_id)
    if not allows(actor.role, Permission.SOCIAL_CASEWORK) or worker is None:
        _refuse(session, actor, action, case_id, "not_a_worker")
        raise PermissionDenied(
            "只有登记在册的社会工作者可以办理个案 / only registered social workers work cases",
            code="not_a_social_worker",
        )
    return worker


def _require_own(session: Session, actor: Actor, case: SocialCase, action: str) -> SocialWorker:
    _require_region(session, actor, case, action)
    worker = _require_worker(session, actor, action, case.id)
    if case.worker_id != worker.id:
        _refuse(session, actor, action, case.id, "not_your_case")
        raise NotYourCase("这不是您负责的个案 / not your case")
    return worker


def _require_supervisor(session: Session, actor: Actor, action: str, case_id: int | None) -> None:
    if not supervises(actor):
        _refuse(session, actor, action, case_id, "role")
        raise PermissionDenied("只有民政督导人员可以办理 / supervising officers only")


def _worker_user(session: Session, case: SocialCase) -> int | None:
    if case.worker_id is None:
        return None
    worker = session.get(SocialWorker, case.worker_id)
    return worker.user_id if worker else None


def _move(
    session: Session,
    actor: Actor,
    case: SocialCase,
    action: str,
    *,
    note: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    new = CHAIN.next_status(case, action)
    previous, case.status = case.status, new
    CHAIN.record_step(
        session,
        actor=actor,
        record=case,
        action=action,
        from_status=previous,
        to_status=new,
        on=clock.today_in(session),
        note=note[:500],
        detail={"from": previous, "to": new, **(detail or {})},
    )
    publish_on_commit(
        session,
        SocialCaseStepTaken(
            case.id, case.case_no, case.region_code, action, new, _worker_user(session, case)
        ),
    )


def caseload(session: Session, *, worker_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(SocialCase)
            .where(SocialCase.worker_id == worker_id, SocialCase.status.in_(OPEN_STATUSES))
        )
        or 0
    )


# ---------------------------------------------------------------- workers


def register_worker(
    session: Session,
    *,
    actor: Actor,
    user_id: int,
    organisation: str = "",
    qualification: str = "none",
    max_caseload: int | None = None,
) -> SocialWorker:
    """A supervising officer enrols a ``social_worker`` account of their region as a worker."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.role != Role.SOCIAL_WORKER:
        raise ValidationFailed(
            "须为在用的社会工作者账号 / needs an active social-worker account",
            code="not_a_social_worker_account",
        )
    _require_supervisor(session, actor, "register_worker", None)
    if actor.kind != "system":
        require_within(user.region_code, actor.region_code)
    if qualification not in QUALIFICATIONS:
        raise ValidationFailed(
            f"未知职业资格: {qualification} / unknown qualification",
            code="unknown_qualification",
            allowed=list(QUALIFICATIONS),
        )
    cap = max_caseload or settings_of(session).social_work_max_caseload
    if not 1 <= cap <= 200:
        raise ValidationFailed("个案上限应在 1-200 之间 / caseload 1-200", code="invalid_caseload")
    if worker_of(session, user_id=user.id) is not None:
        raise Conflict("该账号已登记为社工 / already registered", code="already_registered")
    worker = SocialWorker(
        user_id=user.id,
        name=user.display_name,
        region_code=user.region_code,
        organisation=organisation.strip()[:100],
        qualification=qualification,
        max_caseload=cap,
        active=True,
    )
    session.add(worker)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="social_worker.register",
        target_type="social_worker",
        target_id=worker.id,
        detail={"user_id": user.id, "max_caseload": cap},
    )
    return worker


def list_workers(session: Session, *, region_code: str) -> list[SocialWorker]:
    return list(
        session.scalars(
            select(SocialWorker)
            .where(SocialWorker.active.is_(True), within(SocialWorker.region_code, region_code))
            .order_by(SocialWorker.name, SocialWorker.id)
        )
    )


# ---------------------------------------------------------------- referral and assignment


def open_case_of(session: Session, *, elder_id: int) -> SocialCase | None:
    return session.scalar(
        select(SocialCase).where(
            SocialCase.elder_id == elder_id, SocialCase.status.in_(OPEN_STATUSES)
        )
    )


def refer_case(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    reason: str,
    source: str = "hotline",
    source_ref: str | None = None,
    urgency: str = "normal",
) -> SocialCase:
    """Refer an elder to social work: from the hotline (an agent on the call), an officer or
    the online channel. One open case per elder: a second referral is refused naming it."""
    if not (
        actor.kind == "system" or allows(actor.role, Permission.START_CARE) or supervises(actor)
    ):
        _refuse(session, actor, "refer", None, "role")
        raise PermissionDenied("当前角色不能转介社工 / your role may not refer")
    if source not in SOURCES:
        raise ValidationFailed(
            f"未知转介来源: {source} / unknown source", code="invalid_source", allowed=list(SOURCES)
        )
    if urgency not in ("normal", "urgent"):
        raise ValidationFailed(
            "紧急程度应为 normal/urgent / invalid urgency", code="invalid_urgency"
        )
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"老年人档案不存在: {elder_id} / no such elder", code="elder_not_found")
    if actor.kind != "system":
        require_within(elder.region_code, actor.region_code)
    if elder.status != ElderStatus.ACTIVE:
        raise Conflict("老人档案非在册状态 / elder is not active", code="elder_not_active")
    existing = open_case_of(session, elder_id=elder.id)
    if existing is not None:
        raise Conflict(
            f"已有进行中的社工个案 {existing.case_no} ({STATUS_LABELS[existing.status]}) / "
            "the elder already has an open case",
            code="social_case_open",
            case_id=existing.id,
            case_no=existing.case_no,
        )
    now = clock.now()
    case = SocialCase(
        case_no=f"SG{clock.local_date(now, clock.timezone_of(session)):%Y%m%d}-pending",
        elder_id=elder.id,
        region_code=elder.region_code,
        status="referred",
        urgency=urgency,
        source=source,
        source_ref=source_ref,
        referred_by=actor.label[:100],
        referred_at=now,
        referral_sealed=_seal(session, _text(reason, "转介原因")),
    )
    session.add(case)
    session.flush()
    case.case_no = f"{case.case_no[:10]}-{case.id:05d}"
    CHAIN.record_step(
        session,
        actor=actor,
        record=case,
        action="refer",
        from_status=None,
        to_status="referred",
        on=clock.today_in(session),
        note=SOURCES[source],
        detail={"source": source, "source_ref": source_ref, "urgency": urgency},
    )
    publish_on_commit(
        session,
        SocialCaseReferred(case.id, case.case_no, case.region_code, elder.id, source, urgency),
    )
    return case


def _check_capacity(session: Session, worker: SocialWorker, override_reason: str | None) -> None:
    load = caseload(session, worker_id=worker.id)
    if load >= worker.max_caseload and not (override_reason or "").strip():
        raise CaseloadFull(
            f"{worker.name}已有 {load} 个个案 (上限 {worker.max_caseload}); 如仍需指派请说明原因 / "
            "the worker's caseload is full",
            load=load,
            max_caseload=worker.max_caseload,
        )


def assign_case(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    worker_id: int,
    override_reason: str | None = None,
) -> SocialCase:
    """A supervising officer gives a waiting referral (or a case handed back) to a worker of
    the elder's region; a full caseload needs a reason."""
    case = get_case(session, case_id=case_id)
    _require_supervisor(session, actor, "assign", case.id)
    _require_region(session, actor, case, "assign")
    if case.status != "referred":
        raise Conflict(
            f"个案当前为「{STATUS_LABELS[case.status]}」, 不能再指派 / only a waiting referral is assigned",
            code="social_case_not_waiting",
        )
    worker = session.get(SocialWorker, worker_id)
    if (
        worker is None
        or not worker.active
        or not codes.is_within(case.region_code, worker.region_code)
    ):
        raise NotFound(
            "该社工不存在或不负责老人所在地区 / no such worker for this area",
            code="worker_not_found",
        )
    _check_capacity(session, worker, override_reason)
    case.worker_id, case.assigned_at = worker.id, clock.now()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="social_case.assign",
        target_type="social_case",
        target_id=case.id,
        detail={
            "worker_id": worker.id,
            **({"override_reason": override_reason.strip()[:200]} if override_reason else {}),
        },
    )
    publish_on_commit(
        session,
        SocialCaseAssigned(case.id, case.case_no, case.region_code, worker.id, worker.user_id),
    )
    return case


# ---------------------------------------------------------------- the worker's steps


def accept_case(session: Session, *, actor: Actor, case_id: int, note: str = "") -> SocialCase:
    """接案: the worker takes in a referral assigned to them, or one of their area nobody has
    been given yet (their caseload permitting)."""
    case = get_case(session, case_id=case_id)
    _require_region(session, actor, case, "accept")
    worker = _require_worker(session, actor, "accept", case.id)
    if case.worker_id is None:
        if not codes.is_within(case.region_code, worker.region_code):
            _refuse(session, actor, "accept", case.id, "out_of_area")
            raise NotYourCase("该个案不在您的服务地区 / not in your area")
        _check_capacity(session, worker, None)
        case.worker_id, case.assigned_at = worker.id, clock.now()
    elif case.worker_id != worker.id:
        _refuse(session, actor, "accept", case.id, "not_your_case")
        raise NotYourCase("该个案已指派给其他社工 / assigned to another worker")
    case.accepted_at = clock.now()
    _move(session, actor, case, "accept", note=_text(note, "接案说明", required=False, limit=500))
    return case


def decline_case(session: Session, *, actor: Actor, case_id: int, reason: str) -> SocialCase:
    """退回: the worker hands a case back to the region's queue, with the reason."""
    case = get_case(session, case_id=case_id)
    _require_own(session, actor, case, "decline")
    text = _text(reason, "退回原因", limit=500)
    _move(session, actor, case, "decline", note=text)
    case.worker_id, case.assigned_at, case.accepted_at = None, None, None
    session.flush()
    return case


def assess_needs(
    session: Session, *, actor: Actor, case_id: int, needs: dict[str, dict[str, str]]
) -> SocialCase:
    """The needs assessment: a level (无/低/中/高) and a note per domain; at least one need."""
    case = get_case(session, case_id=case_id)
    _require_own(session, actor, case, "assess")
    checked: dict[str, dict[str, str]] = {}
    for domain, entry in needs.items():
        if domain not in NEED_DOMAINS:
            raise ValidationFailed(
                f"未知需求领域: {domain} / unknown domain",
                code="unknown_need_domain",
                allowed=list(NEED_DOMAINS),
            )
        level = str(entry.get("level", ""))
        if level not in NEED_LEVELS:
            raise ValidationFailed(
                f"{NEED_DOMAINS[domain]}的需求程度应为 无/低/中/高 / invalid level",
                code="invalid_need_level",
            )
        checked[domain] = {
            "level": level,
            "note": _text(
                str(entry.get("note", "")), NEED_DOMAINS[domain], required=False, limit=1000
            ),
        }
    if not any(v["level"] != "none" for v in checked.values()):
        raise ValidationFailed(
            "至少评估出一项需求 / the assessment finds at least one need", code="no_needs"
        )
    case.needs_sealed, case.assessed_at = _seal(session, checked), clock.now()
    high = sorted(d for d, v in checked.items() if v["level"] == "high")
    _move(session, actor, case, "assess", detail={"domains": sorted(checked), "high": high})
    return case


def set_plan(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    goals: list[str],
    services: list[str],
    visit_interval_days: int | None = None,
    review_after_days: int = 90,
    note: str = "",
) -> SocialCase:
    """The service plan (goals, services, how often to visit); the first visit falls due one
    interval from today and the review after ``review_after_days``. A plan may be revised."""
    case = get_case(session, case_id=case_id)
    _require_own(session, actor, case, "plan")
    clean_goals = [_text(g, "服务目标", limit=200) for g in goals if (g or "").strip()]
    if not clean_goals or len(clean_goals) > 10:
        raise ValidationFailed("服务目标 1-10 条 / 1-10 goals", code="invalid_goals")
    unknown = [s for s in services if s not in PLAN_SERVICES]
    if unknown or not services:
        raise ValidationFailed(
            "请选择服务内容 / choose the plan's services",
            code="invalid_plan_services",
            allowed=list(PLAN_SERVICES),
        )
    interval = visit_interval_days or settings_of(session).social_work_visit_interval_days
    if not 1 <= interval <= 90 or not 7 <= review_after_days <= 365:
        raise ValidationFailed(
            "探访间隔 1-90 天, 回顾周期 7-365 天 / visits every 1-90 days, review after 7-365",
            code="invalid_plan_interval",
        )
    today = clock.today_in(session)
    case.plan_sealed = _seal(
        session,
        {
            "goals": clean_goals,
            "services": list(dict.fromkeys(services)),
            "note": _text(note, "计划说明", required=False),
        },
    )
    case.planned_at, case.visit_interval_days = clock.now(), interval
    case.next_visit_due = today + timedelta(days=interval)
    case.review_due = today + timedelta(days=review_after_days)
    _move(
        session,
        actor,
        case,
        "plan",
        detail={
            "services": services,
            "visit_interval_days": interval,
            "review_due": case.review_due.isoformat(),
        },
    )
    return case


def record_visit(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    kind: str,
    notes: str,
    visited_at: datetime | None = None,
    next_due: date | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> SocialCaseVisit:
    """A visit with its notes; the next visit falls due one interval later (or on ``next_due``)."""
    case = get_case(session, case_id=case_id)
    worker = _require_own(session, actor, case, "visit")
    if case.status not in CARRIED:
        raise Conflict(
            f"个案当前为「{STATUS_LABELS[case.status]}」, 不能记录探访 / not open",
            code="social_case_closed",
        )
    if kind not in VISIT_KINDS:
        raise ValidationFailed(
            f"未知探访方式: {kind} / unknown visit kind",
            code="unknown_visit_kind",
            allowed=list(VISIT_KINDS),
        )
    at = visited_at or clock.now()
    if at > clock.now() + timedelta(minutes=5):
        raise ValidationFailed(
            "探访时间不能晚于现在 / a visit cannot be in the future", code="visit_in_future"
        )
    day = clock.local_date(at, clock.timezone_of(session))
    due = next_due or (
        day + timedelta(days=case.visit_interval_days) if case.visit_interval_days else None
    )
    if due is not None and due <= day:
        raise ValidationFailed(
            "下次探访须晚于本次 / next visit after this one", code="invalid_next_visit"
        )
    visit = SocialCaseVisit(
        case_id=case.id,
        worker_id=worker.id,
        author=actor.label[:100],
        kind=kind,
        visited_at=at,
        notes_sealed=_seal(session, _text(notes, "探访记录")),
        next_due=due,
        latitude=latitude,
        longitude=longitude,
    )
    session.add(visit)
    case.last_visit_at = max(at, case.last_visit_at) if case.last_visit_at else at
    if due is not None:
        case.next_visit_due = due
    session.flush()
    CHAIN.record_step(
        session,
        actor=actor,
        record=case,
        action="visit",
        from_status=case.status,
        to_status=case.status,
        on=day,
        note=VISIT_KINDS[kind],
        detail={"visit_id": visit.id, "kind": kind, "next_due": due.isoformat() if due else None},
    )
    publish_on_commit(
        session,
        SocialCaseStepTaken(
            case.id, case.case_no, case.region_code, "visit", case.status, actor.user_id
        ),
    )
    return visit


def review_case(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    progress: str,
    decision: str,
    close_reason: str | None = None,
    review_after_days: int = 90,
) -> SocialCase:
    """回顾评估: progress against the plan; carry on (the next review set) or close."""
    case = get_case(session, case_id=case_id)
    _require_own(session, actor, case, "review")
    text = _text(progress, "回顾评估")
    if decision == "close":
        return close_case(
            session, actor=actor, case_id=case.id, reason=close_reason or "", note=text
        )
    if decision != "continue":
        raise ValidationFailed(
            "回顾结论应为 continue/close / invalid decision", code="invalid_decision"
        )
    case.reviewed_at = clock.now()
    case.review_due = clock.today_in(session) + timedelta(days=review_after_days)
    _note(session, actor, case, "review", text, at=case.reviewed_at)
    _move(
        session,
        actor,
        case,
        "review",
        note="继续服务",
        detail={"review_due": case.review_due.isoformat()},
    )
    return case


def close_case(
    session: Session, *, actor: Actor, case_id: int, reason: str, note: str = ""
) -> SocialCase:
    """结案 with a reason: by the case's worker, or by a supervising officer of its region."""
    case = get_case(session, case_id=case_id)
    if supervises(actor):
        _require_region(session, actor, case, "close")
    else:
        _require_own(session, actor, case, "close")
    if reason not in CLOSE_REASONS:
        raise ValidationFailed(
            "请选择结案原因 / choose why the case closes",
            code="invalid_close_reason",
            allowed=list(CLOSE_REASONS),
        )
    case.closed_at, case.close_reason = clock.now(), reason
    case.next_visit_due = None
    if note.strip():
        _note(session, actor, case, "closing", _text(note, "结案说明"), at=case.closed_at)
    _move(session, actor, case, "close", note=CLOSE_REASONS[reason], detail={"reason": reason})
    return case


def _note(
    session: Session, actor: Actor, case: SocialCase, kind: str, text: str, *, at: datetime
) -> None:
    """A review's or a closing's account, kept (sealed) with the visit notes."""
    session.add(
        SocialCaseVisit(
            case_id=case.id,
            worker_id=case.worker_id,
            author=actor.label[:100],
            kind=kind,
            visited_at=at,
            notes_sealed=_seal(session, text),
        )
    )
    session.flush()


# ---------------------------------------------------------------- what screens show


def overdue_visits(
    session: Session,
    *,
    region_code: str | None = None,
    worker_id: int | None = None,
    today: date | None = None,
) -> list[Overdue]:
    """Cases in service whose next visit is past due, the latest first."""
    day = today or clock.today_in(session)
    q = select(SocialCase).where(
        SocialCase.status == "in_service",
        SocialCase.next_visit_due.is_not(None),
        SocialCase.next_visit_due < day,
    )
    if region_code is not None:
        q = q.where(within(SocialCase.region_code, region_code))
    if worker_id is not None:
        q = q.where(SocialCase.worker_id == worker_id)
    rows = session.scalars(q.order_by(SocialCase.next_visit_due, SocialCase.id)).all()
    return [
        Overdue(c, c.next_visit_due, (day - c.next_visit_due).days)
        for c in rows
        if c.next_visit_due
    ]


def waiting_referrals(session: Session, *, region_code: str) -> list[SocialCase]:
    """Referrals of the region nobody has been given yet, urgent first, then the oldest."""
    return list(
        session.scalars(
            select(SocialCase)
            .where(
                SocialCase.status == "referred",
                SocialCase.worker_id.is_(None),
                within(SocialCase.region_code, region_code),
            )
            .order_by(SocialCase.urgency.desc(), SocialCase.referred_at, SocialCase.id)
        )
    )


def caseloads(
    session: Session, *, region_code: str, today: date | None = None
) -> list[dict[str, Any]]:
    """Each worker of the region: open cases against the maximum, and visits overdue."""
    day = today or clock.today_in(session)
    out = []
    for w in list_workers(session, region_code=region_code):
        out.append(
            {
                "worker_id": w.id,
                "name": w.name,
                "organisation": w.organisation,
                "qualification_label": QUALIFICATIONS.get(w.qualification, w.qualification),
                "open_cases": caseload(session, worker_id=w.id),
                "max_caseload": w.max_caseload,
                "overdue_visits": len(overdue_visits(session, worker_id=w.id, today=day)),
            }
        )
    return out


def my_cases(session: Session, *, actor: Actor) -> list[SocialCase]:
    worker = _require_worker(session, actor, "list", None)
    return list(
        session.scalars(
            select(SocialCase)
            .where(SocialCase.worker_id == worker.id, SocialCase.status.in_(OPEN_STATUSES))
            .order_by(SocialCase.next_visit_due.is_(None), SocialCase.next_visit_due, SocialCase.id)
        )
    )


def case_summary(
    session: Session, case: SocialCase, *, today: date | None = None
) -> dict[str, Any]:
    """The case without its sealed notes (lists, the pop, the queue): the elder's name masked."""
    day = today or clock.today_in(session)
    elder = session.get(Elder, case.elder_id)
    worker = session.get(SocialWorker, case.worker_id) if case.worker_id else None
    overdue = (
        case.status == "in_service"
        and case.next_visit_due is not None
        and case.next_visit_due < day
    )
    return {
        "id": case.id,
        "case_no": case.case_no,
        "elder_id": case.elder_id,
        "elder_name": mask_name(elder.name) if elder else "",
        "region_code": case.region_code,
        "status": case.status,
        "status_label": STATUS_LABELS[case.status],
        "urgency": case.urgency,
        "source_label": SOURCES.get(case.source, case.source),
        "referred_at": case.referred_at.isoformat(),
        "worker_id": case.worker_id,
        "worker_name": worker.name if worker else None,
        "next_visit_due": case.next_visit_due.isoformat() if case.next_visit_due else None,
        "review_due": case.review_due.isoformat() if case.review_due else None,
        "overdue": overdue,
        "days_late": (day - case.next_visit_due).days if overdue and case.next_visit_due else 0,
        "close_reason_label": CLOSE_REASONS.get(case.close_reason or "", None),
    }


def case_detail(
    session: Session, *, actor: Actor, case_id: int, source_ip: str | None = None
) -> dict[str, Any]:
    """Everything of a case, its notes opened: for its worker and the region's supervising
    officers; each reading is audited (the elder's sensitive information)."""
    case = get_case(session, case_id=case_id)
    if supervises(actor):
        _require_region(session, actor, case, "view")
    else:
        _require_own(session, actor, case, "view")
    elder = session.get(Elder, case.elder_id)
    visits = session.scalars(
        select(SocialCaseVisit)
        .where(SocialCaseVisit.case_id == case.id)
        .order_by(SocialCaseVisit.visited_at.desc(), SocialCaseVisit.id.desc())
    ).all()
    audit.record(
        session,
        actor=actor,
        action="social_case.view",
        target_type="elder",
        target_id=case.elder_id,
        detail={"case_id": case.id},
        source_ip=source_ip,
    )
    tz = clock.timezone_of(session)
    return {
        **case_summary(session, case),
        "elder": {
            "name": elder.name if elder else "",
            "id_number": elder.id_number_masked if elder else "",
            "address": elder.address if elder else "",
            "living_arrangement": elder.living_arrangement if elder else "",
        },
        "referral": _open(session, case.referral_sealed),
        "needs": _open(session, case.needs_sealed, as_json=True),
        "plan": _open(session, case.plan_sealed, as_json=True),
        "visit_interval_days": case.visit_interval_days,
        "visits": [
            {
                "id": v.id,
                "kind": v.kind,
                "kind_label": NOTE_KINDS.get(v.kind, v.kind),
                "author": v.author,
                "visited_at": clock.local(v.visited_at, tz).strftime("%Y-%m-%d %H:%M"),
                "notes": _open(session, v.notes_sealed),
                "next_due": v.next_due.isoformat() if v.next_due else None,
            }
            for v in visits
        ],
        "steps": [
            {
                "action": st.action,
                "label": ACTION_LABELS.get(st.action, st.action),
                "to": STATUS_LABELS.get(st.to_status, st.to_status),
                "on": st.on.isoformat(),
                "owner": st.owner,
                "note": st.note,
            }
            for st in case.steps
        ],
    }


def has_status(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the elder has an open case: the care status's probe."""
    return exists().where(SocialCase.elder_id == elder_id, SocialCase.status.in_(OPEN_STATUSES))


def status_for_elder(session: Session, *, elder_id: int, has_any: bool = True) -> dict[str, Any]:
    """Where social work stands for the elder (the screen pop's care row)."""
    case = open_case_of(session, elder_id=elder_id) if has_any else None
    if case is None:
        return {
            "module": "social_work",
            "label": "社工服务",
            "state": "none",
            "state_label": "无个案",
        }
    worker = session.get(SocialWorker, case.worker_id) if case.worker_id else None
    return {
        "module": "social_work",
        "label": "社工服务",
        "state": case.status,
        "state_label": STATUS_LABELS[case.status],
        "case_no": case.case_no,
        "owner": f"社工 {worker.name}" if worker else None,
        "since": clock.local_date(case.referred_at, clock.timezone_of(session)).isoformat(),
    }


def announce_overdue(session: Session, *, region_code: str, today: date | None = None) -> int:
    """The daily check: one ``SocialVisitOverdue`` per case whose visit is late."""
    late = overdue_visits(session, region_code=region_code, today=today)
    for item in late:
        publish_on_commit(
            session,
            SocialVisitOverdue(
                item.case.id,
                item.case.case_no,
                item.case.region_code,
                _worker_user(session, item.case),
                item.due.isoformat(),
                item.days_late,
            ),
        )
    return len(late)
