"""``hotline callcenter`` (the service) and ``hotline callcenter replay FILE``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from platform_core.runtime import Runtime, build_runtime, install_runtime
from platform_core.settings import load_settings


def _runtime(*, scratch: bool = False, wait_for_database: bool = False) -> Runtime:
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if scratch:
        from platform_core.db import make_engine
        from platform_core.models import metadata

        engine = make_engine("sqlite://")
        metadata.create_all(engine)
        runtime = build_runtime(
            settings.with_overrides(database_url="sqlite://", redis_url=""), engine=engine
        )
    else:
        runtime = build_runtime(settings)
        if not _has_call_tables(runtime, wait=wait_for_database):
            runtime.close()
            raise click.ClickException(
                "数据库中没有通话表: 请先运行 `hotline db upgrade`, 或加 --scratch 使用临时库 / "
                "no call tables: run `hotline db upgrade` first, or pass --scratch"
            )
    install_runtime(runtime)
    return runtime


def _has_call_tables(runtime: Runtime, *, wait: bool) -> bool:
    """Whether the call tables exist; ``wait``: a database that is down (restarting with
    callcenter) is waited for with back-off instead of ending the service."""
    delay = 0.5
    while True:
        try:
            return bool(inspect(runtime.engine).has_table("calls"))
        except OperationalError as exc:
            if not wait:
                raise
            click.echo(
                f"数据库不可用, {delay:.1f} 秒后重试 / database unavailable, retrying: {exc}",
                err=True,
            )
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


@click.group(invoke_without_command=True)
@click.pass_context
def callcenter(ctx: click.Context) -> None:
    """话务中心: 唯一的 AMI 连接 / the callcenter service (the one AMI connection)."""
    if ctx.invoked_subcommand is not None:
        return
    from callcenter.app import CallCenter

    runtime = _runtime(wait_for_database=True)
    center = CallCenter(runtime)
    _serve_until_stopped(
        runtime,
        center.run,
        _serve_operations(runtime, center),
        name="callcenter",
        user=runtime.settings.ami_username,
        settings_names="HOTLINE_AMI_USERNAME / HOTLINE_AMI_SECRET",
    )


def _serve_until_stopped(
    runtime: Runtime,
    serve: Callable[[asyncio.Event], Awaitable[None]],
    operations: Any,
    *,
    name: str,
    user: str,
    settings_names: str,
) -> None:
    """Run an AMI service until SIGINT or SIGTERM; a refused password ends it with exit code 2
    and the settings to check."""
    from callcenter.ami import AmiAuthenticationFailed

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    s = runtime.settings
    click.echo(f"{name} → AMI {s.ami_host}:{s.ami_port} ({user})")
    try:
        asyncio.run(main())
    except AmiAuthenticationFailed as exc:
        click.echo(
            f"{exc}\n请检查 {settings_names} 与 manager.conf / "
            "check the AMI credentials against manager.conf",
            err=True,
        )
        sys.exit(2)
    finally:
        if operations is not None:
            operations.stop()
        runtime.close()


def _serve_operations(runtime: Runtime, center: Any) -> Any:
    """Metrics (AMI events, the writer's backlog and what it held, skipped or dropped, resyncs,
    calls waiting) and health on HOTLINE_METRICS_PORT; ready once logged in to Asterisk, this
    connection's resync applied and the database taking the writer's events."""
    from platform_core import observability

    def figures() -> dict[str, Any]:
        stats = center.stats()
        ami, pipeline = stats["ami"], stats["pipeline"]
        return {
            "ami_events": ami["events"],
            "ami_messages": ami["messages"],
            "ami_reconnects": ami["disconnects"],
            "events_handled": pipeline["handled"],
            "events_failed": pipeline["failed"],
            "events_malformed": pipeline["malformed"],
            "events_unknown_channel": pipeline["unknown_channel"],
            "events_dropped": pipeline["dropped"],
            "ami_oversized_blocks": ami["oversized_blocks"],
            "database_outages": pipeline["db_outages"],
            "database_retries": pipeline["db_retries"],
            "held_max": pipeline["held_max"],
            "resyncs": stats["resyncs"],
            "resync_failures": stats["resync_failures"],
            "resync_unreadable": sum(stats["resync_unreadable"].values()),
            "backlog": center.pipeline.backlog,
            "ami_connected": center.ami.connected,
            "database_available": center.pipeline.database_available,
            "ready": center.ready,
        }

    counters = {
        "ami_events",
        "ami_messages",
        "ami_reconnects",
        "events_handled",
        "events_failed",
        "events_malformed",
        "events_unknown_channel",
        "events_dropped",
        "ami_oversized_blocks",
        "database_outages",
        "database_retries",
        "resyncs",
        "resync_failures",
        "resync_unreadable",
    }
    observability.register_once(
        "callcenter",
        observability.StatsCollector(
            "hotline_callcenter", figures, is_counter=counters.__contains__
        ),
    )
    observability.live_figures(runtime)

    def ready() -> None:
        reason = center.unready_reason()
        if reason is not None:
            raise ConnectionError(reason)

    return observability.serve_operations(runtime, extra_checks={"ami": ready})


@callcenter.command()
def pops() -> None:
    """弹屏服务: 以独立 AMI 用户读取振铃并即时弹屏 / the screen-pop service (its own AMI user)."""
    from callcenter.screen_pop import ScreenPops

    runtime = _runtime(wait_for_database=True)
    service = ScreenPops(runtime)
    _serve_until_stopped(
        runtime,
        service.run,
        _serve_pop_operations(runtime, service),
        name="screen pop",
        user=runtime.settings.ami_pop_username,
        settings_names="HOTLINE_AMI_POP_USERNAME / HOTLINE_AMI_POP_SECRET",
    )


def _serve_pop_operations(runtime: Runtime, service: Any) -> Any:
    """Metrics (rings read, pops published, rings left to callcenter's writer) and health on
    HOTLINE_METRICS_PORT; ready once logged in to Asterisk."""
    from platform_core import observability

    def figures() -> dict[str, Any]:
        stats = service.stats()
        return {
            "ami_events": stats["ami"]["events"],
            "ami_reconnects": stats["ami"]["disconnects"],
            "pops_published": stats["lane"]["popped"],
            "rings_left_to_writer": stats["lane"]["left_to_writer"],
            "ami_connected": service.ready,
        }

    observability.register_once(
        "screen_pop",
        observability.StatsCollector(
            "hotline_screen_pop", figures, is_counter=lambda name: name != "ami_connected"
        ),
    )

    def ready() -> None:
        if not service.ready:
            raise ConnectionError("AMI not connected")

    return observability.serve_operations(runtime, extra_checks={"ami": ready})


@callcenter.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON / print JSON")
@click.option(
    "--scratch",
    is_flag=True,
    help="使用临时内存库, 不写入正式库 / replay into a throwaway database",
)
def replay(file: str, as_json: bool, scratch: bool) -> None:
    """重放 AMI 原始消息, 重建通话记录 / feed raw AMI messages through the handlers."""
    from callcenter.replay import replay_file

    runtime = _runtime(scratch=scratch)
    try:
        result = replay_file(runtime, file)
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    _print_table(result.calls, result.kpi)
    p = result.stats["pipeline"]
    click.echo(
        f"\n消息 {result.stats['messages']}, 处理 {p['handled']}, 格式错误 {p['malformed']}, "
        f"未知通道 {p['unknown_channel']}, 失败 {p['failed']} / messages, handled, malformed, "
        "unknown channel, failed"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _print_table(calls: list[dict[str, Any]], kpi: dict[str, Any]) -> None:
    headers = ["linkedid", "caller", "elder_id", "queue", "agent", "outcome", "wait_s", "talk_s"]
    rows = [[_fmt(c[h]) for h in headers] for c in calls]
    widths = [max([len(h), *(_width(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    click.echo("  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)))
    for r in rows:
        click.echo("  ".join(_pad(v, w) for v, w in zip(r, widths, strict=True)))
    rate = kpi["answer_rate"]
    sl = kpi["service_level"]
    click.echo(
        f"\n呼入 offered {kpi['offered']}  接通 answered {kpi['answered']}  放弃 abandoned {kpi['abandoned']}  "
        f"接通率 {'-' if rate is None else f'{rate:.1%}'}  服务水平 {'-' if sl is None else f'{sl:.1%}'}  "
        f"平均应答 ASA {_fmt(kpi['asa_s'])} s"
    )


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
