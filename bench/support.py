"""What the real-time benchmarks share: ports, percentiles, a process family's CPU and memory from
/proc, the load average, and running the measured phase several times in one invocation.

A benchmark sets up its world once, then calls :func:`repeat` with a function that measures one
run and returns its figures. :func:`repeat` records the load average before and after each run,
checks the targets on every run, prints each run's figures as it ends and, last, one line
``RESULT {json}``: every figure as the list of its runs' values, the targets and whether each
held in all runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import operator
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_core.process import GC_THRESHOLDS

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def add_run_options(parser: argparse.ArgumentParser, *, warmup_s: float | None = None) -> None:
    """``--runs`` (3: the figures of three runs in one invocation) and, where the benchmark warms
    up before each run, ``--warmup-s``."""
    parser.add_argument(
        "--runs", type=int, default=3, help="measured runs in this invocation (1 for a quick look)"
    )
    if warmup_s is not None:
        parser.add_argument(
            "--warmup-s",
            type=float,
            default=warmup_s,
            help="seconds of warm-up before each run after the first",
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Iterable[float], p: float) -> float:
    """The nearest-rank percentile; 0.0 for no values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1)))))]


def family(pid: int) -> list[int]:
    """A process and all its descendants (a server's worker processes)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += family(int(child))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the processes so far (threads included)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return total


def rss_mb(pids: Iterable[int]) -> dict[str, float]:
    """Resident and peak resident memory, summed over the processes, in MB."""
    out = {"VmRSS": 0.0, "VmHWM": 0.0}
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key = line.split(":")[0]
                if key in out:
                    out[key] += int(line.split()[1]) / 1024
    return out


def stop(proc: subprocess.Popen[Any]) -> None:
    """Kill a server and its worker processes (they outlive a killed parent otherwise)."""
    for pid in reversed(family(proc.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    proc.wait()


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


class CpuMeter:
    """CPU used by named groups of processes between :meth:`start` and :meth:`stop`.

    Each group is a callable giving its pids at the time (a server's workers come and go), so a
    process that exits between the two readings counts only until its last reading.
    """

    def __init__(self, **groups: Callable[[], Iterable[int]]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.wall_s = 0.0
        self._t0 = 0.0

    def start(self) -> CpuMeter:
        self._start = {name: cpu_seconds(pids()) for name, pids in self.groups.items()}
        self._t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        self.wall_s = time.monotonic() - self._t0
        self.seconds = {
            name: cpu_seconds(pids()) - self._start[name] for name, pids in self.groups.items()
        }
        return self.seconds

    def figures(self, units: float, unit: str) -> dict[str, float]:
        """``<group>_cpu_s``, ``<group>_cpu_ms_per_<unit>`` and ``<group>_cores`` per group."""
        out: dict[str, float] = {}
        for name, seconds in self.seconds.items():
            out[f"{name}_cpu_s"] = round(seconds, 2)
            out[f"{name}_cpu_ms_per_{unit}"] = round(1000 * seconds / units, 3) if units else 0.0
            out[f"{name}_cores"] = round(seconds / self.wall_s, 2) if self.wall_s else 0.0
        return out


def settle_load_generator() -> None:
    """Collect the load generator's garbage now and freeze what it holds, with the services'
    spacing of later collections: a full collection of a heap grown by seeding and by earlier
    runs' traces stopped the generator for tens of milliseconds mid-run, and what it measured in
    that time (a think time, a burst's publishing) counted the pause as the service's."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def bench_settings(database_url: str, **overrides: Any) -> Any:
    """A service's settings for a benchmark's own database: a fresh data directory, data key,
    secret key and Redis namespace, then ``overrides``."""
    import base64
    import secrets
    import tempfile
    import uuid

    from platform_core.settings import Settings

    fields: dict[str, Any] = {
        "data_dir": Path(tempfile.mkdtemp(prefix="hotline-bench-")),
        "database_url": database_url,
        "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "secret_key": secrets.token_urlsafe(32),
        "redis_namespace": f"hotline-bench-{uuid.uuid4().hex[:6]}",
    }
    return Settings(**{**fields, **overrides})


class GcPauses:
    """The longest stop of this process's garbage collector from :meth:`start` on: a load
    generator that stops for a full collection sends nothing meanwhile, then all it owes at once,
    and the service's latency would carry the generator's pause."""

    def __init__(self) -> None:
        self.longest_ms = 0.0
        self._began = 0.0

    def start(self) -> GcPauses:
        gc.callbacks.append(self._note)
        return self

    def stop(self) -> float:
        if self._note in gc.callbacks:
            gc.callbacks.remove(self._note)
        return round(self.longest_ms, 1)

    def _note(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._began) * 1000)


def own_process() -> list[int]:
    return [os.getpid()]


@dataclass(frozen=True)
class Target:
    """A figure's bound: ``key`` ``op`` ``limit``, e.g. Target("p99_ms", "<=", 100)."""

    key: str
    op: str
    limit: float | bool

    def __str__(self) -> str:
        limit = str(self.limit).lower() if isinstance(self.limit, bool) else f"{self.limit:g}"
        return f"{self.key} {self.op} {limit}"

    def met(self, figures: dict[str, Any]) -> bool:
        value = figures.get(self.key)
        if value is None:
            return False
        compare = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt}
        return bool(compare[self.op](value, self.limit))


class Runs:
    """The runs of one invocation: :meth:`measured` around each (sync or async code alike), then
    :meth:`finish` prints the ``RESULT`` line."""

    def __init__(self, name: str, runs: int, targets: list[Target]) -> None:
        self.name = name
        self.runs = runs
        self.targets = targets
        self.per_run: list[dict[str, Any]] = []
        self._started = time.monotonic()

    @contextlib.contextmanager
    def measured(self) -> Any:
        """Yields a dict for the run's figures; records the load average around it."""
        before = loadavg()
        figures: dict[str, Any] = {}
        yield figures
        figures = {"loadavg_1m_before": before, **figures, "loadavg_1m_after": loadavg()}
        figures["targets_met"] = [str(t) for t in self.targets if t.met(figures)]
        figures["targets_missed"] = [str(t) for t in self.targets if not t.met(figures)]
        self.per_run.append(figures)
        n = len(self.per_run)
        print(
            f"{self.name} run {n}/{self.runs}: " + json.dumps(figures, ensure_ascii=False),
            flush=True,
        )

    def finish(self, setup: dict[str, Any] | None = None) -> dict[str, Any]:
        per_run = self.per_run
        keys = list(dict.fromkeys(k for r in per_run for k in r))
        keys = [k for k in keys if k not in ("targets_met", "targets_missed")]
        held = [str(t) for t in self.targets if per_run and all(t.met(r) for r in per_run)]
        result: dict[str, Any] = {
            "benchmark": self.name,
            "runs": len(per_run),
            **(setup or {}),
            "total_s": round(time.monotonic() - self._started, 1),
            **{k: [r.get(k) for r in per_run] for k in keys},
            "targets": [str(t) for t in self.targets],
            "targets_held_all_runs": held,
            "targets_missed_some_run": [str(t) for t in self.targets if str(t) not in held],
        }
        for t in self.targets:
            verdict = "held in all runs" if str(t) in held else "MISSED in some run"
            values = ", ".join(str(r.get(t.key)) for r in per_run)
            print(f"target {t}: {verdict} ({values})", flush=True)
        print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
        return result


def repeat(
    name: str,
    runs: int,
    measure: Callable[[int], dict[str, Any]],
    targets: list[Target],
    *,
    setup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure ``runs`` runs (``measure(i)`` returns one run's figures), print each, then the
    ``RESULT`` line; returns what it printed there."""
    book = Runs(name, runs, targets)
    for i in range(runs):
        with book.measured() as figures:
            figures.update(measure(i))
    return book.finish(setup)


PG_ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def scratch_database(prefix: str = "hotline_bench", admin_url: str = PG_ADMIN_URL) -> Any:
    """A PostgreSQL database of the benchmark's own, dropped afterwards; yields its URL."""
    import uuid

    from sqlalchemy import text

    from platform_core.db import make_engine

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drop_redis_namespace(namespace: str, url: str = REDIS_URL) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{namespace}*"):
        client.delete(key)
