"""The IVR's database threads: a lookup a caller waits on is never queued behind bookkeeping."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ivr_flows.backend import Backend, DatabaseWait, expected_wait_s


def test_a_lookup_runs_while_every_bookkeeping_thread_is_busy(runtime) -> None:
    backend = Backend(runtime)
    release = threading.Event()

    def held(_session, *, actor) -> None:  # noqa: ANN001 - a unit of work that waits
        release.wait(10)

    async def main() -> float:
        busy = [backend.start(held) for _ in range(runtime.settings.ivr_db_workers)]
        await asyncio.sleep(0.2)  # every bookkeeping thread holds one
        t0 = time.monotonic()
        wait = await asyncio.wait_for(backend.read(expected_wait_s, queue="hotline-general"), 5)
        took = time.monotonic() - t0
        release.set()
        await asyncio.gather(*busy)
        assert wait == 0.0
        return took

    try:
        assert asyncio.run(main()) < 1.0
    finally:
        release.set()
        backend.close()


def test_callers_reaching_the_menu_together_share_one_read_of_the_wait(runtime) -> None:
    from sqlalchemy import event

    backend = Backend(runtime)
    reads: list[str] = []

    def note(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if "FROM telephony_queues" in statement:
            reads.append(statement)

    async def main() -> list[float]:
        return await asyncio.gather(
            *(backend.expected_wait_s("hotline-general") for _ in range(20))
        )

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        assert asyncio.run(main()) == [0.0] * 20
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)
        backend.close()
    assert len(reads) == 1


def test_a_caller_waits_on_the_database_at_most_the_bound_but_a_background_write_lands(
    runtime,
) -> None:
    """``run`` gives up after ``wait_s`` (the caller goes on); a write begun with ``start``
    is awaited only by the call's bookkeeping, so a slow one is not reported as failed."""
    backend = Backend(runtime)
    backend.wait_s = 0.1

    def slow(_session, *, actor) -> int:  # noqa: ANN001 - a unit of work on a slow database
        time.sleep(0.3)
        return 7

    async def main() -> int:
        with pytest.raises(DatabaseWait):
            await backend.run(slow)
        return await backend.start(slow)

    try:
        assert asyncio.run(main()) == 7
    finally:
        backend.close()
