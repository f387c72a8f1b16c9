"""chDB under gevent (the console's production server): a dashboard query must not stop the
process's other greenlets while it runs.

The check runs in a child process, patched by gevent before anything else is imported, as
gunicorn's gevent worker does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import sys
    import time
    from pathlib import Path

    import gevent

    from platform_core.warehouse.engine import ChdbWarehouse

    wh = ChdbWarehouse.shared(Path(sys.argv[1]))
    ticks = []

    def tick():
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    ticker = gevent.spawn(tick)
    gevent.sleep(0.05)
    started = time.monotonic()
    wh.query("SELECT sleep(0.8) AS slept")
    ended = time.monotonic()
    ticker.kill()
    during = [t for t in ticks if started < t < ended]
    # the longest pause between two ticks while the query ran
    gaps = [b - a for a, b in zip(during, during[1:])]
    print(len(during), max(gaps) if gaps else 9.9, round(ended - started, 2))
    """
)


def test_a_chdb_query_leaves_the_other_greenlets_running(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "warehouse")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ticks, longest_gap, query_s = done.stdout.split()
    assert float(query_s) >= 0.7, "the query did not run for its 0.8 s"
    # a blocked hub would show no tick at all while the query ran
    assert int(ticks) >= 10, done.stdout
    assert float(longest_gap) < 0.5, done.stdout
