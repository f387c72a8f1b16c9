"""The warehouse's tables in ClickHouse SQL (the same statements on chDB and on a server)."""

from __future__ import annotations

from collections.abc import Sequence

from platform_core.warehouse.engine import DATABASE, Warehouse
from platform_core.warehouse.facts import FACTS, Fact
from platform_core.warehouse.rollups import ensure_rollups

SYNC_STATE = f"{DATABASE}.sync_state"


def table_of(fact: Fact) -> str:
    return f"{DATABASE}.{fact.name}"


def create_statement(fact: Fact) -> str:
    types = {c.name: c.type for c in fact.columns}
    columns = [f"`{c.name}` {c.type}" for c in fact.columns]
    columns += [
        f"`{name}` LowCardinality(String) MATERIALIZED {expr}" for name, expr in fact.derived
    ]
    key = [f"`{k}`" for k in fact.key]
    if [types.get(k) for k in fact.key] == ["String"]:
        # a text identity (a call's linkedid) is sorted and deduplicated by its 64-bit hash:
        # FINAL compares numbers, not strings
        columns.append(f"`_key` UInt64 MATERIALIZED cityHash64(`{fact.key[0]}`)")
        key = ["`_key`"]
    columns.append("`_version` UInt64")
    # passes find the rows they brought (by version) without reading the whole table
    columns.append("INDEX _version_minmax _version TYPE minmax GRANULARITY 1")
    return (
        f"CREATE TABLE IF NOT EXISTS {table_of(fact)} (\n  " + ",\n  ".join(columns) + "\n)"
        f" ENGINE = ReplacingMergeTree(_version)"
        f" PARTITION BY toYYYYMM({fact.time_column})"
        f" ORDER BY (toStartOfHour({fact.time_column}), {', '.join(key)})"
    )


def expected_columns(fact: Fact) -> set[str]:
    """The names of the fact table's stored columns."""
    names = {c.name for c in fact.columns} | {name for name, _ in fact.derived} | {"_version"}
    if [c.type for c in fact.columns if c.name in fact.key] == ["String"]:
        names.add("_key")
    return names


def ensure_schema(wh: Warehouse, attach: Sequence[str] = ()) -> None:
    """Create the database and every table that is missing, then ``attach`` the primary
    database (a source's ``attach_statements``). A fact table whose columns are not the fact's
    (an older release's shape) is rebuilt empty and its cursor reset, so the next pass reads
    the fact's rows from the source again."""
    wh.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for statement in attach:
        wh.command(statement)
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {SYNC_STATE} ("
        " `fact` String, `cursor` DateTime64(6, 'UTC'), `pass_started` DateTime64(6, 'UTC'),"
        " `rows` UInt64, `_version` UInt64"
        ") ENGINE = ReplacingMergeTree(_version) ORDER BY fact"
    )
    stored: dict[str, set[str]] = {}
    for row in wh.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String}", {"db": DATABASE}
    ):
        stored.setdefault(row["table"], set()).add(row["name"])
    for fact in FACTS:
        if fact.name in stored and stored[fact.name] != expected_columns(fact):
            wh.command(f"DROP TABLE IF EXISTS {table_of(fact)} SYNC")
            # without a cursor the next pass reads every source row of the fact
            wh.command(
                f"ALTER TABLE {SYNC_STATE} DELETE WHERE fact = {{fact:String}}"
                " SETTINGS mutations_sync = 1",
                {"fact": fact.name},
            )
        wh.command(create_statement(fact))
    ensure_rollups(wh)


def drop_all(wh: Warehouse) -> None:
    """Remove the warehouse's tables (a rebuild starts with ``hotline warehouse backfill``)."""
    wh.command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
