"""``hotline warehouse backfill`` reads the history with progress and can run again without
counting twice; ``sync --once`` carries on from there and ``status`` shows the lag. Each runs as
the installed command in its own process, against the test's PostgreSQL and a chDB of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from platform_core import clock
from platform_core.calls.models import Call
from platform_core.runtime import Runtime


def _hotline(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    hotline = Path(sys.executable).with_name("hotline")
    return subprocess.run(
        [str(hotline), "warehouse", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _count(env: dict[str, str]) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from platform_core.warehouse.engine import ChdbWarehouse;"
            "from pathlib import Path;"
            "w = ChdbWarehouse.shared(Path(sys.argv[1]));"
            "print(w.query('SELECT count() AS n FROM hotline_wh.calls FINAL')[0]['n'])",
            str(Path(env["HOTLINE_DATA_DIR"]) / "warehouse"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_backfill_with_progress_then_sync_and_status(runtime: Runtime, tmp_path: Path) -> None:
    now = clock.now()
    with runtime.session() as s:
        for i in range(12):
            at = now - timedelta(days=40 * (i % 3), minutes=i)
            s.add(
                Call(
                    linkedid=f"1790002000.{i}",
                    uniqueid=f"1790002000.{i}",
                    region_code="150102000000",
                    started_at=at,
                    queued_at=at,
                    outcome="answered",
                    wait_s=3.0,
                )
            )
    settings = runtime.settings
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": settings.database_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATA_KEY": settings.data_key,
        "HOTLINE_SECRET_KEY": settings.secret_key,
    }
    first = _hotline(["backfill"], env)
    assert first.returncode == 0, first.stderr
    assert "calls: 12 行 / rows" in first.stdout
    assert "回填完成 / backfill done" in first.stdout
    again = _hotline(["backfill"], env)
    assert again.returncode == 0, again.stderr
    assert _count(env) == 12

    with runtime.session() as s:
        s.add(
            Call(
                linkedid="1790002000.99",
                uniqueid="1790002000.99",
                region_code="150102000000",
                started_at=clock.now(),
                queued_at=clock.now(),
                outcome="abandoned",
                wait_s=9.0,
            )
        )
    once = _hotline(["sync", "--once"], env)
    assert once.returncode == 0, once.stderr
    assert _count(env) == 13
    shown = _hotline(["status"], env)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout.strip().splitlines()[-1])
    assert status["warehouse"] == "chdb" and status["lag_s"] < 60
