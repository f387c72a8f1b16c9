"""The bureau's figures, answered by the warehouse in ClickHouse SQL (chDB or a server).

Every figure is asked for a region (the autonomous region, a 盟市 or a 旗县区) and a period;
it answers by time bucket (hour, day or month, in the hotline's zone), by the region's children
(盟市 under the region, 旗县区 under a 盟市) and in total. Tables are read FINAL, so a row the
sync delivered twice counts once even before ClickHouse merges it.

The call figures are the KPIs of platform_core.calls.kpi (DOMAIN.md section 8): the SQL counts
what ``KpiFigures`` counts and the rates come from ``KpiFigures`` itself, so the answer rate
here equals ``hotline report kpi`` for the same period. The alarm figures follow
platform_core.alarms.kpi the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from platform_core.alarms.vocabulary import NEEDS_PERSON, AlarmStatus
from platform_core.calls.kpi import KpiFigures
from platform_core.errors import ValidationFailed
from platform_core.regions import codes
from platform_core.warehouse import rollups
from platform_core.warehouse.engine import DATABASE, Warehouse

GRAINS = ("hour", "day", "month")
FIGURES = ("calls", "alarms", "orders", "subsidies", "providers", "coverage", "devices")
FINAL_SETTINGS = " SETTINGS do_not_merge_across_partitions_select_final = 1"
# Device statuses in which a device serves an elder (lifecycle: bound ... under repair).
SERVING_DEVICE = ("bound", "installed", "online", "offline", "low_battery", "fault", "under_repair")


@dataclass(frozen=True)
class Scope:
    """What a figure is asked for: a region (12 digits) and a period [start, end) in UTC."""

    region_code: str
    start: datetime
    end: datetime
    grain: str = "day"
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ValidationFailed(
                "粒度只能是小时、天或月 / grain must be hour, day or month", code="invalid_grain"
            )
        if self.end <= self.start:
            raise ValidationFailed(
                "结束时间须晚于开始时间 / the period must end after it starts",
                code="invalid_period",
            )

    @property
    def level(self) -> int:
        return codes.level_of(self.region_code)

    @property
    def child_column(self) -> str:
        """The column naming the children this region drills into."""
        return "league" if self.level == 1 else "county"

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "prefix": codes.prefix_of(self.region_code),
            "start": _ch(self.start),
            "end": _ch(self.end),
            "tz": self.timezone,
            **extra,
        }


def _ch(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def bucket(column: str, grain: str) -> str:
    """The local hour, day or month of ``column`` (grouped on; ``bucket_key`` prints it)."""
    local = f"toTimeZone({column}, {{tz:String}})"
    if grain == "hour":
        return f"toStartOfHour({local})"
    if grain == "day":
        return f"toDate({local})"
    return f"toStartOfMonth({local})"


def bucket_key(value: Any, grain: str) -> str:
    """A bucket as rows are keyed: '2026-03-02 08:00', '2026-03-02' or '2026-03'."""
    text = str(value)
    if grain == "hour":
        return f"{text[:13]}:00"
    return text[:10] if grain == "day" else text[:7]


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "") + "'" for v in sorted(values)) + ")"


# -- calls ---------------------------------------------------------------------------------------

_CALL_COUNTS = """
  countIf(outcome IN ('answered', 'abandoned', 'timeout')) AS offered,
  countIf(outcome = 'answered') AS answered,
  countIf(outcome = 'abandoned') AS abandoned,
  countIf(outcome = 'timeout') AS timeout,
  countIf(outcome = 'abandoned' AND ifNull(wait_s, 0) < {short_s:Float64}) AS short_abandoned,
  countIf(outcome = 'answered' AND wait_s IS NOT NULL AND wait_s <= {sl_s:Float64})
    AS answered_in_sl,
  countIf(outcome = 'answered' AND wait_s IS NULL) AS answered_unknown_wait,
  sumIf(ifNull(wait_s, 0), outcome = 'answered' AND wait_s IS NOT NULL) AS wait_answered_s
"""


_ROLLED_COUNTS = ", ".join(
    [f"sum({c}) AS {c}" for c in rollups.COUNT_COLUMNS]
    + ["sum(wait_answered_s) AS wait_answered_s"]
)


def _call_figures(row: dict[str, Any], *, sl_s: int, short_s: int) -> dict[str, Any]:
    fig = KpiFigures(service_level_s=sl_s, short_abandon_s=short_s)
    for name in rollups.COUNT_COLUMNS:
        setattr(fig, name, int(row.get(name) or 0))
    fig.wait_answered_s = float(row.get("wait_answered_s") or 0.0)
    return {
        "key": row["key"],
        "offered": fig.offered,
        "answered": fig.answered,
        "abandoned": fig.abandoned,
        "timeout": fig.timeout,
        "answer_rate": fig.answer_rate,
        "service_level": fig.service_level,
        "abandon_rate": fig.abandon_rate,
        "asa_s": fig.asa_s,
    }


def calls(
    wh: Warehouse, scope: Scope, *, service_level_s: int, short_abandon_s: int
) -> dict[str, Any]:
    """Calls offered, answered, service level and abandonment (DOMAIN.md section 8)."""
    where = (
        "direction = 'inbound' AND queued_at >= {start:DateTime64(6, 'UTC')}"
        " AND queued_at < {end:DateTime64(6, 'UTC')}"
        # the sort key's time: a call is queued after it starts, within a day
        " AND started_at >= {start:DateTime64(6, 'UTC')} - INTERVAL 1 DAY"
        " AND started_at < {end:DateTime64(6, 'UTC')}"
        " AND startsWith(region_code, {prefix:String})"
    )
    params = scope.params(sl_s=float(service_level_s), short_s=float(short_abandon_s))
    thresholds = (service_level_s, short_abandon_s, scope.timezone)
    if (
        scope.grain != "hour"
        and rollups.day_aligned(scope.timezone, scope.start, scope.end)
        and rollups.calls_ready(wh, thresholds)
    ):
        # whole days: the daily rollup holds the same counts, thousands of rows not millions
        parts = _three_ways(
            wh,
            _ROLLED_COUNTS,
            f"{rollups.CALLS_DAILY} FINAL",
            "sl_s = {sl:UInt16} AND short_s = {short:UInt16} AND tz = {tz:String}"
            " AND day >= toDate(toTimeZone({start:DateTime64(6, 'UTC')}, {tz:String}))"
            " AND day < toDate(toTimeZone({end:DateTime64(6, 'UTC')}, {tz:String}))"
            " AND startsWith(county, {prefix:String})",
            scope,
            "day",
            {**params, "sl": service_level_s, "short": short_abandon_s},
            local_time=True,
        )
    else:
        parts = _three_ways(
            wh, _CALL_COUNTS, f"{DATABASE}.calls FINAL", where, scope, "queued_at", params
        )
    return {
        part: [_call_figures(r, sl_s=service_level_s, short_s=short_abandon_s) for r in rows]
        for part, rows in parts.items()
    }


def _three_ways(
    wh: Warehouse,
    select: str,
    source: str,
    where: str,
    scope: Scope,
    time_column: str,
    params: dict[str, Any],
    extra: tuple[str, ...] = (),
    *,
    local_time: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """The aggregate by time bucket (``series``), by child region (``regions``), in total and
    by each ``extra`` column (``by_<column>``), in one scan (GROUPING SETS). ``local_time``: the
    time column is already the hotline's local date."""
    time_key = (
        (time_column if scope.grain == "day" else f"toStartOfMonth({time_column})")
        if local_time
        else bucket(time_column, scope.grain)
    )
    keys = {"_b": time_key, "_c": scope.child_column}
    keys.update({f"_x{i}": column for i, column in enumerate(extra)})
    sets = ", ".join(f"({k})" for k in keys) + ", ()"
    flags = ", ".join(f"grouping({k}) AS _g{k}" for k in keys)
    sql = (
        f"SELECT {', '.join(f'{v} AS {k}' for k, v in keys.items())}, {flags}, {select}"
        f" FROM {source} WHERE {where} GROUP BY GROUPING SETS ({sets}){FINAL_SETTINGS}"
    )
    parts: dict[str, list[dict[str, Any]]] = {"series": [], "regions": [], "total": []}
    parts.update({f"by_{column}": [] for column in extra})
    for row in wh.query(sql, params):
        grouped = [k for k in keys if not int(row.pop(f"_g{k}"))]
        values = {k: row.pop(k) for k in keys}
        if not grouped:
            parts["total"].append({"key": "total", **row})
        elif grouped == ["_b"]:
            parts["series"].append({"key": bucket_key(values["_b"], scope.grain), **row})
        elif grouped == ["_c"]:
            parts["regions"].append({"key": str(values["_c"]), **row})
        else:
            i = int(grouped[0][2:])
            parts[f"by_{extra[i]}"].append({"key": str(values[grouped[0]]), **row})
    for rows in parts.values():
        rows.sort(key=lambda r: r["key"])
    return parts


# -- alarms --------------------------------------------------------------------------------------


def alarms(
    wh: Warehouse, scope: Scope, *, targets: list[tuple[int, float]], now: datetime
) -> dict[str, Any]:
    """Alarms raised and answered within each target (60 s / 180 s), as alarms/kpi.py counts."""
    longest = max((t for t, _ in targets), default=180)
    needs = _in_list(NEEDS_PERSON)
    counted = (
        f"status != '{AlarmStatus.SUPPRESSED}' AND alarm_type IN {needs}"
        f" AND NOT (status = '{AlarmStatus.WAITING}'"
        " AND received_at > {now:DateTime64(6, 'UTC')} - toIntervalSecond({longest:UInt32}))"
    )
    within = ",\n".join(
        f"countIf({counted} AND taken_at IS NOT NULL"
        f" AND dateDiff('microsecond', received_at, taken_at) <= {int(t) * 1_000_000})"
        f" AS within_{int(t)}"
        for t, _ in targets
    )
    select = (
        f"countIf(status != '{AlarmStatus.SUPPRESSED}') AS raised,"
        f" countIf({counted}) AS counted,"
        f" countIf(status = '{AlarmStatus.WAITING}') AS waiting,"
        f" {within}"
    )
    where = (
        "received_at >= {start:DateTime64(6, 'UTC')} AND received_at < {end:DateTime64(6, 'UTC')}"
        " AND startsWith(region_code, {prefix:String})"
    )
    params = scope.params(now=_ch(now), longest=int(longest))
    parts = _three_ways(wh, select, f"{DATABASE}.alarms FINAL", where, scope, "received_at", params)

    def shaped(row: dict[str, Any]) -> dict[str, Any]:
        counted_n = int(row["counted"])
        out = {
            "key": row["key"],
            "raised": int(row["raised"]),
            "counted": counted_n,
            "waiting": int(row["waiting"]),
        }
        for t, target in targets:
            n = int(row[f"within_{int(t)}"])
            share = round(n / counted_n, 4) if counted_n else None
            out[f"within_{int(t)}"] = n
            out[f"share_{int(t)}"] = share
            out[f"met_{int(t)}"] = None if share is None else share >= target
        return out

    result: dict[str, Any] = {part: [shaped(r) for r in rows] for part, rows in parts.items()}
    result["targets"] = [{"seconds": t, "target": v} for t, v in targets]
    return result


# -- orders and subsidies --------------------------------------------------------------------------

_BREACHED = (
    f"(escalated_at IS NOT NULL OR id IN (SELECT order_id FROM {DATABASE}.sla_breaches FINAL))"
)


def orders(wh: Warehouse, scope: Scope) -> dict[str, Any]:
    """Orders opened, by programme (service category), status and SLA breach."""
    where = (
        "opened_at >= {start:DateTime64(6, 'UTC')} AND opened_at < {end:DateTime64(6, 'UTC')}"
        " AND startsWith(region_code, {prefix:String})"
    )
    select = (
        "count() AS opened, countIf(completed_at IS NOT NULL) AS completed,"
        " countIf(cancelled_at IS NOT NULL) AS cancelled,"
        f" countIf({_BREACHED}) AS breached, countIf(complaint_at IS NOT NULL) AS complaints"
    )
    source = f"{DATABASE}.orders FINAL"
    parts = _three_ways(
        wh, select, source, where, scope, "opened_at", scope.params(), ("category", "status")
    )
    result: dict[str, Any] = {
        "series": parts["series"],
        "regions": parts["regions"],
        "total": parts["total"],
        "by_programme": sorted(parts["by_category"], key=lambda r: -int(r["opened"])),
        "by_status": sorted(parts["by_status"], key=lambda r: -int(r["opened"])),
    }
    for rows in result.values():
        for r in rows:
            for k in ("opened", "completed", "cancelled", "breached", "complaints"):
                r[k] = int(r[k])
            r["breach_rate"] = round(r["breached"] / r["opened"], 4) if r["opened"] else None
    return result


def subsidies(wh: Warehouse, scope: Scope) -> dict[str, Any]:
    """Subsidies drawn by service orders: the subsidy of every order completed in the period
    and not cancelled, by service category (the care programmes' budgets are read beside it,
    platform_core.flows.supervision)."""
    where = (
        "completed_at >= {start:DateTime64(6, 'UTC')} AND completed_at < {end:DateTime64(6, 'UTC')}"
        " AND cancelled_at IS NULL AND startsWith(region_code, {prefix:String})"
        " AND opened_at < {end:DateTime64(6, 'UTC')}"
    )
    select = "count() AS orders, toFloat64(sum(subsidy)) AS subsidy, toFloat64(sum(self_pay)) AS self_pay"
    source = f"{DATABASE}.orders FINAL"
    parts = _three_ways(
        wh, select, source, where, scope, "completed_at", scope.params(), ("category",)
    )
    result: dict[str, Any] = {
        "series": parts["series"],
        "regions": parts["regions"],
        "total": parts["total"],
        "by_programme": sorted(parts["by_category"], key=lambda r: -float(r["subsidy"])),
    }
    for rows in result.values():
        for r in rows:
            r["orders"] = int(r["orders"])
            r["subsidy"], r["self_pay"] = round(r["subsidy"], 2), round(r["self_pay"], 2)
    return result


def providers(wh: Warehouse, scope: Scope, *, limit: int = 20) -> dict[str, Any]:
    """Providers serving the region ranked by quality (ratings and return-visit satisfaction),
    complaints and timeliness (accepted within the response time and on site within the
    arrival time)."""
    rows = wh.query(
        f"""
        SELECT o.provider_id AS provider_id, p.name AS name, p.grade AS grade, o.orders AS orders,
          o.rating AS rating, o.accepted AS accepted, o.on_time AS on_time
        FROM (
          SELECT assumeNotNull(provider_id) AS provider_id, count() AS orders,
            avgIf(rating, rating IS NOT NULL) AS rating,
            countIf(accepted_at IS NOT NULL) AS accepted,
            countIf(accepted_at IS NOT NULL AND accepted_at <= response_due_at
                    AND (arrival_due_at IS NULL OR (checked_in_at IS NOT NULL
                         AND checked_in_at <= arrival_due_at))) AS on_time
          FROM {DATABASE}.orders FINAL
          WHERE provider_id IS NOT NULL
            AND opened_at >= {{start:DateTime64(6, 'UTC')}} AND opened_at < {{end:DateTime64(6, 'UTC')}}
            AND startsWith(region_code, {{prefix:String}})
          GROUP BY provider_id
        ) AS o
        LEFT JOIN (SELECT id, name, grade FROM {DATABASE}.providers FINAL) AS p ON p.id = o.provider_id
        {FINAL_SETTINGS}
        """,
        scope.params(),
    )
    visits = {
        int(r["provider_id"]): r
        for r in wh.query(
            f"""
            SELECT provider_id, avgIf(satisfaction, satisfaction IS NOT NULL) AS satisfaction,
              countIf(result = 'dissatisfied') AS dissatisfied, count() AS visits
            FROM {DATABASE}.return_visits FINAL
            WHERE provider_id IS NOT NULL
              AND at >= {{start:DateTime64(6, 'UTC')}} AND at < {{end:DateTime64(6, 'UTC')}}
              AND startsWith(region_code, {{prefix:String}})
            GROUP BY provider_id{FINAL_SETTINGS}
            """,
            scope.params(),
        )
    }
    # complaints taken in the period (投诉), each counted unless it was closed as not upheld,
    # as the provider's monthly evaluation counts them
    complaints = {
        int(r["provider_id"]): int(r["complaints"])
        for r in wh.query(
            f"""
            SELECT assumeNotNull(provider_id) AS provider_id, count() AS complaints
            FROM {DATABASE}.complaints FINAL
            WHERE provider_id IS NOT NULL AND ifNull(upheld, 1) = 1
              AND opened_at >= {{start:DateTime64(6, 'UTC')}} AND opened_at < {{end:DateTime64(6, 'UTC')}}
              AND startsWith(region_code, {{prefix:String}})
            GROUP BY provider_id{FINAL_SETTINGS}
            """,
            scope.params(),
        )
    }
    ranked = []
    for r in rows:
        pid = int(r["provider_id"])
        v = visits.get(pid, {})
        r["complaints"] = complaints.get(pid, 0)
        orders_n, accepted = int(r["orders"]), int(r["accepted"])
        rating = _num(r.get("rating"))
        satisfaction = _num(v.get("satisfaction"))
        # quality on a 0-100 scale: the mean of the ratings and return-visit scores (1-5) given
        scores = [x for x in (rating, satisfaction) if x is not None]
        quality = round((sum(scores) / len(scores) - 1) / 4 * 100, 1) if scores else None
        ranked.append(
            {
                "key": str(pid),
                "provider_id": pid,
                "name": r.get("name") or f"#{pid}",
                "grade": r.get("grade") or "",
                "orders": orders_n,
                "complaints": int(r["complaints"]),
                "complaint_rate": round(int(r["complaints"]) / orders_n, 4) if orders_n else None,
                "rating": None if rating is None else round(rating, 2),
                "satisfaction": None if satisfaction is None else round(satisfaction, 2),
                "quality": quality,
                "on_time_rate": round(int(r["on_time"]) / accepted, 4) if accepted else None,
            }
        )

    def rank(x: dict[str, Any]) -> tuple[float, float, float, int]:
        # best quality first, then fewer complaints, then more often on time
        quality = x["quality"] if x["quality"] is not None else -1.0
        complaints = x["complaint_rate"] if x["complaint_rate"] is not None else 1.0
        return (
            -float(quality),
            float(complaints),
            -float(x["on_time_rate"] or 0),
            x["provider_id"],
        )

    ranked.sort(key=rank)
    return {"ranking": ranked[:limit], "providers": len(ranked)}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # avgIf over nothing is nan


# -- coverage and devices ------------------------------------------------------------------------


def coverage(wh: Warehouse, scope: Scope) -> dict[str, Any]:
    """Elders on file, assessed, with a serving device, served in the period, with a care bed;
    by child region and in total."""
    key = scope.child_column
    serving = _in_list(SERVING_DEVICE)
    sql = f"""
        SELECT e.{key} AS key, count() AS elders,
          countIf(e.id IN (SELECT elder_id FROM {DATABASE}.assessments FINAL)) AS assessed,
          countIf(e.id IN (SELECT assumeNotNull(elder_id) FROM {DATABASE}.devices FINAL
                           WHERE elder_id IS NOT NULL AND status IN {serving})) AS with_device,
          countIf(e.id IN (SELECT elder_id FROM {DATABASE}.orders FINAL
                           WHERE completed_at >= {{start:DateTime64(6, 'UTC')}}
                             AND completed_at < {{end:DateTime64(6, 'UTC')}})) AS served,
          countIf(e.id IN (SELECT elder_id FROM {DATABASE}.care_beds FINAL
                           WHERE status = 'in_service')) AS care_bed
        FROM {DATABASE}.elders AS e FINAL
        WHERE e.status = 'active' AND startsWith(e.region_code, {{prefix:String}})
        GROUP BY key ORDER BY key{FINAL_SETTINGS}
    """
    regions = [_coverage_row(r) for r in wh.query(sql, scope.params())]
    total = {
        "key": "total",
        "elders": 0,
        "assessed": 0,
        "with_device": 0,
        "served": 0,
        "care_bed": 0,
    }
    for r in regions:
        for k in ("elders", "assessed", "with_device", "served", "care_bed"):
            total[k] += r[k]
    return {"regions": regions, "total": [_coverage_row(total)]}


def _coverage_row(r: dict[str, Any]) -> dict[str, Any]:
    out = {"key": r["key"]}
    elders = int(r["elders"])
    out["elders"] = elders
    for k in ("assessed", "with_device", "served", "care_bed"):
        out[k] = int(r[k])
        out[f"{k}_rate"] = round(int(r[k]) / elders, 4) if elders else None
    return out


def devices(wh: Warehouse, scope: Scope) -> dict[str, Any]:
    """Devices heard from (a heartbeat in the bucket, from the heartbeat history's hours), the
    heartbeats they sent, and alarm signals received."""
    # the hours carry no region: a device's is its region now
    hours = (
        f"(SELECT h.device_id AS device_id, h.hour AS hour, h.beats AS beats,"
        f" d.region_code AS region_code, d.league AS league, d.county AS county"
        f" FROM {DATABASE}.device_hours AS h FINAL"
        f" INNER JOIN (SELECT id, region_code, league, county FROM {DATABASE}.devices FINAL"
        " WHERE startsWith(region_code, {prefix:String})) AS d ON d.id = h.device_id"
        " WHERE h.hour >= toStartOfHour({start:DateTime64(6, 'UTC')})"
        " AND h.hour < {end:DateTime64(6, 'UTC')})"
    )
    beats = _three_ways(
        wh,
        "uniqExact(device_id) AS devices_beating, sum(beats) AS heartbeats",
        hours,
        "1",
        scope,
        "hour",
        scope.params(),
    )
    for rows in beats.values():
        for r in rows:
            r["devices_beating"] = int(r["devices_beating"])
            r["heartbeats"] = int(r["heartbeats"])
    signals = wh.query(
        f"SELECT {bucket('received_at', scope.grain)} AS _b, count() AS signals,"
        " countIf(kind = 'alarm') AS alarm_signals"
        f" FROM {DATABASE}.alarm_signals FINAL"
        " WHERE received_at >= {start:DateTime64(6, 'UTC')} AND received_at < {end:DateTime64(6, 'UTC')}"
        f" AND device_id IN (SELECT id FROM {DATABASE}.devices FINAL"
        " WHERE startsWith(region_code, {prefix:String}))"
        f" GROUP BY _b ORDER BY _b{FINAL_SETTINGS}",
        scope.params(),
    )
    beats["signals"] = [
        {
            "key": bucket_key(r["_b"], scope.grain),
            "signals": int(r["signals"]),
            "alarm_signals": int(r["alarm_signals"]),
        }
        for r in signals
    ]
    return beats
