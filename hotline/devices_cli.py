"""``hotline devices``: the alarm intake, simulated device traffic, alarm KPIs, a death."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click

from platform_core.errors import DomainError


@click.group()
def devices() -> None:
    """智能设备与告警 / smart devices and alarms."""


@devices.command()
@click.option("--mqtt", "mqtt_url", default=None, help="MQTT 地址 / broker URL (HOTLINE_MQTT_URL)")
@click.option("--http-port", type=int, default=None, help="Webhook 端口 / webhook port (0: off)")
@click.option("--stats-every", type=float, default=60.0, show_default=True)
def intake(mqtt_url: str | None, http_port: int | None, stats_every: float) -> None:
    """接收设备告警与心跳 / run the alarm intake (MQTT and vendor webhooks)."""
    from callcenter.alarm_intake.app import AlarmIntake
    from hotline.context import runtime_for_cli
    from platform_core.process import favour_waiting_threads

    favour_waiting_threads()  # the alarm writer waits on PostgreSQL behind the MQTT readers
    runtime = runtime_for_cli()
    port = runtime.settings.alarm_http_port if http_port is None else http_port
    service = AlarmIntake(
        runtime, mqtt_url=mqtt_url, http_port=None if port == 0 else port, http=port != 0
    ).start()
    from platform_core import observability

    observability.register_once(
        "alarm-intake",
        observability.StatsCollector(
            "hotline_alarm_intake",
            service.stats,
            # every figure counts since start except what the lanes hold now
            is_counter=lambda name: not name.startswith("queued"),
        ),
    )
    observability.live_figures(runtime)
    operations = observability.serve_operations(runtime)
    click.echo(
        f"告警接入已启动 / intake running: mqtt={mqtt_url or runtime.settings.mqtt_url or '-'} "
        f"http={service.http.url if service.http else '-'}"
    )
    try:
        while True:
            time.sleep(stats_every)
            click.echo(json.dumps(service.stats(), ensure_ascii=False, sort_keys=True))
    except KeyboardInterrupt:
        pass
    finally:
        if operations is not None:
            operations.stop()
        service.stop()
        runtime.close()


@devices.command()
@click.option("--transport", type=click.Choice(["mqtt", "http"]), default="mqtt", show_default=True)
@click.option("--mqtt", "mqtt_url", default=None, help="MQTT 地址 / broker URL (HOTLINE_MQTT_URL)")
@click.option("--http-url", default=None, help="Webhook 地址 / intake webhook base URL")
@click.option(
    "--devices", "limit", type=int, default=None, help="最多模拟多少台 / at most this many"
)
@click.option(
    "--alarm-every",
    type=float,
    default=30.0,
    show_default=True,
    help="平均每隔多少秒一次告警 / mean seconds between alarms (all devices)",
)
@click.option(
    "--heartbeat-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="心跳间隔倍数, 0.01 即百倍速 / heartbeat interval factor",
)
@click.option(
    "--duration", type=float, default=0, help="运行秒数, 0 为直到 Ctrl-C / seconds to run"
)
@click.option("--seed", type=int, default=12349, show_default=True)
def simulate(
    transport: str,
    mqtt_url: str | None,
    http_url: str | None,
    limit: int | None,
    alarm_every: float,
    heartbeat_scale: float,
    duration: float,
    seed: int,
) -> None:
    """模拟设备流量 / publish realistic device traffic (heartbeats, alarms, restores, faults)."""
    from callcenter.alarm_intake.simulator import describe, run_simulator
    from hotline.context import runtime_for_cli

    runtime = runtime_for_cli(start_jobs=False)
    if transport == "mqtt" and not (mqtt_url or runtime.settings.mqtt_url):
        raise click.UsageError("需要 --mqtt 或 HOTLINE_MQTT_URL / a broker URL is needed")
    sim = run_simulator(
        runtime,
        transport=transport,
        mqtt_url=mqtt_url,
        http_url=http_url,
        devices=limit,
        alarm_every_s=alarm_every,
        heartbeat_scale=heartbeat_scale,
        seed=seed,
    )
    click.echo(
        f"模拟 {len(sim.devices)} 台设备 / simulating {len(sim.devices)} devices ({transport})"
    )
    started = time.monotonic()
    try:
        while not duration or time.monotonic() - started < duration:
            time.sleep(min(5.0, duration or 5.0))
            click.echo(describe(sim))
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        click.echo(describe(sim))
        runtime.close()


@devices.command("alarm-kpi")
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="起始日期 (含) / first day (default today)",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="结束日期 (含) / last day (default the first)",
)
@click.option(
    "--region", "region_code", default=None, help="区划 / region (default the home region)"
)
def alarm_kpi(start: datetime | None, end: datetime | None, region_code: str | None) -> None:
    """告警考核指标 / alarm KPIs (answered within 60 s / 180 s, time to first action, on site)."""
    from hotline.context import runtime_for_cli
    from platform_core import clock
    from platform_core.alarms.kpi import kpi

    runtime = runtime_for_cli(start_jobs=False)
    tz = ZoneInfo(runtime.settings.timezone)
    first = start.date() if start else clock.today(runtime.settings.timezone)
    last = end.date() if end else first
    since = datetime.combine(first, datetime.min.time(), tz)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    try:
        with runtime.session() as s:
            report = kpi(
                s,
                start=since,
                end=until,
                region_code=region_code or runtime.settings.home_region_code,
            )
    finally:
        runtime.close()
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@devices.command("rejects")
@click.option("--hours", type=float, default=24.0, show_default=True, help="最近多少小时 / window")
@click.option("--reason", default=None, help="只看此原因 / only this reason (e.g. too_deep)")
@click.option("--vendor", default=None, help="只看此厂商 / only this vendor code")
@click.option("--limit", type=int, default=20, show_default=True, help="列出最近几条 / latest rows")
@click.option("--raw", "with_raw", is_flag=True, help="含原文 (留审计) / with raw text (audited)")
def rejects(
    hours: float, reason: str | None, vendor: str | None, limit: int, with_raw: bool
) -> None:
    """被拒收的设备消息: 按原因与厂商计数, 及最近几条 / rejected device messages."""
    from hotline.context import runtime_for_cli
    from platform_core import clock
    from platform_core.actors import system_actor
    from platform_core.alarms.rejects import latest_rejects, reject_totals

    runtime = runtime_for_cli(start_jobs=False)
    since = clock.now() - timedelta(hours=hours)
    try:
        with runtime.session() as s:
            totals = reject_totals(s, since=since)
            latest = latest_rejects(
                s,
                since=since,
                reason=reason,
                vendor=vendor,
                limit=limit,
                with_raw=with_raw,
                actor=system_actor("命令行 / CLI", region_code=runtime.settings.home_region_code),
            )
    finally:
        runtime.close()
    report = {
        "since": since.isoformat(),
        "totals": [
            {
                "reason": t.reason,
                "vendor": t.vendor,
                "messages": t.messages,
                "rows": t.rows,
                "last_at": t.last_at.isoformat(),
            }
            for t in totals
        ],
        "latest": latest,
    }
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@devices.command("record-death")
@click.argument("elder_id", type=int)
@click.option("--date", "died_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--source", default="", help="来源, 如公安死亡注销 / where the record comes from")
def record_death(elder_id: int, died_on: datetime, source: str) -> None:
    """登记老人去世: 停用设备、结束告警、取消工单与回访 / record a death and stop every service."""
    from hotline.context import runtime_for_cli
    from platform_core.actors import system_actor
    from platform_core.flows.death import record_death_of_elder

    runtime = runtime_for_cli(start_jobs=False)
    try:
        with runtime.session() as s:
            report = record_death_of_elder(
                s,
                elder_id=elder_id,
                died_on=died_on.date()
                if isinstance(died_on, datetime)
                else date.fromisoformat(str(died_on)),
                actor=system_actor("命令行 / CLI", region_code=runtime.settings.home_region_code),
                source=source,
            )
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        runtime.close()
    click.echo(json.dumps(report.__dict__, ensure_ascii=False))
