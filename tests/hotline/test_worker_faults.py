"""Fault drills on real ``hotline worker`` processes, a private Redis server and PostgreSQL:

- orders committed while Redis is down reach the workers within seconds of its return, without
  restarting anything (the outbox holds their jobs; the worker's relay hands them on);
- a worker killed with kill -9 in the middle of a job leaves no process behind (RQ's scheduler,
  a fork of it, dies with it), no session idle inside a transaction holding row locks, and its
  job runs again on another worker, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from platform_core.runtime import Runtime
from tests.conftest import _runtime
from tests.hotline.test_worker_cli import ROOT, wait_for, worker_env
from tests.platform_core.after_call_support import (
    build_world,
    history,
    open_order,
    order_of,
    submit,
)


@pytest.fixture
def rt(base_settings, pg_engine, pg_url, private_redis) -> Iterator[Runtime]:
    """PostgreSQL and a Redis server of this test's own, as the console would use them."""
    settings = base_settings.with_overrides(database_url=pg_url, redis_url=private_redis.url)
    yield from _runtime(settings, pg_engine)


class Workers:
    """``hotline worker`` processes of one test, their output in files (a pipe nobody reads
    would fill up and stall a worker logging through an outage)."""

    def __init__(self, rt: Runtime, logs: Path) -> None:
        self.rt, self.logs = rt, logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from hotline.cli import main; main()", "worker", *args],
            cwd=ROOT,
            env=worker_env(self.rt),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs.glob("*.log"))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(rt: Runtime, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(rt, tmp_path)
    yield w
    w.stop()


def children(pid: int) -> list[int]:
    found = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(p) for p in found]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie waits only to be reaped


def sessions(engine: Engine, condition: str) -> int:
    with engine.connect() as c:
        return int(
            c.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND {condition}"
                )
            ).scalar_one()
        )


def test_orders_committed_while_redis_is_down_are_dispatched_when_it_returns(
    rt, workers, private_redis
) -> None:
    w = build_world(rt)
    workers.start()
    first = open_order(rt, w.elder)
    submit(rt, first)
    assert wait_for(lambda: order_of(rt, first).status == "dispatched", 60), workers.output()
    private_redis.stop()
    ids = [open_order(rt, w.elder) for _ in range(9)]
    for order_id in ids:
        submit(rt, order_id)  # committed; the dispatch job cannot reach Redis now
    time.sleep(3)
    private_redis.start()  # empty: a restart without persistence
    back = time.monotonic()
    assert wait_for(lambda: all(order_of(rt, oid).status == "dispatched" for oid in ids), 30), (
        workers.output()
    )
    # within seconds of Redis's return (relay grace, poll and the worker's reconnect)
    assert time.monotonic() - back < 20


def test_a_worker_killed_mid_job_leaves_no_orphan_no_open_transaction_and_its_job_runs_again(
    rt, workers, pg_engine
) -> None:
    w = build_world(rt)
    victim = open_order(rt, w.elder)
    others = [open_order(rt, w.elder) for _ in range(8)]
    doomed = workers.start()  # sweeps at start, then forks RQ's scheduler
    assert wait_for(lambda: bool(children(doomed.pid)), 60), workers.output()
    forked = children(doomed.pid)
    orphans: list[int] = []
    try:
        with pg_engine.connect() as hold:
            # every provider row locked: dispatch waits inside its transaction for one of them
            hold.execute(text("SELECT id FROM providers FOR UPDATE"))
            submit(rt, victim)
            assert wait_for(lambda: sessions(pg_engine, "wait_event_type = 'Lock'") > 0, 30)
            workers.start("--no-recovery")  # a second worker, there when the first one dies
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
            time.sleep(0.5)
            hold.rollback()  # the locks go: the dead worker's statement completes server-side
        for order_id in others:
            submit(rt, order_id)
        orphans = [pid for pid in forked if alive(pid)]
        assert wait_for(lambda: not any(alive(pid) for pid in forked), 10), (
            "RQ's scheduler outlived the killed worker"
        )
        assert wait_for(
            lambda: sessions(pg_engine, "state LIKE 'idle in transaction%'") == 0, 10
        ), "the killed worker's session stayed open inside its transaction"
        assert wait_for(
            lambda: all(order_of(rt, oid).status == "dispatched" for oid in [victim, *others]), 45
        ), workers.output()
        # the killed worker's job ran again on the other worker, and only once took effect
        assert [t.command for t in history(rt, victim)].count("dispatch_to") == 1
    finally:
        for pid in orphans:  # left by the defect this test guards against
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
