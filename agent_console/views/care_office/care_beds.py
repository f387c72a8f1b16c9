"""家庭养老床位 desk: beds by region and status; from the referral to the contract (printable),
the monthly service plan and the orders it opens, the visits, withdrawal with a reason; the
provider's monthly settlement with its export."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    PAGE_SIZE,
    act,
    applying_elder,
    audit_view,
    chain_list,
    download,
    in_region,
    month_arg,
    page,
    page_arg,
    pdf,
    region_options,
    require_permission,
    scope,
)
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.assessment import report as assessment_report
from platform_core.care_beds import desk
from platform_core.care_beds import service as beds
from platform_core.catalogue.service import list_service_types
from platform_core.errors import NotFound, ValidationFailed
from platform_core.providers.service import get_provider, list_providers

bp = Blueprint("care_beds", __name__)
SOURCES = {"referral": "转介 (街道、社区、热线)", "application": "本人或家属申请"}
PLAN_ROWS = 4


@bp.get("/care/beds", endpoint="beds")
@guard(Permission.CARE_CASEWORK)
def beds_list() -> Any:
    return chain_list("care/beds_list.html", desk.beds, beds.STATUS_LABELS)


@bp.get("/care/beds/new")
@guard(Permission.CARE_CASEWORK)
def new() -> Any:
    return page("care/beds_new.html", sources=SOURCES, error=None, form={})


@bp.post("/care/beds")
@guard(Permission.CARE_CASEWORK)
def apply() -> Any:
    form = {k: request.form.get(k, "").strip()[:64] for k in ("id_number", "source")}

    def run() -> Any:
        with runtime().session() as s:
            elder = applying_elder(s, form["id_number"])
            bed = beds.apply_for_bed(
                s,
                actor=current_actor(),
                elder_id=elder.id,
                source=form["source"] if form["source"] in SOURCES else "referral",
            )
            bed_id = bed.id
        return redirect(url_for("care_beds.bed", care_bed_id=bed_id))

    return act(
        run, lambda error: page("care/beds_new.html", sources=SOURCES, error=error, form=form)
    )


def _detail(care_bed_id: int, error: str | None = None) -> str:
    month = month_arg()
    with runtime().session() as s:
        view = desk.bed_view(s, care_bed_id=care_bed_id, month=month)
        in_region(view.bed.region_code, target_type="care_bed", target_id=care_bed_id)
        audit_view(
            s,
            action="care_bed.view",
            elder_id=view.elder.id,
            target_type="care_bed_id",
            target_id=care_bed_id,
        )
        return page(
            "care/bed.html",
            view=view,
            bed=view.bed,
            error=error,
            providers=list_providers(s, region_code=view.bed.region_code)
            if view.bed.status == "assessed"
            else [],
            service_types=list_service_types(s) if view.bed.status == "devices_installed" else [],
            plan_rows=PLAN_ROWS,
            reasons=beds.WITHDRAWAL_REASONS,
            step_labels={"apply": "申请", **beds.ACTION_LABELS},
            status_labels=beds.STATUS_LABELS,
            service_names=desk.service_names(s),
            today=clock.today_in(s),
            may_settle=allows(current_actor().role, Permission.CARE_DECIDE),
        )


@bp.get("/care/beds/<int:care_bed_id>")
@guard(Permission.CARE_CASEWORK)
def bed(care_bed_id: int) -> Any:
    return _detail(care_bed_id)


def _day(name: str, what: str) -> date:
    raw = request.form.get(name, "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"请填写{what} (YYYY-MM-DD) / date required", code="invalid_date"
        ) from None


def _plan_items() -> list[dict[str, Any]]:
    items = []
    for i in range(PLAN_ROWS):
        code = request.form.get(f"service_{i}", "").strip()
        times = request.form.get(f"times_{i}", "").strip()
        if not code and not times:
            continue
        if not (times.isascii() and times.isdigit()) or len(times) > 3:
            raise ValidationFailed(
                "每月次数应为整数 / times per month is a number", code="invalid_service_plan"
            )
        items.append({"service_type_code": code, "times_per_month": int(times)})
    return items


def _take(s: Any, care_bed_id: int, action: str) -> None:
    actor = current_actor()
    form = request.form
    if action == "assess":
        beds.record_bed_assessment(s, actor=actor, care_bed_id=care_bed_id)
    elif action == "contract":
        provider_id = form.get("provider_id", "")
        if not provider_id.isdigit():
            raise ValidationFailed("请选择服务机构 / choose the provider", code="provider_required")
        provider = get_provider(s, provider_id=int(provider_id))
        beds.sign_contract(
            s,
            actor=actor,
            care_bed_id=care_bed_id,
            provider_id=provider.id,
            contract_no=form.get("contract_no", "")[:40],
            starts_on=_day("starts_on", "服务开始日期"),
            ends_on=_day("ends_on", "服务结束日期"),
        )
    elif action == "adapt_home":
        case_id = form.get("home_adaptation_id", "").strip()
        beds.complete_home_adaptation(
            s,
            actor=actor,
            care_bed_id=care_bed_id,
            home_adaptation_id=int(case_id) if case_id.isdigit() else None,
            waived_reason=form.get("waived_reason", "")[:200],
        )
    elif action == "install_devices":
        raw = form.get("devices", "")[:500].replace("、", "\n").replace(",", "\n")
        beds.install_devices(s, actor=actor, care_bed_id=care_bed_id, devices=raw.splitlines())
    elif action == "plan":
        beds.set_service_plan(s, actor=actor, care_bed_id=care_bed_id, items=_plan_items())
    elif action == "start_service":
        beds.start_service(s, actor=actor, care_bed_id=care_bed_id)
    elif action == "withdraw":
        beds.withdraw(s, actor=actor, care_bed_id=care_bed_id, reason=form.get("reason", ""))
    elif action == "open_orders":
        beds.open_month_orders_now(s, actor=actor, care_bed_id=care_bed_id)
    else:
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")


@bp.post("/care/beds/<int:care_bed_id>/<action>")
@guard(Permission.CARE_CASEWORK)
def step(care_bed_id: int, action: str) -> Any:
    def run() -> Any:
        with runtime().session() as s:
            bed = beds.get_care_bed(s, care_bed_id=care_bed_id)
            in_region(bed.region_code, target_type="care_bed", target_id=care_bed_id)
            _take(s, care_bed_id, action)
        return redirect(url_for("care_beds.bed", care_bed_id=care_bed_id))

    return act(run, lambda error: _detail(care_bed_id, error))


@bp.get("/care/beds/<int:care_bed_id>/contract.pdf")
@guard(Permission.CARE_CASEWORK)
def contract(care_bed_id: int) -> Any:
    with runtime().session() as s:
        bed = beds.get_care_bed(s, care_bed_id=care_bed_id)
        in_region(bed.region_code, target_type="care_bed", target_id=care_bed_id)
        data = desk.render_contract(s, actor=current_actor(), care_bed_id=care_bed_id)
        number = bed.contract_no
    return pdf(data, f"contract-{number}.pdf")


@bp.get("/care/beds/<int:care_bed_id>/assessment.pdf")
@guard(Permission.CARE_CASEWORK)
def assessment_pdf(care_bed_id: int) -> Any:
    """The GB/T 42195 report of the assessment the bed was admitted on (the grade threshold):
    printing it is an audited export of health data."""
    with runtime().session() as s:
        bed = beds.get_care_bed(s, care_bed_id=care_bed_id)
        in_region(bed.region_code, target_type="care_bed", target_id=care_bed_id)
        if bed.assessment_id is None:
            raise NotFound("该床位尚未登记能力评估 / no assessment recorded", code="no_assessment")
        assessment_id = bed.assessment_id
        data = assessment_report.render_report(
            s, actor=current_actor(), assessment_id=assessment_id
        )
    return pdf(data, f"assessment-{assessment_id}.pdf")


def _provider_arg(s: Any) -> Any:
    raw = request.args.get("provider") or request.form.get("provider") or ""
    if not raw.isdigit():
        return None
    return get_provider(s, provider_id=int(raw))


def _settlement_page(error: str | None = None, outcomes: Any = None) -> str:
    region, month = scope(), month_arg()
    with runtime().session() as s:
        providers = list_providers(s, region_code=region)
        provider = _provider_arg(s)
        rows = (
            desk.provider_month_page(
                s,
                provider_id=provider.id,
                month=month,
                region_code=region,
                page=page_arg(),
                size=PAGE_SIZE,
            )
            if provider
            else None
        )
        regions = region_options(s)
        return page(
            "care/beds_settlement.html",
            providers=providers,
            provider=provider,
            rows=rows,
            month=month,
            region=region,
            regions=regions,
            outcomes=outcomes,
            error=error,
            may_settle=allows(current_actor().role, Permission.CARE_DECIDE),
            # the pager's links keep the provider and month (a settlement's answer is a POST)
            args={
                "provider": provider.id if provider else "",
                "month": month.strftime("%Y-%m"),
                "region": region,
            },
        )


@bp.get("/care/beds/settlement")
@guard(Permission.CARE_CASEWORK)
def settlement() -> Any:
    return _settlement_page()


@bp.post("/care/beds/settlement")
@guard(Permission.CARE_DECIDE)
def settle() -> Any:
    region, month = scope(), month_arg()

    def run() -> Any:
        with runtime().session() as s:
            provider = _provider_arg(s)
            if provider is None:
                raise ValidationFailed(
                    "请选择服务机构 / choose the provider", code="provider_required"
                )
            outcomes = desk.settle_provider_month(
                s, actor=current_actor(), provider_id=provider.id, month=month, region_code=region
            )
        return _settlement_page(outcomes=outcomes)

    return act(run, lambda error: _settlement_page(error=error))


@bp.get("/care/beds/settlement.<fmt>")
@guard(Permission.CARE_DECIDE)
def export(fmt: str) -> Any:
    if fmt not in ("csv", "xlsx"):
        raise NotFound("不支持的格式 / unknown format")
    require_permission(Permission.CARE_DECIDE)
    region, month = scope(), month_arg()
    with runtime().session() as s:
        provider = _provider_arg(s)
        if provider is None:
            raise ValidationFailed("请选择服务机构 / choose the provider", code="provider_required")
        make = desk.export_csv if fmt == "csv" else desk.export_xlsx
        data = make(
            s, actor=current_actor(), provider_id=provider.id, month=month, region_code=region
        )
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return download(data, f"care-beds-{month:%Y-%m}-{provider.id}.{fmt}", mimetype)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
