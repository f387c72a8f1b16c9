"""政府购买服务 desk: the application queue by 盟市/旗县, each application's steps as page
actions with the notice of each step printable as PDF, the month's allowances per elder with
the orders that drew them, and the monthly run with its progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, jsonify, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    act,
    applying_elder,
    audit_view,
    chain_list,
    date_arg,
    elders_by_id_number,
    in_region,
    month_arg,
    page,
    page_arg,
    pdf,
    region_options,
    require_permission,
    scope,
)
from agent_console.views.common import check_note, runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.assessment import report as assessment_report
from platform_core.errors import NotFound, ValidationFailed
from platform_core.gov_purchase import desk, monthly, notices
from platform_core.gov_purchase import service as gp
from platform_core.gov_purchase.models import GovPurchaseNotice

bp = Blueprint("care_gp", __name__)

# action -> (the service's step, the form field it needs (None: none), optional?, a decision?)
STEPS: dict[str, tuple[Callable[..., Any], str | None, str | None, bool]] = {
    "accept": (gp.accept, None, None, False),
    "request_correction": (gp.request_correction, "missing", "需补正的材料", False),
    "resubmit": (gp.resubmit, None, None, False),
    "pass_first_review": (gp.pass_first_review, "note", None, False),
    "record_assessment": (gp.record_assessment, None, None, False),
    "start_publicity": (gp.start_publicity, None, None, False),
    "approve": (gp.approve, None, None, True),
    "reject": (gp.reject, "reason", "不予批准的理由", True),
    "raise_objection": (gp.raise_objection, "objection", "异议内容", False),
    "request_review": (gp.request_review, "reason", "申请复核的事由", False),
    "uphold_refusal": (gp.uphold_refusal, "reason", "维持的理由", True),
    "terminate": (gp.terminate, "reason", "终止原因", True),
    "withdraw": (gp.withdraw, None, None, False),
}
RELATIONS = ("本人", "配偶", "子女", "其他亲属", "村(居)委会", "其他")


@bp.get("/care/gov-purchase")
@guard(Permission.CARE_CASEWORK)
def queue() -> Any:
    return chain_list(
        "care/gp_queue.html",
        desk.application_queue,
        gp.STATUS_LABELS,
        lambda: {
            "applied_from": date_arg("from", "申请日期"),
            "applied_until": date_arg("to", "申请日期"),
        },
    )


@bp.get("/care/gov-purchase/new")
@guard(Permission.CARE_CASEWORK)
def new() -> Any:
    return page("care/gp_new.html", relations=RELATIONS, error=None, form={})


@bp.post("/care/gov-purchase")
@guard(Permission.CARE_CASEWORK)
def apply() -> Any:
    form = {k: request.form.get(k, "").strip()[:64] for k in ("id_number", "applicant", "relation")}

    def run() -> Any:
        with runtime().session() as s:
            elder = applying_elder(s, form["id_number"])
            app = gp.apply(
                s,
                actor=current_actor(),
                elder_id=elder.id,
                applicant_name=form["applicant"],
                applicant_relation=form["relation"] if form["relation"] in RELATIONS else "本人",
                source="counter",
            )
            app_id = app.id
        return redirect(url_for("care_gp.application", application_id=app_id))

    return act(
        run,
        lambda error: page("care/gp_new.html", relations=RELATIONS, error=error, form=form),
    )


def _detail(application_id: int, error: str | None = None) -> str:
    with runtime().session() as s:
        view = desk.application_view(s, application_id=application_id)
        in_region(
            view.application.region_code,
            target_type="gov_purchase_application",
            target_id=application_id,
        )
        audit_view(
            s,
            action="gov_purchase.view_application",
            elder_id=view.elder.id,
            target_type="application_id",
            target_id=application_id,
        )
        decide = allows(current_actor().role, Permission.CARE_DECIDE)
        actions = [(a, label, STEPS[a]) for a, label in view.actions if decide or not STEPS[a][3]]
        return page(
            "care/gp_application.html",
            view=view,
            app=view.application,
            actions=actions,
            error=error,
            today=clock.today_in(s),
            step_labels={"apply": "申请", **gp.ACTION_LABELS},
            status_labels=gp.STATUS_LABELS,
        )


@bp.get("/care/gov-purchase/<int:application_id>")
@guard(Permission.CARE_CASEWORK)
def application(application_id: int) -> Any:
    return _detail(application_id)


@bp.post("/care/gov-purchase/<int:application_id>/<action>")
@guard(Permission.CARE_CASEWORK)
def step(application_id: int, action: str) -> Any:
    if action not in STEPS:
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    fn, field, required, decision = STEPS[action]
    if decision:
        require_permission(Permission.CARE_DECIDE)
    text = check_note(request.form.get(field, "").strip()) if field else ""

    def run() -> Any:
        if required and not text:
            raise ValidationFailed(
                f"请填写{required} / this step needs its text", code="text_required"
            )
        with runtime().session() as s:
            app = gp.get_application(s, application_id=application_id)
            in_region(
                app.region_code, target_type="gov_purchase_application", target_id=application_id
            )
            kwargs: dict[str, Any] = {field: text} if field and text else {}
            fn(s, actor=current_actor(), application_id=application_id, **kwargs)
        return redirect(url_for("care_gp.application", application_id=application_id))

    return act(run, lambda error: _detail(application_id, error))


@bp.get("/care/gov-purchase/notices/<int:notice_id>.pdf")
@guard(Permission.CARE_CASEWORK)
def notice_pdf(notice_id: int) -> Any:
    with runtime().session() as s:
        notice = s.get(GovPurchaseNotice, notice_id)
        if notice is None:
            raise NotFound("通知书不存在 / no such notice", code="notice_not_found")
        in_region(notice.application.region_code, target_type="notice", target_id=notice_id)
        data = notices.render_notice(s, actor=current_actor(), notice_id=notice_id)
        number = notice.number
    return pdf(data, f"{number}.pdf")


@bp.get("/care/gov-purchase/<int:application_id>/assessment.pdf")
@guard(Permission.CARE_CASEWORK)
def assessment_pdf(application_id: int) -> Any:
    """The GB/T 42195 report of the assessment the application was decided on: the officer
    reviews what the grade rests on (printing it is an audited export of health data)."""
    with runtime().session() as s:
        app = gp.get_application(s, application_id=application_id)
        in_region(app.region_code, target_type="gov_purchase_application", target_id=application_id)
        if app.assessment_id is None:
            raise NotFound("该申请尚未关联能力评估 / no assessment linked", code="no_assessment")
        data = assessment_report.render_report(
            s, actor=current_actor(), assessment_id=app.assessment_id
        )
        assessment_id = app.assessment_id
    return pdf(data, f"assessment-{assessment_id}.pdf")


@bp.get("/care/gov-purchase/allowances")
@guard(Permission.CARE_CASEWORK)
def allowances() -> Any:
    region, month = scope(), month_arg()
    with runtime().session() as s:
        rows = desk.month_allowances(
            s,
            region_code=region,
            month=month,
            elder_ids=elders_by_id_number(s, request.args.get("id_number", "")),
            page=page_arg(),
        )
        runs = [
            _run_json(r) for r in monthly.latest_runs(s, region_code=current_actor().region_code)
        ]
        regions = region_options(s)
    return page(
        "care/gp_allowances.html",
        rows=rows,
        runs=runs,
        month=month,
        region=region,
        regions=regions,
        args=request.args,
        may_run=allows(current_actor().role, Permission.CARE_DECIDE),
    )


@bp.post("/care/gov-purchase/allowances/run")
@guard(Permission.CARE_DECIDE)
def start_run() -> Any:
    region, month = scope(), month_arg()
    with runtime().session() as s:
        run = monthly.start_run(s, actor=current_actor(), region_code=region, month=month)
        run_id = run.id
    return redirect(
        url_for("care_gp.allowances", month=f"{month:%Y-%m}", region=region, run=run_id)
    )


def _run_json(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "region_code": run.region_code,
        "month": f"{run.month:%Y-%m}",
        "status": run.status,
        "total": run.total,
        "done": run.done,
        "opened": run.opened,
        "charged": run.charged,
        "released": run.released,
        "error": run.error,
    }


@bp.get("/api/care/allowance-runs/<int:run_id>")
@guard(Permission.CARE_CASEWORK)
def run_progress(run_id: int) -> Any:
    with runtime().session() as s:
        run = monthly.get_run(s, run_id=run_id)
        in_region(run.region_code, target_type="allowance_run", target_id=run_id)
        return jsonify(_run_json(run))


def run_snapshot(session: Any, region_code: str) -> list[dict[str, Any]]:
    """The latest runs of a region (the live page's snapshot)."""
    return [_run_json(r) for r in monthly.latest_runs(session, region_code=region_code)]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
