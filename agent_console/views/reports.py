"""KPI reports by hour, day, queue or agent, with charts and export to Excel and CSV.

The numbers come from the same ``kpi_report`` as ``hotline report kpi``: the console only
formats them.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, render_template, request

from agent_console import i18n
from agent_console.security import current_actor, guard
from agent_console.views.common import queue_name, requested_days, runtime
from platform_core.accounts.permissions import Permission
from platform_core.alarms import kpi as alarm_kpi
from platform_core.audit import service as audit
from platform_core.calls.kpi import AGENT_COLUMNS, CALL_COLUMNS, kpi_report
from platform_core.chats import kpi as chat_kpi
from platform_core.errors import ValidationFailed

bp = Blueprint("reports", __name__)
GROUPINGS = ("hour", "day", "queue", "agent")
RATES = frozenset(
    {"answer_rate", "answer_rate_excl_short", "service_level", "abandon_rate", "occupancy"}
)
SECONDS = frozenset({"asa_s", "aht_s", "talk_s", "wrapup_s"})
MAX_DAYS = 366


def _params() -> tuple[datetime, datetime, str | None, str | None, date, date]:
    days = requested_days(max_days=MAX_DAYS)
    by = request.args.get("by") or None
    if by is not None and by not in GROUPINGS:
        raise ValidationFailed(
            "分组只能是按小时、按天、按队列或按坐席 / group by hour, day, queue or agent",
            code="invalid_grouping",
        )
    queue = (request.args.get("queue") or "").strip()[:64] or None
    return days.start, days.end, queue, by, days.start_day, days.end_day


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _kpi_figures(
    s: Any, *, start: datetime, end: datetime, queue: str | None, by: str | None, region_code: str
) -> dict[str, Any]:
    """The same report as ``hotline report kpi``, as a dict; the short-abandon rate's key is
    normalised (``answer_rate_excl_short``) with its threshold beside it."""
    data: dict[str, Any] = kpi_report(
        s, start=start, end=end, queue=queue, by=by, region_code=region_code
    ).as_dict()

    def norm(figures: dict[str, Any]) -> dict[str, Any]:
        short = "answer_rate_excl_abandons_under_"
        return {
            ("answer_rate_excl_short" if k.startswith(short) else k): v for k, v in figures.items()
        }

    data["total"] = norm(data["total"])
    data["rows"] = [norm(r) for r in data["rows"]]
    data["short_abandon_s"] = runtime().settings.short_abandon_s
    return data


def report_data() -> dict[str, Any]:
    start, end, queue, by, start_day, end_day = _params()
    actor = current_actor()
    with runtime().session() as s:
        report = _plain(
            _kpi_figures(s, start=start, end=end, queue=queue, by=by, region_code=actor.region_code)
        )
        alarms = alarm_kpi.kpi(s, start=start, end=end, region_code=actor.region_code)
        online = chat_kpi.kpi(s, start=start, end=end, region_code=actor.region_code)
    if isinstance(report, list):
        report = {"rows": report}
    report.setdefault("rows", [])
    if by == "queue":
        for row in report["rows"]:
            row["label"] = queue_name(row["key"])
    return {
        "start": start_day.isoformat(),
        "end": end_day.isoformat(),
        "by": by,
        "queue": queue,
        "queue_label": queue_name(queue) if queue else None,
        "columns": list(AGENT_COLUMNS if by == "agent" else CALL_COLUMNS),
        "report": report,
        "alarm_kpi": alarms,
        "chat_kpi": online,
    }


def alarm_rows(kpi: dict[str, Any]) -> list[list[Any]]:
    """The alarm KPIs as (measure, value, target) rows for the report's table and exports."""
    lang = g.get("lang", "zh")

    def tr(key: str, **values: Any) -> str:
        return i18n.translate(lang, key, **values)

    rows: list[list[Any]] = [[tr("akpi.counted"), kpi["counted"], None]]
    for w in kpi["answered_within"]:
        rows.append([tr("akpi.within", s=w["seconds"]), w["share"], w["target"]])
    for key, label in (
        ("time_to_answer", "akpi.answer"),
        ("time_to_first_action", "akpi.first_action"),
        ("time_to_on_site", "akpi.on_site"),
    ):
        d = kpi[key]
        rows.append([f"{tr(label)} ({tr('common.seconds')})", d["median_s"], None])
        rows.append([f"{tr(label)} {tr('akpi.p90')} ({tr('common.seconds')})", d["p90_s"], None])
    return rows


def chat_rows(kpi: dict[str, Any]) -> list[list[Any]]:
    """The online channel's KPIs as (measure, value, target) rows: its own channel, never in
    the voice answer rate."""
    lang = g.get("lang", "zh")

    def tr(key: str, **values: Any) -> str:
        return i18n.translate(lang, key, **values)

    return [
        [tr("ckpi.offered"), kpi["offered"], None],
        [tr("ckpi.answered"), kpi["answered"], None],
        [tr("ckpi.within", seconds=kpi["target_s"]), kpi["within_target_rate"], None],
        [tr("ckpi.abandoned"), kpi["abandoned"], None],
        [tr("ckpi.asa"), kpi["time_to_answer"]["mean_s"], None],
    ]


@bp.get("/reports")
@guard(Permission.VIEW_REPORTS)
def page() -> Any:
    queues = [q.strip() for q in runtime().settings.agent_queues.split(",") if q.strip()]
    return render_template(
        "reports.html",
        groupings=GROUPINGS,
        queues=[(q, queue_name(q)) for q in queues],
    )


@bp.get("/api/reports/kpi")
@guard(Permission.VIEW_REPORTS)
def kpi() -> Any:
    return jsonify(report_data())


def _table(data: dict[str, Any]) -> tuple[list[str], list[str], list[list[Any]]]:
    """Header, the column keys and the rows (the total last) as the page shows them."""
    report = data["report"]
    lang = g.get("lang", "zh")
    rows = [dict(r) for r in report.get("rows") or []]
    total = report.get("total")
    if total:
        rows.append({**total, "label": i18n.translate(lang, "report.total")})
    keys = ["key", *data["columns"]]
    short = report.get("short_abandon_s", "")
    by = data.get("by") or "none"
    header = [i18n.translate(lang, f"kpi.key.{by}")] + [
        i18n.translate(lang, f"kpi.{k}", s=short) for k in keys[1:]
    ]
    return (
        header,
        keys,
        [[r.get("label") or r.get("key") if k == "key" else r.get(k) for k in keys] for r in rows],
    )


def _audit_export(kind: str, data: dict[str, Any]) -> None:
    with runtime().session() as s:
        audit.record(
            s,
            actor=current_actor(),
            action="report.export",
            target_type="kpi_report",
            target_id=kind,
            detail={k: data[k] for k in ("start", "end", "by", "queue")},
            source_ip=request.remote_addr,
        )


@bp.get("/reports/export.csv")
@guard(Permission.EXPORT_REPORTS)
def export_csv() -> Any:
    data = report_data()
    header, _keys, rows = _table(data)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    writer.writerow([])
    lang = g.get("lang", "zh")
    writer.writerow([i18n.translate(lang, k) for k in ("akpi.title", "akpi.value", "akpi.target")])
    writer.writerows(alarm_rows(data["alarm_kpi"]))
    writer.writerow([])
    writer.writerow([i18n.translate(lang, k) for k in ("ckpi.title", "akpi.value", "akpi.target")])
    writer.writerows(chat_rows(data["chat_kpi"]))
    _audit_export("csv", data)
    # a BOM so that Excel opens the Chinese headers as UTF-8
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="kpi_{data["start"]}_{data["end"]}.csv"'
        },
    )


@bp.get("/reports/export.xlsx")
@guard(Permission.EXPORT_REPORTS)
def export_xlsx() -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    data = report_data()
    header, keys, rows = _table(data)
    lang = g.get("lang", "zh")
    wb = Workbook()
    ws = wb.active
    ws.title = i18n.translate(lang, "report.sheet")
    period = [i18n.translate(lang, "report.period"), _day(data["start"]), _day(data["end"])]
    if data.get("by"):
        period.append(i18n.translate(lang, f"report.by.{data['by']}"))
    if data.get("queue_label"):
        period.append(data["queue_label"])
    ws.append(period)
    for cell in ws[1][1:3]:
        cell.number_format = "yyyy-mm-dd"
    ws.append(header)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    by = data.get("by")
    for i, row in enumerate(rows):
        is_total = i == len(rows) - 1 and bool(data["report"].get("total"))
        ws.append([_xlsx_key(row[0], by, is_total), *row[1:]])
        cells = ws[ws.max_row]
        _format_key(cells[0], by, is_total)
        for key, cell in zip(keys[1:], cells[1:], strict=True):
            if key in RATES:
                cell.number_format = "0.0%"
            elif key in SECONDS:
                cell.number_format = "0.0"
    alarms = wb.create_sheet(i18n.translate(lang, "akpi.title"))
    alarms.append([i18n.translate(lang, "report.period"), _day(data["start"]), _day(data["end"])])
    for cell in alarms[1][1:3]:
        cell.number_format = "yyyy-mm-dd"
    alarms.append([i18n.translate(lang, k) for k in ("akpi.metric", "akpi.value", "akpi.target")])
    for cell in alarms[2]:
        cell.font = Font(bold=True)
    for row in alarm_rows(data["alarm_kpi"]):
        alarms.append(row)
        _, value, target = alarms[alarms.max_row]
        if target.value is not None:  # a share against its target; the other rows count or time
            value.number_format = target.number_format = "0.0%"
        elif isinstance(value.value, float):
            value.number_format = "0.0"
    online = wb.create_sheet(i18n.translate(lang, "ckpi.title"))
    online.append([i18n.translate(lang, "report.period"), _day(data["start"]), _day(data["end"])])
    online.append([i18n.translate(lang, k) for k in ("akpi.metric", "akpi.value", "akpi.target")])
    for n, row in enumerate(chat_rows(data["chat_kpi"])):
        online.append(row)
        if n == 2 and row[1] is not None:  # the share answered within the target
            online[online.max_row][1].number_format = "0.0%"
    out = io.BytesIO()
    wb.save(out)
    _audit_export("xlsx", data)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="kpi_{data["start"]}_{data["end"]}.xlsx"'
        },
    )


def _day(iso: str) -> date:
    return date.fromisoformat(iso)


def _xlsx_key(value: Any, by: str | None, is_total: bool) -> Any:
    """A row by day is a date, by hour a date and time; the others are names."""
    if is_total or by not in ("day", "hour"):
        return value
    return datetime.strptime(value, "%Y-%m-%d %H:%M") if by == "hour" else _day(value)


def _format_key(cell: Any, by: str | None, is_total: bool) -> None:
    from openpyxl.styles import Font

    if is_total:
        cell.font = Font(bold=True)
    elif by == "day":
        cell.number_format = "yyyy-mm-dd"
    elif by == "hour":
        cell.number_format = "yyyy-mm-dd hh:mm"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
