"""A provider's own records (服务商信息查询): orders of a month, settlements, evaluation reports
and the credit record, to read on the page, download (watermarked, audited) and print."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request

from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.evaluation.report import render_pdf
from platform_core.flows import provider_records
from platform_core.settlement import service as settlement

bp = Blueprint("provider_records", __name__)
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _month() -> str:
    raw = request.args.get("month", "")[:7]
    return (
        raw if _MONTH.match(raw) else clock.local_now(runtime().settings.timezone).strftime("%Y-%m")
    )


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/provider/records")
@guard(Permission.PROVIDER_ADMIN)
def records_page() -> Any:
    with runtime().session() as s:
        data = provider_records.records(s, actor=current_actor(), month=_month())
    return render_template("provider/records.html", r=data)


@bp.get("/provider/records/orders.csv")
@guard(Permission.PROVIDER_ADMIN)
def orders_csv() -> Any:
    month = _month()
    with runtime().session() as s:
        data = provider_records.orders_csv(s, actor=current_actor(), month=month)
    return _download(data, "text/csv; charset=utf-8", f"orders-{month}.csv")


@bp.get("/provider/records/credit.csv")
@guard(Permission.PROVIDER_ADMIN)
def credit_csv() -> Any:
    with runtime().session() as s:
        data = provider_records.credit_csv(s, actor=current_actor())
    return _download(data, "text/csv; charset=utf-8", "credit.csv")


@bp.get("/provider/records/evaluations/<int:evaluation_id>.pdf")
@guard(Permission.PROVIDER_ADMIN)
def evaluation_pdf(evaluation_id: int) -> Any:
    actor = current_actor()
    with runtime().session() as s:
        provider_records.own_evaluation(s, actor=actor, evaluation_id=evaluation_id)
        data = render_pdf(s, actor=actor, evaluation_id=evaluation_id)
    return _download(data, "application/pdf", f"evaluation-{evaluation_id}.pdf")


@bp.get("/provider/records/settlements/<int:settlement_id>.csv")
@guard(Permission.PROVIDER_ADMIN)
def settlement_csv(settlement_id: int) -> Any:
    with runtime().session() as s:
        data = settlement.export_csv(s, actor=current_actor(), settlement_id=settlement_id)
    return _download(data, "text/csv; charset=utf-8", f"settlement-{settlement_id}.csv")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
