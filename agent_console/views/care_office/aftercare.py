"""回访与投诉: orders after service. The elder or the family rates an order on the return-visit
call the agent records, or by the IVR's survey call; complaints are opened, handled and closed
with a reply; orders are closed. Ratings and complaints feed the provider evaluation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    act,
    in_region,
    page,
    page_arg,
    region_options,
    scope,
)
from agent_console.views.common import check_note, runtime
from platform_core.accounts.permissions import Permission, allows
from platform_core.errors import ValidationFailed
from platform_core.flows import order_complaints, order_surveys
from platform_core.orders import aftercare, return_visits
from platform_core.orders import service as orders
from platform_core.orders.models import RETURN_VISIT_LABELS, ReturnVisitResult
from platform_core.orders.states import OrderStatus

bp = Blueprint("care_after", __name__)
TABS = {"visits": "待回访评价", "complaints": "投诉", "closing": "待关闭"}
RATERS = ("老人本人", "家属")


@bp.get("/care/aftercare", endpoint="page")
@guard(Permission.AFTERCARE)
def aftercare_page() -> Any:
    region = scope()
    tab = request.args.get("tab", "visits")
    tab = tab if tab in TABS else "visits"
    status = request.args.get("status", "")
    with runtime().session() as s:
        if tab == "visits":
            rows: Any = aftercare.due_visits(
                s, region_code=region, settings=runtime().settings, page=page_arg()
            )
        elif tab == "closing":
            rows = aftercare.ready_to_close(s, region_code=region, page=page_arg())
        else:
            rows = aftercare.complaints(
                s,
                region_code=region,
                statuses=[status] if status in order_complaints.STATUS_LABELS else [],
                page=page_arg(),
            )
        regions = region_options(s)
    return page(
        "care/aftercare.html",
        tab=tab,
        tabs=TABS,
        rows=rows,
        region=region,
        regions=regions,
        args=request.args,
        complaint_status=order_complaints.STATUS_LABELS,
    )


def _order_page(order_id: int, error: str | None = None) -> str:
    with runtime().session() as s:
        view = aftercare.order_aftercare(s, order_id=order_id)
        in_region(view.order.region_code, target_type="service_order", target_id=order_id)
        role = current_actor().role
        status = view.order.status
        return page(
            "care/aftercare_order.html",
            view=view,
            order=view.order,
            error=error,
            may_visit=allows(role, Permission.DISPATCH_ORDERS)
            and status in (OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.COMPLAINT),
            may_survey=allows(role, Permission.DISPATCH_ORDERS) and status == OrderStatus.CONFIRMED,
            may_complain=allows(role, Permission.DISPATCH_ORDERS),
            may_handle=allows(role, Permission.HANDLE_COMPLAINTS),
            may_close="close" in orders.next_commands(s, order=view.order)
            and allows(role, Permission.HANDLE_COMPLAINTS),
            results={r.value: RETURN_VISIT_LABELS[r] for r in ReturnVisitResult},
            raters=RATERS,
            survey=return_visits.SURVEY,
            channels=order_complaints.CHANNELS,
            complaint_status=order_complaints.STATUS_LABELS,
            survey_status=order_surveys.STATUS_LABELS,
        )


@bp.get("/care/orders/<int:order_id>")
@guard(Permission.AFTERCARE)
def order(order_id: int) -> Any:
    return _order_page(order_id)


def _in_region(s: Any, order_id: int) -> None:
    current = orders.get_order(s, order_id=order_id)
    in_region(current.region_code, target_type="service_order", target_id=order_id)


def _back(order_id: int) -> Any:
    return redirect(url_for("care_after.order", order_id=order_id))


def _answers() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, (_q, kind) in return_visits.SURVEY.items():
        raw = request.form.get(f"q_{code}", "")
        if not raw:
            continue
        if kind == "yes_no":
            out[code] = raw == "yes"
        elif raw in ("1", "2", "3", "4", "5"):
            out[code] = int(raw)
    return out


@bp.post("/care/orders/<int:order_id>/return-visit")
@guard(Permission.DISPATCH_ORDERS)
def return_visit(order_id: int) -> Any:
    form = request.form

    def run() -> Any:
        result = form.get("result", "")
        raw = form.get("satisfaction", "")
        satisfaction = int(raw) if raw in ("1", "2", "3", "4", "5") else None
        rater = form.get("rated_by", "")
        note = check_note(form.get("note", ""))
        with runtime().session() as s:
            _in_region(s, order_id)
            current = orders.get_order(s, order_id=order_id)
            reached = result != ReturnVisitResult.UNREACHABLE
            if reached and satisfaction is None:
                raise ValidationFailed(
                    "请选择满意度 1-5 / satisfaction 1-5", code="satisfaction_required"
                )
            if reached and current.status == OrderStatus.CONFIRMED:
                # the elder (or the family) rates the order on this call
                orders.rate(
                    s,
                    actor=current_actor(),
                    order_id=order_id,
                    score=satisfaction or 0,
                    comment=note,
                    rated_by=rater if rater in RATERS else "老人本人",
                )
            return_visits.record_visit(
                s,
                actor=current_actor(),
                order_id=order_id,
                result=result,
                satisfaction=satisfaction if reached else None,
                answers=_answers() if reached else {},
                note=note,
            )
        return _back(order_id)

    return act(run, lambda error: _order_page(order_id, error))


@bp.post("/care/orders/<int:order_id>/survey-call")
@guard(Permission.DISPATCH_ORDERS)
def survey_call(order_id: int) -> Any:
    def run() -> Any:
        with runtime().session() as s:
            _in_region(s, order_id)
            order_surveys.request_survey_call(s, actor=current_actor(), order_id=order_id)
        return _back(order_id)

    return act(run, lambda error: _order_page(order_id, error))


@bp.post("/care/orders/<int:order_id>/complaints")
@guard(Permission.DISPATCH_ORDERS)
def open_complaint(order_id: int) -> Any:
    form = request.form

    def run() -> Any:
        with runtime().session() as s:
            _in_region(s, order_id)
            order_complaints.open_complaint(
                s,
                actor=current_actor(),
                order_id=order_id,
                text=form.get("text", ""),
                channel=form.get("channel", "phone"),
                complainant=form.get("complainant", "本人")[:20],
            )
        return _back(order_id)

    return act(run, lambda error: _order_page(order_id, error))


@bp.post("/care/complaints/<int:complaint_id>/<action>")
@guard(Permission.HANDLE_COMPLAINTS)
def complaint_step(complaint_id: int, action: str) -> Any:
    if action not in ("handle", "close"):
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    with runtime().session() as s:
        complaint = order_complaints.get_complaint(s, complaint_id=complaint_id)
        in_region(complaint.region_code, target_type="complaint", target_id=complaint_id)
        order_id = complaint.order_id
    form = request.form

    def run() -> Any:
        with runtime().session() as s:
            if action == "handle":
                order_complaints.handle_complaint(
                    s, actor=current_actor(), complaint_id=complaint_id, note=form.get("note", "")
                )
            else:
                if form.get("upheld") not in ("yes", "no"):
                    raise ValidationFailed(
                        "请选择投诉是否属实 / upheld or not", code="upheld_required"
                    )
                order_complaints.close_complaint(
                    s,
                    actor=current_actor(),
                    complaint_id=complaint_id,
                    reply=form.get("reply", ""),
                    upheld=form.get("upheld") == "yes",
                )
        return _back(order_id)

    return act(run, lambda error: _order_page(order_id, error))


@bp.post("/care/orders/<int:order_id>/close")
@guard(Permission.HANDLE_COMPLAINTS)
def close(order_id: int) -> Any:
    def run() -> Any:
        with runtime().session() as s:
            _in_region(s, order_id)
            orders.close(
                s,
                actor=current_actor(),
                order_id=order_id,
                reason=check_note(request.form.get("reason", "")),
            )
        return _back(order_id)

    return act(run, lambda error: _order_page(order_id, error))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
