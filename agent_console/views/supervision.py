"""监管大数据: the bureau's dashboards, the 大屏 and the staffing plan, read from the warehouse.

Pages and APIs need the report permission (supervisors, officers, administrators); a user sees
their own region and below (an officer of one 盟市 only theirs). Exports to Excel are audited.
On the embedded default (chDB) this process also runs the warehouse's sync.
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, render_template, request
from openpyxl import Workbook
from openpyxl.styles import Font

from agent_console import i18n
from agent_console.security import audit_refusal, current_actor, guard
from agent_console.views.common import requested_days, runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.audit import service as audit
from platform_core.errors import OutOfRegion, ValidationFailed
from platform_core.flows import staffing, supervision
from platform_core.runtime import Runtime
from platform_core.warehouse import dashboards
from platform_core.warehouse.engine import Warehouse, WarehouseError, open_warehouse
from platform_core.warehouse.schema import ensure_schema
from platform_core.warehouse.sources import source_for
from platform_core.warehouse.sync import WarehouseSync

bp = Blueprint("supervision", __name__)
log = logging.getLogger(__name__)
MAX_DAYS = 800
PLAN_DAYS = 7


class WarehouseHolder:
    """The process's warehouse, opened at first use (and its sync, on the embedded default)."""

    def __init__(self, rt: Runtime) -> None:
        self._runtime = rt
        self._lock = threading.Lock()
        self._wh: Warehouse | None = None
        self.sync: WarehouseSync | None = None

    def get(self) -> Warehouse:
        with self._lock:
            if self._wh is None:
                settings = self._runtime.settings
                self._wh = open_warehouse(settings)
                # the figures read empty tables until the first pass, rather than failing
                ensure_schema(self._wh)
                if not settings.clickhouse_url and settings.warehouse_sync_embedded:
                    source = source_for(settings, self._runtime.engine)
                    self.sync = WarehouseSync(self._wh, source, settings).start()
            return self._wh

    def close(self) -> None:
        with self._lock:
            if self.sync is not None:
                self.sync.stop()
            if self._wh is not None:
                self._wh.close()
            self._wh = self.sync = None


def warehouse() -> Warehouse:
    holder: WarehouseHolder = current_app.extensions["hotline_warehouse"]
    return holder.get()


def _period() -> tuple[datetime, datetime, str]:
    days = requested_days(max_days=MAX_DAYS)
    grain = request.args.get("grain") or "day"
    if grain not in dashboards.GRAINS:
        raise ValidationFailed(
            "粒度只能是小时、天或月 / grain must be hour, day or month", code="invalid_grain"
        )
    return days.start, days.end, grain


def _region_arg() -> str | None:
    raw = (request.args.get("region") or "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise ValidationFailed("区划代码无效 / invalid region code", code="invalid_region_code")
    return raw or None


def _figure(name: str) -> dict[str, Any]:
    start, end, grain = _period()
    region = _region_arg()
    actor = current_actor()
    try:
        with runtime().session() as s:
            return supervision.figure(
                s,
                warehouse(),
                name=name,
                scope_code=actor.region_code,
                region_code=region,
                start=start,
                end=end,
                grain=grain,
            )
    except OutOfRegion:
        audit_refusal(
            "http.out_of_region", target_type="region", target_id=region, reason="drill-down"
        )
        raise


@bp.get("/supervision")
@guard(Permission.VIEW_REPORTS)
def page() -> Any:
    return render_template("supervision/dashboard.html", figures=dashboards.FIGURES)


@bp.get("/supervision/screen")
@guard(Permission.VIEW_REPORTS)
def screen() -> Any:
    return render_template("supervision/screen.html")


@bp.get("/supervision/staffing")
@guard(Permission.VIEW_REPORTS)
def staffing_page() -> Any:
    return render_template("supervision/staffing.html")


@bp.get("/api/supervision/figures/<name>")
@guard(Permission.VIEW_REPORTS)
def figure(name: str) -> Any:
    return jsonify(_figure(name))


@bp.get("/api/supervision/screen")
@guard(Permission.VIEW_REPORTS)
def screen_data() -> Any:
    settings = runtime().settings
    today = clock.today(settings.timezone)
    day_start, day_end = clock.day_bounds(today, settings.timezone)
    month_start = clock.start_of_day(today.replace(day=1), settings.timezone)
    region = _region_arg()
    actor = current_actor()
    try:
        with runtime().session() as s:
            data = supervision.wall(
                s,
                warehouse(),
                scope_code=actor.region_code,
                region_code=region,
                day_start=day_start,
                day_end=day_end,
                month_start=month_start,
            )
    except OutOfRegion:
        audit_refusal("http.out_of_region", target_type="region", target_id=region, reason="screen")
        raise
    return jsonify({"day": today.isoformat(), **data})


@bp.get("/api/supervision/staffing")
@guard(Permission.VIEW_REPORTS)
def staffing_data() -> Any:
    try:
        days = min(PLAN_DAYS, max(1, int(request.args.get("days") or PLAN_DAYS)))
    except ValueError as exc:
        raise ValidationFailed("天数无效 / invalid number of days", code="invalid_days") from exc
    region = _staffing_region()
    with runtime().session() as s:
        plan = staffing.plan(
            s, warehouse(), start=clock.now(), intervals=days * 48, region_code=region
        )
        plan["region_name"] = supervision.region_names(s, {region}).get(region, region)
    return jsonify(plan)


@bp.get("/api/supervision/staffing/now")
@guard(Permission.VIEW_WALLBOARD)
def staffing_now() -> Any:
    region = _staffing_region()
    with runtime().session() as s:
        return jsonify(staffing.now_interval(s, warehouse(), region_code=region))


def _staffing_region() -> str:
    """The region whose calls and agents the plan is for: the one asked for, within the
    user's (refused and audited outside it), else the user's own."""
    region = _region_arg()
    try:
        return supervision.resolve_region(region, current_actor().region_code)
    except OutOfRegion:
        audit_refusal(
            "http.out_of_region", target_type="region", target_id=region, reason="staffing"
        )
        raise


# -- export ---------------------------------------------------------------------------------------

# Columns of each figure's sheets, in order (the figure's rows carry more than a sheet shows).
COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": (
        "offered",
        "answered",
        "abandoned",
        "timeout",
        "answer_rate",
        "service_level",
        "abandon_rate",
        "asa_s",
    ),
    "alarms": ("raised", "counted", "waiting", "share_60", "share_180"),
    "orders": ("opened", "completed", "cancelled", "breached", "breach_rate", "complaints"),
    "subsidies": ("orders", "subsidy", "self_pay"),
    "budgets": ("programme_name", "budget", "spent", "committed", "used_share", "warning"),
    "providers": (
        "name",
        "grade",
        "orders",
        "quality",
        "rating",
        "satisfaction",
        "complaints",
        "complaint_rate",
        "on_time_rate",
    ),
    "coverage": (
        "elders",
        "assessed",
        "assessed_rate",
        "with_device",
        "with_device_rate",
        "served",
        "served_rate",
        "care_bed",
        "care_bed_rate",
    ),
    "devices": ("devices_beating", "heartbeats"),
}
RATES = frozenset(
    c
    for cols in COLUMNS.values()
    for c in cols
    if c.endswith(("_rate", "level")) or c.startswith("share_")
)


@bp.get("/supervision/export.xlsx")
@guard(Permission.EXPORT_REPORTS)
def export_xlsx() -> Any:
    name = request.args.get("figure") or "calls"
    data = _figure(name)
    lang = g.get("lang", "zh")

    def tr(key: str) -> str:
        return i18n.translate(lang, key)

    wb = Workbook()
    first = wb.active
    wb.remove(first)
    sheets = [
        ("series", "sv.sheet.series", "sv.col.period"),
        ("regions", "sv.sheet.regions", "sv.col.region"),
        ("ranking", "sv.sheet.ranking", "sv.col.rank"),
        ("by_programme", "sv.sheet.programme", "sv.col.programme"),
        ("by_status", "sv.sheet.status", "sv.col.status"),
        ("budgets", "sv.sheet.budgets", "sv.col.region"),
        ("total", "sv.sheet.total", "sv.col.total"),
    ]
    for part, title, key_label in sheets:
        rows = data.get(part)
        if not rows:
            continue
        ws = wb.create_sheet(tr(title))
        ws.append(
            [tr(f"sv.figure.{name}"), data["region"]["name"], data["start"][:10], data["end"][:10]]
        )
        columns = COLUMNS["budgets"] if part == "budgets" else COLUMNS.get(name, ())
        cols = [c for c in columns if any(c in r for r in rows)]
        ws.append([tr(key_label), *(tr(f"sv.col.{c}") for c in cols)])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for i, r in enumerate(rows, start=1):
            label = i if part == "ranking" else r.get("name") or r.get("key")
            if part == "total":
                label = tr("sv.col.total")
            ws.append([label, *(r.get(c) for c in cols)])
            # the row's own cells (the title row may be wider than a figure of few columns)
            for col, c in enumerate(cols, start=2):
                cell = ws.cell(row=ws.max_row, column=col)
                if c in RATES and isinstance(cell.value, float):
                    cell.number_format = "0.0%"
    if not wb.sheetnames:
        # nothing in the period for this region: the workbook says so rather than failing
        ws = wb.create_sheet(tr("sv.sheet.total"))
        ws.append(
            [tr(f"sv.figure.{name}"), data["region"]["name"], data["start"][:10], data["end"][:10]]
        )
        ws.append([tr("sv.export.empty")])
    out = io.BytesIO()
    wb.save(out)
    with runtime().session() as s:
        audit.record(
            s,
            actor=current_actor(),
            action="report.export",
            target_type="supervision",
            target_id=name,
            detail={"region": data["region"]["code"], "start": data["start"], "end": data["end"]},
            source_ip=request.remote_addr,
        )
    filename = f"supervision_{name}_{data['region']['code']}_{data['start'][:10]}.xlsx"
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.errorhandler(WarehouseError)
def warehouse_unavailable(err: WarehouseError) -> Any:
    log.warning("数据仓库查询失败 / warehouse query failed: %s", str(err)[:300])
    return (
        jsonify(
            {
                "code": "warehouse_unavailable",
                "message": "数据仓库暂不可用, 请稍后再试 / the warehouse is unavailable, try again shortly",
            }
        ),
        503,
    )


def init_app(app: Flask) -> None:
    app.extensions["hotline_warehouse"] = WarehouseHolder(app.extensions["hotline_runtime"])
    app.register_blueprint(bp)
