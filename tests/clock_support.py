"""Keeping a test's data and its questions on one Beijing day (no tests here).

Where a test places its data itself, it places it inside the period it asks about (see the
supervision tests' calls). Where the data is timed by the clock as it happens (calls through
the PBX simulator) or the test asks about "today" some seconds after placing it, a run that
starts in the day's last moments would put the data on one day and ask about the next: such a
test first waits for midnight to pass.
"""

from __future__ import annotations

import time
from datetime import timedelta

from platform_core import clock

# longer than such a test takes from its first call to its last question on a busy machine
MIDNIGHT_MARGIN = timedelta(seconds=60)


def clear_of_midnight(margin: timedelta = MIDNIGHT_MARGIN) -> None:
    """Return at once unless Beijing's midnight is less than ``margin`` away; then wait for it."""
    left = clock.start_of_day(clock.today() + timedelta(days=1)) - clock.now()
    if left < margin:
        time.sleep(left.total_seconds() + 1)
