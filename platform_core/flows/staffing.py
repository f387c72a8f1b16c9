"""The staffing forecast: each 30-minute interval's expected calls from the warehouse's history,
the callers' patience measured from the calls that waited, and the agents each interval needs
to hold 接通率 and the service level by Erlang C and Erlang A, beside the agents logged in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.calls.models import Agent
from platform_core.forecast.arrivals import (
    INTERVAL_MIN,
    IntervalHistory,
    Patience,
    forecast,
    interval_start,
)
from platform_core.forecast.erlang import Requirement, agents_needed
from platform_core.regions import codes
from platform_core.runtime import settings_of
from platform_core.warehouse.engine import DATABASE, Warehouse

HISTORY_WEEKS = 8
OFFERED = "outcome IN ('answered', 'abandoned', 'timeout')"


def _local(text: str, tz: ZoneInfo) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)


# the calls of a region (a prefix of their region codes: the autonomous region's takes every
# call, also a caller's not placed in any 盟市)
IN_REGION = " AND startsWith(region_code, {prefix:String})"


def history(
    wh: Warehouse, *, since: datetime, until: datetime, tz: str, prefix: str = ""
) -> list[IntervalHistory]:
    """Offered calls and handle time per local half hour in [since, until), of the calls whose
    region code starts with ``prefix``."""
    zone = ZoneInfo(tz)
    params = {"since": _ch(since), "until": _ch(until), "tz": tz, "prefix": prefix}
    slot = "toStartOfInterval(toTimeZone({col}, {{tz:String}}), INTERVAL 30 MINUTE)"
    offered = wh.query(
        f"SELECT toString({slot.format(col='queued_at')}) AS slot, count() AS offered"
        f" FROM {DATABASE}.calls FINAL WHERE direction = 'inbound' AND {OFFERED}"
        " AND queued_at >= {since:DateTime64(6, 'UTC')} AND queued_at < {until:DateTime64(6, 'UTC')}"
        " AND started_at >= {since:DateTime64(6, 'UTC')} - INTERVAL 1 DAY"
        " AND started_at < {until:DateTime64(6, 'UTC')}" + IN_REGION + " GROUP BY slot",
        params,
    )
    # the legs of the region's calls only (an offer carries the call's id, not its region)
    of_region = (
        f" AND linkedid IN (SELECT linkedid FROM {DATABASE}.calls FINAL"
        " WHERE started_at >= {since:DateTime64(6, 'UTC')} - INTERVAL 1 DAY"
        " AND started_at < {until:DateTime64(6, 'UTC')}" + IN_REGION + ")"
        if prefix
        else ""
    )
    handled = wh.query(
        f"SELECT toString({slot.format(col='offered_at')}) AS slot,"
        " sum(ifNull(talk_s, 0) + ifNull(wrapup_s, 0)) AS handle_s, count() AS legs"
        f" FROM {DATABASE}.agent_offers FINAL WHERE status = 'completed'"
        " AND offered_at >= {since:DateTime64(6, 'UTC')} AND offered_at < {until:DateTime64(6, 'UTC')}"
        + of_region
        + " GROUP BY slot",
        params,
    )
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for r in offered:
        rows[r["slot"]][0] = int(r["offered"])
    for r in handled:
        rows[r["slot"]][1] = float(r["handle_s"])
        rows[r["slot"]][2] = int(r["legs"])
    return [
        IntervalHistory(_local(k, zone), int(v[0]), float(v[1]), int(v[2])) for k, v in rows.items()
    ]


def measured_patience(
    wh: Warehouse, *, since: datetime, until: datetime, prefix: str = ""
) -> Patience:
    """Abandons and the waiting time at risk of the offered calls in [since, until) whose
    region code starts with ``prefix``."""
    rows = wh.query(
        f"SELECT countIf(outcome = 'abandoned') AS abandoned, sum(ifNull(wait_s, 0)) AS exposure"
        f" FROM {DATABASE}.calls FINAL WHERE direction = 'inbound' AND {OFFERED}"
        " AND queued_at >= {since:DateTime64(6, 'UTC')} AND queued_at < {until:DateTime64(6, 'UTC')}"
        " AND started_at >= {since:DateTime64(6, 'UTC')} - INTERVAL 1 DAY" + IN_REGION,
        {"since": _ch(since), "until": _ch(until), "prefix": prefix},
    )
    r = rows[0] if rows else {"abandoned": 0, "exposure": 0}
    return Patience(int(r["abandoned"] or 0), float(r["exposure"] or 0.0))


def _ch(at: datetime) -> str:
    return clock.local(at, "UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=4096)
def _needed(
    rate: float, aht: float, patience: float | None, sl_s: float, ar: float, sl: float
) -> Requirement:
    return agents_needed(
        rate, aht, patience, sl_s=sl_s, answer_rate_target=ar, service_level_target=sl
    )


def logged_in_by_interval(
    wh: Warehouse,
    *,
    since: datetime,
    until: datetime,
    tz: str,
    interfaces: frozenset[str] | None = None,
) -> dict[datetime, float]:
    """Agents logged in per local half hour (mean over the interval), from their state spans
    (of ``interfaces`` only, when given)."""
    zone = ZoneInfo(tz)
    rows = wh.query(
        f"SELECT interface, state, toUnixTimestamp64Micro(started_at) AS at"
        f" FROM {DATABASE}.agent_states FINAL"
        " WHERE started_at < {until:DateTime64(6, 'UTC')}"
        " AND started_at >= {since:DateTime64(6, 'UTC')} - INTERVAL 7 DAY"
        " ORDER BY interface, at",
        {"since": _ch(since), "until": _ch(until)},
    )
    spans: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for r in rows:
        if interfaces is not None and r["interface"] not in interfaces:
            continue
        spans[r["interface"]].append((int(r["at"]) / 1e6, r["state"]))
    lo, hi = since.timestamp(), until.timestamp()
    seconds: dict[float, float] = defaultdict(float)
    step = INTERVAL_MIN * 60
    for items in spans.values():
        for i, (at, state) in enumerate(items):
            if state == "logged_out":
                continue
            begin = max(at, lo)
            end = min(items[i + 1][0] if i + 1 < len(items) else hi, hi)
            cursor = begin
            while cursor < end:
                slot = cursor - ((cursor - lo) % step)
                edge = min(slot + step, end)
                seconds[slot] += edge - cursor
                cursor = edge
    return {datetime.fromtimestamp(slot, zone): total / step for slot, total in seconds.items()}


def region_agents(session: Session, region_code: str) -> frozenset[str] | None:
    """The agents' interfaces of a 盟市 or 旗县区 (None for the autonomous region: every agent,
    also those placed in no region)."""
    if codes.level_of(region_code) <= 1:
        return None
    prefix = codes.prefix_of(region_code)
    return frozenset(
        session.scalars(select(Agent.interface).where(Agent.region_code.startswith(prefix)))
    )


def plan(
    session: Session,
    wh: Warehouse,
    *,
    start: datetime,
    intervals: int,
    region_code: str | None = None,
) -> dict[str, Any]:
    """The forecast and the agents needed for ``intervals`` half hours from ``start``, beside
    the agents logged in during the same half hour a week earlier, for the calls and agents
    of ``region_code`` (the hotline's whole region when None)."""
    settings = settings_of(session)
    region_code = region_code or settings.home_region_code
    prefix = codes.prefix_of(region_code)
    tz = settings.timezone
    zone = ZoneInfo(tz)
    first = interval_start(clock.local(start, tz))
    starts = [first + timedelta(minutes=INTERVAL_MIN * i) for i in range(intervals)]
    since = first - timedelta(weeks=HISTORY_WEEKS)
    past = history(wh, since=since, until=first, tz=tz, prefix=prefix)
    patience = measured_patience(wh, since=since, until=first, prefix=prefix)
    predicted = forecast(past, starts, weeks=HISTORY_WEEKS)
    week_before = logged_in_by_interval(
        wh,
        since=starts[0] - timedelta(weeks=1),
        until=starts[-1] - timedelta(weeks=1) + timedelta(minutes=INTERVAL_MIN),
        tz=tz,
        interfaces=region_agents(session, region_code),
    )
    rows = []
    for f in predicted:
        aht = f.aht_s or 0.0
        req = (
            _needed(
                round(f.rate_per_s, 6),
                round(aht, 1),
                None if patience.mean_s is None else round(patience.mean_s, 1),
                float(settings.service_level_s),
                settings.answer_rate_target,
                settings.service_level_target,
            )
            if f.offered > 0 and aht > 0
            else None
        )
        earlier = f.start.astimezone(zone) - timedelta(weeks=1)
        rows.append(
            {
                "start": f.start.isoformat(),
                "offered": round(f.offered, 1),
                "aht_s": None if f.aht_s is None else round(f.aht_s, 1),
                "load": None if req is None else round(req.load, 2),
                "erlang_c": None if req is None else req.erlang_c.as_dict(),
                "erlang_a": None if req is None else req.erlang_a.as_dict(),
                "logged_in_week_before": round(week_before.get(earlier, 0.0), 1),
            }
        )
    return {
        "region_code": region_code,
        "interval_min": INTERVAL_MIN,
        "history_weeks": HISTORY_WEEKS,
        "patience_s": None if patience.mean_s is None else round(patience.mean_s, 1),
        "abandons_measured": patience.abandoned,
        "targets": {
            "answer_rate": settings.answer_rate_target,
            "service_level": settings.service_level_target,
            "service_level_s": settings.service_level_s,
        },
        "intervals": rows,
    }


def logged_in_now(session: Session, region_code: str) -> int:
    query = select(func.count()).select_from(Agent).where(Agent.state != "logged_out")
    if codes.level_of(region_code) > 1:
        query = query.where(Agent.region_code.startswith(codes.prefix_of(region_code)))
    return int(session.scalar(query) or 0)


def now_interval(
    session: Session,
    wh: Warehouse,
    *,
    now: datetime | None = None,
    region_code: str | None = None,
) -> dict[str, Any]:
    """The wallboard's tile: this half hour's forecast and need against the agents logged in,
    for the calls and agents of ``region_code``."""
    current = plan(session, wh, start=now or clock.now(), intervals=1, region_code=region_code)
    row = current["intervals"][0]
    return {
        **row,
        "region_code": current["region_code"],
        "patience_s": current["patience_s"],
        "targets": current["targets"],
        "logged_in": logged_in_now(session, current["region_code"]),
    }
