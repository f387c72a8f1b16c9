"""The warehouse sync on chDB (real ClickHouse SQL) from PostgreSQL and from SQLite: facts
arrive, exactly once across replays and restarts, without personal data, within seconds, and
an outage of the source is caught up after."""

from __future__ import annotations

import itertools
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from platform_core import clock
from platform_core.calls.models import Call
from platform_core.runtime import Runtime
from platform_core.settings import Settings
from platform_core.warehouse.engine import DATABASE, ChdbWarehouse, WarehouseError
from platform_core.warehouse.facts import FACTS
from platform_core.warehouse.sources import PostgresPull, SourceError, source_for
from platform_core.warehouse.sync import WarehouseSync, backfill, run_pass, status
from tests.warehouse_support import sync_now

NAME, NUMBER = "乌云其其格", "13947101234"
_ids = itertools.count(1)


def add_calls(
    rt: Runtime, n: int, *, at: datetime | None = None, region: str = "150102003001"
) -> list[str]:
    at = at or clock.now()
    ids = []
    with rt.session() as s:
        for i in range(n):
            linkedid = f"1790000000.{next(_ids)}"
            s.add(
                Call(
                    linkedid=linkedid,
                    uniqueid=linkedid,
                    caller_number=NUMBER,
                    caller_name=NAME,
                    region_code=region,
                    started_at=at,
                    queued_at=at,
                    first_queue="hotline-general",
                    outcome="answered" if i % 3 else "abandoned",
                    wait_s=float(i),
                )
            )
            ids.append(linkedid)
    return ids


def count(wh: ChdbWarehouse, table: str, final: bool = True) -> int:
    rows = wh.query(f"SELECT count() AS n FROM {DATABASE}.{table}{' FINAL' if final else ''}")
    return int(rows[0]["n"])


def test_calls_reach_the_warehouse_once_whatever_is_replayed(
    any_runtime: Runtime, warehouse
) -> None:
    add_calls(any_runtime, 7)
    for _ in range(3):  # three passes read the same rows (the look-back): one row each
        sync_now(warehouse, any_runtime)
    assert count(warehouse, "calls") == 7
    assert count(warehouse, "calls", final=False) >= 7

    # a changed row replaces its earlier version
    with any_runtime.session() as s:
        s.execute(
            update(Call).values(outcome="answered", updated_at=clock.now() + timedelta(seconds=1))
        )
    sync_now(warehouse, any_runtime)
    rows = warehouse.query(
        f"SELECT countIf(outcome = 'answered') AS a, count() AS n FROM {DATABASE}.calls FINAL"
    )
    assert (int(rows[0]["a"]), int(rows[0]["n"])) == (7, 7)

    # rows inserted without the cursor moving (a crash between the two) are read again: once
    source = source_for(any_runtime.settings, any_runtime.engine)
    source.copy(warehouse, FACTS[0], since=None, window=None, pass_version=1)
    sync_now(warehouse, any_runtime)
    assert count(warehouse, "calls") == 7


def test_a_restart_carries_on_from_the_cursor(any_runtime: Runtime, warehouse) -> None:
    add_calls(any_runtime, 3)
    sync_now(warehouse, any_runtime)
    path = warehouse.path
    warehouse._really_close()  # the process stops
    reopened = ChdbWarehouse.shared(Path(path))
    add_calls(any_runtime, 2, at=clock.now() + timedelta(seconds=2))
    sync_now(reopened, any_runtime)
    assert count(reopened, "calls") == 5


def test_no_personal_data_reaches_the_warehouse(any_runtime: Runtime, warehouse) -> None:
    add_calls(any_runtime, 2)
    sync_now(warehouse, any_runtime)
    columns = warehouse.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String}", {"db": DATABASE}
    )
    names = {(c["table"], c["name"]) for c in columns}
    personal = (
        "phone",
        "number",
        "address",
        "id_number",
        "latitude",
        "longitude",
        "note",
        "comment",
        "text",
    )
    leaks = [
        f"{t}.{n}"
        for t, n in names
        if any(p in n for p in personal) or (n == "name" and t != "providers")
    ]
    assert leaks == []
    rows = warehouse.query(f"SELECT * FROM {DATABASE}.calls FINAL")
    flat = " ".join(str(v) for r in rows for v in r.values())
    assert NAME not in flat and NUMBER not in flat


def test_backfill_reports_progress_and_a_second_run_changes_nothing(
    any_runtime: Runtime, warehouse
) -> None:
    now = clock.now()
    add_calls(any_runtime, 4, at=now - timedelta(days=70))
    add_calls(any_runtime, 5, at=now - timedelta(days=1))
    seen = []
    source = source_for(any_runtime.settings, any_runtime.engine)
    counts = backfill(warehouse, source, lookback_s=30, progress=seen.append)
    assert counts["calls"] == 9
    calls_progress = [p for p in seen if p.fact == "calls"]
    assert calls_progress[-1].window == calls_progress[-1].windows >= 3  # month by month
    assert {p.fact for p in seen} == {f.name for f in FACTS}
    backfill(warehouse, source, lookback_s=30)
    assert count(warehouse, "calls") == 9
    # the sync carries on from the backfill's cursor
    add_calls(any_runtime, 1, at=clock.now() + timedelta(seconds=1))
    sync_now(warehouse, any_runtime)
    assert count(warehouse, "calls") == 10


def test_steady_state_lag_is_within_five_seconds(pg_warehouse, runtime: Runtime) -> None:
    settings = runtime.settings.with_overrides(warehouse_sync_interval_s=1.0)
    sync = WarehouseSync(pg_warehouse, source_for(settings), settings).start()
    try:
        deadline = time.monotonic() + 30
        while sync.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        lags = []
        for _ in range(3):
            [linkedid] = add_calls(runtime, 1, at=clock.now())
            committed = time.monotonic()
            while time.monotonic() - committed < 15:
                found = pg_warehouse.query(
                    f"SELECT count() AS n FROM {DATABASE}.calls FINAL WHERE linkedid = {{l:String}}",
                    {"l": linkedid},
                )
                if int(found[0]["n"]):
                    break
                time.sleep(0.05)
            lags.append(time.monotonic() - committed)
        assert max(lags) <= 5.0, lags
        shown = status(pg_warehouse)
        assert shown.lag_s is not None and shown.lag_s <= 5.0
    finally:
        sync.stop()


def test_an_outage_of_the_source_is_caught_up(pg_warehouse, runtime: Runtime) -> None:
    add_calls(runtime, 2)
    sync_now(pg_warehouse, runtime)
    # PostgreSQL unreachable from the warehouse: the pass fails and the cursor stays
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    away = source_for(
        runtime.settings.with_overrides(
            warehouse_source_url=f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
        )
    )
    for statement in away.attach_statements():
        pg_warehouse.command(statement)
    add_calls(runtime, 3)
    with pytest.raises(WarehouseError):
        run_pass(pg_warehouse, away, lookback_s=30)
    # back: the next pass catches up with everything committed meanwhile
    back = source_for(runtime.settings)
    for statement in back.attach_statements():
        pg_warehouse.command(statement)
    run_pass(pg_warehouse, back, lookback_s=30)
    assert count(pg_warehouse, "calls") == 5


def test_the_source_is_read_where_the_settings_say() -> None:
    pg = source_for(Settings(database_url="postgresql+psycopg://wh:s%27cret@db1,db2:5433/hotline"))
    assert isinstance(pg, PostgresPull)
    assert (pg.address, pg.database, pg.user, pg.password) == (
        "db1:5432|db2:5433",
        "hotline",
        "wh",
        "s'cret",
    )
    assert (
        "PostgreSQL('db1:5432|db2:5433', 'hotline', 'wh', 's\\'cret')" in pg.attach_statements()[1]
    )
    compose_style = source_for(
        Settings(
            database_url="postgresql://hotline:pw@/hotline?host=postgres:5432"
            "&host=postgres-standby:5432&target_session_attrs=read-write"
        )
    )
    assert isinstance(compose_style, PostgresPull)
    assert compose_style.address == "postgres:5432|postgres-standby:5432"
    assert (compose_style.database, compose_style.user) == ("hotline", "hotline")
    with pytest.raises(SourceError):
        source_for(Settings(data_dir=Path("/srv/hotline")))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
