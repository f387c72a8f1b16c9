"""Arrivals per 30-minute interval from history, with weekday and time-of-day seasonality, and
the callers' patience measured from the calls that waited.

The forecast of an interval is the weighted mean of the same weekday and half hour over the
last weeks (newer weeks weigh more); with no such history it falls back to the same half hour
on any day, scaled by the weekday's share of the volume. Handle time is forecast the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

INTERVAL_MIN = 30
SLOTS_PER_DAY = 24 * 60 // INTERVAL_MIN


@dataclass(frozen=True)
class IntervalHistory:
    """One past interval (its local start) and what happened in it."""

    start: datetime
    offered: int
    handle_s: float = 0.0  # summed handle time (talk + wrap-up) of its answered legs
    handled: int = 0  # answered legs whose handle time is in handle_s


@dataclass(frozen=True)
class IntervalForecast:
    start: datetime  # local
    offered: float
    aht_s: float | None

    @property
    def rate_per_s(self) -> float:
        return self.offered / (INTERVAL_MIN * 60)


def slot_of(at: datetime) -> tuple[int, int]:
    """(weekday 0-6, half hour 0-47) of a local time."""
    return at.weekday(), (at.hour * 60 + at.minute) // INTERVAL_MIN


def interval_start(at: datetime) -> datetime:
    minute = (at.minute // INTERVAL_MIN) * INTERVAL_MIN
    return at.replace(minute=minute, second=0, microsecond=0)


def forecast(
    history: Iterable[IntervalHistory],
    starts: Sequence[datetime],
    *,
    weeks: int = 8,
    decay: float = 0.8,
) -> list[IntervalForecast]:
    """The expected arrivals and handle time of each interval in ``starts`` (local times);
    ``history`` holds past intervals with their counts (intervals with no call may be left
    out: a missing interval counts as zero within the weeks the history covers)."""
    past = sorted(history, key=lambda h: h.start)
    if not past or not starts:
        return [IntervalForecast(s, 0.0, None) for s in starts]
    first = past[0].start
    by_start = {h.start: h for h in past}
    # the weekday's share of the volume, for slots with no history on that weekday
    weekday_total: dict[int, float] = defaultdict(float)
    weekday_days: dict[int, set[object]] = defaultdict(set)
    for h in past:
        weekday_total[h.start.weekday()] += h.offered
        weekday_days[h.start.weekday()].add(h.start.date())
    per_day = {wd: weekday_total[wd] / len(days) for wd, days in weekday_days.items() if days}
    mean_day = sum(per_day.values()) / len(per_day) if per_day else 0.0
    handle_all = sum(h.handle_s for h in past)
    handled_all = sum(h.handled for h in past)
    overall_aht = handle_all / handled_all if handled_all else None

    out = []
    for start in starts:
        num = den = 0.0
        handle = handled = 0.0
        for k in range(1, weeks + 1):
            earlier = start - timedelta(weeks=k)
            if earlier < interval_start(first):
                break
            w = decay ** (k - 1)
            found = by_start.get(earlier)
            num += w * (found.offered if found else 0)
            den += w
            if found and found.handled:
                handle += w * found.handle_s
                handled += w * found.handled
        if den:
            offered = num / den
        else:
            # no week of history behind this weekday: the same half hour on any day, scaled
            same_slot = [h.offered for h in past if slot_of(h.start)[1] == slot_of(start)[1]]
            days = len({h.start.date() for h in past}) or 1
            offered = sum(same_slot) / days
            if mean_day and start.weekday() in per_day:
                offered *= per_day[start.weekday()] / mean_day
        aht = handle / handled if handled else overall_aht
        out.append(IntervalForecast(start, offered, aht))
    return out


@dataclass(frozen=True)
class Patience:
    """Callers' mean patience, estimated as waiting time at risk / abandons (the exponential
    model's maximum-likelihood estimate: answered and timed-out waits are censored)."""

    abandoned: int
    exposure_s: float

    @property
    def mean_s(self) -> float | None:
        return self.exposure_s / self.abandoned if self.abandoned else None


def patience_of(waits: Iterable[tuple[str, float]]) -> Patience:
    """From (outcome, wait seconds) of offered calls."""
    abandoned, exposure = 0, 0.0
    for outcome, wait in waits:
        exposure += max(0.0, wait)
        if outcome == "abandoned":
            abandoned += 1
    return Patience(abandoned, exposure)
