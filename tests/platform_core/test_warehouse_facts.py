"""Every fact family flows into the warehouse exactly once: rows in each source table the
warehouse reads (calls and queue entries, agent states, IVR sessions, alarms and their steps,
orders and their transitions, subsidies on orders, assessments, devices' heartbeat hours,
complaints, ratings and return visits) arrive, and a replayed pass, a restart of the warehouse
and a second backfill leave one row each. On PostgreSQL and on SQLite."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Engine, Integer, Numeric, Table, func, select
from sqlalchemy.types import TypeDecorator

from platform_core import clock
from platform_core.devices import heartbeat_history
from platform_core.models import metadata
from platform_core.regions.service import load_dictionary
from platform_core.runtime import Runtime
from platform_core.warehouse import dashboards
from platform_core.warehouse.dashboards import Scope
from platform_core.warehouse.engine import DATABASE, ChdbWarehouse
from platform_core.warehouse.facts import FACTS
from platform_core.warehouse.schema import ensure_schema
from platform_core.warehouse.sources import source_for
from platform_core.warehouse.sync import backfill, cursors
from tests.warehouse_support import sync_now

ROWS = 3
COUNTY = "150102003001"


def _value(table: Table, column: Any, i: int, now: datetime, parents: dict[str, Any]) -> Any:
    if column.foreign_keys:
        fk = next(iter(column.foreign_keys))
        return parents[fk.column.table.name]
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        # every row a different hour (the heartbeat history is keyed by device and hour)
        return (now - timedelta(hours=i)).replace(minute=0, second=0, microsecond=0)
    if isinstance(kind, Date):
        return date(2026, 3, 1)
    if isinstance(kind, JSON) or "json" in type(kind).__name__.lower():
        return []
    if isinstance(kind, Integer | Numeric):
        return i + 1
    if "region" in column.name:
        return COUNTY
    length = getattr(kind, "length", None) or 40
    return f"{column.name[:6]}{i}{table.name[:3]}"[:length]


def seed_row(engine: Engine, table: Table, i: int, now: datetime, made: dict[str, Any]) -> Any:
    """One row of ``table`` with every column that may not be empty filled, its parents (the
    rows its non-null foreign keys point at) made first; returns its primary key value."""
    parents: dict[str, Any] = {}
    for column in table.columns:
        for fk in column.foreign_keys:
            parent = fk.column.table
            if column.nullable and not column.primary_key:
                continue
            if parent.name not in made:
                made[parent.name] = seed_row(engine, parent, 0, now, made)
            parents[parent.name] = made[parent.name]
    values: dict[str, Any] = {}
    for column in table.columns:
        autoincrement = (
            column.primary_key and isinstance(column.type, Integer) and not column.foreign_keys
        )
        if autoincrement and len(table.primary_key.columns) == 1:
            continue
        if column.nullable and not column.primary_key and column.name not in _ALWAYS:
            continue
        if column.foreign_keys and column.nullable and not column.primary_key:
            continue
        values[column.name] = _value(table, column, i, now, parents)
    with engine.begin() as conn:
        result = conn.execute(table.insert().values(**values))
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].name not in values:
            return result.inserted_primary_key[0]
        return values[pk[0].name]


# nullable source columns a fact needs filled to count the row (times the facts sort by)
_ALWAYS = {"queued_at", "last_heartbeat_at", "region_code"}


def source_count(engine: Engine, table: Table, required: str | None) -> int:
    query = select(func.count()).select_from(table)
    if required:
        query = query.where(table.c[required].is_not(None))
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def warehouse_counts(wh: ChdbWarehouse) -> dict[str, int]:
    return {
        f.name: int(wh.query(f"SELECT count() AS n FROM {DATABASE}.{f.name} FINAL")[0]["n"])
        for f in FACTS
    }


def test_every_fact_arrives_once_across_replays_restarts_and_backfills(
    any_runtime: Runtime, warehouse
) -> None:
    engine = any_runtime.engine
    now = clock.now()
    made: dict[str, Any] = {}
    for table_name in sorted({f.table for f in FACTS}):
        table = metadata.tables[table_name]
        for i in range(ROWS):
            if i == 0 and table_name in made:
                continue  # made already as another fact's parent
            key = seed_row(engine, table, i, now, made)
            made.setdefault(table_name, key)
    expected = {f.name: source_count(engine, metadata.tables[f.table], f.required) for f in FACTS}
    assert all(n >= ROWS for n in expected.values()), expected

    sync_now(warehouse, any_runtime)
    assert warehouse_counts(warehouse) == expected

    # a replay: every row read again with another pass's version, then a normal pass
    source = source_for(any_runtime.settings, any_runtime.engine)
    for fact in FACTS:
        source.copy(warehouse, fact, since=None, window=None, pass_version=7)
    sync_now(warehouse, any_runtime)
    assert warehouse_counts(warehouse) == expected

    # a restart: the process stops, the warehouse is opened again and the sync carries on
    path = warehouse.path
    warehouse._really_close()
    reopened = ChdbWarehouse.shared(Path(path))
    sync_now(reopened, any_runtime)
    assert warehouse_counts(reopened) == expected

    # a backfill over it all, twice
    for _ in range(2):
        backfill(reopened, source, lookback_s=30)
    assert warehouse_counts(reopened) == expected

    # nothing personal among what arrived (the seeded texts are column names and numbers)
    flat = json.dumps(
        [reopened.query(f"SELECT * FROM {DATABASE}.{f.name} FINAL") for f in FACTS],
        default=str,
        ensure_ascii=False,
    )
    for column in ("caller_n", "id_num", "address", "phone0", "text0"):
        assert column not in flat, column


# What the issue names, by the primary's table each family is read from.
FAMILIES = {
    "calls": "calls",
    "queue entries": "call_queue_entries",
    "agent states": "telephony_agent_spans",
    "IVR sessions": "ivr_sessions",
    "alarms": "alarms",
    "alarm steps": "alarm_steps",
    "orders (and the subsidies they draw)": "service_orders",
    "order transitions": "order_transitions",
    "assessments": "assessments",
    "device heartbeats per hour": "device_heartbeat_hours",
    "complaints": "order_complaints",
    "ratings": "satisfaction_surveys",
}


def test_every_family_of_facts_is_read_from_its_table() -> None:
    read = {f.table for f in FACTS}
    assert {name: table for name, table in FAMILIES.items() if table not in read} == {}


def test_heartbeat_hours_arrive_from_the_history(any_runtime: Runtime, warehouse) -> None:
    """Every hour a device beat in counts, not only the hour of its newest heartbeat."""
    engine = any_runtime.engine
    now = clock.now()
    made: dict[str, Any] = {}
    device_id = seed_row(engine, metadata.tables["devices"], 0, now, made)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    with any_runtime.session() as s:
        heartbeat_history.record(
            s,
            [
                heartbeat_history.Beat(device_id, hour + timedelta(hours=h, minutes=m), 80 - h)
                for h in (0, 1, 3)
                for m in (5, 25, 45)
            ],
        )
    sync_now(warehouse, any_runtime)
    scope = Scope(COUNTY[:6] + "000000", hour, now + timedelta(hours=1), "hour")
    figure = dashboards.devices(warehouse, scope)
    assert [(r["devices_beating"], r["heartbeats"]) for r in figure["series"]] == [(1, 3)] * 3
    assert figure["total"][0]["heartbeats"] == 9
    assert [r["key"] for r in figure["regions"]] == [COUNTY[:6] + "000000"]
    other = dashboards.devices(warehouse, Scope("150200000000", hour, now, "hour"))
    assert other["total"] == [] or other["total"][0]["devices_beating"] == 0

    # beats arriving later in the newest hour replace that hour's row
    with any_runtime.session() as s:
        heartbeat_history.record(
            s, [heartbeat_history.Beat(device_id, hour + timedelta(hours=3, minutes=50), 70)]
        )
    sync_now(warehouse, any_runtime)
    figure = dashboards.devices(warehouse, scope)
    assert figure["total"][0]["heartbeats"] == 10
    rows = warehouse.query(f"SELECT count() AS n FROM {DATABASE}.device_hours FINAL")
    assert int(rows[0]["n"]) == 3


def test_complaints_arrive_and_rank_providers_unless_not_upheld(
    any_runtime: Runtime, warehouse
) -> None:
    engine = any_runtime.engine
    now = clock.now()
    made: dict[str, Any] = {}
    orders = metadata.tables["service_orders"]
    with any_runtime.session() as s:
        load_dictionary(s)
    county = "150102000000"  # 新城区 (the dictionary's, as an order's region must be)
    provider_id = seed_row(engine, metadata.tables["providers"], 0, now, made)
    order_id = seed_row(engine, orders, 0, now, made)
    with engine.begin() as conn:
        conn.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(provider_id=provider_id, region_code=county, opened_at=now)
        )
        for upheld, status in ((True, "closed"), (False, "closed"), (None, "open")):
            conn.execute(
                metadata.tables["order_complaints"]
                .insert()
                .values(
                    order_id=order_id,
                    region_code=county,
                    provider_id=provider_id,
                    text="服务人员迟到两小时",
                    opened_by="坐席",
                    status=status,
                    upheld=upheld,
                    opened_at=now,
                    closed_at=now if status == "closed" else None,
                )
            )
    sync_now(warehouse, any_runtime)
    rows = warehouse.query(
        f"SELECT count() AS n, countIf(upheld = 0) AS not_upheld FROM {DATABASE}.complaints FINAL"
    )
    assert (int(rows[0]["n"]), int(rows[0]["not_upheld"])) == (3, 1)
    scope = Scope("150100000000", now - timedelta(hours=1), now + timedelta(hours=1), "day")
    [ranked] = dashboards.providers(warehouse, scope)["ranking"]
    assert (ranked["provider_id"], ranked["orders"], ranked["complaints"]) == (provider_id, 1, 2)
    assert "迟到" not in json.dumps(
        warehouse.query(f"SELECT * FROM {DATABASE}.complaints FINAL"),
        default=str,
        ensure_ascii=False,
    )


def test_a_fact_table_of_an_older_shape_is_rebuilt_and_read_again(
    any_runtime: Runtime, warehouse
) -> None:
    engine = any_runtime.engine
    now = clock.now()
    made: dict[str, Any] = {}
    device_id = seed_row(engine, metadata.tables["devices"], 0, now, made)
    with any_runtime.session() as s:
        heartbeat_history.record(s, [heartbeat_history.Beat(device_id, now, 90)])
    sync_now(warehouse, any_runtime)
    # the table as an older release made it (the newest heartbeat of each device)
    warehouse.command(f"DROP TABLE {DATABASE}.device_hours SYNC")
    warehouse.command(
        f"CREATE TABLE {DATABASE}.device_hours (device_id UInt64, beat_at DateTime64(6, 'UTC'),"
        " _version UInt64) ENGINE = ReplacingMergeTree(_version) ORDER BY device_id"
    )
    source = source_for(any_runtime.settings, any_runtime.engine)
    ensure_schema(warehouse, source.attach_statements())
    assert "device_hours" not in cursors(warehouse)
    columns = warehouse.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'device_hours'",
        {"db": DATABASE},
    )
    assert {c["name"] for c in columns} >= {"hour", "beats", "battery_last"}
    sync_now(warehouse, any_runtime)  # the cursor is gone: the hours are read again
    assert warehouse_counts(warehouse)["device_hours"] == 1
    ensure_schema(warehouse, source.attach_statements())  # a current table is kept
    assert warehouse_counts(warehouse)["device_hours"] == 1
