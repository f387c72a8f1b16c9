"""``hotline report kpi``: the hotline KPIs of DOMAIN.md section 8 for a period."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import click

from platform_core.calls.kpi import AGENT_COLUMNS, CALL_COLUMNS, GROUPINGS, kpi_report
from platform_core.calls.queries import day_bounds
from platform_core.calls.queues import queue_label
from platform_core.runtime import build_runtime, install_runtime
from platform_core.settings import load_settings


@click.group()
def report() -> None:
    """统计报表 / reports."""


@report.command()
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="起始日期 (含) / first day",
)
@click.option(
    "--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="截止日期 (含) / last day"
)
@click.option("--queue", default=None, help="只统计该队列 / one queue only")
@click.option("--by", type=click.Choice(GROUPINGS), default=None, help="分组 / grouping")
@click.option("--region", "region_code", default=None, help="区划代码 / region code")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
def kpi(
    start: object, end: object, queue: str | None, by: str | None, region_code: str | None, fmt: str
) -> None:
    """热线指标: 接通率、服务水平、平均应答、放弃率、AHT、占用率 / hotline KPIs."""
    settings = load_settings()
    first: date = start.date()  # type: ignore[attr-defined]
    last: date = end.date()  # type: ignore[attr-defined]
    if last < first:
        raise click.BadParameter("--to 早于 --from / --to is before --from")
    runtime = build_runtime(settings, start_jobs=False)
    install_runtime(runtime)
    try:
        with runtime.session() as s:
            rep = kpi_report(
                s,
                start=day_bounds(settings, first)[0],
                end=day_bounds(settings, last)[1],
                queue=queue,
                by=by,
                region_code=region_code,
            )
            data = rep.as_dict()
    finally:
        runtime.close()
    short = f"answer_rate_excl_abandons_under_{settings.short_abandon_s}s"
    # the report's own key for the rate without short abandons names its threshold
    columns = [
        short if c == "answer_rate_excl_short" else c
        for c in (AGENT_COLUMNS if by == "agent" else CALL_COLUMNS)
    ]
    rows = [*data["rows"], {**data["total"], "key": "合计", "label": "合计"}]
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["key", "label", *columns])
        for r in rows:
            writer.writerow(
                [r["key"], r["label"], *("" if r.get(c) is None else r.get(c) for c in columns)]
            )
        click.echo(buf.getvalue(), nl=False)
        return
    click.echo(
        f"热线指标 {first} ~ {last}"
        + (f"  队列 {queue_label(settings, queue)}" if queue else "")
        + f"  (服务水平 {settings.service_level_s} 秒内接通; 短放弃 < {settings.short_abandon_s} 秒)"
    )
    labels = {
        "answer_rate": "接通率",
        short: f"接通率(除<{settings.short_abandon_s}s放弃)",
        "service_level": "服务水平",
        "asa_s": "平均应答s",
        "abandon_rate": "放弃率",
        "aht_s": "AHT s",
        "occupancy": "占用率",
        "offered": "呼入",
        "answered": "接通",
        "abandoned": "放弃",
        "timeout": "超时",
        "rings": "振铃次数",
        "rings_not_answered": "未接振铃",
        "no_answer": "其中响铃超时",
        "talk_s": "通话s",
        "wrapup_s": "话后处理s",
    }
    header = ["", *(labels.get(c, c) for c in columns)]
    table = [[str(r["label"]), *(_cell(c, r.get(c)) for c in columns)] for r in rows]
    widths = [max(_w(h), *(_w(t[i]) for t in table)) for i, h in enumerate(header)]
    click.echo("  ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)))
    for t in table:
        click.echo("  ".join(_pad(v, w) for v, w in zip(t, widths, strict=True)))


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column in ("answer_rate", "service_level", "abandon_rate", "occupancy") or column.startswith(
        "answer_rate_"
    ):
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    return str(value)


def _w(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _w(text))
