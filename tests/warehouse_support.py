"""The warehouse for tests: chDB (ClickHouse in-process, real ClickHouse SQL) at the session's
data directory, emptied before each test. chDB opens one data directory per process, so every
test of a run shares this one."""

from __future__ import annotations

from collections.abc import Iterator

from platform_core.runtime import Runtime
from platform_core.warehouse.engine import ChdbWarehouse, warehouse_path
from platform_core.warehouse.schema import drop_all, ensure_schema
from platform_core.warehouse.sources import Source, source_for
from platform_core.warehouse.sync import run_pass


def fresh_warehouse(rt: Runtime) -> Iterator[ChdbWarehouse]:
    """An empty warehouse reading ``rt``'s database (the fixtures in tests/conftest.py)."""
    path = warehouse_path(rt.settings)
    wh = ChdbWarehouse.shared(path)
    drop_all(wh)
    ensure_schema(wh, source_for(rt.settings, rt.engine).attach_statements())
    yield wh
    # a test may have closed it (a restart): the next test finds it empty either way
    drop_all(ChdbWarehouse.shared(path))


def sync_now(wh: ChdbWarehouse, rt: Runtime) -> None:
    """One pass, as the running sync makes every second."""
    source: Source = source_for(rt.settings, rt.engine)
    run_pass(
        wh,
        source,
        lookback_s=rt.settings.warehouse_lookback_s,
        thresholds=(rt.settings.service_level_s, rt.settings.short_abandon_s, rt.settings.timezone),
    )
