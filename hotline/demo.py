"""``hotline demo``: the whole platform in one process on embedded defaults.

SQLite in the data directory, in-process events and jobs, and in place of Asterisk the PBX
simulator, which speaks real AMI and FastAGI over TCP: callcenter connects to it as it would to
Asterisk, the simulator hands every call to the IVR's FastAGI server, queues it, and rings the
agents' phones. One desk (PJSIP/8001) belongs to the printed demo agent and starts paused; the
other desks are staffed by simulated colleagues, so the wallboard moves from the first minute.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import click

log = logging.getLogger(__name__)

DEMO_LEAGUE = "150100000000"  # 呼和浩特
NOT_READY = "not_ready"


def _free_port(host: str, preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind((host, preferred))
            return preferred
        except OSError:
            s.bind((host, 0))
            return int(s.getsockname()[1])


@dataclass
class Demo:
    """The running parts, so tests can drive and stop them."""

    runtime: Any
    console: Any
    callcenter: Any
    screen_pops: Any
    sim: Any
    ivr: Any
    ivr_loop: asyncio.AbstractEventLoop
    accounts: list[tuple[str, str, str]]
    alarm_intake: Any = None
    devices: Any = None  # the device traffic simulator, once started
    colleagues: Any = None  # the simulated colleagues answering alarms offered to their desks
    callers: list[tuple[str, str]] = field(default_factory=list)  # (number, kind)
    _stop: threading.Event = field(default_factory=threading.Event)
    _generator: threading.Thread | None = None

    @property
    def url(self) -> str:
        return str(self.console.url)

    def place_call(
        self,
        number: str,
        *,
        digits: list[str] | None = None,
        patience: float | None = 120.0,
        talk: float = 40.0,
    ) -> Any:
        from callcenter.pbx_sim import CallerConfig

        return self.sim.place_call(
            CallerConfig(number=number, digits=list(digits or []), patience=patience, talk=talk)
        )

    def generate_calls(self, mean_interval_s: float, seed: int = 12349) -> None:
        """Simulated elders (and a few family members and strangers) call at random."""
        rng = random.Random(seed)

        def run() -> None:
            while not self._stop.wait(rng.expovariate(1 / mean_interval_s)):
                if not self.callers:
                    continue
                number, _kind = rng.choice(self.callers)
                if rng.random() < 0.1:
                    number = f"13{rng.randrange(10**9):09d}"  # nobody we know
                try:
                    self.place_call(
                        number,
                        digits=[rng.choice(["1", "2", "3", "0", ""])],
                        patience=rng.uniform(40, 180),
                        talk=rng.uniform(20, 90),
                    )
                except Exception:
                    log.exception("模拟来电失败 / simulated call failed")

        self._generator = threading.Thread(target=run, name="demo-calls", daemon=True)
        self._generator.start()

    def simulate_devices(self, alarm_every_s: float) -> None:
        """Simulated pendants, watches and sensors report to the alarm intake over its signed
        HTTP webhook (heartbeats, faults, restores, and an alarm every ``alarm_every_s``)."""
        from callcenter.alarm_intake.simulator import run_simulator

        self.devices = run_simulator(
            self.runtime,
            transport="http",
            http_url=self.alarm_intake.http.url,
            alarm_every_s=alarm_every_s,
        )

    def stop(self) -> None:
        self._stop.set()
        parts = [
            self.console.stop,
            self.console.app.extensions["hotline_warehouse"].close,
            self.callcenter.stop,
            self.screen_pops.stop,
            self.sim.stop,
        ]
        if self.devices is not None:
            parts.insert(0, self.devices.stop)
        if self.alarm_intake is not None:
            parts.insert(1, self.alarm_intake.stop)
        if self.colleagues is not None:
            parts.insert(0, self.colleagues.stop)
        for part in parts:
            try:
                part()
            except Exception:
                log.exception("停止失败 / stop failed")
        try:
            asyncio.run_coroutine_threadsafe(self.ivr.stop(grace=1), self.ivr_loop).result(5)
        except Exception:
            log.exception("停止 IVR 失败 / stopping the IVR failed")
        self.ivr_loop.call_soon_threadsafe(self.ivr_loop.stop)
        self.runtime.close()


def prepare(runtime: Any, *, elders: int) -> list[tuple[str, str, str]]:
    """Schema, regions, catalogue, providers, elders (when empty) and the demo accounts."""
    from sqlalchemy import func, select

    from hotline.demo_data.accounts import seed_users
    from hotline.demo_data.elders import seed_elders
    from platform_core import migrate
    from platform_core.elders.models import Elder
    from platform_core.regions.service import load_dictionary

    migrate.upgrade(runtime.settings.effective_database_url)
    with runtime.session() as s:
        load_dictionary(s)
    with runtime.session() as s:
        empty = not s.scalar(select(func.count()).select_from(Elder))
    if empty:
        with runtime.session() as s:
            from hotline.demo_data.catalogue import seed_catalogue

            seed_catalogue(s)
        try:
            from hotline.demo_data.providers import seed_providers

            with runtime.session() as s:
                seed_providers(s, rng=random.Random(12349))
        except ImportError:
            pass
        with runtime.session() as s:
            seed_elders(s, count=elders, seed=12349, league_code=DEMO_LEAGUE)
    with runtime.session() as s:
        return seed_users(s, reset_passwords=True)


def _callers(runtime: Any, limit: int = 300) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from platform_core.elders.models import Elder, ElderPhone, EmergencyContact

    with runtime.session() as s:
        own = s.execute(
            select(ElderPhone.number)
            .join(Elder, Elder.id == ElderPhone.elder_id)
            .where(Elder.status == "active", ElderPhone.kind == "mobile")
            .limit(limit)
        ).scalars()
        out = [(n, "elder") for n in own]
        family = s.execute(select(EmergencyContact.phone).limit(limit // 5)).scalars()
        out += [(n, "family") for n in family]
    return out


def start_demo(
    settings: Any,
    *,
    elders: int = 300,
    agents: int = 6,
    time_scale: float = 1.0,
    console_port: int | None = None,
    second_factor: bool = False,
) -> Demo:
    """Start every part and return them; the caller prints, waits and stops.

    The demo's supervisor and administrator log in with their password alone unless
    ``second_factor``: a newcomer trying the demo has no authenticator app set up.
    """
    from agent_console import create_app
    from agent_console.server import ConsoleServer
    from callcenter.app import CallCenterThread
    from callcenter.pbx_sim import AmiUser, PhoneConfig, default_config
    from callcenter.pbx_sim.config import screen_pop_user
    from callcenter.pbx_sim.harness import SimulatorThread
    from callcenter.screen_pop import ScreenPopsThread
    from hotline.context import runtime_for_cli
    from hotline.demo_data.accounts import (
        DEMO_AGENT_INTERFACE,
        DEMO_SUPERVISOR_INTERFACE,
        seed_colleagues,
    )
    from ivr_flows.server import FastAgiServer
    from platform_core import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1"
    agi_port = _free_port(host, settings.agi_port)
    settings = settings.with_overrides(agi_host=host, agi_port=agi_port, ami_host=host)
    if not second_factor:
        settings = settings.with_overrides(totp_roles="")
    # the schema first: the runtime's outbox relay starts with it and reads its table at once
    migrate.upgrade(settings.effective_database_url)
    runtime = runtime_for_cli(settings)
    accounts = prepare(runtime, elders=elders)

    ivr_loop = asyncio.new_event_loop()
    threading.Thread(target=ivr_loop.run_forever, name="ivr", daemon=True).start()
    ivr = FastAgiServer(runtime, host=host, port=agi_port)
    asyncio.run_coroutine_threadsafe(ivr.start(), ivr_loop).result(10)

    config = default_config(
        username=settings.ami_username, secret=settings.ami_secret, agents=agents
    )
    # as manager.conf: callcenter's user and the screen-pop service's (the rings only)
    config.users = {
        settings.ami_username: AmiUser(secret=settings.ami_secret),
        settings.ami_pop_username: screen_pop_user(settings.ami_pop_secret),
    }
    config.time_scale = time_scale
    config.agi_url = f"agi://{host}:{ivr.port}"
    rng = random.Random(8)
    for desk in config.agents:
        desk.answer_after = rng.uniform(2, 5)
        if desk.interface == DEMO_AGENT_INTERFACE:
            # the newcomer's desk: logged in, paused until they press ready in the console
            desk.paused, desk.paused_reason, desk.answer_after = True, NOT_READY, 3.0
    # the simulated colleagues are agents with accounts (named on the wallboard and in reports,
    # monitored like anyone), and the supervisor's phone picks up to listen, whisper or barge
    with runtime.session() as s:
        seed_colleagues(
            s, [(d.interface, d.name) for d in config.agents if d.interface != DEMO_AGENT_INTERFACE]
        )
    config.phones[DEMO_SUPERVISOR_INTERFACE.rsplit("/", 1)[-1]] = PhoneConfig(answer_after=1.0)
    # the console's port first: when it is taken, nothing else has started yet
    app = create_app(runtime)
    # the warehouse (chDB in the data directory) and its sync start with the demo, so the
    # supervision pages are fresh from the first minute
    app.extensions["hotline_warehouse"].get()
    console = ConsoleServer(
        app,
        settings.console_host,
        console_port or _free_port(settings.console_host, settings.console_port),
    )
    sim = SimulatorThread(config, host=host, port=_free_port(host, settings.ami_port))
    sim.start()
    center = CallCenterThread(
        runtime,
        host=host,
        port=sim.port,
        username=settings.ami_username,
        secret=settings.ami_secret,
    )
    center.start()
    pops = ScreenPopsThread(runtime, host=host, port=sim.port).start()
    console.start()
    from callcenter.alarm_intake import start_in_process as start_alarm_intake
    from platform_core.periodic import ensure_periodic_jobs

    # device alarms arrive over HTTP webhooks (and MQTT too when HOTLINE_MQTT_URL is set)
    alarm_intake = start_alarm_intake(
        runtime, mqtt_url=settings.mqtt_url or "", http_host=host, http_port=0
    )
    ensure_periodic_jobs(runtime)
    demo = Demo(
        runtime=runtime,
        console=console,
        callcenter=center,
        screen_pops=pops,
        sim=sim,
        ivr=ivr,
        ivr_loop=ivr_loop,
        accounts=accounts,
        alarm_intake=alarm_intake,
    )
    demo.callers = _callers(runtime)
    from hotline.demo_colleagues import SimulatedColleagues

    demo.colleagues = SimulatedColleagues(runtime).start()
    return demo


@click.command()
@click.option(
    "--port",
    type=int,
    default=None,
    help="控制台端口 / console port (default HOTLINE_CONSOLE_PORT)",
)
@click.option(
    "--elders",
    type=click.IntRange(min=10),
    default=300,
    show_default=True,
    help="首次启动时生成的演示老人 / demo elders created on first start",
)
@click.option(
    "--call-every",
    type=click.FloatRange(min=1),
    default=20.0,
    show_default=True,
    help="模拟来电的平均间隔(秒) / mean seconds between simulated calls",
)
@click.option(
    "--alarm-every",
    type=click.FloatRange(min=5),
    default=90.0,
    show_default=True,
    help="模拟设备报警的平均间隔(秒) / mean seconds between simulated device alarms",
)
def demo(port: int | None, elders: int, call_every: float, alarm_every: float) -> None:
    """一键演示: 控制台、话务、IVR、PBX 模拟器与演示数据 / the whole platform in one process."""
    from platform_core.settings import load_settings

    settings = load_settings()
    click.echo("正在启动演示环境 / starting the demo ...")
    # HOTLINE_TOTP_ROLES set in the environment keeps the second factor on in the demo too
    second_factor = bool(os.environ.get("HOTLINE_TOTP_ROLES"))
    running = start_demo(settings, elders=elders, console_port=port, second_factor=second_factor)
    running.generate_calls(call_every)
    running.simulate_devices(alarm_every)
    click.echo("")
    click.echo(f"  坐席控制台 / console:  {running.url}")
    click.echo(f"  设备报警接入 / alarm webhook: {running.alarm_intake.http.url}")
    click.echo("  演示账号 (密码每次启动重新生成) / demo accounts (new passwords at every start):")
    for username, password, role in running.accounts:
        click.echo(f"    {role:<11} {username:<16} {password}")
    click.echo("")
    click.echo("  以 demo_agent 登录, 点击「就绪」, 一分钟内会有模拟老人来电并弹屏;")
    click.echo("  以 demo_supervisor 登录查看监控大屏。Ctrl-C 退出。")
    if not second_factor:
        click.echo(
            "  演示环境未要求动态口令 (生产环境中主管、监管和管理员须二次验证) / the demo skips the"
            " second factor that production asks of supervisors, officers and administrators"
        )
    click.echo(
        "  Log in as demo_agent and press Ready: a simulated elder calls within a minute and the"
    )
    click.echo("  screen pops. demo_supervisor sees the wallboard. Ctrl-C stops everything.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("正在停止 / stopping ...")
    finally:
        running.stop()
