"""The hotline's side of the order's life after the call, as JSON for the console's screens:
why dispatch chose a provider and the override, the return-visit list, SLA breaches, provider
evaluations and settlements with their PDF, Excel and CSV exports, and the SMS outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import BaseModel, Field

from agent_console.security import current_actor, guard, require_region
from agent_console.views.common import body, check_note, runtime
from platform_core.accounts.permissions import Permission
from platform_core.dispatch import service as dispatch
from platform_core.errors import ValidationFailed
from platform_core.evaluation import report as evaluation_report
from platform_core.evaluation import service as evaluation
from platform_core.notifications import service as sms
from platform_core.orders import return_visits
from platform_core.orders import service as orders
from platform_core.providers import service as providers
from platform_core.settlement import service as settlement
from platform_core.sla import service as sla

bp = Blueprint("orders_desk", __name__)


class OverrideIn(BaseModel):
    provider_id: int
    reason: str = Field(min_length=1, max_length=500)


class VisitIn(BaseModel):
    result: str
    satisfaction: int | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    note: str = ""
    channel: str = "phone"


class EvaluateIn(BaseModel):
    month: str | None = None
    provider_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


class MonthIn(BaseModel):
    month: str


def _order_in_region(order_id: int) -> Any:
    with runtime().session() as s:
        order = orders.get_order(s, order_id=order_id)
    require_region(order.region_code, target_type="service_order", target_id=order_id)
    return order


def _provider_in_region(provider_id: int) -> None:
    with runtime().session() as s:
        providers.get_provider(s, provider_id=provider_id, within=current_actor().region_code)


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- dispatch


@bp.get("/api/orders/<int:order_id>/dispatch")
@guard(Permission.DISPATCH_ORDERS)
def dispatch_view(order_id: int) -> Any:
    """Each dispatch of the order with the ranking kept at the time, and the ranking now."""
    _order_in_region(order_id)
    with runtime().session() as s:
        ranking = dispatch.rank_providers(s, actor=current_actor(), order_id=order_id)
        return jsonify(
            {
                "history": dispatch.dispatch_history(s, order_id=order_id),
                "ranking": [c.explain(i) for i, c in enumerate(ranking.ranked[:10], 1)],
                "excluded": [e.explain() for e in ranking.excluded],
            }
        )


@bp.post("/api/orders/<int:order_id>/dispatch")
@guard(Permission.DISPATCH_ORDERS)
def override(order_id: int) -> Any:
    data = body(OverrideIn)
    _order_in_region(order_id)
    with runtime().session() as s:
        order = dispatch.override_dispatch(
            s,
            actor=current_actor(),
            order_id=order_id,
            provider_id=data.provider_id,
            reason=check_note(data.reason),
        )
        return jsonify({"id": order.id, "status": order.status, "provider_id": order.provider_id})


# ---------------------------------------------------------------- return visits, SLA


@bp.get("/api/return-visits/due")
@guard(Permission.DISPATCH_ORDERS)
def visits_due() -> Any:
    with runtime().session() as s:
        return jsonify(
            {
                "due": return_visits.list_due(s, region_code=current_actor().region_code),
                "survey": {k: q for k, (q, _) in return_visits.SURVEY.items()},
            }
        )


@bp.post("/api/orders/<int:order_id>/return-visits")
@guard(Permission.DISPATCH_ORDERS)
def record_visit(order_id: int) -> Any:
    data = body(VisitIn)
    _order_in_region(order_id)
    with runtime().session() as s:
        visit = return_visits.record_visit(
            s,
            actor=current_actor(),
            order_id=order_id,
            result=data.result,
            satisfaction=data.satisfaction,
            answers=data.answers,
            note=check_note(data.note),
            channel=data.channel,
        )
        order = orders.get_order(s, order_id=order_id)
        return jsonify({"attempt_no": visit.attempt_no, "status": order.status}), 201


@bp.get("/api/sla/breaches")
@guard(Permission.VIEW_WALLBOARD)
def breaches() -> Any:
    with runtime().session() as s:
        rows = sla.list_breaches(s, region_code=current_actor().region_code, limit=200)
        return jsonify(
            {
                "breaches": [
                    {
                        "order_id": b.order_id,
                        "kind": b.kind,
                        "provider_id": b.provider_id,
                        "due_at": b.due_at.isoformat(),
                        "detected_at": b.detected_at.isoformat(),
                        "status_at_breach": b.status_at_breach,
                        "escalated": b.escalated,
                        "redispatched": b.redispatched,
                        "late_by_minutes": b.late_by_minutes,
                    }
                    for b in rows
                ]
            }
        )


# ---------------------------------------------------------------- evaluation


@bp.get("/api/evaluations")
@guard(Permission.MANAGE_PROVIDERS)
def evaluations() -> Any:
    with runtime().session() as s:
        rows = evaluation.list_evaluations(
            s,
            region_code=current_actor().region_code,
            provider_id=request.args.get("provider_id", type=int),
            period_label=request.args.get("period"),
        )
        return jsonify({"evaluations": [evaluation.summary(s, r) for r in rows]})


@bp.post("/api/evaluations")
@guard(Permission.MANAGE_PROVIDERS)
def evaluate() -> Any:
    """A month for every provider of the user's region, or one provider over a period."""
    data = body(EvaluateIn)
    actor = current_actor()
    with runtime().session() as s:
        if data.provider_id is not None and data.start is not None and data.end is not None:
            if data.start.tzinfo is None or data.end.tzinfo is None:
                raise ValidationFailed(
                    "时间必须带时区 / times need a time zone", code="invalid_period"
                )
            rows = [
                evaluation.evaluate_provider(
                    s,
                    actor=actor,
                    provider_id=data.provider_id,
                    start=data.start,
                    end=data.end,
                    label=f"{data.start:%Y-%m-%d}~{data.end:%Y-%m-%d}",
                )
            ]
        elif data.month:
            rows = evaluation.evaluate_month(s, actor=actor, month=data.month)
        else:
            raise ValidationFailed(
                "请给出月份, 或服务商和期间 / a month, or a provider and a period",
                code="invalid_period",
            )
        return jsonify({"evaluations": [evaluation.summary(s, r) for r in rows]}), 201


@bp.get("/evaluations/<int:evaluation_id>.pdf")
@guard(Permission.MANAGE_PROVIDERS)
def evaluation_pdf(evaluation_id: int) -> Any:
    with runtime().session() as s:
        data = evaluation_report.render_pdf(s, actor=current_actor(), evaluation_id=evaluation_id)
    return _download(data, "application/pdf", f"evaluation-{evaluation_id}.pdf")


@bp.get("/evaluations/export.xlsx")
@guard(Permission.MANAGE_PROVIDERS)
def evaluations_xlsx() -> Any:
    period = request.args.get("period")
    with runtime().session() as s:
        ids = [
            r.id
            for r in evaluation.list_evaluations(
                s, region_code=current_actor().region_code, period_label=period
            )
        ]
        data = evaluation_report.render_xlsx(s, actor=current_actor(), evaluation_ids=ids)
    return _download(
        data,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"evaluations-{period or 'all'}.xlsx",
    )


# ---------------------------------------------------------------- settlement


@bp.get("/api/providers/<int:provider_id>/settlements")
@guard(Permission.MANAGE_PROVIDERS)
def settlements(provider_id: int) -> Any:
    _provider_in_region(provider_id)
    month = request.args.get("month")
    with runtime().session() as s:
        out: dict[str, Any] = {
            "settlements": [
                settlement.summary(r)
                for r in settlement.list_settlements(
                    s, region_code=current_actor().region_code, provider_id=provider_id
                )
            ]
        }
        if month:
            p = settlement.preview(s, actor=current_actor(), provider_id=provider_id, month=month)
            out["preview"] = {
                "month": month,
                "settleable": [o.order_no for o in p.settleable],
                "pending": [o.order_no for o in p.pending],
                "held": [o.order_no for o in p.held],
                "totals": {k: str(v) for k, v in p.totals.items()},
            }
        return jsonify(out)


@bp.post("/api/providers/<int:provider_id>/settlements")
@guard(Permission.MANAGE_PROVIDERS)
def settle(provider_id: int) -> Any:
    data = body(MonthIn)
    _provider_in_region(provider_id)
    with runtime().session() as s:
        row = settlement.settle_month(
            s, actor=current_actor(), provider_id=provider_id, month=data.month
        )
        return jsonify(settlement.summary(row)), 201


@bp.get("/settlements/<int:settlement_id>.<fmt>")
@guard(Permission.MANAGE_PROVIDERS)
def settlement_export(settlement_id: int, fmt: str) -> Any:
    with runtime().session() as s:
        if fmt == "csv":
            data = settlement.export_csv(s, actor=current_actor(), settlement_id=settlement_id)
            return _download(data, "text/csv; charset=utf-8", f"settlement-{settlement_id}.csv")
        if fmt == "xlsx":
            data = settlement.export_xlsx(s, actor=current_actor(), settlement_id=settlement_id)
            return _download(
                data,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                f"settlement-{settlement_id}.xlsx",
            )
    raise ValidationFailed("导出格式只能是 csv 或 xlsx / csv or xlsx", code="invalid_format")


# ---------------------------------------------------------------- SMS outbox


@bp.get("/api/sms/outbox")
@guard(Permission.MANAGE_PROVIDERS)
def outbox() -> Any:
    with runtime().session() as s:
        rows = sms.list_messages(
            s, region_code=current_actor().region_code, status=request.args.get("status")
        )
        return jsonify({"messages": [sms.summary(m) for m in rows]})


# Events that need a supervisor's eye: an SLA missed, an order nobody can take, an SMS that
# never arrived (someone has to phone instead).
SUPERVISOR_ALERTS = ("SlaBreached", "DispatchStalled", "SmsFailed", "DispatchOverridden")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    realtime = app.extensions.get("hotline_realtime")
    if realtime is None:
        return
    for name in SUPERVISOR_ALERTS:
        realtime.on_domain_event(name, realtime.tell_supervisors)
