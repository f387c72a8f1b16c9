"""What the KPI reports of the modules share: the span and the region a report covers, and how
a set of durations (waits, times to answer) is summarised."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Required, TypedDict


class ReportSpan(TypedDict, total=False):
    """The facts of ``region_code`` and below that began in [``start``, ``end``); ``now`` (the
    current time when absent) tells what is still waiting."""

    start: Required[datetime]
    end: Required[datetime]
    region_code: Required[str]
    now: datetime | None


def durations(values: list[float]) -> dict[str, float | int | None]:
    """How many, their mean, median and 90th percentile in seconds (one decimal)."""
    if not values:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "count": len(values),
        "mean_s": round(statistics.fmean(values), 1),
        "median_s": round(statistics.median(values), 1),
        "p90_s": round(p90, 1),
    }
