"""One clock: nothing but platform_core/clock.py reads the host's date, time or timezone, and the
hotline's day is Beijing's on a host in any zone."""

from __future__ import annotations

import ast
import time as host_time
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import time_machine

from platform_core import clock

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("platform_core", "callcenter", "ivr_flows", "agent_console", "hotline")
CLOCK = ROOT / "platform_core" / "clock.py"

# Calls that read the host's clock as a calendar date or wall time, or its timezone.
FORBIDDEN_ATTR_CALLS = {
    ("date", "today"),
    ("datetime", "today"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "utcfromtimestamp"),
    ("time", "localtime"),
    ("time", "strftime"),
    ("time", "mktime"),
    ("time", "ctime"),
    ("time", "asctime"),
}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        owner = node.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if (owner_name, attr) in FORBIDDEN_ATTR_CALLS:
            found.append(f"{where} {owner_name}.{attr}()")
        elif attr == "astimezone" and not node.args and not node.keywords:
            found.append(f"{where} .astimezone() with the host's zone")
        elif (
            owner_name == "datetime"
            and attr == "fromtimestamp"
            and len(node.args) < 2
            and not any(k.arg == "tz" for k in node.keywords)
        ):
            found.append(f"{where} datetime.fromtimestamp() without a zone")
    return found


def test_only_the_clock_module_reads_the_hosts_clock() -> None:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p != CLOCK]
    assert len(files) > 100
    found = [v for p in files for v in _violations(p)]
    assert found == [], "read the time through platform_core.clock:\n" + "\n".join(found)


def test_the_guard_catches_each_way_of_reading_the_host_clock(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "date.today()\ndatetime.now(UTC)\nx.astimezone()\ndatetime.fromtimestamp(1)\n"
        "time.localtime()\ndatetime.fromtimestamp(1, UTC)\nx.astimezone(UTC)\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_violations(sample)) == 5
    finally:
        ROOT = saved


@pytest.mark.parametrize(
    ("utc", "beijing_day"),
    [
        (datetime(2026, 12, 6, 15, 59, 59, tzinfo=UTC), date(2026, 12, 6)),  # 23:59:59 in Beijing
        (datetime(2026, 12, 6, 16, 0, 0, tzinfo=UTC), date(2026, 12, 7)),  # 00:00:00 in Beijing
        (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), date(2027, 1, 1)),  # a new year in Beijing
    ],
)
def test_today_is_beijings_whatever_the_host_zone(
    monkeypatch: pytest.MonkeyPatch, utc: datetime, beijing_day: date
) -> None:
    try:
        for host_zone in ("UTC", "Etc/GMT+12", "Pacific/Kiritimati"):
            monkeypatch.setenv("TZ", host_zone)
            host_time.tzset()
            with time_machine.travel(utc, tick=False):
                assert clock.today() == beijing_day
                assert clock.now() == utc and clock.now().tzinfo is not None
                start, end = clock.day_bounds(beijing_day)
                assert start <= utc < end and (end - start).total_seconds() == 86400
    finally:
        monkeypatch.undo()
        host_time.tzset()


def test_day_bounds_and_local_times_are_beijings() -> None:
    start, end = clock.day_bounds(date(2026, 12, 7))
    assert start == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert clock.at_local(date(2026, 12, 7), time(8, 0)) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.local(datetime(2026, 12, 7, 8, 0))
