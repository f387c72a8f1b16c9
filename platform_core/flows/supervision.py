"""The bureau's supervision figures: the warehouse's answers for a region and period, with the
regions named from the dictionary, the targets from the settings and the warehouse's lag.

The region asked for must lie within the asking user's region (an officer of one 盟市 sees
theirs only); the caller checks permissions, this flow checks the region.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.alarms.config import answer_targets
from platform_core.catalogue.models import CATEGORY_LABELS
from platform_core.errors import ValidationFailed
from platform_core.flows.care_money import budget_lines
from platform_core.orders.states import STATUS_LABELS
from platform_core.regions import codes
from platform_core.regions.models import Region
from platform_core.regions.service import list_children, region_path, require_within
from platform_core.runtime import settings_of
from platform_core.warehouse import dashboards
from platform_core.warehouse.engine import Warehouse
from platform_core.warehouse.sync import status as sync_status

# Where the drill-down stops: the figures go down to 旗县区.
DEEPEST_LEVEL = 3


def region_names(session: Session, codes_: set[str]) -> dict[str, str]:
    if not codes_:
        return {}
    rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(codes_)))
    return {code: name for code, name in rows}


def resolve_region(requested: str | None, scope_code: str) -> str:
    """The region to show: the one asked for (within the user's), else the user's own."""
    code = codes.normalize_code(requested) if requested else codes.normalize_code(scope_code)
    if codes.level_of(code) > DEEPEST_LEVEL:
        raise ValidationFailed(
            "只能下钻到旗县区 / the figures go down to 旗县区 only", code="region_too_deep"
        )
    require_within(code, scope_code)
    return code


def figure(
    session: Session,
    wh: Warehouse,
    *,
    name: str,
    scope_code: str,
    region_code: str | None,
    start: datetime,
    end: datetime,
    grain: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One figure (``dashboards.FIGURES``) for a region within ``scope_code``."""
    if name not in dashboards.FIGURES:
        raise ValidationFailed(f"没有这个图表: {name} / no such figure", code="invalid_figure")
    settings = settings_of(session)
    region = resolve_region(region_code, scope_code)
    scope = dashboards.Scope(region, start, end, grain, settings.timezone)
    now = now or clock.now()
    data: dict[str, Any]
    if name == "calls":
        data = dashboards.calls(
            wh,
            scope,
            service_level_s=settings.service_level_s,
            short_abandon_s=settings.short_abandon_s,
        )
        data["targets"] = {
            "answer_rate": settings.answer_rate_target,
            "answer_rate_amber": settings.answer_rate_amber,
            "service_level": settings.service_level_target,
        }
    elif name == "alarms":
        data = dashboards.alarms(wh, scope, targets=answer_targets(settings), now=now)
    elif name == "orders":
        data = dashboards.orders(wh, scope)
    elif name == "subsidies":
        data = dashboards.subsidies(wh, scope)
        data["budgets"] = programme_budgets(
            session, region, year=clock.local_date(end - _TICK, settings.timezone).year
        )
    elif name == "providers":
        data = dashboards.providers(wh, scope)
    elif name == "coverage":
        data = dashboards.coverage(wh, scope)
    else:
        data = dashboards.devices(wh, scope)
    for part, labels in (("by_programme", CATEGORY_LABELS), ("by_status", STATUS_LABELS)):
        for row in data.get(part, []):
            row["name"] = labels.get(row["key"], row["key"])
    named = {r["key"] for r in data.get("regions", [])}
    names = region_names(session, named | {region})
    for row in data.get("regions", []):
        row["name"] = names.get(row["key"], _unplaced(row["key"]))
    return {
        "figure": name,
        "region": {
            "code": region,
            "name": names.get(region, region),
            "level": codes.level_of(region),
            "path": [
                {"code": r.code, "name": r.name}
                for r in region_path(session, region)
                if codes.is_within(r.code, scope_code)
            ],
            "drills": codes.level_of(region) < DEEPEST_LEVEL,
            "children": [
                {"code": r.code, "name": r.name}
                for r in (
                    list_children(session, region) if codes.level_of(region) < DEEPEST_LEVEL else []
                )
            ],
        },
        "start": start.isoformat(),
        "end": end.isoformat(),
        "grain": grain,
        "warehouse": sync_status(wh, now=now).as_dict(),
        **data,
    }


_TICK = timedelta(microseconds=1)


def programme_budgets(session: Session, region_code: str, *, year: int) -> list[dict[str, Any]]:
    """Each care programme's budget of the year against what it spent and committed, per 盟市
    (the bureau's money page, platform_core.flows.care_money, read as it is)."""
    return [
        {
            "key": f"{line.region_code}:{line.programme}",
            "region_code": line.region_code,
            "name": line.region_name,
            "programme": line.programme,
            "programme_name": line.programme_label,
            "year": line.year,
            "budget": None if line.budget is None else float(line.budget),
            "spent": float(line.spent),
            "committed": float(line.committed),
            "used_share": None if line.used_share is None else float(line.used_share),
            "warning": line.warning,
        }
        for line in budget_lines(session, region_code=region_code, year=year)
    ]


def _unplaced(code: str) -> str:
    # calls of unknown callers carry the autonomous region's own code: no 盟市 of theirs
    return "未归属盟市" if code.endswith("00000000") and code[2:4] == "00" else code


def wall(
    session: Session,
    wh: Warehouse,
    *,
    scope_code: str,
    region_code: str | None,
    day_start: datetime,
    day_end: datetime,
    month_start: datetime,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The 大屏: today's calls, alarms and orders, the month's subsidies, coverage, by region."""

    def one(name: str, grain: str, start: datetime) -> dict[str, Any]:
        return figure(
            session,
            wh,
            name=name,
            scope_code=scope_code,
            region_code=region_code,
            start=start,
            end=day_end,
            grain=grain,
            now=now,
        )

    return {
        "calls": one("calls", "hour", day_start),
        "alarms": one("alarms", "hour", day_start),
        "orders": one("orders", "hour", day_start),
        "subsidies": one("subsidies", "day", month_start),
        "coverage": one("coverage", "day", month_start),
    }
