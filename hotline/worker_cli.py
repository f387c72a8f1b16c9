"""``hotline worker`` runs RQ workers (with the scheduler) on the deployment's namespaced queues,
and the outbox relay beside them; ``hotline jobs`` shows queues, the outbox and failed jobs to
administrators and retries a failed one.

A worker and everything it starts die together: RQ forks its scheduler, which would keep copies
of the worker's sockets (its database sessions, inside a transaction, with their row locks)
alive after a kill -9 of the worker; the fork is told to die with its parent. ``-n N`` children
die with their supervisor the same way, and the supervisor starts a child again if one dies.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

log = logging.getLogger(__name__)


def _queues(raw: str | None, default: str) -> list[str]:
    names = [q.strip() for q in (raw or default).split(",") if q.strip()]
    if not names:
        raise click.UsageError("至少要有一个队列 / at least one queue")
    return names


def recover(runtime: Any) -> dict[str, int]:
    """Re-create the work a stopped worker may have lost: dispatch of waiting orders and their
    acceptance windows, SLA timers of open orders, undelivered text messages, and the next run of
    every recurring job (platform_core.periodic, the monthly provider evaluation among them).
    Every job keeps the id it was first given, so nothing already queued runs twice."""
    from platform_core.dispatch import service as dispatch
    from platform_core.notifications import service as sms
    from platform_core.periodic import ensure_periodic_jobs
    from platform_core.sla import service as sla

    with runtime.session() as s:
        counts = {
            "dispatch": dispatch.requeue_open_work(s),
            "sla_timers": sla.reschedule_open_timers(s),
            "sms": sms.requeue_unsent(s),
        }
    counts["periodic"] = len(ensure_periodic_jobs(runtime))
    return counts


@click.command()
@click.option(
    "--queues",
    default=None,
    help="队列, 按优先级 / queues in priority order (HOTLINE_WORKER_QUEUES)",
)
@click.option(
    "-n", "--processes", default=1, show_default=True, help="工作进程数 / worker processes"
)
@click.option("--burst", is_flag=True, help="处理完队列即退出 / exit when the queues are empty")
@click.option(
    "--no-recovery", is_flag=True, help="启动时不补排任务 / skip the recovery sweep at start"
)
def worker(queues: str | None, processes: int, burst: bool, no_recovery: bool) -> None:
    """后台任务进程 / run RQ workers (dispatch, SLA timers, SMS, the platform's other jobs)."""
    from hotline.context import runtime_for_cli
    from platform_core.settings import load_settings

    settings = load_settings()
    if not settings.redis_url:
        raise click.ClickException(
            "hotline worker 需要 Redis: 请设置 HOTLINE_REDIS_URL / the worker needs HOTLINE_REDIS_URL "
            "(the embedded default runs jobs inside each process)"
        )
    names = _queues(queues, settings.worker_queues)
    if processes > 1:
        sys.exit(_run_many(processes, names, burst=burst, no_recovery=no_recovery))
    runtime = runtime_for_cli(settings)
    from platform_core import observability

    observability.register_once("jobs", observability.JobFigures(runtime))
    # with several worker processes the first (the one that recovers) serves the port
    operations = (
        None if os.environ.get("HOTLINE_WORKER_CHILD") else observability.serve_operations(runtime)
    )
    try:
        if not no_recovery:
            counts = recover(runtime)
            click.echo("补排 / recovered: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        _work(runtime, names, burst=burst)
    finally:
        if operations is not None:
            operations.stop()
        runtime.close()


# A worker loop that stopped on an error (Redis away at the wrong moment) starts again after this.
_RESTART_PAUSE_S = 1.0


def _work(runtime: Any, names: list[str], *, burst: bool) -> None:
    """RQ's work loop (jobs run in this process: no fork per job, which keeps the process's
    connection pool and runtime) with the outbox relay in a thread beside it."""
    import redis
    from rq.exceptions import StopRequested

    from platform_core.jobs import InProcessWorker as Worker
    from platform_core.process import forks_die_with_this_process

    forks_die_with_this_process()  # RQ's scheduler is a fork of this process
    # the worker's own connection: RQ sets the socket timeout its blocking pops need
    connection = redis.Redis.from_url(runtime.settings.redis_url)
    queue_names = [runtime.jobs.queue_name(q) for q in names]
    if burst:
        runtime.outbox.relay_due()  # what the outbox holds for now goes first
    announced = False
    while True:
        w: Worker | None = None
        try:
            w = Worker(queue_names, connection=connection, maintenance_interval=30)
            w.max_connection_wait_time = 5  # back within seconds of Redis's return, not a minute
            if not announced:
                click.echo(f"队列 / queues: {', '.join(w.queue_names())}")
                announced = True
            if not burst:  # the relay keeps this worker's name alive: its started jobs are its own
                runtime.outbox.start(worker_name=w.name)
            w.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        except StopRequested:
            return
        except Exception:  # noqa: BLE001 - Redis away while RQ registers or deregisters a worker
            log.exception("任务循环出错 / the work loop failed")
        if burst or (w is not None and w.stop_signalled):
            return
        log.warning(
            "任务循环已停止, %.0fs 后重启 / work loop stopped, restarting", _RESTART_PAUSE_S
        )
        try:
            time.sleep(_RESTART_PAUSE_S)
        except StopRequested:  # a stop signal meanwhile (RQ's handler raises it)
            return


def _run_many(n: int, names: list[str], *, burst: bool, no_recovery: bool) -> int:
    """Start ``n`` single workers (the first one sweeps); stop them all on SIGTERM or Ctrl-C.

    Each child dies with this supervisor (kill -9 included); a child that dies while the others
    work is started again (without the sweep: the outbox relay re-queues what it had started)."""
    from platform_core.process import die_with_parent

    base = [sys.executable, "-c", "from hotline.cli import main; main()", "worker"]
    base += ["--queues", ",".join(names)]
    if burst:
        base.append("--burst")
    me = os.getpid()

    def spawn(slot: int, sweep: bool) -> subprocess.Popen[bytes]:
        # the first process serves the operations port; only its first start sweeps
        return subprocess.Popen(
            base + ([] if sweep and not no_recovery else ["--no-recovery"]),
            env={**os.environ, **({"HOTLINE_WORKER_CHILD": "1"} if slot else {})},
            preexec_fn=lambda: die_with_parent(me),
        )

    procs = [spawn(i, i == 0) for i in range(n)]
    started = [time.monotonic()] * n
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            codes = [p.poll() for p in procs]
            if all(c is not None for c in codes):
                return max(c for c in codes if c is not None)
            if not (stopping or burst):
                for i, code in enumerate(codes):
                    # a child that cannot start (say, a bad setting) is not started in a tight loop
                    if code is not None and time.monotonic() - started[i] >= _RESTART_PAUSE_S * 5:
                        log.warning(
                            "工作进程 %s 退出 (%s), 重启 / worker died, restarting",
                            procs[i].pid,
                            code,
                        )
                        procs[i] = spawn(i, False)
                        started[i] = time.monotonic()
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop(signal.SIGINT, None)
        return max(p.wait() for p in procs)


@click.group()
def jobs() -> None:
    """后台任务管理 / background jobs: queues, failures, retries (administrators)."""


def _rq_runtime() -> Any:
    from hotline.context import runtime_for_cli
    from platform_core.settings import load_settings

    settings = load_settings()
    if not settings.redis_url:
        raise click.ClickException("需要 HOTLINE_REDIS_URL / needs HOTLINE_REDIS_URL")
    return runtime_for_cli(settings)


@jobs.command("status")
def status() -> None:
    """各队列待办、计划和失败数 / queued, scheduled and failed jobs per queue."""
    from rq import Queue

    from platform_core.outbox.service import backlog

    rt = _rq_runtime()
    try:
        for name in _queues(None, rt.settings.worker_queues):
            q = Queue(rt.jobs.queue_name(name), connection=rt.jobs.connection)
            click.echo(
                f"{name:10} 待办/queued {q.count:6}  计划/scheduled {q.scheduled_job_registry.count:6}  "
                f"失败/failed {q.failed_job_registry.count:6}"
            )
        with rt.session() as s:
            b = backlog(s)
        click.echo(
            f"出件箱/outbox 待交接/due {b['due']} (最久/late {b['late_s']:.0f}s)  "
            f"未到期/timers {b['timers']}  跟踪中/handed {b['handed']}  出错/failing {b['failing']}"
        )
    finally:
        rt.close()


@jobs.command("failed")
@click.option("--queue", "queue_name", default=None, help="只看一个队列 / one queue only")
def failed(queue_name: str | None) -> None:
    """失败的任务 / list failed jobs with their error."""
    rt = _rq_runtime()
    try:
        names = [queue_name] if queue_name else _queues(None, rt.settings.worker_queues)
        count = 0
        for name in names:
            for job in rt.jobs.failed_jobs(name):
                count += 1
                error = (job.get("error") or "").strip().splitlines()
                click.echo(
                    f"{job['id']}  [{name}] {job['func']}{tuple(job['args'])}  "
                    f"{job.get('failed_at') or ''}  {error[-1] if error else ''}"
                )
        if not count:
            click.echo("没有失败的任务 / no failed jobs")
    finally:
        rt.close()


@jobs.command("retry")
@click.argument("job_id")
def retry(job_id: str) -> None:
    """重新执行一个失败的任务 / requeue one failed job."""
    rt = _rq_runtime()
    try:
        for name in _queues(None, rt.settings.worker_queues):
            if any(j["id"] == job_id for j in rt.jobs.failed_jobs(name)):
                rt.jobs.retry(job_id, name)
                click.echo(f"已重新排队 / requeued {job_id} on {name}")
                return
        raise click.ClickException(f"没有这个失败任务 / no failed job {job_id}")
    finally:
        rt.close()
