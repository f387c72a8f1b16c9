"""The fault drill: a small hotline on private servers, loaded and broken on purpose.

PostgreSQL, Redis and Mosquitto of the drill's own (private ports, a directory of its own,
removed after), the production processes as production starts them (``hotline callcenter``,
``hotline devices intake``, ``hotline worker``), and the load a hotline carries: the PBX
simulator places calls (AMI over TCP, Asterisk's queue_log written as Asterisk writes it),
simulated devices raise SOS alarms over MQTT (QoS 1, each vendor's signed protocol) and an
agent opens service orders that the workers dispatch. Meanwhile each server is restarted and
each process killed with SIGKILL and started again, one after another.

Ground truth comes from the simulators: the PBX simulator knows every call and how it ended
(outcome, desk, wait, talk), the devices know every alarm the broker acknowledged, the agent
every order whose commit returned. After each fault the drill measures the time until the
platform has recovered: every process ready (``/readyz``) and everything that happened up to the
end of the fault in the records. When the load stops and the calls have ended it counts what
the records got wrong: calls lost, doubled or made up, wrong outcomes (and recalls), callers
still shown in a queue or desks shown busy (ghosts), alarms lost, orders lost or stuck.

``tests/faults/test_fault_drill.py`` runs it in the suite; ``bench/fault_drill.py`` runs it
with a heavier load and prints the counts and recovery times.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, update

from callcenter.alarm_intake.simulator import MqttTransport, SimDevice
from callcenter.alarm_intake.vendors import Vendor
from callcenter.pbx_sim import CallerConfig, SimCall, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from tests.callcenter.alarm_intake_support import PrivateBroker
from tests.hotline.test_worker_cli import worker_env
from tests.platform_core.test_db_liveness import PrivatePostgres, _pg_bin

ROOT = Path(__file__).resolve().parents[2]
AMI_SECRET = "drill-ami-secret"
WRAPUP_S = 2  # the drill's queues.conf wrapuptime, and callcenter's HOTLINE_CALL_WRAPUP_S
VENDOR = Vendor("ankang", "安康通", "hx-json", "drill-vendor-secret")
FAULTS = ("postgres", "redis", "mosquitto", "callcenter", "intake", "worker")
# What the records must get right: each of these counts is 0 after the drill.
LOSSES = (
    "calls_lost",
    "calls_doubled",
    "calls_made_up",
    "wrong_outcomes",
    "queue_ghosts",
    "alarms_lost",
    "orders_lost",
    "orders_stuck",
)


@dataclass
class DrillConfig:
    """The load and the faults, in real seconds. The PBX simulator runs in real time (Asterisk
    stamps its events and prints durations on one clock) with a hotline of short calls: desks
    ring 5 s, answer after 1 s (one never answers), wrap up 2 s; callers talk 3-10 s, some give up
    after 2-6 s, nobody waits longer than 25 s (general) or 40 s (emergency)."""

    call_every_s: float = 1.2
    alarm_every_s: float = 0.5
    order_every_s: float = 0.5
    agents: int = 7
    elders: int = 60
    down_s: float = 5.0  # how long a server stays stopped, a killed process dead
    warmup_s: float = 6.0
    gap_s: float = 3.0  # calm between one fault's recovery and the next fault
    recover_timeout_s: float = 60.0
    settle_timeout_s: float = 90.0
    faults: tuple[str, ...] = FAULTS
    seed: int = 12349
    keep: bool = False  # leave the drill's directory (logs, queue_log, data) behind


@dataclass
class FaultResult:
    fault: str
    down_s: float
    recovered_s: float | None  # from the end of the fault until recovered; None: not in time
    behind: dict[str, int] = field(default_factory=dict)  # what was still missing, if not


@dataclass
class DrillResult:
    counts: dict[str, int]
    faults: list[FaultResult]
    details: dict[str, list[str]]
    wall_s: float

    @property
    def losses(self) -> dict[str, int]:
        """The counts that must be 0."""
        return {k: self.counts.get(k, 0) for k in LOSSES}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A Redis of the drill's own, persisted as production's is (append-only file): a restart is
    SIGTERM (Redis writes what it holds) and a start on the same directory."""

    def __init__(self, root: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError("redis-server")
        self.exe, self.root, self.port = exe, root, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None


class Service:
    """One ``hotline`` process, started as production starts it, ready when ``/readyz`` says."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.logs = name, args, logs
        self.port = free_port()
        self.env = dict(env, HOTLINE_METRICS_HOST="127.0.0.1", HOTLINE_METRICS_PORT=str(self.port))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.pids: list[int] = []

    def start(self) -> None:
        log = (self.logs / f"{self.name}-{self.starts}.log").open("wb")
        self.starts += 1
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("hotline")), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # its own process group: the drill ends what it forks too
        )
        self.pids.append(self.proc.pid)
        log.close()

    def kill(self) -> None:
        """SIGKILL to the process alone, as the kernel's OOM killer or a crash would end it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            resp = requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
            return bool(resp.json().get("ready"))
        except (requests.RequestException, ValueError):
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} never became ready: {self.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """End the process and everything it forked (by process group, which it leads)."""
        for pid in self.pids:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in self.pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue

    def tail(self, n: int = 30) -> str:
        files = sorted(self.logs.glob(f"{self.name}-*.log"))
        if not files:
            return ""
        return "\n".join(files[-1].read_text(errors="replace").splitlines()[-n:])


class CallPlacer:
    """Places a call every ``every_s`` (jittered): unique caller numbers, most wait as long as it
    takes, some give up after a short wait, some are SOS callers in the emergency queue."""

    def __init__(self, sim: SimulatorThread, every_s: float, rng: random.Random) -> None:
        self.sim, self.every_s, self.rng = sim, every_s, rng
        self.calls: list[SimCall] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-calls", daemon=True)

    def start(self) -> CallPlacer:
        self._thread.start()
        return self

    def caller(self, i: int) -> CallerConfig:
        number = f"139{i:08d}"
        talk = self.rng.uniform(3, 10)
        if i % 5 == 4:
            return CallerConfig(number=number, name=f"放弃{i}", patience=self.rng.uniform(2, 6))
        if i % 7 == 3:
            return CallerConfig(
                number=number, name=f"紧急{i}", queue="hotline-emergency", talk=talk
            )
        return CallerConfig(number=number, name=f"来电{i}", talk=talk)

    def _run(self) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            try:
                self.calls.append(self.sim.place_call(self.caller(i)))
            except Exception:  # noqa: BLE001 - the simulator stopping under us
                return
            self._stop.wait(self.every_s * self.rng.uniform(0.5, 1.5))

    def stop(self) -> list[SimCall]:
        self._stop.set()
        self._thread.join(10)
        return self.calls


class _RecordingTransport(MqttTransport):
    """The devices' MQTT client, keeping the message id of each publish and which of them the
    broker acknowledged (PUBACK: from then on the broker holds the alarm for the intake)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.last_mid: int | None = None
        self.acked: set[int] = set()
        super().__init__(url, prefix)
        self.client.on_publish = self._on_publish

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, *_rest: Any) -> None:
        self.acked.add(mid)

    def send(self, device: SimDevice, channel: str, payload: bytes, *, qos: int) -> Any:
        info = super().send(device, channel, payload, qos=qos)
        self.last_mid = info.mid
        return info


class AlarmSource:
    """Devices raising SOS alarms over MQTT with QoS 1: the client keeps what it could not send
    and sends it again once the broker is back, as a device does until it is acknowledged."""

    def __init__(
        self, broker_url: str, prefix: str, devices: list[SimDevice], every_s: float, seed: int
    ) -> None:
        from callcenter.alarm_intake.simulator import DeviceSimulator

        self.transport = _RecordingTransport(broker_url, prefix)
        self.sim = DeviceSimulator(devices, self.transport, seed=seed)
        self.devices, self.every_s = devices, every_s
        self.rng = random.Random(seed)
        self.sent: list[tuple[str, int, float]] = []  # msg id, MQTT message id, when (wall clock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-alarms", daemon=True)

    def start(self) -> AlarmSource:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s * self.rng.uniform(0.5, 1.5)):
            device = self.rng.choice(self.devices)
            msg_id = self.sim.event(device, "sos")
            assert self.transport.last_mid is not None
            self.sent.append((msg_id, self.transport.last_mid, time.time()))

    def acknowledged(self) -> set[str]:
        acked = self.transport.acked
        return {m for m, mid, _ in list(self.sent) if mid in acked}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close(self) -> None:
        self.transport.close()


class OrderDesk:
    """An agent opening service orders for elders and handing each to dispatch, as the console
    does (one unit of work); the orders whose commit returned are the ground truth."""

    def __init__(self, runtime: Any, elders: list[int], every_s: float, seed: int) -> None:
        from platform_core.actors import Actor, Role

        self.runtime, self.elders, self.every_s = runtime, elders, every_s
        self.rng = random.Random(seed)
        self.actor = Actor(
            kind="user", name="演练坐席", region_code="150100000000", role=Role.AGENT, user_id=1
        )
        self.opened: list[tuple[int, float]] = []  # order id, when its commit returned
        self.refused = 0  # the database or Redis refused the unit of work: the agent saw it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-orders", daemon=True)

    def start(self) -> OrderDesk:
        self._thread.start()
        return self

    def _run(self) -> None:
        from platform_core.orders import service as orders

        while not self._stop.wait(self.every_s * self.rng.uniform(0.5, 1.5)):
            try:
                with self.runtime.session() as s:
                    order = orders.open_order(
                        s,
                        actor=self.actor,
                        elder_id=self.rng.choice(self.elders),
                        service_type_code=self.rng.choice(["care_cleaning", "care_errands"]),
                        source="call",
                    )
                    orders.submit_for_dispatch(s, actor=self.actor, order_id=order.id)
                    order_id = order.id
                self.opened.append((order_id, time.time()))
            except Exception:  # noqa: BLE001 - an outage the agent sees and can try again
                self.refused += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(20)


def _cleanup_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Drill:
    """Set up with ``with Drill(config) as drill:``, then ``drill.run()``."""

    def __init__(
        self, config: DrillConfig | None = None, *, log: Callable[[str], None] = print
    ) -> None:
        self.cfg = config or DrillConfig()
        self.log = log
        self.rng = random.Random(self.cfg.seed)
        self.root = Path(tempfile.mkdtemp(prefix="hotline-drill-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.queue_log = self.root / "asterisk" / "queue_log"
        self.postgres: PrivatePostgres | None = None
        self.pg_ctl = ""
        self.redis: PrivateRedis | None = None
        self.broker: PrivateBroker | None = None
        self.sim: SimulatorThread | None = None
        self.services: dict[str, Service] = {}
        self.runtime: Any = None
        self.devices: list[SimDevice] = []
        self.elders: list[int] = []
        self.placer: CallPlacer | None = None
        self.alarms: AlarmSource | None = None
        self.orders: OrderDesk | None = None
        self.kept = False  # keep the directory: the bench found something to look into

    # -- set-up and tear-down ------------------------------------------------------------------

    def __enter__(self) -> Drill:
        try:
            self._start_servers()
            self._seed()
            self._start_processes()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_servers(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("initdb / pg_ctl")
        pg_root = Path(tempfile.mkdtemp(prefix="hotline-drill-pg-"))
        self.postgres = PrivatePostgres(pg_root)
        self.pg_ctl = pg_ctl
        self.postgres.init(initdb)
        self.postgres.pg_ctl(pg_ctl, "start")
        self.redis = PrivateRedis(self.root / "redis")
        self.redis.start()
        (self.root / "mosquitto").mkdir()
        self.broker = PrivateBroker(self.root / "mosquitto")
        self.broker.start()
        cfg = default_config(secret=AMI_SECRET, agents=self.cfg.agents)
        for queue in cfg.queues:
            queue.timeout, queue.retry, queue.wrapuptime = 5, 1, WRAPUP_S
            queue.max_wait = 40 if queue.name == "hotline-emergency" else 25
        for desk in cfg.agents:
            desk.answer_after = 1.0
        cfg.agents[-1].answer_after = None  # rings out every time (RINGNOANSWER)
        cfg.queue_log = str(self.queue_log)
        cfg.seed = self.cfg.seed
        self.sim = SimulatorThread(cfg)
        self.sim.start()

    def _settings(self) -> Any:
        from platform_core.settings import Settings

        assert self.postgres is not None and self.redis is not None
        return Settings(
            database_url=self.postgres.url,
            redis_url=self.redis.url,
            redis_namespace=f"drill-{uuid.uuid4().hex[:8]}",
            data_dir=self.root / "data",
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(32),
            ami_secret=AMI_SECRET,
        )

    def _seed(self) -> None:
        from hotline.demo_data.catalogue import seed_catalogue
        from hotline.demo_data.elders import seed_elders
        from hotline.demo_data.providers import seed_providers
        from platform_core.db import make_engine
        from platform_core.elders.models import Elder
        from platform_core.models import metadata
        from platform_core.providers.models import Provider
        from platform_core.regions.service import load_dictionary
        from platform_core.runtime import build_runtime, install_runtime

        settings = self._settings()
        (self.root / "data").mkdir()
        engine = make_engine(settings.database_url)
        metadata.create_all(engine)
        self.runtime = build_runtime(settings, engine=engine)
        install_runtime(self.runtime)
        with self.runtime.session() as s:
            load_dictionary(s)
            seed_catalogue(s)
        with self.runtime.session() as s:
            seed_providers(s, rng=random.Random(self.cfg.seed))
            s.execute(update(Provider).values(capacity=func.greatest(Provider.capacity, 100_000)))
        with self.runtime.session() as s:
            seed_elders(s, count=self.cfg.elders, seed=self.cfg.seed, league_code="150100000000")
        with self.runtime.session() as s:
            self.elders = list(s.scalars(select(Elder.id).where(Elder.status == "active")))
        self.devices = self._alarm_devices()
        if not self.devices:
            raise RuntimeError("the seeded region has no devices that raise SOS alarms")

    def _alarm_devices(self) -> list[SimDevice]:
        from platform_core.devices.models import Device

        with self.runtime.session() as s:
            rows = s.execute(
                select(Device.serial, Device.imei, Device.device_type).where(
                    Device.imei.is_not(None),
                    Device.elder_id.is_not(None),
                    Device.device_type.in_(["sos_pendant", "fixed_caller", "smart_watch"]),
                    Device.status.in_(["installed", "online", "offline", "low_battery"]),
                )
            ).all()
            # every device reports through the one hx-json vendor of the drill
            s.execute(
                update(Device)
                .where(Device.serial.in_([r[0] for r in rows]))
                .values(vendor=VENDOR.name)
            )
        return [SimDevice(serial, imei, kind, VENDOR, 60.0) for serial, imei, kind in rows]

    def _env(self) -> dict[str, str]:
        assert self.sim is not None and self.broker is not None
        return dict(
            worker_env(self.runtime),
            HOTLINE_AMI_HOST="127.0.0.1",
            HOTLINE_AMI_PORT=str(self.sim.port),
            HOTLINE_AMI_USERNAME="hotline",
            HOTLINE_QUEUE_LOG_PATH=str(self.queue_log),
            HOTLINE_MQTT_URL=self.broker.url,
            HOTLINE_ALARM_VENDORS=f"{VENDOR.code}:{VENDOR.name}:{VENDOR.protocol}",
            HOTLINE_ALARM_VENDOR_SECRETS=f"{VENDOR.code}={VENDOR.secret}",
            HOTLINE_ALARM_HTTP_PORT="0",
            HOTLINE_CALL_WRAPUP_S=f"*={WRAPUP_S}",
        )

    def _start_processes(self) -> None:
        env = self._env()
        self.services = {
            "callcenter": Service("callcenter", ["callcenter"], env, self.logs),
            "intake": Service("intake", ["devices", "intake"], env, self.logs),
            "worker": Service("worker", ["worker"], env, self.logs),
        }
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready(120)

    def close(self) -> None:
        for part in (self.placer, self.alarms, self.orders):
            if part is not None:
                part.stop()
        if self.alarms is not None:
            self.alarms.close()
        for service in self.services.values():
            service.stop()
        if self.sim is not None:
            self.sim.stop()
        if self.runtime is not None:
            from platform_core.runtime import install_runtime

            self.runtime.close()
            install_runtime(None)
        if self.broker is not None:
            self.broker.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.postgres.pg_ctl(self.pg_ctl, "stop")
            _cleanup_dir(self.postgres.root)
        if self.cfg.keep or self.kept:
            self.log(f"kept: {self.root}")
        else:
            _cleanup_dir(self.root)

    # -- the drill -----------------------------------------------------------------------------

    def run(self) -> DrillResult:
        assert self.sim is not None and self.broker is not None
        started = time.monotonic()
        self.placer = CallPlacer(self.sim, self.cfg.call_every_s, self.rng).start()
        self.alarms = AlarmSource(
            self.broker.url,
            self.runtime.settings.mqtt_topic_prefix,
            self.devices,
            self.cfg.alarm_every_s,
            self.cfg.seed,
        ).start()
        self.orders = OrderDesk(
            self.runtime, self.elders, self.cfg.order_every_s, self.cfg.seed
        ).start()
        time.sleep(self.cfg.warmup_s)
        results = []
        for name in self.cfg.faults:
            results.append(self._fault(name))
            time.sleep(self.cfg.gap_s)
        self.log("load stops; waiting for the last calls to end")
        calls = self.placer.stop()
        self.alarms.stop()
        self.orders.stop()
        for call in calls:
            self.sim.wait(call, timeout=120)
        counts, details = self._settle()
        return DrillResult(counts, results, details, round(time.monotonic() - started, 1))

    def _fault(self, name: str) -> FaultResult:
        assert self.postgres is not None and self.redis is not None and self.broker is not None
        self.log(f"fault: {name}")
        begin: Callable[[], None]
        end: Callable[[], None]
        if name == "postgres":
            begin = lambda: self.postgres.pg_ctl(self.pg_ctl, "stop")  # noqa: E731
            end = lambda: self.postgres.pg_ctl(self.pg_ctl, "start")  # noqa: E731
        elif name == "redis":
            begin, end = self.redis.stop, self.redis.start
        elif name == "mosquitto":
            begin, end = self.broker.stop, self.broker.start
        elif name in self.services:
            begin, end = self.services[name].kill, self.services[name].start
        else:
            raise ValueError(f"unknown fault {name!r}")
        t0 = time.monotonic()
        begin()
        time.sleep(self.cfg.down_s)
        end()
        ended_wall, ended = time.time(), time.monotonic()
        assert self.placer is not None
        calls_done = {c.linkedid: c for c in list(self.placer.calls) if c.done.done()}
        down = round(ended - t0, 1)
        deadline = ended + self.cfg.recover_timeout_s
        behind = self._behind(ended_wall, calls_done)
        while behind:
            if time.monotonic() > deadline:
                self.log(f"  {name}: not recovered in {self.cfg.recover_timeout_s:.0f} s: {behind}")
                for service in self.services.values():
                    if f"unready_{service.name}" in behind:
                        self.log(
                            f"  {service.name} (exit code {service.exit_code}):\n{service.tail()}"
                        )
                return FaultResult(name, down, None, behind)
            time.sleep(0.25)
            behind = self._behind(ended_wall, calls_done)
        recovered = round(time.monotonic() - ended, 2)
        self.log(f"  {name}: down {down} s, recovered {recovered} s after")
        return FaultResult(name, down, recovered)

    # -- ground truth against the records ----------------------------------------------------

    def _behind(self, before: float, calls_done: dict[str, SimCall]) -> dict[str, int]:
        """What the platform has yet to catch up on: processes not ready, the calls that had
        ended, alarms acknowledged and orders committed before ``before`` that the records
        lack (or hold wrong)."""
        out: dict[str, int] = {}
        unready = [n for n, s in self.services.items() if not s.ready()]
        if unready:
            return {f"unready_{n}": 1 for n in unready}
        try:
            assert self.placer is not None and self.alarms is not None and self.orders is not None
            calls = self._call_faults(calls_done, final=False)
            if calls["calls_lost"] or calls["wrong_outcomes"]:
                out["calls"] = calls["calls_lost"] + calls["wrong_outcomes"]
            # raised before the end of the fault: acknowledged by the broker and recorded
            sent = {m for m, _, at in list(self.alarms.sent) if at <= before}
            missing = len(sent - (self.alarms.acknowledged() & self._recorded_alarms()))
            if missing:
                out["alarms"] = missing
            orders = {o for o, at in self.orders.opened if at <= before}
            stuck = len(orders - self._dispatched(orders))
            if stuck:
                out["orders"] = stuck
        except Exception as exc:  # noqa: BLE001 - the database of the drill itself restarting
            out["unreadable"] = 1
            self.log(f"  (records unreadable: {type(exc).__name__})")
        return out

    def _recorded_alarms(self) -> set[str]:
        from platform_core.alarms.models import AlarmSignal

        with self.runtime.session() as s:
            return set(s.scalars(select(AlarmSignal.msg_key)))

    def _dispatched(self, ids: set[int]) -> set[int]:
        from platform_core.orders.models import ServiceOrder

        found: set[int] = set()
        chunk = sorted(ids)
        with self.runtime.session() as s:
            for i in range(0, len(chunk), 500):
                found |= set(
                    s.scalars(
                        select(ServiceOrder.id).where(
                            ServiceOrder.id.in_(chunk[i : i + 500]),
                            ServiceOrder.dispatched_at.is_not(None),
                        )
                    )
                )
        return found

    def _call_faults(
        self, truth: dict[str, SimCall], *, final: bool, details: dict[str, list[str]] | None = None
    ) -> dict[str, int]:
        """Compare the call records with the simulator's calls in ``truth`` (all ended). With
        ``final`` every record is compared (made up, doubled, ghosts); without, only ``truth``."""
        from platform_core.calls.models import Agent, Call, QueueEntry, RecallItem, TelephonyQueue

        details = details if details is not None else {}
        out = dict.fromkeys(
            ("calls_lost", "calls_doubled", "calls_made_up", "wrong_outcomes", "queue_ghosts"), 0
        )
        with self.runtime.session() as s:
            rows = (
                {
                    c.linkedid: c
                    for c in s.scalars(select(Call).where(Call.linkedid.in_(sorted(truth))))
                }
                if not final
                else {c.linkedid: c for c in s.scalars(select(Call))}
            )
            entries: dict[str, list[QueueEntry]] = {}
            if final:
                for e in s.scalars(
                    select(QueueEntry).order_by(QueueEntry.linkedid, QueueEntry.seq)
                ):
                    entries.setdefault(e.linkedid, []).append(e)
            stays: dict[str, int] = dict(
                s.execute(
                    select(QueueEntry.linkedid, func.count()).group_by(QueueEntry.linkedid)
                ).all()
            )
            recalls: dict[str, int] = dict(
                s.execute(
                    select(RecallItem.origin_linkedid, func.count()).group_by(
                        RecallItem.origin_linkedid
                    )
                ).all()
            )
            if final:
                open_stays = list(
                    s.scalars(select(QueueEntry.linkedid).where(QueueEntry.left_at.is_(None)))
                )
                waiting = dict(s.execute(select(TelephonyQueue.name, TelephonyQueue.waiting)).all())
                busy = list(
                    s.execute(
                        select(Agent.interface, Agent.state).where(
                            Agent.state.in_(["ringing", "on_call"])
                        )
                    ).all()
                )
        for x, t in truth.items():
            r = rows.get(x)
            if r is None:
                out["calls_lost"] += 1
                details.setdefault("calls_lost", []).append(f"{x} {t.outcome} {t.caller.number}")
                continue
            got = (r.outcome, r.agent_interface, r.wait_s, r.talk_s, r.ended_at is not None)
            want = (
                t.outcome,
                t.agent_interface,
                None if t.wait_s is None else float(t.wait_s),
                t.talk_s if t.outcome == "answered" else None,
                True,
            )
            # no event of Asterisk's says how long a caller who timed out waited: the records
            # take it from the events' times, Asterisk counts whole seconds
            timed_out = t.outcome == "timeout" and r.wait_s is not None and t.wait_s is not None
            if timed_out and abs(r.wait_s - t.wait_s) <= 1.0:
                got = (*got[:2], float(t.wait_s), *got[3:])
            lost_call = t.outcome in ("abandoned", "timeout")
            if got != want or recalls.get(x, 0) != (1 if lost_call else 0):
                out["wrong_outcomes"] += 1
                details.setdefault("wrong_outcomes", []).append(
                    f"{x} got {got} recalls {recalls.get(x, 0)}, want {want};"
                    f" started {r.started_at:%H:%M:%S.%f} ended {r.ended_at and f'{r.ended_at:%H:%M:%S.%f}'}"
                    f" by resync {r.closed_by_resync}; stays "
                    + ", ".join(
                        f"{e.queue} {e.joined_at:%H:%M:%S.%f}-{e.left_at and f'{e.left_at:%H:%M:%S.%f}'}"
                        f" {e.outcome} {e.wait_s}"
                        for e in entries.get(x, [])
                    )
                )
            if stays.get(x, 0) > len(t.queues):
                out["calls_doubled"] += 1
                details.setdefault("calls_doubled", []).append(
                    f"{x} {stays[x]} stays, {len(t.queues)} queues"
                )
        if final:
            made_up = set(rows) - set(truth)
            out["calls_made_up"] = len(made_up)
            if made_up:
                details["calls_made_up"] = sorted(made_up)
            out["queue_ghosts"] = len(open_stays) + sum(waiting.values()) + len(busy)
            if out["queue_ghosts"]:
                details["queue_ghosts"] = [
                    *(f"stay open: {x}" for x in open_stays),
                    *(f"{q} shows {n} waiting" for q, n in waiting.items() if n),
                    *(f"{i} shown {st}" for i, st in busy),
                ]
        return out

    def _settle(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Wait (up to the settle time) until the records agree with the ground truth; the
        counts of what still disagrees then."""
        assert self.placer is not None and self.alarms is not None and self.orders is not None
        deadline = time.monotonic() + self.cfg.settle_timeout_s
        while True:
            counts, details = self._final_counts()
            if not any(counts.get(k) for k in LOSSES) or time.monotonic() > deadline:
                return counts, details
            time.sleep(1.0)

    def _final_counts(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        assert self.placer is not None and self.alarms is not None and self.orders is not None
        details: dict[str, list[str]] = {}
        truth = {c.linkedid: c for c in self.placer.calls}
        counts = {"calls_placed": len(truth)}
        for outcome in ("answered", "abandoned", "timeout"):
            counts[f"calls_{outcome}"] = sum(1 for c in truth.values() if c.outcome == outcome)
        counts.update(self._call_faults(truth, final=True, details=details))
        acked = self.alarms.acknowledged()
        lost = acked - self._recorded_alarms()
        counts.update(
            alarms_sent=len(self.alarms.sent),
            alarms_acknowledged=len(acked),
            alarms_lost=len(lost),
        )
        if lost:
            details["alarms_lost"] = sorted(lost)
        opened = {o for o, _ in self.orders.opened}
        from platform_core.orders.models import ServiceOrder

        with self.runtime.session() as s:
            existing = set(s.scalars(select(ServiceOrder.id)))
        stuck = opened - self._dispatched(opened)
        counts.update(
            orders_opened=len(opened),
            orders_refused=self.orders.refused,
            orders_lost=len(opened - existing),
            orders_stuck=len(stuck),
        )
        if stuck:
            details["orders_stuck"] = [str(x) for x in sorted(stuck)]
        return counts, details
