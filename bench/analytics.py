"""The supervision dashboards at a region's scale: chDB beside PostgreSQL, and the sync between.

    python bench/analytics.py [--calls 10000000] [--orders 2000000] [--signals 5000000]
                              [--repeat 7] [--admin-url URL]

Creates a dedicated PostgreSQL database (dropped at the end) with the platform's schema and
fills it in the database itself (generate_series, unlogged tables) with two years of facts
spread over the 12 盟市 and their 旗县区: calls (91 % answered, 7.5 % abandoned, waits of 0-74 s),
service orders of every category with providers, subsidies, ratings and some SLA breaches,
alarms with the device signals behind them (five per alarm), devices and elders, in parts on
two connections. The big tables load with their primary keys only (no foreign keys, no other
unique constraints); the indexes the questions and the sync read are built after the load, as a
restore would.

Then the warehouse (chDB in a temporary directory): the ten million calls are made in it by
ClickHouse from the same arithmetic (numbers()) while PostgreSQL builds those indexes, every
other fact is backfilled from PostgreSQL
through the real sync (ClickHouse pulls from PostgreSQL), and so is a month of calls, read
again: sync throughput in rows per second; the calls are then compared month by month on both
sides (count, answered, waits). An incremental pass after new calls arrive is timed too. Each
dashboard figure is asked ``--repeat`` times of chDB (platform_core.warehouse.dashboards, the
console's own queries) and the same question of PostgreSQL (the same groupings in PostgreSQL's
SQL), each figure for a region, a period and a grain a supervisor picks, after one untimed run
on each (on PostgreSQL a question of more than 2 s counts its first run): p50 and p95 of each,
side by side. The goal: every figure's p95 at most 500 ms on chDB. Each phase's seconds are
printed as it ends and carried in the RESULT line (``phases_s``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, Table, bindparam, text  # noqa: E402
from sqlalchemy.schema import CreateIndex, DropIndex  # noqa: E402

from platform_core.alarms.config import answer_targets  # noqa: E402
from platform_core.db import make_engine  # noqa: E402
from platform_core.models import metadata  # noqa: E402
from platform_core.regions.dictionary import LEAGUES  # noqa: E402
from platform_core.regions.service import load_dictionary  # noqa: E402
from platform_core.runtime import build_runtime  # noqa: E402
from platform_core.settings import Settings  # noqa: E402
from platform_core.warehouse import dashboards  # noqa: E402
from platform_core.warehouse.engine import DATABASE, ChdbWarehouse  # noqa: E402
from platform_core.warehouse.facts import BY_NAME, FACTS  # noqa: E402
from platform_core.warehouse.schema import ensure_schema  # noqa: E402
from platform_core.warehouse.sources import source_for  # noqa: E402
from platform_core.warehouse.sync import backfill, run_pass  # noqa: E402

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TZ = "Asia/Shanghai"
# the data's last instant: two years end here
END = datetime(2026, 12, 1, tzinfo=UTC) - timedelta(hours=8)
START = END - timedelta(days=730)
BIG = ("calls", "service_orders", "alarms", "alarm_signals", "devices", "elders")
# The secondary indexes built after the load: those the PostgreSQL questions read (times, the
# elders of a region, their devices and orders for coverage) and those the sync's change cursors
# read in the incremental pass (updated_at, received_at). A plain b-tree on a region code serves
# no ``LIKE '1501%'`` in this database's collation (C.UTF-8 is not C to PostgreSQL 15: only the
# ``varchar_pattern_ops`` ones do), so the calls' and devices' are not built: the calls' took a
# minute of the run. The others
# (a call's caller, queue, agent, recall, the statuses ...) serve the console's own lookups, none
# of these questions: building them on millions of rows would take minutes and change no timing
# here. Each is built by PostgreSQL's sort after the load, as a restore would.
WANTED_INDEXES = {
    "ix_calls_queued_at",
    "ix_calls_updated_at",
    "ix_service_orders_opened_at",
    "ix_service_orders_elder_status",
    "ix_service_orders_updated_at",
    "ix_alarms_received_at",
    "ix_alarms_updated_at",
    "ix_alarm_signals_received_at",
    "ix_devices_elder_id",
    "ix_devices_updated_at",
    "ix_elders_region_prefix",
    "ix_elders_updated_at",
}
# a call's linkedid in the generated data: the row number zero-padded, so the primary key's
# b-tree grows at its right edge as the rows arrive in order (``'b' || g`` would put each key
# at a scattered place of a ten-million-entry index, most of the load's time)
LINKEDID_DIGITS = 10


def counties() -> list[str]:
    return sorted(c for _, (_, _, cs) in LEAGUES.items() for c in cs)


def _fill(table: Table, given: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list: ``given`` expressions, and a plain value for every other
    column that may not be empty (the generator leaves the rest NULL)."""
    names, values = [], []
    for col in table.columns:
        if col.name in given:
            expr = given[col.name]
        elif col.nullable or (col.primary_key and col.name == "id"):
            continue
        else:
            kind = col.type.__class__.__name__.lower()
            impl = getattr(col.type, "impl", None)
            kind = impl.__class__.__name__.lower() if impl is not None else kind
            if "json" in kind:
                expr = "'[]'"
            elif "bool" in kind:
                expr = "false"
            elif "date" in kind or "time" in kind:
                expr = "now()"
            elif "int" in kind or "numeric" in kind or "float" in kind:
                expr = "0"
            else:
                expr = "''"
        names.append(f'"{col.name}"')
        values.append(expr)
    return ", ".join(names), ", ".join(values)


def _insert(conn: Any, table: str, rows: tuple[int, int], given: dict[str, str]) -> None:
    names, values = _fill(metadata.tables[table], given)
    first, last = rows
    conn.execute(
        text(
            f"INSERT INTO {table} ({names}) SELECT {values}"
            f" FROM generate_series({first}, {last}) AS g"
        )
    )


# a table of more rows is inserted in parts of at most this many (row numbers first..last of
# the same arithmetic), so the two connections finish together instead of one waiting for the
# ten million calls
PART_ROWS = 2_500_000


def run_parallel(engine: Engine, jobs: list[tuple[str, int, dict[str, str]]]) -> None:
    """The inserts on two connections at once, the largest parts first (two cores)."""
    parts = [
        (table, (first, min(n, first + PART_ROWS - 1)), given)
        for table, n, given in jobs
        for first in range(1, n + 1, PART_ROWS)
    ]

    def one(part: tuple[str, tuple[int, int], dict[str, str]]) -> None:
        t0 = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            _insert(conn, *part)
        first, last = part[1]
        print(
            f"  inserted {part[0]} {first:,}-{last:,} in {time.monotonic() - t0:.1f} s",
            flush=True,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, sorted(parts, key=lambda p: p[1][0] - p[1][1])))


def generate(engine: Engine, *, calls: int, orders: int, signals: int) -> dict[str, int]:
    """Two years of the region's facts, made in PostgreSQL itself."""
    county_list = "ARRAY[" + ",".join(f"'{c}'" for c in counties()) + "]"
    n_counties = len(counties())
    alarms = max(1, signals // 5)
    devices = max(1000, alarms // 10)
    elders = max(1000, orders // 10)
    providers = 240
    span = "interval '730 days'"
    start = f"timestamptz '{START.isoformat()}'"
    # a pseudo-random but repeatable number 0..999 of the row, per salt
    h = "((g::bigint * {k} + 12345) % 1000)"

    def region(k: int) -> str:
        return f"({county_list})[1 + (g * {k}) % {n_counties}] || '001001'"

    # spread over the two years, each row a little off its even place
    day_time = (
        f"{start} + {span} * ((g - 1)::float / {{n}})"
        f" + make_interval(secs => (({h.format(k=7919)} - 500) * 30)::float)"
    )
    jobs: list[tuple[str, int, dict[str, str]]] = []
    jobs.append(
        (
            "providers",
            providers,
            {
                "id": "g",
                "name": "'服务商' || g",
                "credit_code": "'91150' || lpad(g::text, 13, '0')",
                "region_code": region(31),
                "contact_phone": "''",
                "status": "'normal'",
                "grade": "(ARRAY['A','B','C'])[1 + g % 3]",
                "credit_score": "70 + g % 30",
            },
        )
    )
    jobs.append(
        (
            "elders",
            elders,
            {
                "id": "g",
                "name": "'老人' || g",
                "id_number_index": "'idx' || g",
                "region_code": region(17),
                "status": "CASE WHEN g % 50 = 0 THEN 'deceased' ELSE 'active' END",
                "housing_risks": "'[]'",
                "created_at": f"{start} + {span} * (g::float / {elders}) / 2",
                "updated_at": f"{start} + {span} * (g::float / {elders}) / 2",
            },
        )
    )
    jobs.append(
        (
            "devices",
            devices,
            {
                "id": "g",
                "device_type": "(ARRAY['sos_pendant','smart_watch','fall_detector','smoke'])[1 + g % 4]",
                "serial": "'DEV' || g",
                "status": "(ARRAY['online','online','online','offline','fault'])[1 + g % 5]",
                "elder_id": f"1 + (g * 7) % {elders}",
                "region_code": region(13),
                "last_heartbeat_at": f"timestamptz '{END.isoformat()}' - make_interval(secs => (g % 3600)::float)",
                "created_at": start,
                "updated_at": f"timestamptz '{END.isoformat()}' - make_interval(secs => (g % 3600)::float)",
            },
        )
    )
    t = day_time.format(n=calls)
    wait = f"({h.format(k=104729)} % 75)::float"
    outcome = (
        f"CASE WHEN {h.format(k=15485863)} < 910 THEN 'answered'"
        f" WHEN {h.format(k=15485863)} < 985 THEN 'abandoned' ELSE 'timeout' END"
    )
    jobs.append(
        (
            "calls",
            calls,
            {
                "linkedid": f"'b' || lpad(g::text, {LINKEDID_DIGITS}, '0')",
                "uniqueid": f"'b' || lpad(g::text, {LINKEDID_DIGITS}, '0')",
                "direction": "'inbound'",
                "region_code": region(7),
                "elder_id": f"1 + (g * 11) % {elders}",
                "started_at": t,
                "queued_at": f"{t} + interval '8 seconds'",
                "first_queue": "CASE WHEN g % 20 = 0 THEN 'hotline-emergency' ELSE 'hotline-general' END",
                "outcome": outcome,
                "wait_s": wait,
                "talk_s": f"60 + {h.format(k=32452843)} % 240",
                "agent_interface": "'PJSIP/' || (8001 + g % 60)",
                "ended_at": f"{t} + interval '5 minutes'",
                "updated_at": f"{t} + interval '5 minutes'",
            },
        )
    )
    t = day_time.format(n=orders)
    category = "(ARRAY['daily_care','meals','medical','comfort','emergency','visit'])[1 + g % 6]"
    jobs.append(
        (
            "service_orders",
            orders,
            {
                "id": "g",
                "order_no": "'GD' || lpad(g::text, 12, '0')",
                "elder_id": f"1 + (g * 13) % {elders}",
                "region_code": region(3),
                "service_type_code": "'care_cleaning'",
                "category": category,
                "urgency": "CASE WHEN g % 10 = 0 THEN 'emergency' ELSE 'normal' END",
                "source": "'call'",
                "status": "(ARRAY['closed','closed','closed','completed','cancelled','dispatched'])[1 + g % 6]",
                "provider_id": f"1 + (g * 7) % {providers}",
                "unit_price": "60",
                "price": "60",
                "subsidy": "(g % 5) * 10",
                "self_pay": "60 - (g % 5) * 10",
                "response_minutes": "30",
                "response_due_at": f"{t} + interval '30 minutes'",
                "arrival_minutes": "120",
                "arrival_due_at": f"{t} + interval '120 minutes'",
                "opened_at": t,
                "accepted_at": f"{t} + make_interval(mins => (5 + g % 40))",
                "checked_in_at": f"{t} + make_interval(mins => (40 + g % 120))",
                "completed_at": f"CASE WHEN g % 6 IN (4, 5) THEN NULL ELSE {t} + interval '3 hours' END",
                "cancelled_at": f"CASE WHEN g % 6 = 4 THEN {t} + interval '1 hour' END",
                "escalated_at": f"CASE WHEN g % 37 = 0 THEN {t} + interval '31 minutes' END",
                "complaint_at": f"CASE WHEN g % 53 = 0 THEN {t} + interval '1 day' END",
                "rating": "CASE WHEN g % 3 = 0 THEN 3 + g % 3 END",
                "updated_at": f"{t} + interval '3 hours'",
            },
        )
    )
    t = day_time.format(n=alarms)
    jobs.append(
        (
            "alarms",
            alarms,
            {
                "id": "g",
                "device_id": f"1 + (g * 3) % {devices}",
                "region_code": region(5),
                "alarm_type": "(ARRAY['sos','fall','smoke','low_battery','link_fault','no_activity'])[1 + g % 6]",
                "alarm_class": "'emergency'",
                "priority": "1",
                "status": "CASE WHEN g % 97 = 0 THEN 'suppressed' ELSE 'closed' END",
                "occurred_at": t,
                "received_at": t,
                "last_signal_at": t,
                "taken_at": f"{t} + make_interval(secs => ({h.format(k=49979687)} % 200)::float)",
                "closed_at": f"{t} + interval '20 minutes'",
                "signal_count": "5",
                "updated_at": f"{t} + interval '20 minutes'",
            },
        )
    )
    t = day_time.format(n=signals)
    jobs.append(
        (
            "alarm_signals",
            signals,
            {
                "id": "g",
                "device_id": f"1 + (((g - 1) / 5 + 1) * 3) % {devices}",
                "alarm_id": "(g - 1) / 5 + 1",
                "msg_key": "'m' || g",
                "kind": "CASE WHEN g % 5 = 4 THEN 'restore' ELSE 'alarm' END",
                "alarm_type": "'sos'",
                "result": "'folded'",
                "occurred_at": t,
                "received_at": t,
                "transport": "'mqtt'",
                "vendor": "'ankang'",
            },
        )
    )
    breaches = max(1, orders // 37)
    jobs.append(
        (
            "sla_breaches",
            breaches,
            {
                "id": "g",
                "order_id": "g * 37",
                "kind": "'response'",
                "region_code": region(3),
                "service_type_code": "'care_cleaning'",
                "urgency": "'normal'",
                "due_at": f"{start} + {span} * (g::float / {breaches})",
                "detected_at": f"{start} + {span} * (g::float / {breaches})",
                "status_at_breach": "'dispatched'",
            },
        )
    )
    run_parallel(engine, jobs)
    return {
        "calls": calls,
        "service_orders": orders,
        "alarms": alarms,
        "alarm_signals": signals,
        "devices": devices,
        "elders": elders,
        "providers": providers,
        "sla_breaches": max(1, orders // 37),
    }


# -- the calls made in the warehouse too -----------------------------------------------------------


def calls_in_warehouse(wh: Any, *, calls: int, orders: int) -> float:
    """The ten million calls written into the warehouse by ClickHouse itself, row for row what
    ``generate`` made in PostgreSQL (the same arithmetic on the same row numbers), with the
    version the sync gives them (their ``updated_at``). Reading them through the sync as well
    would take minutes of this run; the sync's throughput is measured on the other facts and a
    month of calls (read again: they must collapse into the rows made here), and the two sides
    are compared after. Returns the seconds it took."""
    t0 = time.monotonic()
    elders = max(1000, orders // 10)
    table = metadata.tables["calls"]
    fact = BY_NAME["calls"]
    county_list = "[" + ",".join(f"'{c}'" for c in counties()) + "]"
    n_counties = len(counties())

    def h(k: int) -> str:
        return f"((g * {k} + 12345) % 1000)"

    # PostgreSQL's interval '730 days' * f: whole days, and the fraction of a day in seconds
    # rounded to the microsecond; then the row's offset of whole seconds
    f = f"(toFloat64(g - 1) / {calls})"
    d = f"(730 * {f})"
    t_us = (
        f"({int(START.timestamp()) * 1_000_000} + toInt64(floor({d})) * 86400000000"
        f" + toInt64(round(({d} - floor({d})) * 86400 * 1000000))"
        f" + (toInt64({h(7919)}) - 500) * 30 * 1000000)"
    )

    def at(offset_s: int = 0) -> str:
        return f"fromUnixTimestamp64Micro({t_us} + {offset_s * 1_000_000}, 'UTC')"

    given = {
        "linkedid": f"concat('b', leftPad(toString(g), {LINKEDID_DIGITS}, '0'))",
        "direction": "'inbound'",
        "region_code": f"concat({county_list}[1 + (g * 7) % {n_counties}], '001001')",
        "elder_id": f"1 + (g * 11) % {elders}",
        "started_at": at(),
        "queued_at": at(8),
        "first_queue": "if(g % 20 = 0, 'hotline-emergency', 'hotline-general')",
        "outcome": (
            f"multiIf({h(15485863)} < 910, 'answered', {h(15485863)} < 985, 'abandoned', 'timeout')"
        ),
        "wait_s": f"toFloat64({h(104729)} % 75)",
        "talk_s": f"60 + {h(32452843)} % 240",
        "agent_interface": "concat('PJSIP/', toString(8001 + g % 60))",
        "ended_at": at(300),
    }
    values = []
    for column in fact.columns:
        source = table.c[column.src]
        if column.src in given:
            expr = given[column.src]
        elif source.nullable:
            expr = "NULL"
        else:
            expr = "''" if "String" in column.type else "0"
        values.append(f"CAST({expr} AS {column.type})")
    names = ", ".join(f"`{n}`" for n in fact.column_names)
    wh.command(
        f"INSERT INTO {DATABASE}.calls ({names}, `_version`)"
        f" SELECT {', '.join(values)}, toUInt64({t_us} + 300000000)"
        f" FROM (SELECT number + 1 AS g FROM numbers({calls}))"
    )
    return time.monotonic() - t0


def compare_calls(engine: Engine, wh: Any) -> dict[str, Any]:
    """The calls on both sides: per month of their start, how many, answered, and their waits."""
    with engine.connect() as conn:
        pg = {
            r[0]: (int(r[1]), int(r[2]), round(float(r[3]), 1))
            for r in conn.execute(
                text(
                    "SELECT to_char(date_trunc('month', started_at AT TIME ZONE 'UTC'), 'YYYY-MM'),"
                    " count(*), count(*) FILTER (WHERE outcome = 'answered'), sum(wait_s)"
                    " FROM calls WHERE linkedid LIKE 'b%'"
                    " GROUP BY date_trunc('month', started_at AT TIME ZONE 'UTC')"
                )
            )
        }
    ch = {
        r["m"]: (int(r["n"]), int(r["a"]), round(float(r["w"]), 1))
        for r in wh.query(
            "SELECT formatDateTime(started_at, '%Y-%m', 'UTC') AS m, count() AS n,"
            " countIf(outcome = 'answered') AS a, sum(wait_s) AS w"
            f" FROM {DATABASE}.calls FINAL WHERE startsWith(linkedid, 'b') GROUP BY m"
        )
    }
    differ = sorted(m for m in pg.keys() | ch.keys() if pg.get(m) != ch.get(m))
    return {"months": len(pg), "differ": differ[:5], "same": not differ}


# -- the same questions of PostgreSQL ------------------------------------------------------------

# a bucket: the instant truncated in the region's time zone (what the rows are grouped by) and
# its label, written once per group after the grouping rather than for each of millions of rows
# (to_char on every row was half of a two-year question's time)
_BUCKET = {
    "hour": ("date_trunc('hour', {c} AT TIME ZONE 'Asia/Shanghai')", "YYYY-MM-DD HH24:00"),
    "day": ("date_trunc('day', {c} AT TIME ZONE 'Asia/Shanghai')", "YYYY-MM-DD"),
    "month": ("date_trunc('month', {c} AT TIME ZONE 'Asia/Shanghai')", "YYYY-MM"),
}


def _bucket(grain: str, column: str) -> tuple[str, str]:
    """(the grouping expression, its label in the select list)."""
    trunc, label = _BUCKET[grain]
    key = trunc.format(c=column)
    return key, f"to_char({key}, '{label}')"


def _pg_three_ways(
    conn: Any,
    select: str,
    table: str,
    where: str,
    scope: dashboards.Scope,
    column: str,
    params: dict[str, Any],
    extra: tuple[str, ...] = (),
) -> None:
    """By bucket, by child region, in total (and by ``extra``): one scan, as on chDB."""
    child = "substr(region_code, 1, 4)" if scope.level == 1 else "substr(region_code, 1, 6)"
    bucket, label = _bucket(scope.grain, column)
    keys = [bucket, child, *extra]
    sets = ", ".join(f"({k})" for k in keys) + ", ()"
    conn.execute(
        text(
            f"SELECT {', '.join([label, *keys[1:]])}, {select} FROM {table} WHERE {where}"
            f" GROUP BY GROUPING SETS ({sets})"
        ),
        params,
    ).all()


def pg_calls(conn: Any, scope: dashboards.Scope) -> None:
    select = (
        "count(*) FILTER (WHERE outcome IN ('answered','abandoned','timeout')),"
        " count(*) FILTER (WHERE outcome = 'answered'),"
        " count(*) FILTER (WHERE outcome = 'abandoned'),"
        " count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 20),"
        " sum(wait_s) FILTER (WHERE outcome = 'answered')"
    )
    where = "direction = 'inbound' AND queued_at >= :start AND queued_at < :end AND region_code LIKE :prefix"
    _pg_three_ways(conn, select, "calls", where, scope, "queued_at", _pg_params(scope))


def pg_alarms(conn: Any, scope: dashboards.Scope) -> None:
    select = (
        "count(*) FILTER (WHERE status != 'suppressed'),"
        " count(*) FILTER (WHERE status != 'suppressed' AND alarm_type NOT IN ('low_battery','link_fault')),"
        " count(*) FILTER (WHERE status != 'suppressed' AND alarm_type NOT IN ('low_battery','link_fault')"
        "   AND taken_at - received_at <= interval '60 seconds'),"
        " count(*) FILTER (WHERE status != 'suppressed' AND alarm_type NOT IN ('low_battery','link_fault')"
        "   AND taken_at - received_at <= interval '180 seconds')"
    )
    where = "received_at >= :start AND received_at < :end AND region_code LIKE :prefix"
    _pg_three_ways(conn, select, "alarms", where, scope, "received_at", _pg_params(scope))


_PG_BREACHED = (
    "(o.escalated_at IS NOT NULL OR EXISTS (SELECT 1 FROM sla_breaches b WHERE b.order_id = o.id))"
)


def pg_orders(conn: Any, scope: dashboards.Scope) -> None:
    select = (
        f"count(*), count(*) FILTER (WHERE completed_at IS NOT NULL), count(*) FILTER (WHERE {_PG_BREACHED}),"
        " count(*) FILTER (WHERE complaint_at IS NOT NULL)"
    )
    where = "opened_at >= :start AND opened_at < :end AND region_code LIKE :prefix"
    params = _pg_params(scope)
    _pg_three_ways(
        conn, select, "service_orders o", where, scope, "opened_at", params, ("category", "status")
    )


def pg_subsidies(conn: Any, scope: dashboards.Scope) -> None:
    select = "count(*), sum(subsidy), sum(self_pay)"
    where = "completed_at >= :start AND completed_at < :end AND cancelled_at IS NULL AND region_code LIKE :prefix"
    params = _pg_params(scope)
    _pg_three_ways(
        conn, select, "service_orders", where, scope, "completed_at", params, ("category",)
    )


def pg_providers(conn: Any, scope: dashboards.Scope) -> None:
    conn.execute(
        text(
            "SELECT o.provider_id, max(p.name), count(*), count(*) FILTER (WHERE o.complaint_at IS NOT NULL),"
            " avg(o.rating), count(*) FILTER (WHERE o.accepted_at <= o.response_due_at"
            "   AND (o.arrival_due_at IS NULL OR o.checked_in_at <= o.arrival_due_at))"
            " FROM service_orders o LEFT JOIN providers p ON p.id = o.provider_id"
            " WHERE o.provider_id IS NOT NULL AND o.opened_at >= :start AND o.opened_at < :end"
            " AND o.region_code LIKE :prefix GROUP BY o.provider_id"
        ),
        _pg_params(scope),
    ).all()


def pg_coverage(conn: Any, scope: dashboards.Scope) -> None:
    child = "substr(e.region_code, 1, 4)" if scope.level == 1 else "substr(e.region_code, 1, 6)"
    conn.execute(
        text(
            f"SELECT {child}, count(*),"
            " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM assessments a WHERE a.elder_id = e.id)),"
            " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM devices d WHERE d.elder_id = e.id"
            "   AND d.status IN ('bound','installed','online','offline','low_battery','fault','under_repair'))),"
            " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM service_orders o WHERE o.elder_id = e.id"
            "   AND o.completed_at >= :start AND o.completed_at < :end)),"
            " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM care_beds c WHERE c.elder_id = e.id AND c.status = 'in_service'))"
            " FROM elders e WHERE e.status = 'active' AND e.region_code LIKE :prefix GROUP BY 1"
        ),
        _pg_params(scope),
    ).all()


def pg_devices(conn: Any, scope: dashboards.Scope) -> None:
    bucket, label = _bucket(scope.grain, "s.received_at")
    conn.execute(
        text(
            f"SELECT {label}, count(*), count(*) FILTER (WHERE s.kind = 'alarm') FROM alarm_signals s"
            " WHERE s.received_at >= :start AND s.received_at < :end"
            f" AND s.device_id IN (SELECT id FROM devices WHERE region_code LIKE :prefix) GROUP BY {bucket}"
        ),
        _pg_params(scope),
    ).all()


def _pg_params(scope: dashboards.Scope) -> dict[str, Any]:
    prefix = (
        scope.region_code[:2]
        if scope.level == 1
        else scope.region_code[:4]
        if scope.level == 2
        else scope.region_code[:6]
    )
    return {"start": scope.start, "end": scope.end, "prefix": prefix + "%"}


def questions(
    settings: Settings,
) -> list[tuple[str, dashboards.Scope, Callable[..., Any], Callable[..., Any]]]:
    """(name, scope, the chDB figure, the PostgreSQL question) a supervisor asks."""
    region, league, county = "150000000000", "150100000000", "150105000000"
    month = (END - timedelta(days=30), END)
    quarter = (END - timedelta(days=91), END)
    year = (END - timedelta(days=365), END)
    targets = answer_targets(settings)

    def scope(code: str, period: tuple[datetime, datetime], grain: str) -> dashboards.Scope:
        return dashboards.Scope(code, period[0], period[1], grain, TZ)

    def calls(wh: Any, s: dashboards.Scope) -> Any:
        return dashboards.calls(wh, s, service_level_s=20, short_abandon_s=5)

    return [
        ("calls_region_month_by_day", scope(region, month, "day"), calls, pg_calls),
        ("calls_region_2y_by_month", scope(region, (START, END), "month"), calls, pg_calls),
        (
            "calls_league_day_by_hour",
            scope(league, (END - timedelta(days=1), END), "hour"),
            calls,
            pg_calls,
        ),
        ("calls_county_quarter_by_day", scope(county, quarter, "day"), calls, pg_calls),
        (
            "alarms_region_month_by_day",
            scope(region, month, "day"),
            lambda wh, s: dashboards.alarms(wh, s, targets=targets, now=END),
            pg_alarms,
        ),
        (
            "orders_region_quarter_by_day",
            scope(region, quarter, "day"),
            dashboards.orders,
            pg_orders,
        ),
        (
            "subsidies_region_year_by_month",
            scope(region, year, "month"),
            dashboards.subsidies,
            pg_subsidies,
        ),
        (
            "providers_league_quarter",
            scope(league, quarter, "day"),
            dashboards.providers,
            pg_providers,
        ),
        ("coverage_region_month", scope(region, month, "day"), dashboards.coverage, pg_coverage),
        (
            "signals_region_month_by_day",
            scope(region, month, "day"),
            dashboards.devices,
            pg_devices,
        ),
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--signals", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    args = parser.parse_args()

    began = time.monotonic()
    load_at_start = os.getloadavg()
    # each phase's seconds, in the order they ran (the RESULT line carries them)
    phases: dict[str, float] = {}
    last = [began]

    def mark(phase: str) -> None:
        now = time.monotonic()
        phases[phase] = round(now - last[0], 1)
        last[0] = now
        print(f"[{now - began:6.1f} s] {phase}: {phases[phase]:.1f} s", flush=True)

    name = f"hotline_bench_wh_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-wh-bench-"))
    result: dict[str, Any] = {}
    try:
        settings = Settings(
            data_dir=tmp,
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
        metadata.create_all(engine)
        runtime = build_runtime(settings, engine=engine, start_jobs=False)
        with runtime.session() as s:
            load_dictionary(s)
        # the big tables load without their secondary indexes, which are built after, and
        # unlogged (this database is dropped at the end: its writes need no WAL); the foreign
        # keys go first, as a logged table may not point at an unlogged one. Their unique
        # constraints other than the primary keys (a signal's message key per device, a
        # serial, an order number ...) are left out too: checking each generated row against
        # a b-tree of millions in scattered order took most of the load, and no question and
        # no sync reads them
        dropped = [i for t in BIG for i in metadata.tables[t].indexes]
        wanted = [i for i in dropped if i.name in WANTED_INDEXES]
        with engine.begin() as conn:
            for index in dropped:
                conn.execute(DropIndex(index, if_exists=True))
            for table, constraint in conn.execute(
                text(
                    "SELECT conrelid::regclass::text, conname FROM pg_constraint"
                    " WHERE contype = 'f' OR (contype = 'u' AND conrelid::regclass::text"
                    " IN :big)"
                ).bindparams(bindparam("big", expanding=True)),
                {"big": list(BIG)},
            ).all():
                conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'))
            for table in (*BIG, "sla_breaches", "providers"):
                conn.execute(text(f"ALTER TABLE {table} SET UNLOGGED"))
        mark("schema")
        t0 = time.monotonic()
        rows = generate(engine, calls=args.calls, orders=args.orders, signals=args.signals)
        insert_s = time.monotonic() - t0
        mark("postgres_insert")
        # the warehouse makes its ten million calls while PostgreSQL builds its indexes and
        # statistics: neither reads the other, and chDB releases the interpreter while it works
        wh = ChdbWarehouse.shared(tmp / "warehouse")
        source = source_for(settings)
        ensure_schema(wh, source.attach_statements())
        beside = ThreadPoolExecutor(max_workers=1)
        making = beside.submit(calls_in_warehouse, wh, calls=args.calls, orders=args.orders)

        def build(index: Any) -> None:
            t1 = time.monotonic()
            with engine.begin() as conn:
                # the sort of ten million keys in memory, not in temporary files
                conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
                conn.execute(CreateIndex(index, if_not_exists=True))
            print(f"  index {index.name} in {time.monotonic() - t1:.1f} s", flush=True)

        with ThreadPoolExecutor(max_workers=2) as pool:
            # two at a time, the largest tables' first: the two connections finish together
            list(
                pool.map(
                    build,
                    sorted(
                        wanted,
                        key=lambda i: -rows.get(i.table.name if i.table is not None else "", 0),
                    ),
                )
            )
        mark("postgres_indexes")

        def analyze(table: str) -> None:
            with engine.begin() as conn:
                conn.execute(text(f'ANALYZE "{table}"'))

        with ThreadPoolExecutor(max_workers=2) as pool:
            # every table's statistics, two at a time, the largest first
            list(pool.map(analyze, sorted(metadata.tables, key=lambda t: -rows.get(t, 0))))
        mark("postgres_analyze")
        generate_s = time.monotonic() - t0
        print(
            f"generated {sum(rows.values()):,} rows in PostgreSQL in {generate_s:.1f} s"
            f" (inserted in {insert_s:.1f} s, {len(wanted)} indexes and statistics after)",
            flush=True,
        )
        made_s = making.result()
        beside.shutdown()
        mark("chdb_calls_made (after PostgreSQL's indexes)")
        print(f"made {args.calls:,} calls in the warehouse in {made_s:.1f} s", flush=True)
        t0 = time.monotonic()
        counts = backfill(
            wh,
            source,
            lookback_s=30,
            facts=[f for f in FACTS if f.name != "calls"],
            # one window per fact: each table read once (the console's backfill goes month by
            # month to report progress; a window costs a scan of the source table)
            window_days=800,
            progress=lambda p: (
                print(f"  backfill {p.fact} {p.window}/{p.windows}", flush=True)
                if p.window in (p.windows, 0)
                else None
            ),
        )
        # a month of calls through the sync too: read again, they collapse into those made
        month = (END - timedelta(days=30), END)
        source.copy(wh, BY_NAME["calls"], since=None, window=month, pass_version=1)
        sync_s = time.monotonic() - t0
        mark("sync")
        counts["calls (a month)"] = int(
            wh.query(
                f"SELECT count() AS n FROM {DATABASE}.calls FINAL WHERE started_at >= {{a:DateTime64(6, 'UTC')}}"
                " AND started_at < {b:DateTime64(6, 'UTC')}",
                {
                    "a": month[0].strftime("%Y-%m-%d %H:%M:%S"),
                    "b": month[1].strftime("%Y-%m-%d %H:%M:%S"),
                },
            )[0]["n"]
        )
        synced = sum(counts.values())
        compared = compare_calls(engine, wh)
        mark("compare_calls")
        print(
            f"calls per month on both sides: {'the same' if compared['same'] else 'DIFFERENT'}"
            f" ({compared['months']} months{', ' + str(compared['differ']) if compared['differ'] else ''})",
            flush=True,
        )
        print(
            f"synced {synced:,} rows in {sync_s:.1f} s ({synced / sync_s:,.0f} rows/s)", flush=True
        )
        # steady state: a thousand new calls, one incremental pass
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO calls (linkedid, uniqueid, channel, direction, caller_number, caller_name,"
                    " is_device, identified, region_code, priority, started_at, queued_at, outcome, wait_s,"
                    " transferred, closed_by_resync, recall_opened, updated_at)"
                    " SELECT 'n' || g, 'n' || g, '', 'inbound', '', '', false, true, '150102001001', 0,"
                    " now(), now(), 'answered', 3, false, false, false, now() FROM generate_series(1, 1000) g"
                )
            )
        t0 = time.monotonic()
        run_pass(wh, source, lookback_s=30)
        pass_s = time.monotonic() - t0
        mark("incremental_pass")

        figures: dict[str, Any] = {}
        for qname, scope, on_ch, on_pg in questions(settings):
            ch_times, pg_times = [], []
            on_ch(wh, scope)  # one untimed run each, as a dashboard in use is warm
            with engine.connect() as conn:
                t0 = time.perf_counter()
                on_pg(conn, scope)
                first_pg_ms = (time.perf_counter() - t0) * 1000
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                on_ch(wh, scope)
                ch_times.append((time.perf_counter() - t0) * 1000)
            # PostgreSQL is asked as often, unless a question takes long: then at least three
            # times, and no more once ten seconds have gone on it
            # a question scanning millions of rows takes as long the first time (its table is
            # larger than the buffers): that first run counts as one of its three
            if first_pg_ms > 2000:
                pg_times.append(first_pg_ms)
            with engine.connect() as conn:
                spent = sum(pg_times) / 1000
                while len(pg_times) < args.repeat and (len(pg_times) < 3 or spent < 10.0):
                    t0 = time.perf_counter()
                    on_pg(conn, scope)
                    pg_times.append((time.perf_counter() - t0) * 1000)
                    spent += pg_times[-1] / 1000
            figures[qname] = {
                "chdb_p50_ms": round(statistics.median(ch_times), 1),
                "chdb_p95_ms": round(_pct(ch_times, 0.95), 1),
                "postgres_p50_ms": round(statistics.median(pg_times), 1),
                "postgres_p95_ms": round(_pct(pg_times, 0.95), 1),
                "postgres_runs": len(pg_times),
            }
            mark(f"question {qname}")
            print(
                f"{qname:34s} chDB p50 {figures[qname]['chdb_p50_ms']:8.1f} ms p95 "
                f"{figures[qname]['chdb_p95_ms']:8.1f} ms | PostgreSQL p50 "
                f"{figures[qname]['postgres_p50_ms']:8.1f} ms p95 {figures[qname]['postgres_p95_ms']:8.1f} ms",
                flush=True,
            )
        worst = max(f["chdb_p95_ms"] for f in figures.values())
        result = {
            "calls": args.calls,
            "orders": args.orders,
            "alarm_signals": args.signals,
            "generate_s": round(generate_s, 1),
            "insert_s": round(insert_s, 1),
            "calls_made_in_warehouse_s": round(made_s, 1),
            "calls_same_on_both_sides": compared["same"],
            "sync_rows": synced,
            "sync_s": round(sync_s, 1),
            "sync_rows_per_s": round(synced / sync_s),
            "incremental_pass_s": round(pass_s, 2),
            "chdb_worst_p95_ms": worst,
            "chdb_goal_p95_ms": 500,
            "chdb_goal_met": worst <= 500,
            "figures": figures,
            "phases_s": phases,
            "total_s": round(time.monotonic() - began, 1),
            # the machine's load average (1, 5, 15 min) as the run began and ended
            "load_average_start": [round(x, 1) for x in load_at_start],
            "load_average_end": [round(x, 1) for x in os.getloadavg()],
        }
        wh.close()
    finally:
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)  # the warehouse of this run (gigabytes)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
