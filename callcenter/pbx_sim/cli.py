"""``hotline pbx-sim``: the PBX simulator as a process, for development and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal

import click

from callcenter.pbx_sim.config import default_config, screen_pop_user
from callcenter.pbx_sim.pbx import PbxSimulator
from callcenter.pbx_sim.scenario import (
    LoadProfile,
    Scenario,
    load_scenario,
    run_profile,
    run_script,
)
from callcenter.pbx_sim.server import AmiServer
from platform_core.settings import load_settings

log = logging.getLogger(__name__)


@click.command("pbx-sim")
@click.option("--host", default=None, help="监听地址 / bind address (default HOTLINE_AMI_HOST)")
@click.option(
    "--port", type=int, default=None, help="AMI 端口 / AMI port (default HOTLINE_AMI_PORT)"
)
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="场景 YAML / scenario file",
)
@click.option(
    "--agents",
    type=int,
    default=6,
    show_default=True,
    help="坐席数 / desks when no scenario names them",
)
@click.option("--rate", type=float, default=None, help="每秒来电 / calls per simulated second")
@click.option("--concurrency", type=int, default=50, show_default=True)
@click.option(
    "--talk", type=float, default=90.0, show_default=True, help="平均通话秒数 / mean talk time"
)
@click.option(
    "--patience", type=float, default=60.0, show_default=True, help="平均耐心秒数 / mean patience"
)
@click.option("--duration", type=float, default=None, help="模拟秒数 / simulated seconds to run")
@click.option(
    "--time-scale",
    type=float,
    default=None,
    help="模拟秒/真实秒 / simulated seconds per real second",
)
@click.option("--agi", "agi_url", default=None, help="FastAGI 地址 / e.g. agi://127.0.0.1:4573")
@click.option(
    "--queue-log",
    default=None,
    type=click.Path(dir_okay=False),
    help="写 Asterisk 的 queue_log / write Asterisk's queue_log here",
)
@click.option("--seed", type=int, default=None)
def pbx_sim(
    host: str | None,
    port: int | None,
    scenario_file: str | None,
    agents: int,
    rate: float | None,
    concurrency: int,
    talk: float,
    patience: float,
    duration: float | None,
    time_scale: float | None,
    agi_url: str | None,
    queue_log: str | None,
    seed: int | None,
) -> None:
    """PBX 模拟器: 真实 AMI (TCP) 与 FastAGI / a PBX simulator speaking real AMI over TCP."""
    settings = load_settings()
    if scenario_file:
        scenario = load_scenario(
            scenario_file, username=settings.ami_username, secret=settings.ami_secret
        )
    else:
        scenario = Scenario(
            config=default_config(
                username=settings.ami_username, secret=settings.ami_secret, agents=agents
            )
        )
    cfg = scenario.config
    # as manager.conf: the screen-pop service's user beside callcenter's
    cfg.users.setdefault(settings.ami_pop_username, screen_pop_user(settings.ami_pop_secret))
    if time_scale is not None:
        cfg.time_scale = time_scale
    if agi_url is not None:
        cfg.agi_url = agi_url
    if seed is not None:
        cfg.seed = seed
    if queue_log is not None:
        cfg.queue_log = queue_log
    if rate is not None:
        scenario.profile = LoadProfile(
            rate=rate, concurrency=concurrency, talk=talk, patience=patience, duration=duration
        )
    asyncio.run(_serve(scenario, host or settings.ami_host, port or settings.ami_port))


def _report_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("模拟来电生成失败 / call generation failed", exc_info=task.exception())


async def _serve(scenario: Scenario, host: str, port: int) -> None:
    pbx = PbxSimulator(scenario.config)
    server = AmiServer(pbx)
    bound = await server.start(host, port)
    click.echo(
        f"PBX 模拟器已启动 / PBX simulator on {host}:{bound} "
        f"(Asterisk Call Manager/{scenario.config.banner_version})"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    tasks = []
    if scenario.calls:
        tasks.append(asyncio.ensure_future(run_script(pbx, scenario.calls)))
    if scenario.profile is not None:
        tasks.append(
            asyncio.ensure_future(
                run_profile(
                    pbx, scenario.profile, rng=random.Random(scenario.config.seed), stop=stop
                )
            )
        )
        if scenario.profile.duration is not None:
            await asyncio.wait(tasks)
            stop.set()
    for t in tasks:
        t.add_done_callback(_report_failure)
    await stop.wait()
    for t in tasks:
        t.cancel()
    await server.stop()
