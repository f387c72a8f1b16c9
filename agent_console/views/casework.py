"""Social work on the console: a worker's cases (``/casework``: the area's waiting referrals to
take in, their own cases with the visit due, and each case's steps from intake to closing) and
the supervising officer's view (``/casework/supervision``: the queue, assignment within each
worker's caseload, overdue visits, referrals by the elder's ID number, workers' profiles).

The domain checks every step again (the case's own worker, the officer's region) and audits
each refusal and each reading of a case's notes. A worker's page follows their cases live on
the ``/casework`` namespace: a case assigned to them, a step taken, a visit past due, a new
referral of their area; the snapshot on every connect is the page's data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from flask import Blueprint, Flask, jsonify, render_template, request
from pydantic import Field

from agent_console.realtime import Connection, Realtime
from agent_console.security import current_actor, guard, require_region
from agent_console.views import community_text
from agent_console.views.common import body, check_note, runtime
from agent_console.views.schemas import Strict
from platform_core.accounts import service as accounts
from platform_core.accounts.permissions import Permission
from platform_core.actors import Actor
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import NotFound
from platform_core.social_work import service as social
from platform_core.social_work.vocabulary import (
    CLOSE_REASONS,
    NEED_DOMAINS,
    NEED_LEVELS,
    PLAN_SERVICES,
    QUALIFICATIONS,
    VISIT_KINDS,
)

bp = Blueprint("casework", __name__)
community_text.install(bp)
CASEWORK_NS = "/casework"
Note = Field(default="", max_length=100_000)


class NoteIn(Strict):
    note: str = Note


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=100_000)


class NeedIn(Strict):
    level: Literal["none", "low", "medium", "high"]
    note: str = Field(default="", max_length=100_000)


class AssessIn(Strict):
    needs: dict[str, NeedIn] = Field(min_length=1, max_length=len(NEED_DOMAINS))


class PlanIn(Strict):
    goals: list[str] = Field(min_length=1, max_length=10)
    services: list[str] = Field(min_length=1, max_length=len(PLAN_SERVICES))
    visit_interval_days: int | None = Field(default=None, ge=1, le=90)
    review_after_days: int = Field(default=90, ge=7, le=365)
    note: str = Note


class VisitIn(Strict):
    kind: Literal["home", "phone", "site", "online"]
    notes: str = Field(min_length=1, max_length=100_000)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class ReviewIn(Strict):
    progress: str = Field(min_length=1, max_length=100_000)
    decision: Literal["continue", "close"]
    close_reason: str | None = Field(default=None, max_length=20)
    review_after_days: int = Field(default=90, ge=7, le=365)


class CloseIn(Strict):
    reason: str = Field(min_length=1, max_length=20)
    note: str = Note


class ReferIn(Strict):
    id_number: str = Field(min_length=15, max_length=18)
    reason: str = Field(min_length=1, max_length=100_000)
    urgency: Literal["normal", "urgent"] = "normal"


class AssignIn(Strict):
    worker_id: int = Field(ge=1, le=2**31 - 1)
    override_reason: str | None = Field(default=None, max_length=200)


class WorkerIn(Strict):
    username: str = Field(min_length=3, max_length=64)
    organisation: str = Field(default="", max_length=100)
    qualification: str = Field(default="none", max_length=20)
    max_caseload: int | None = Field(default=None, ge=1, le=200)


def _vocabulary() -> dict[str, Any]:
    return {
        "domains": NEED_DOMAINS,
        "levels": NEED_LEVELS,
        "services": PLAN_SERVICES,
        "visit_kinds": VISIT_KINDS,
        "close_reasons": CLOSE_REASONS,
        "qualifications": QUALIFICATIONS,
    }


def worker_desk(actor: Actor) -> dict[str, Any]:
    """A worker's page: their profile, their open cases (visit due first), the area's waiting
    referrals they may take in, and how many of their visits are late."""
    with runtime().session() as s:
        worker = social.worker_of(s, user_id=actor.user_id)
        if worker is None:
            return {"worker": None, "cases": [], "queue": [], "overdue": 0}
        cases = [social.case_summary(s, c) for c in social.my_cases(s, actor=actor)]
        queue = [
            social.case_summary(s, c)
            for c in social.waiting_referrals(s, region_code=worker.region_code)
        ]
        return {
            "worker": {
                "id": worker.id,
                "name": worker.name,
                "open_cases": social.caseload(s, worker_id=worker.id),
                "max_caseload": worker.max_caseload,
            },
            "cases": cases,
            "queue": queue,
            "overdue": sum(1 for c in cases if c["overdue"]),
        }


# --- the worker's page ----------------------------------------------------------------------


@bp.get("/casework")
@guard(Permission.SOCIAL_CASEWORK)
def page() -> Any:
    return render_template("community/casework.html", vocabulary=_vocabulary())


@bp.get("/api/casework")
@guard(Permission.SOCIAL_CASEWORK)
def desk() -> Any:
    return jsonify(worker_desk(current_actor()))


def _case_in_region(s: Any, case_id: int) -> Any:
    case = social.get_case(s, case_id=case_id)
    require_region(case.region_code, target_type="social_case", target_id=case_id)
    return case


def _answer(s: Any, case_id: int) -> Any:
    return jsonify(
        {
            "case": social.case_detail(
                s, actor=current_actor(), case_id=case_id, source_ip=request.remote_addr
            )
        }
    )


def _step(case_id: int, note: str, command: Callable[..., Any], /, **fields: Any) -> Any:
    """One step on a case: the note within its limit, the case in the worker's region, the
    step, and the case as it now stands."""
    check_note(note)
    with runtime().session() as s:
        _case_in_region(s, case_id)
        command(s, actor=current_actor(), case_id=case_id, **fields)
        return _answer(s, case_id)


@bp.get("/api/casework/cases/<int:case_id>")
@guard()
def case(case_id: int) -> Any:
    """The case with its notes: its worker, or a supervising officer of its region (audited)."""
    with runtime().session() as s:
        _case_in_region(s, case_id)
        return _answer(s, case_id)


@bp.post("/api/casework/cases/<int:case_id>/accept")
@guard(Permission.SOCIAL_CASEWORK)
def accept(case_id: int) -> Any:
    data = body(NoteIn)
    return _step(case_id, data.note, social.accept_case, note=data.note)


@bp.post("/api/casework/cases/<int:case_id>/decline")
@guard(Permission.SOCIAL_CASEWORK)
def decline(case_id: int) -> Any:
    data = body(ReasonIn)
    check_note(data.reason)
    with runtime().session() as s:
        _case_in_region(s, case_id)
        social.decline_case(s, actor=current_actor(), case_id=case_id, reason=data.reason)
        return jsonify({"ok": True})


@bp.post("/api/casework/cases/<int:case_id>/assess")
@guard(Permission.SOCIAL_CASEWORK)
def assess(case_id: int) -> Any:
    data = body(AssessIn)
    for need in data.needs.values():
        check_note(need.note)
    with runtime().session() as s:
        _case_in_region(s, case_id)
        social.assess_needs(
            s,
            actor=current_actor(),
            case_id=case_id,
            needs={k: v.model_dump() for k, v in data.needs.items()},
        )
        return _answer(s, case_id)


@bp.post("/api/casework/cases/<int:case_id>/plan")
@guard(Permission.SOCIAL_CASEWORK)
def plan(case_id: int) -> Any:
    data = body(PlanIn)
    return _step(case_id, data.note, social.set_plan, **data.model_dump())


@bp.post("/api/casework/cases/<int:case_id>/visits")
@guard(Permission.SOCIAL_CASEWORK)
def visit(case_id: int) -> Any:
    data = body(VisitIn)
    return _step(case_id, data.notes, social.record_visit, **data.model_dump())


@bp.post("/api/casework/cases/<int:case_id>/review")
@guard(Permission.SOCIAL_CASEWORK)
def review(case_id: int) -> Any:
    data = body(ReviewIn)
    return _step(case_id, data.progress, social.review_case, **data.model_dump())


@bp.post("/api/casework/cases/<int:case_id>/close")
@guard()
def close(case_id: int) -> Any:
    """结案: the case's worker, or a supervising officer of its region."""
    data = body(CloseIn)
    check_note(data.note)
    with runtime().session() as s:
        _case_in_region(s, case_id)
        social.close_case(
            s, actor=current_actor(), case_id=case_id, reason=data.reason, note=data.note
        )
        return _answer(s, case_id)


# --- the supervising officer --------------------------------------------------------------------


@bp.get("/casework/supervision")
@guard(Permission.SUPERVISE_SOCIAL_WORK)
def supervision_page() -> Any:
    return render_template("community/casework_supervision.html", vocabulary=_vocabulary())


@bp.get("/api/casework/supervision")
@guard(Permission.SUPERVISE_SOCIAL_WORK)
def supervision() -> Any:
    region = current_actor().region_code
    with runtime().session() as s:
        return jsonify(
            {
                "queue": [
                    social.case_summary(s, c)
                    for c in social.waiting_referrals(s, region_code=region)
                ],
                "caseloads": social.caseloads(s, region_code=region),
                "overdue": [
                    social.case_summary(s, o.case)
                    for o in social.overdue_visits(s, region_code=region)
                ],
            }
        )


@bp.post("/api/casework/referrals")
@guard(Permission.SUPERVISE_SOCIAL_WORK)
def refer() -> Any:
    """An officer refers the elder whose ID number they give (of their region)."""
    data = body(ReferIn)
    check_note(data.reason)
    actor = current_actor()
    with runtime().session() as s:
        elder = find_elder_by_id_number(s, id_number=data.id_number)
        if elder is None:
            raise NotFound(
                "未找到该身份证的老人档案 / no elder with this ID number", code="elder_not_found"
            )
        require_region(elder.region_code, target_type="elder", target_id=elder.id)
        case = social.refer_case(
            s,
            actor=actor,
            elder_id=elder.id,
            reason=data.reason,
            source="officer",
            urgency=data.urgency,
        )
        return jsonify({"case": social.case_summary(s, case)}), 201


@bp.post("/api/casework/cases/<int:case_id>/assign")
@guard(Permission.SUPERVISE_SOCIAL_WORK)
def assign(case_id: int) -> Any:
    data = body(AssignIn)
    with runtime().session() as s:
        _case_in_region(s, case_id)
        case = social.assign_case(
            s,
            actor=current_actor(),
            case_id=case_id,
            worker_id=data.worker_id,
            override_reason=data.override_reason,
        )
        return jsonify({"case": social.case_summary(s, case)})


@bp.post("/api/casework/workers")
@guard(Permission.SUPERVISE_SOCIAL_WORK)
def register_worker() -> Any:
    """Enrol a social worker's account (named by its username) as a worker of the region."""
    data = body(WorkerIn)
    with runtime().session() as s:
        user = accounts.find_user_by_username(s, data.username)
        if user is None:
            raise NotFound("账号不存在 / no such account", code="user_not_found")
        require_region(user.region_code, target_type="user", target_id=user.id)
        worker = social.register_worker(
            s,
            actor=current_actor(),
            user_id=user.id,
            organisation=data.organisation,
            qualification=data.qualification,
            max_caseload=data.max_caseload,
        )
        return jsonify({"worker_id": worker.id}), 201


# --- live ----------------------------------------------------------------------------------------


def _relay_handlers(realtime: Realtime) -> None:
    def to_worker(env: dict[str, Any]) -> None:
        user_id = env["data"].get("worker_user_id")
        if user_id:
            realtime.emit_local("case_event", env, namespace=CASEWORK_NS, to=f"user:{user_id}")

    def to_area(env: dict[str, Any]) -> None:
        realtime.emit_to_region("case_event", env, namespace=CASEWORK_NS)

    for name in ("SocialCaseAssigned", "SocialCaseStepTaken", "SocialVisitOverdue"):
        realtime.on_domain_event(name, to_worker)
    realtime.on_domain_event("SocialCaseReferred", to_area)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    realtime.add_namespace(CASEWORK_NS, Permission.SOCIAL_CASEWORK)
    realtime.set_snapshot(CASEWORK_NS, lambda conn: worker_desk(conn.actor))

    @realtime.on(CASEWORK_NS, "snapshot", Permission.SOCIAL_CASEWORK)
    def socket_snapshot(conn: Connection, _payload: Any) -> dict[str, Any]:
        return {"snapshot": worker_desk(conn.actor)}

    _relay_handlers(realtime)
