"""Calendar months in the deployment's time zone, as evaluation and settlement count them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from platform_core.errors import ValidationFailed

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """``"2025-03"`` -> the first instant of March and of April, local time (aware)."""
    m = _MONTH.fullmatch(month.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValidationFailed(
            f"月份格式应为 YYYY-MM: {month!r} / month must be YYYY-MM", code="invalid_month"
        )
    start = datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=ZoneInfo(timezone))
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def month_of(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def previous_month(at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone)).replace(day=1)
    return (local - timedelta(days=1)).strftime("%Y-%m")
