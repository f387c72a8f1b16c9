"""``hotline worker`` as its own process on real RQ, PostgreSQL and Redis: it dispatches what the
console commits, fires SLA timers a restart would have lost, and ``hotline jobs`` shows a failed
job to the administrator and runs it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import cli
from platform_core.runtime import Runtime
from platform_core.sla.models import SlaBreach
from tests.platform_core.after_call_support import (
    backdate,
    build_world,
    open_order,
    order_of,
    submit,
)

ROOT = Path(__file__).resolve().parents[2]


def worker_env(rt: Runtime) -> dict[str, str]:
    s = rt.settings
    return dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        HOTLINE_DATABASE_URL=s.database_url,
        HOTLINE_REDIS_URL=s.redis_url,
        HOTLINE_REDIS_NAMESPACE=s.redis_namespace,
        HOTLINE_DATA_DIR=str(s.data_dir),
        HOTLINE_DATA_KEY=s.data_key,
        HOTLINE_SECRET_KEY=s.secret_key,
        HOTLINE_AMI_SECRET=s.ami_secret,
    )


def start_worker(rt: Runtime, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from hotline.cli import main; main()", "worker", *args],
        cwd=ROOT,
        env=worker_env(rt),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.stdout.read() if proc.stdout else ""


def wait_for(check, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def rq_world(redis_runtime: Runtime) -> Iterator[object]:
    yield build_world(redis_runtime)


def test_the_worker_dispatches_what_the_console_commits(redis_runtime, rq_world) -> None:
    rt, w = redis_runtime, rq_world
    proc = start_worker(rt, "-n", "2")
    try:
        ids = [open_order(rt, w.elder) for _ in range(3)]
        for oid in ids:
            submit(rt, oid)  # commits; the dispatch job goes to Redis
        assert wait_for(lambda: all(order_of(rt, oid).status == "dispatched" for oid in ids)), stop(
            proc
        )
        chosen = [order_of(rt, oid).provider_id for oid in ids]
        assert set(chosen) <= {w.near.id, w.middle.id} and w.near.id in chosen
    finally:
        output = stop(proc)
    assert "队列 / queues" in output


def test_timers_lost_while_no_worker_ran_fire_after_a_restart(redis_runtime, rq_world) -> None:
    rt, w = redis_runtime, rq_world
    order_id = open_order(rt, w.elder, "emergency_fall")  # its timers wait in Redis for 15/30 min
    submit(rt, order_id)
    proc = start_worker(rt, "--burst")
    assert proc.wait(60) == 0, stop(proc)
    assert order_of(rt, order_id).provider_id == w.near.id
    # the deadline passed while nobody ran, and Redis lost its jobs (a restart without persistence)
    backdate(rt, order_id, "response_due_at", minutes=16)
    redis = rt.jobs.connection
    for key in redis.scan_iter(match=f"*{rt.settings.redis_namespace}*"):
        redis.delete(key)  # only this test run's queues and jobs: others share the server
    proc = start_worker(rt, "--burst")
    try:
        assert proc.wait(60) == 0
    finally:
        output = stop(proc)
    assert "sla_timers" in output
    with rt.session() as s:
        (breach,) = s.scalars(select(SlaBreach).where(SlaBreach.order_id == order_id))
    assert breach.kind == "response" and breach.escalated
    assert order_of(rt, order_id).provider_id == w.middle.id  # re-dispatched past the late one


def test_failed_jobs_are_listed_and_retried(redis_runtime, tmp_path) -> None:
    rt = redis_runtime
    target = tmp_path / "later" / "out.txt"
    job_id = rt.jobs.enqueue(
        "tests.platform_core.job_targets:append_line", str(target), "第二次成功", job_id="retry-me"
    )
    proc = start_worker(rt, "--burst", "--no-recovery", "--queues", "default")
    assert proc.wait(60) == 0, stop(proc)
    env = worker_env(rt)
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "failed"], env=env)
    assert listed.exit_code == 0, listed.output
    assert job_id in listed.output and "append_line" in listed.output
    assert "No such file or directory" in listed.output
    status = runner.invoke(cli, ["jobs", "status"], env=env)
    assert "default" in status.output and "失败/failed      1" in status.output
    assert "出件箱/outbox 待交接/due 0" in status.output  # nothing waits for a relay
    target.parent.mkdir()
    retried = runner.invoke(cli, ["jobs", "retry", job_id], env=env)
    assert retried.exit_code == 0 and "requeued" in retried.output
    proc = start_worker(rt, "--burst", "--no-recovery", "--queues", "default")
    assert proc.wait(60) == 0, stop(proc)
    assert target.read_text(encoding="utf-8").strip() == "第二次成功"
    assert (
        runner.invoke(cli, ["jobs", "failed"], env=env).output.strip()
        == "没有失败的任务 / no failed jobs"
    )
    unknown = runner.invoke(cli, ["jobs", "retry", "nope"], env=env)
    assert unknown.exit_code != 0


def test_a_job_that_found_the_database_away_runs_again(redis_runtime, tmp_path) -> None:
    """A dispatch that ran while PostgreSQL restarted left its order pending until someone
    restarted the worker: a job failing because the database (or Redis) is away runs again a
    moment later; any other failure waits in the failed list (the test above)."""
    rt = redis_runtime
    target = tmp_path / "out.txt"
    rt.jobs.enqueue(
        "tests.platform_core.job_targets:fail_once_as_outage", str(target), "数据库回来了"
    )
    proc = start_worker(rt, "--no-recovery", "--queues", "default")
    try:
        assert wait_for(target.exists, 30), stop(proc)
    finally:
        stop(proc)
    assert target.read_text(encoding="utf-8").strip() == "数据库回来了"
    assert rt.jobs.failed_jobs() == []


def test_the_worker_refuses_to_start_without_redis(runtime) -> None:
    env = worker_env(runtime)
    env["HOTLINE_REDIS_URL"] = ""
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code != 0 and "HOTLINE_REDIS_URL" in result.output
