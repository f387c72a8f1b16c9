"""The one clock: every "now" and "today" in the platform comes from here.

The hotline's day is its own timezone's (``HOTLINE_TIMEZONE``, Asia/Shanghai by default), not
the host's: a server kept on UTC (or any zone) must still roll the day over at Beijing
midnight. Instants are timezone-aware UTC; calendar dates are taken in the hotline's zone.
No other module reads the host's clock or timezone (tests/test_clock.py enforces it), so a
test that freezes time here (time-machine) freezes the whole platform.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from platform_core.settings import settings_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_TIMEZONE = "Asia/Shanghai"


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


@lru_cache(maxsize=16)
def zone(name: str = DEFAULT_TIMEZONE) -> ZoneInfo:
    return ZoneInfo(name)


def local(at: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """An aware instant shown in the hotline's zone (naive values are refused: they are ambiguous)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: the clock only converts aware instants")
    return at.astimezone(zone(tz))


def local_now(tz: str = DEFAULT_TIMEZONE) -> datetime:
    return now().astimezone(zone(tz))


def today(tz: str = DEFAULT_TIMEZONE) -> date:
    """The hotline's calendar date now (Beijing's by default), whatever the host's zone."""
    return local_now(tz).date()


def local_date(at: datetime, tz: str = DEFAULT_TIMEZONE) -> date:
    """The hotline's calendar date of an instant."""
    return local(at, tz).date()


def start_of_day(day: date, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """The instant the hotline's day ``day`` begins (local midnight), in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=zone(tz)).astimezone(UTC)


def day_bounds(day: date, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """[start, end) of the hotline's day ``day`` as UTC instants."""
    return start_of_day(day, tz), start_of_day(day + timedelta(days=1), tz)


def at_local(day: date, clock_time: time, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """The instant of a wall-clock time on a hotline day (e.g. 08:00 Beijing)."""
    return datetime.combine(day, clock_time, tzinfo=zone(tz)).astimezone(UTC)


def timezone_of(session: Session) -> str:
    return settings_of(session).timezone


def today_in(session: Session) -> date:
    """Today in the timezone of the deployment this session belongs to."""
    return today(timezone_of(session))


def local_now_in(session: Session) -> datetime:
    return local_now(timezone_of(session))
