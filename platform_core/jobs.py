"""Background jobs: RQ on a real Redis, or an in-process worker running the same functions.

A job is named by its dotted path (``"platform_core.orders.jobs:dispatch_order"``) and takes
only ids and plain values of rows already committed. RQ delivers at least once (a killed
worker's job runs again), so every job function must be idempotent.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib
import itertools
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict, Unpack

import redis
from rq import Callback, Queue, Retry, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import exc as sa_exc

from platform_core import clock

log = logging.getLogger(__name__)


def resolve(func_path: str) -> Callable[..., Any]:
    module, _, name = func_path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


# What became of a job handed to a queue (JobQueue.states).
WAITING, RUNNING, ENDED, LOST = "waiting", "running", "ended", "lost"

# A job that fails because the database or Redis is away (restarting, failing over) runs again
# after these pauses, seconds (about 20 minutes in all); any other failure is the job's own and
# waits in the failed list for an administrator (``hotline jobs failed`` / ``retry``).
OUTAGE_RETRIES_S = (1, 3, 10, 30, 60, 120, 300, 600)


def is_outage(exc: BaseException | None) -> bool:
    """The database or Redis could not be reached or cut the connection (a lock or statement
    timeout too): the work was not at fault and will succeed once they are back."""
    redis_errors = (redis.ConnectionError, redis.TimeoutError)
    return isinstance(
        exc,
        (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
            ConnectionError,
            *redis_errors,
        ),
    )


def retry_outages_only(
    job: Any, _connection: Any, _type: Any, value: BaseException | None, _tb: Any
) -> None:
    """RQ's failure callback: a failure that is no outage is not retried."""
    if not is_outage(value):
        job.retries_left = 0


class JobOptions(TypedDict, total=False):
    """How a job is enqueued: its id (a job id names one run; a fresh id when absent), when it
    runs (now when absent) and on which queue ("default" when absent)."""

    job_id: str | None
    at: datetime | None
    queue: str


class JobQueue(Protocol):
    # Jobs handed to it survive this process (RQ on Redis), so the outbox follows each one until
    # it ended; an in-process queue's jobs end with the process.
    durable: bool

    def enqueue(self, func_path: str, *args: Any, **options: Unpack[JobOptions]) -> str: ...

    def states(self, job_ids: list[str]) -> dict[str, str]: ...

    def mark_alive(self, worker_name: str, *, ttl_s: float) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    def failed_jobs(self) -> list[dict[str, Any]]: ...

    def retry(self, job_id: str) -> None: ...


@dataclass(order=True)
class _Scheduled:
    run_at: float
    seq: int
    job_id: str = field(compare=False)
    func_path: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)


class InProcessJobQueue:
    """The embedded default: one worker thread, a timer heap, failures kept for retry."""

    durable = False

    def __init__(self, *, start: bool = True) -> None:
        self._heap: list[_Scheduled] = []
        self._cancelled: set[str] = set()
        self._failed: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._running = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
        if start:
            self._thread.start()

    def enqueue(self, func_path: str, *args: Any, **options: Unpack[JobOptions]) -> str:
        resolve(func_path)  # fail at enqueue time on a wrong name, not later in a worker
        # one worker runs every queue here: the queue's name changes nothing
        job_id, at = options.get("job_id") or uuid.uuid4().hex, options.get("at")
        run_at = time.time() if at is None else at.astimezone(UTC).timestamp()
        with self._cond:
            self._cancelled.discard(job_id)
            if any(j.job_id == job_id for j in self._heap):
                return job_id  # already waiting: a job id names one run, as it does in RQ
            heapq.heappush(self._heap, _Scheduled(run_at, next(self._seq), job_id, func_path, args))
            self._cond.notify()
        return job_id

    def cancel(self, job_id: str) -> None:
        with self._cond:
            self._cancelled.add(job_id)

    def states(self, job_ids: list[str]) -> dict[str, str]:
        """Not followed: a job handed here ends with this process (see ``durable``)."""
        return {}

    def mark_alive(self, worker_name: str, *, ttl_s: float) -> None:
        """Nothing to say: the jobs run in this process."""

    def failed_jobs(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._failed.values())

    def retry(self, job_id: str) -> None:
        with self._cond:
            job = self._failed.pop(job_id)
        self.enqueue(job["func"], *job["args"], job_id=job_id)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0].run_at > time.time()):
                    wait = None if not self._heap else max(0.0, self._heap[0].run_at - time.time())
                    self._cond.wait(wait)
                if self._stop:
                    return
                job = heapq.heappop(self._heap)
                if job.job_id in self._cancelled:
                    self._cancelled.discard(job.job_id)
                    continue
                self._running += 1
            try:
                resolve(job.func_path)(*job.args)
            except Exception:
                log.exception("后台任务失败 / job failed: %s %s", job.func_path, job.job_id)
                with self._cond:
                    self._failed[job.job_id] = {
                        "id": job.job_id,
                        "func": job.func_path,
                        "args": job.args,
                        "error": traceback.format_exc(limit=5),
                        "failed_at": clock.now().isoformat(),
                    }
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job is due or running (jobs scheduled in the future do not count)."""
        deadline = time.time() + timeout
        with self._cond:
            while self._running or (self._heap and self._heap[0].run_at <= time.time()):
                remaining = deadline - time.time()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, drop those not yet due, and wait for the running one to finish."""
        with self._cond:
            self._stop = True
            self._heap.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class RQJobQueue:
    """RQ on Redis; queue names carry the deployment namespace."""

    durable = True
    # RQ's job statuses, as far as the outbox cares (a started job is running only while the
    # worker that started it is alive)
    _STATES = {
        "queued": WAITING,
        "scheduled": WAITING,
        "deferred": WAITING,
        "created": WAITING,
        "rate_limited": WAITING,
        "finished": ENDED,
        "failed": ENDED,
        "stopped": ENDED,
        "canceled": ENDED,
    }

    def __init__(self, redis_url: str, namespace: str) -> None:
        # bounded waits: a Redis that vanishes without closing the socket fails a command in
        # seconds (the outbox keeps the work) instead of hanging the console or a relay
        self.connection = redis.Redis.from_url(
            redis_url, socket_connect_timeout=5, socket_timeout=10
        )
        self.redis_url = redis_url
        self.namespace = namespace
        self._id_prefix = re.sub(r"[^A-Za-z0-9_-]", "_", namespace) + "-"

    def queue_name(self, queue: str) -> str:
        return f"{self.namespace}:{queue}"

    def job_id(self, job_id: str | None) -> str | None:
        """RQ's job ids are global to the Redis server: a custom id carries the namespace, so
        deployments (and test runs) sharing one server never overwrite each other's jobs."""
        if job_id is None or job_id.startswith(self._id_prefix):
            return job_id
        return self._id_prefix + job_id

    def _queue(self, queue: str) -> Any:
        return Queue(self.queue_name(queue), connection=self.connection)

    def enqueue(self, func_path: str, *args: Any, **options: Unpack[JobOptions]) -> str:
        resolve(func_path)
        q = self._queue(options.get("queue", "default"))
        dotted, at = func_path.replace(":", "."), options.get("at")
        rq_options: dict[str, Any] = {
            "job_id": self.job_id(options.get("job_id")),
            "failure_ttl": 30 * 24 * 3600,
            "retry": Retry(max=len(OUTAGE_RETRIES_S), interval=list(OUTAGE_RETRIES_S)),
            "on_failure": Callback("platform_core.jobs.retry_outages_only"),
        }
        if at is None:
            job = q.enqueue(dotted, *args, **rq_options)
        else:
            job = q.enqueue_at(at, dotted, *args, **rq_options)
        return str(job.id)

    def _alive_key(self, worker_name: str) -> str:
        return f"{self.namespace}:worker-alive:{worker_name}"

    def mark_alive(self, worker_name: str, *, ttl_s: float) -> None:
        """Say, for ``ttl_s`` seconds, that this worker is alive (its relay refreshes it)."""
        self.connection.set(self._alive_key(worker_name), "1", px=int(ttl_s * 1000))

    def states(self, job_ids: list[str]) -> dict[str, str]:
        """Waiting, running, ended or lost, per job id: lost when Redis has no such job, or a
        worker started it and is no longer alive (killed mid-job)."""
        if not job_ids:
            return {}
        pipe = self.connection.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(Job.key_for(self.job_id(job_id) or job_id), "status", "worker_name")
        found = pipe.execute()
        out: dict[str, str] = {}
        started: dict[str, str] = {}
        for job_id, (status, worker) in zip(job_ids, found, strict=True):
            status = status.decode() if status else None
            if status is None:
                out[job_id] = LOST
            elif status == "started":
                started[job_id] = worker.decode() if worker else ""
            else:
                out[job_id] = self._STATES.get(status, WAITING)
        if started:
            workers = sorted(set(started.values()))
            pipe = self.connection.pipeline(transaction=False)
            for name in workers:
                pipe.exists(self._alive_key(name))
            alive = {name for name, n in zip(workers, pipe.execute(), strict=True) if name and n}
            for job_id, worker in started.items():
                out[job_id] = RUNNING if worker in alive else LOST
        return out

    def cancel(self, job_id: str) -> None:
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(self.job_id(job_id) or job_id, connection=self.connection).cancel()

    def failed_jobs(self, queue: str = "default") -> list[dict[str, Any]]:
        q = self._queue(queue)
        out = []
        for job_id in q.failed_job_registry.get_job_ids():
            job = Job.fetch(job_id, connection=self.connection)
            result = job.latest_result()
            out.append(
                {
                    "id": job.id,
                    "func": job.func_name,
                    "args": job.args,
                    "error": result.exc_string if result is not None else None,
                    "failed_at": job.ended_at.isoformat() if job.ended_at else None,
                }
            )
        return out

    def retry(self, job_id: str, queue: str = "default") -> None:
        self._queue(queue).failed_job_registry.requeue(job_id)


class InProcessWorker(SimpleWorker):
    """RQ's in-process worker (jobs run in the calling process, no fork per job), with two of
    its faults fixed here:

    - it remembers a stop signal (RQ's own flag misses one that came while it was idle, and
      ``hotline worker``'s loop would start it again);
    - its command listener wakes every second, not every 60: redis-py 8's
      ``PubSubWorkerThread.stop()`` waits for the thread, so RQ's teardown held a stopping
      worker for up to a minute.
    """

    stop_signalled = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ annotates the attribute as None (its own assignment is unchecked)
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )
