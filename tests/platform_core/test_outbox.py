"""The outbox: what a transaction starts later (events, jobs, timers) is written in it, handed on
right after its commit, caught up by the relay when that failed, and followed on RQ until the job
ended. On PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import Job, JobStatus
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, update

from platform_core import clock
from platform_core.events import DomainEvent, publish_on_commit
from platform_core.outbox import enqueue_on_commit
from platform_core.outbox.models import OutboxEntry
from platform_core.runtime import Runtime
from tests.conftest import _runtime
from tests.gc_census import cyclic_garbage

APPEND = "tests.platform_core.job_targets:append_line"


@dataclass(frozen=True)
class Noted(DomainEvent):
    text: str


class ANY_ENVELOPE:  # noqa: N801 - reads as a value in an assertion
    """Equal to the envelope of a Noted event with this text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and other.get("data") == {"text": self.text}

    def __repr__(self) -> str:
        return f"<Noted {self.text}>"


def rows(rt: Runtime) -> list[OutboxEntry]:
    with rt.session() as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def seen(rt: Runtime) -> list[str]:
    out: list[str] = []
    rt.event_bus.subscribe(lambda env: out.append(env["data"]["text"]))
    return out


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def settle(rt: Runtime) -> None:
    rt.event_bus.drain()  # type: ignore[attr-defined]
    assert rt.jobs.wait_idle(10)  # type: ignore[attr-defined]
    assert rt.outbox.drain()


def test_a_commit_writes_its_work_and_hands_it_on_at_once(any_runtime, tmp_path) -> None:
    rt, out = any_runtime, tmp_path / "jobs.txt"
    events = seen(rt)
    with rt.session() as s:
        publish_on_commit(s, Noted("一"))
        enqueue_on_commit(s, APPEND, str(out), "任务", job_id="t-1")
        enqueue_on_commit(s, APPEND, str(out), "任务", job_id="t-1")  # the same job: once
        publish_on_commit(s, Noted("二"))
    settle(rt)
    assert events == ["一", "二"] and lines(out) == ["任务"]
    assert rows(rt) == []  # handed on: nothing left to relay
    with rt.session() as s:  # the same, in a process that does not hand its own rows on
        del s.info["outbox"]
        publish_on_commit(s, Noted("三"))
        enqueue_on_commit(s, APPEND, str(out), "另一个", job_id="t-2")
        publish_on_commit(s, Noted("四"))
    # the job's row, and one row for the transaction's events, in the order they go out
    assert [(r.kind, r.payload) for r in rows(rt)] == [
        ("job", [str(out), "另一个"]),
        ("events", [ANY_ENVELOPE("三"), ANY_ENVELOPE("四")]),
    ]
    assert events == ["一", "二"] and lines(out) == ["任务"]


def test_handing_rows_on_leaves_no_statement_for_the_cycle_collector(runtime, tmp_path) -> None:
    """The relay settles its rows after every commit in callcenter's process: statements built
    per batch there left their bound parameters in cycles, and the collector's pauses held the
    screen pop (see platform_core.key_lists)."""
    rt, out = runtime, tmp_path / "jobs.txt"

    def commit_and_settle(n: int) -> None:
        with rt.session() as s:
            publish_on_commit(s, Noted(f"第{n}次"))
            enqueue_on_commit(s, APPEND, str(out), "任务", job_id=f"g-{n}")
        settle(rt)

    commit_and_settle(1)  # the first compilation of each statement is cached, once
    left = cyclic_garbage(lambda: commit_and_settle(2))
    assert lines(out) == ["任务", "任务"] and rows(rt) == []
    assert left["BindParameter"] == 0, left.most_common(8)


def test_a_rollback_or_a_rolled_back_savepoint_starts_nothing(any_runtime, tmp_path) -> None:
    rt, out = any_runtime, tmp_path / "jobs.txt"
    events = seen(rt)
    with pytest.raises(RuntimeError), rt.session() as s:
        publish_on_commit(s, Noted("回滚"))
        enqueue_on_commit(s, APPEND, str(out), "回滚", job_id="t-rolled-back")
        raise RuntimeError("the unit of work fails")
    with rt.session() as s:
        publish_on_commit(s, Noted("前"))
        with pytest.raises(RuntimeError), s.begin_nested():
            publish_on_commit(s, Noted("保存点"))
            enqueue_on_commit(s, APPEND, str(out), "保存点", job_id="t-savepoint")
            raise RuntimeError("the savepoint fails")
        with s.begin_nested():
            publish_on_commit(s, Noted("后"))
        settle(rt)
        assert events == []  # a released savepoint commits nothing yet
    settle(rt)
    assert events == ["前", "后"] and lines(out) == []
    assert rows(rt) == []


def test_events_a_commit_hook_publishes_after_ours_go_out_too(any_runtime) -> None:
    """As callcenter's writer does: its before_commit hook flushes, then publishes the batch's
    queue and agent events."""
    rt = any_runtime
    events = seen(rt)

    def settle_batch(session) -> None:
        publish_on_commit(session, Noted("批内"))
        session.flush()
        publish_on_commit(session, Noted("批后"))

    with rt.session() as s:
        sa_event.listen(s, "before_commit", settle_batch)
        publish_on_commit(s, Noted("先"))
    settle(rt)
    assert events == ["先", "批内", "批后"]
    assert rows(rt) == []


@pytest.fixture(params=["postgresql", "sqlite"])
def slow_poll(request, base_settings) -> Iterator[Runtime]:
    """A relay that looks for due rows only once a minute (on both backends)."""
    if request.param == "postgresql":
        url, engine = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_engine")
    else:
        engine = request.getfixturevalue("sqlite_engine")
        url = str(engine.url)
    yield from _runtime(base_settings.with_overrides(database_url=url, outbox_poll_s=60), engine)


def test_a_timer_waits_in_the_outbox_and_runs_when_due(slow_poll, tmp_path) -> None:
    rt, out = slow_poll, tmp_path / "jobs.txt"
    due = clock.now() + timedelta(seconds=1.5)
    with rt.session() as s:
        enqueue_on_commit(s, APPEND, str(out), "到点", job_id="t-timer", at=due)
    settle(rt)
    (row,) = rows(rt)
    assert row.due_at == due and row.relay_after == due and row.payload == [str(out), "到点"]
    time.sleep(0.5)
    assert lines(out) == []
    deadline = time.monotonic() + 30
    while not lines(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    # on time: the relay woke for it (its next look would have been a minute after the first)
    assert lines(out) == ["到点"] and clock.now() >= due
    assert clock.now() - due < timedelta(seconds=15)
    settle(rt)
    assert rows(rt) == []


class AwayBus:
    """A bus whose server is away: every publish fails as Redis's client fails."""

    def publish(self, envelope: dict) -> None:
        raise redis.ConnectionError("Connection refused")

    def publish_many(self, envelopes: list[dict]) -> None:
        raise redis.ConnectionError("Connection refused")


@pytest.fixture
def quick_relay(base_settings, pg_engine, pg_url) -> Iterator[Runtime]:
    settings = base_settings.with_overrides(
        database_url=pg_url, outbox_grace_s=0.5, outbox_poll_s=0.2
    )
    yield from _runtime(settings, pg_engine)


def test_what_the_fast_path_missed_is_relayed_in_order_after_the_grace(
    quick_relay, tmp_path, monkeypatch
) -> None:
    rt, out = quick_relay, tmp_path / "jobs.txt"
    events = seen(rt)
    real_enqueue = rt.jobs.enqueue

    def away(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(rt.jobs, "enqueue", away)
    with rt.session() as s:
        s.info["event_bus"] = AwayBus()
        for text in ("甲", "乙", "丙"):
            publish_on_commit(s, Noted(text))
        enqueue_on_commit(s, APPEND, str(out), "补发", job_id="t-missed")
    assert [(r.kind, len(r.payload)) for r in rows(rt)] == [("job", 2), ("events", 3)]
    monkeypatch.setattr(rt.jobs, "enqueue", real_enqueue)  # Redis is back
    deadline = time.monotonic() + 5
    while (len(events) < 3 or not lines(out)) and time.monotonic() < deadline:
        rt.event_bus.drain()  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert events == ["甲", "乙", "丙"] and lines(out) == ["补发"]
    assert rt.outbox.stats["relayed"] == 2  # rows: the job's and the three events'
    settle(rt)
    # the relay counts a row as it hands it on and removes it with the pass's commit (the job's
    # once its next look finds the job ended): a moment later on a busy machine
    deadline = time.monotonic() + 10
    while rows(rt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rows(rt) == []


def test_a_bad_row_waits_and_never_holds_up_the_rows_behind_it(runtime, tmp_path) -> None:
    rt, out = runtime, tmp_path / "jobs.txt"
    rt.outbox.close()  # the test drives the relay's passes itself
    now = clock.now()
    with rt.engine.begin() as c:
        for func, job_id in (
            ("tests.platform_core.job_targets:no_such_job", "t-bad"),
            (APPEND, "t-good"),
        ):
            c.execute(
                insert(OutboxEntry).values(
                    kind="job",
                    func_path=func,
                    job_id=job_id,
                    queue="default",
                    payload=[str(out), "好"],
                    created_at=now,
                    relay_after=now,
                    attempts=0,
                )
            )
    assert rt.outbox.relay_due() == 2
    assert rt.jobs.wait_idle(10)
    assert lines(out) == ["好"]
    (bad,) = rows(rt)
    assert bad.job_id == "t-bad" and bad.attempts == 1 and "no_such_job" in bad.last_error
    assert bad.relay_after > clock.now()  # tried again later, longer each time
    assert rt.outbox.relay_due() == 0


@pytest.fixture
def rq_checked_at_once(base_settings, pg_engine, pg_url, redis_url) -> Iterator[Runtime]:
    settings = base_settings.with_overrides(
        database_url=pg_url, redis_url=redis_url, outbox_check_handed_s=0.0
    )
    yield from _runtime(settings, pg_engine)


def test_rq_jobs_are_followed_until_they_ended_and_queued_again_when_lost(
    rq_checked_at_once,
) -> None:
    rt = rq_checked_at_once
    jobs = rt.jobs
    with rt.session() as s:
        for name in ("finished", "lost", "ghost", "running", "waiting"):
            enqueue_on_commit(s, APPEND, "/dev/null", name, job_id=f"t-rq-{name}")
    assert rt.outbox.drain()
    assert all(r.handed_at is not None for r in rows(rt))  # queued, and followed

    def job(name: str) -> Job:
        return Job.fetch(jobs.job_id(f"t-rq-{name}"), connection=jobs.connection)

    job("finished").set_status(JobStatus.FINISHED)
    job("lost").delete()  # Redis restarted without its data
    for name, worker in (("ghost", "killed-worker"), ("running", "live-worker")):
        job(name).set_status(JobStatus.STARTED)
        jobs.connection.hset(job(name).key, "worker_name", worker)
    jobs.mark_alive("live-worker", ttl_s=30)
    assert rt.outbox.check_handed() == 2
    left = {r.job_id: r for r in rows(rt)}
    assert set(left) == {"t-rq-lost", "t-rq-ghost", "t-rq-running", "t-rq-waiting"}
    assert left["t-rq-lost"].attempts == left["t-rq-ghost"].attempts == 1
    assert job("lost").get_status() == job("ghost").get_status() == JobStatus.QUEUED
    assert job("running").get_status() == JobStatus.STARTED  # its worker lives: left alone
    queued = jobs._queue("default").job_ids
    assert jobs.job_id("t-rq-lost") in queued and jobs.job_id("t-rq-ghost") in queued
    with rt.engine.begin() as c:  # the jobs ran since
        c.execute(update(OutboxEntry).values(handed_at=clock.now() - timedelta(seconds=1)))
    for name in ("lost", "ghost", "running", "waiting"):
        job(name).set_status(JobStatus.FINISHED)
    assert rt.outbox.check_handed() == 0
    assert rows(rt) == []
    jobs._queue("default").empty()


def explained(conn: Any, statement: Any, values: dict[str, Any]) -> list[Any]:
    """PostgreSQL's plan for ``statement`` run with ``values``, as the driver would send it."""

    def explain(_conn, _cursor, sql: str, parameters, _context, _many):  # noqa: ANN001
        return "EXPLAIN " + sql, parameters

    sa_event.listen(conn, "before_cursor_execute", explain, retval=True)
    try:
        return conn.execute(statement, values).all()
    finally:
        sa_event.remove(conn, "before_cursor_execute", explain)


def test_marking_rows_handed_reads_them_by_key_whatever_waits_in_the_outbox(runtime) -> None:
    """Thousands of scheduled jobs wait in the outbox (every order's SLA timers): marking the
    rows just handed on must find them by their key, not walk the index of waiting rows (23 ms
    a statement at 24,000 timers, growing with every order, in the dispatch benchmark)."""
    from sqlalchemy import text

    from platform_core.outbox.relay import mark_handed

    later = clock.now() + timedelta(hours=4)
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (kind, func_path, queue, payload, created_at, due_at,"
                " relay_after, attempts) SELECT 'job', 'x:y', 'sla', '[]', now(), :later,"
                " :later, 0 FROM generate_series(1, 5000)"
            ),
            {"later": later},
        )
        first, second = conn.execute(
            insert(OutboxEntry)
            .values(kind="job", payload=[], relay_after=clock.now(), attempts=0)
            .returning(OutboxEntry.id),
            [{}, {}],
        ).scalars()
        statement = mark_handed([first, second], clock.now())
        plan = "\n".join(row[0] for row in explained(conn, *statement))
        assert "pk_outbox" in plan and "ix_outbox_waiting" not in plan, plan
        conn.execute(*mark_handed([first], clock.now() - timedelta(minutes=1)))
        before = conn.scalar(select(OutboxEntry.handed_at).where(OutboxEntry.id == first))
        conn.execute(*statement)
        handed = dict(
            conn.execute(
                select(OutboxEntry.id, OutboxEntry.handed_at).where(
                    OutboxEntry.id.in_([first, second])
                )
            ).all()
        )
    assert handed[first] == before  # a row handed before keeps its time
    assert handed[second] is not None


def _pass_buffers(conn: Any, *, along_index: bool) -> tuple[str, int]:
    """The relay's due-rows query run once under EXPLAIN: its scan and the pages it read."""
    from platform_core.outbox.relay import due_rows, read_along_index

    with conn.begin():
        if along_index:
            read_along_index(conn)
        compiled = due_rows(clock.now()).compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled), compiled.params
        ).scalar_one()[0]["Plan"]
    scans = []
    node = plan
    while node:
        scans.append(node["Node Type"])
        node = (node.get("Plans") or [None])[0]
    return scans[-1], int(plan["Shared Hit Blocks"]) + int(plan.get("Shared Read Blocks", 0))


def test_a_relay_pass_skips_the_rows_handed_on_before_it(runtime) -> None:
    """Every row the outbox held leaves an entry in the waiting rows' index until a vacuum
    (PostgreSQL here runs without autovacuum). A pass reads along that index and marks the
    dead entries as it goes, so the next pass reads a few pages, not every row handed on before
    (a bitmap scan, the planner's choice for a small table, visited all of them each time)."""
    engine = runtime.engine
    # an empty outbox and its statistics, as after a deploy (earlier tests' rows vacuumed away)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE outbox")
    with engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO outbox (kind, payload, created_at, relay_after, attempts)"
            " SELECT 'events', to_json(repeat('x', 1500)), now(),"
            " now() - interval '1 hour' + g * interval '1 ms', 0 FROM generate_series(1, 15000) g"
        )
    with engine.begin() as c:
        c.exec_driver_sql("DELETE FROM outbox")  # handed on: gone, but not yet vacuumed
    with engine.connect() as conn:
        scan, bitmap_pages = _pass_buffers(conn, along_index=False)
        assert scan == "Bitmap Index Scan" and bitmap_pages > 2000, (scan, bitmap_pages)
        first_scan, _ = _pass_buffers(conn, along_index=True)
        scan, pages = _pass_buffers(conn, along_index=True)
    assert first_scan == scan == "Index Scan"
    assert pages < 500, pages
