"""The IVR's session records while PostgreSQL is away: what calls open and close meanwhile waits
and is written once the database is back, not lost. The database is a private PostgreSQL server
this test stops and starts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ivr_flows.records import SessionRecords
from platform_core.db import make_engine
from platform_core.ivr.models import IvrSession
from platform_core.ivr.service import SessionResult
from platform_core.models import metadata
from platform_core.runtime import Runtime, build_runtime
from platform_core.settings import Settings
from tests.ivr_flows.conftest import AGENT
from tests.platform_core.test_db_liveness import private_postgres  # noqa: F401 - fixture


@pytest.fixture
def outage_runtime(private_postgres, base_settings: Settings) -> Iterator[tuple[Runtime, Any]]:  # noqa: F811
    server, pg_ctl = private_postgres
    engine = make_engine(server.url, pool_size=2, max_overflow=0)
    metadata.create_all(engine)
    rt = build_runtime(
        base_settings.with_overrides(database_url=server.url), engine=engine, start_jobs=False
    )
    try:
        yield rt, lambda *action: server.pg_ctl(pg_ctl, *action)
    finally:
        rt.event_bus.close()
        engine.dispose()


def _opening(n: int) -> dict[str, Any]:
    return {
        "uniqueid": f"1700000100.{n}",
        "linkedid": f"1700000100.{n}",
        "channel": f"PJSIP/trunk-{n:08x}",
        "script": "main",
        "caller_number": "13900000000",
    }


def test_records_written_while_the_database_is_away_wait_for_it(outage_runtime) -> None:
    runtime, pg_ctl = outage_runtime
    records = SessionRecords(runtime, AGENT)
    result = SessionResult(outcome="handed_off", path=["welcome"], queue="general")

    async def calls() -> list[Any]:
        first = await records.open(**_opening(1))  # the database answers
        pg_ctl("stop")
        restart = threading.Timer(2.0, pg_ctl, args=("start",))
        restart.start()
        try:
            started = time.monotonic()
            # a call that ends and two that begin while the database is away
            closing = records.close(first, result)
            openings = [records.open(**_opening(n)) for n in (2, 3)]
            done = await asyncio.wait_for(asyncio.gather(closing, *openings), 30)
            return [time.monotonic() - started, *done]
        finally:
            restart.join()

    try:
        waited, _closed, second, third = asyncio.run(calls())
    finally:
        records.stop()
    assert waited >= 1.5, "written before the database was back?"
    assert records.outages == 1
    with runtime.session() as s:
        rows = {r.uniqueid: r for r in s.scalars(select(IvrSession))}
    assert set(rows) == {"1700000100.1", "1700000100.2", "1700000100.3"}
    assert rows["1700000100.1"].outcome == "handed_off" and rows["1700000100.1"].ended_at
    assert {rows["1700000100.2"].id, rows["1700000100.3"].id} == {second, third}
