"""``hotline warehouse``: run the sync, backfill with progress, show how fresh the warehouse is."""

from __future__ import annotations

import json
import time

import click

from hotline.context import runtime_for_cli
from platform_core import observability
from platform_core.warehouse.engine import open_warehouse
from platform_core.warehouse.schema import drop_all, ensure_schema
from platform_core.warehouse.sources import source_for
from platform_core.warehouse.sync import BackfillProgress, WarehouseSync, backfill, status


@click.group()
def warehouse() -> None:
    """数据仓库 (ClickHouse) / the analytics warehouse (ClickHouse)."""


@warehouse.command()
@click.option("--once", is_flag=True, help="同步一遍后退出 / one pass, then exit")
def sync(once: bool) -> None:
    """持续同步事实数据 / keep the warehouse in step with the primary database."""
    runtime = runtime_for_cli(start_jobs=False)
    wh = open_warehouse(runtime.settings)
    source = source_for(runtime.settings, runtime.engine)
    runner = WarehouseSync(wh, source, runtime.settings)
    if once:
        ensure_schema(wh, source.attach_statements())
        result = runner.run_once()
        click.echo(f"同步完成 / pass done: {result.facts} facts in {result.seconds:.2f} s")
        return
    runner.start()
    lag_limit = max(30.0, 10 * runtime.settings.warehouse_sync_interval_s)

    def fresh() -> None:
        # ready while the warehouse answers and the last pass is recent
        lag = status(wh).lag_s
        if lag is None or lag > lag_limit:
            raise RuntimeError(f"warehouse lag {lag} s")

    operations = observability.serve_operations(runtime, extra_checks={"warehouse": fresh})
    click.echo(
        f"仓库同步已启动 / sync running ({wh.kind}, every {runtime.settings.warehouse_sync_interval_s} s)"
    )
    try:
        while True:
            time.sleep(60)
            shown = status(wh).as_dict()
            click.echo(json.dumps({**shown, "passes": runner.passes, "failures": runner.failures}))
    except KeyboardInterrupt:
        pass
    finally:
        if operations is not None:
            operations.stop()
        runner.stop()
        wh.close()


@warehouse.command("backfill")
@click.option("--rebuild", is_flag=True, help="先清空仓库 / empty the warehouse first")
@click.option("--window-days", type=int, default=31, show_default=True)
def backfill_command(rebuild: bool, window_days: int) -> None:
    """把主库的全部历史读入仓库 (可重复执行) / read all history into the warehouse (repeatable)."""
    runtime = runtime_for_cli(start_jobs=False)
    wh = open_warehouse(runtime.settings)
    source = source_for(runtime.settings, runtime.engine)
    if rebuild:
        drop_all(wh)
    began = time.monotonic()

    def show(p: BackfillProgress) -> None:
        share = f"{p.window}/{p.windows}" if p.windows else "-"
        click.echo(
            f"[{p.fact_index}/{p.facts}] {p.fact}: {p.source_rows:,} 行 / rows, "
            f"窗口 / window {share}, {time.monotonic() - began:.1f} s"
        )

    counts = backfill(
        wh,
        source,
        lookback_s=runtime.settings.warehouse_lookback_s,
        thresholds=(
            runtime.settings.service_level_s,
            runtime.settings.short_abandon_s,
            runtime.settings.timezone,
        ),
        window_days=window_days,
        progress=show,
    )
    total = sum(counts.values())
    seconds = time.monotonic() - began
    click.echo(
        f"回填完成 / backfill done: {total:,} rows in {seconds:.1f} s "
        f"({total / seconds if seconds else 0:,.0f} rows/s)"
    )
    wh.close()


@warehouse.command("status")
def status_command() -> None:
    """仓库的新鲜程度 / how fresh the warehouse is."""
    runtime = runtime_for_cli(start_jobs=False)
    wh = open_warehouse(runtime.settings)
    ensure_schema(wh)
    click.echo(json.dumps({"warehouse": wh.kind, **status(wh).as_dict()}, ensure_ascii=False))
    wh.close()
