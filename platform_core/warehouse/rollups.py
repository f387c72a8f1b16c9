"""Calls rolled up per day (the hotline's local day) and 旗县区, kept by the sync so that a
figure over two years reads some tens of thousands of rows instead of millions.

Each rollup row holds what ``KpiFigures`` counts for the calls first queued on one day in one
county, for one set of thresholds (service level and short abandon seconds) and one time zone.
It is computed from the calls read FINAL, so it carries no duplicate, and recomputed (replaced:
a ReplacingMergeTree on the day and county with the pass's version) for every day that any call
changed in since the last pass, with a zero row where a county no longer has calls. A set is
used only once ``rollup_state`` says it was built; otherwise the figures read the calls
themselves (the same answer, slower). Figures by hour read the calls.
"""

from __future__ import annotations

from datetime import datetime, time

from platform_core import clock
from platform_core.warehouse.engine import DATABASE, Warehouse

CALLS_DAILY = f"{DATABASE}.calls_daily"
ROLLUP_STATE = f"{DATABASE}.rollup_state"

_COUNTS = """
  countIf(outcome IN ('answered', 'abandoned', 'timeout')) AS offered,
  countIf(outcome = 'answered') AS answered,
  countIf(outcome = 'abandoned') AS abandoned,
  countIf(outcome = 'timeout') AS timeout,
  countIf(outcome = 'abandoned' AND ifNull(wait_s, 0) < {short_s:UInt16}) AS short_abandoned,
  countIf(outcome = 'answered' AND wait_s IS NOT NULL AND wait_s <= {sl_s:UInt16})
    AS answered_in_sl,
  countIf(outcome = 'answered' AND wait_s IS NULL) AS answered_unknown_wait,
  sumIf(ifNull(wait_s, 0), outcome = 'answered' AND wait_s IS NOT NULL) AS wait_answered_s
"""
COUNT_COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "timeout",
    "short_abandoned",
    "answered_in_sl",
    "answered_unknown_wait",
)


def ensure_rollups(wh: Warehouse) -> None:
    counts = ", ".join(f"`{c}` UInt64" for c in COUNT_COLUMNS)
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {CALLS_DAILY} ("
        " `sl_s` UInt16, `short_s` UInt16, `tz` LowCardinality(String), `day` Date,"
        " `county` LowCardinality(String),"
        " `league` LowCardinality(String) MATERIALIZED concat(substring(county, 1, 4), '00000000'),"
        f" {counts}, `wait_answered_s` Float64, `_version` UInt64"
        ") ENGINE = ReplacingMergeTree(_version) PARTITION BY toYYYYMM(day)"
        " ORDER BY (sl_s, short_s, tz, day, county)"
    )
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {ROLLUP_STATE} ("
        " `rollup` String, `sl_s` UInt16, `short_s` UInt16, `tz` String,"
        " `built_at` DateTime64(6, 'UTC'),"
        " `_version` UInt64"
        ") ENGINE = ReplacingMergeTree(_version) ORDER BY (rollup, sl_s, short_s, tz)"
    )


Thresholds = tuple[int, int, str]  # service level s, short abandon s, time zone
_SET = "sl_s = {sl_s:UInt16} AND short_s = {short_s:UInt16} AND tz = {tz:String}"


def _params(t: Thresholds, **extra: object) -> dict[str, object]:
    return {"sl_s": t[0], "short_s": t[1], "tz": t[2], **extra}


def _recompute(wh: Warehouse, t: Thresholds, *, since_day: str | None, version: int) -> None:
    """Rewrite the days from ``since_day`` (all of them without it) from the calls."""
    local_day = "toDate(toTimeZone(assumeNotNull(queued_at), {tz:String}))"
    window = f" AND {local_day} >= toDate({{since:String}})" if since_day else ""
    kept = " AND day >= toDate({since:String})" if since_day else ""
    zeros = ", ".join(f"0 AS {c}" for c in COUNT_COLUMNS)
    sums = ", ".join(f"sum({c}) AS {c}" for c in COUNT_COLUMNS)
    wh.command(
        f"INSERT INTO {CALLS_DAILY} (sl_s, short_s, tz, day, county, {', '.join(COUNT_COLUMNS)},"
        " wait_answered_s, _version)"
        f" SELECT {{sl_s:UInt16}}, {{short_s:UInt16}}, {{tz:String}}, day, county, {sums},"
        " sum(wait_answered_s), {version:UInt64} FROM ("
        f"  SELECT {local_day} AS day, county, {_COUNTS}"
        f"  FROM {DATABASE}.calls FINAL"
        "  WHERE direction = 'inbound' AND queued_at IS NOT NULL"
        + window
        + "  GROUP BY day, county"
        "  UNION ALL"
        f"  SELECT day, county, {zeros}, 0 AS wait_answered_s"
        f"  FROM {CALLS_DAILY} FINAL WHERE {_SET}" + kept + ") GROUP BY day, county"
        " SETTINGS do_not_merge_across_partitions_select_final = 1",
        _params(t, since=since_day or "1970-01-01", version=version),
    )


def refresh_calls(
    wh: Warehouse, t: Thresholds, *, changed_since_version: int, version: int
) -> None:
    """Recompute the days of the calls whose rows arrived with a version at or after
    ``changed_since_version`` (a pass's changes); build everything the first time."""
    if not calls_ready(wh, t):
        rebuild_calls(wh, t, version=version)
        return
    rows = wh.query(
        "SELECT toString(min(toDate(toTimeZone(assumeNotNull(queued_at), {tz:String})))) AS since,"
        f" count() AS n FROM {DATABASE}.calls WHERE _version >= {{v:UInt64}}"
        " AND queued_at IS NOT NULL",
        _params(t, v=changed_since_version),
    )
    if not rows or not int(rows[0]["n"]):
        return
    _recompute(wh, t, since_day=rows[0]["since"], version=version)


def rebuild_calls(wh: Warehouse, t: Thresholds, *, version: int) -> None:
    _recompute(wh, t, since_day=None, version=version)
    wh.command(
        f"INSERT INTO {ROLLUP_STATE} (rollup, sl_s, short_s, tz, built_at, _version) VALUES"
        " ('calls', {sl_s:UInt16}, {short_s:UInt16}, {tz:String},"
        " fromUnixTimestamp64Micro({v:Int64}), {v:UInt64})",
        _params(t, v=version),
    )


def calls_ready(wh: Warehouse, t: Thresholds) -> bool:
    rows = wh.query(
        f"SELECT count() AS n FROM {ROLLUP_STATE} FINAL WHERE rollup = 'calls' AND {_SET}",
        _params(t),
    )
    return bool(rows and int(rows[0]["n"]))


def day_aligned(tz: str, *instants: datetime) -> bool:
    """Each instant is a local midnight (the rollup's days cover the period exactly)."""
    return all(clock.local(at, tz).time() == time.min for at in instants)
