"""Shared pieces of the alarm-intake tests: brokers (the shared Mosquitto and a private one the
test may stop and restart), a device-side publisher, and a home with devices to alarm from.
Import the fixtures by name into a test module to use them."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from callcenter.alarm_intake.app import AlarmIntake
from callcenter.alarm_intake.mqtt import Broker, forget_sessions
from callcenter.alarm_intake.protocols import hxjson
from callcenter.alarm_intake.vendors import Vendor
from platform_core.alarms.models import Alarm, AlarmSignal
from platform_core.runtime import Runtime
from tests.conftest import REQUIRE, _unavailable
from tests.platform_core.alarms_support import new_device, new_elder

SHARED_BROKER = "mqtt://127.0.0.1:1883"
VENDORS = {
    "ankang": Vendor("ankang", "安康通", "hx-json", "ankang-secret-for-tests"),
    "yijia": Vendor("yijia", "颐家", "dc09-cid", "yijia-secret-for-tests"),
}


# 100 KB of nested arrays: the parser's recursion limit, reached from a device's alarm topic
POISON = b"[" * 50_000 + b"]" * 50_000


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker_url() -> str:
    if not _reachable("127.0.0.1", 1883):
        _unavailable("Mosquitto", ConnectionRefusedError("127.0.0.1:1883"))
    return SHARED_BROKER


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix and client ids of this test's own on the shared broker."""
    return f"hotline-t/{uuid.uuid4().hex[:10]}"


class PrivateBroker:
    """A Mosquitto of the test's own, with persistence: stop it and start it again at will."""

    def __init__(self, tmp: Path) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            _unavailable("mosquitto binary", FileNotFoundError("mosquitto"))
        self.exe = exe
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = tmp / "mosquitto.conf"
        (tmp / "data").mkdir(exist_ok=True)
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {tmp / 'data'}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 10000\n"
            # keep root when the tests run as root, so the broker can write its store here
            f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            if _reachable("127.0.0.1", self.port):
                return
            time.sleep(0.05)
        raise RuntimeError("private mosquitto did not start")

    def stop(self) -> None:
        """A clean restart's first half: SIGTERM, the broker saves its sessions and queues."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


class Publisher:
    """A device cloud publishing with QoS 1 and a persistent session of its own, so what it sends
    while the broker is away goes out once the broker is back."""

    def __init__(self, url: str, prefix: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.prefix = prefix
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.pending: list[Any] = []

    def publish(
        self, vendor: str, device: str, channel: str, payload: bytes | str, qos: int = 1
    ) -> Any:
        info = self.client.publish(f"{self.prefix}/{vendor}/{device}/{channel}", payload, qos=qos)
        self.pending.append(info)
        return info

    def flush(self, timeout: float = 10.0) -> None:
        for info in self.pending:
            info.wait_for_publish(timeout)
        self.pending.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sos_message(device: str, msg_id: str, event: str = "sos", kind: str = "alarm") -> bytes:
    """A signed hx-json alarm of the test vendor ``ankang``."""
    return hxjson.encode(
        {
            "ver": 1,
            "type": kind,
            "event": event,
            "dev": device,
            "msgId": msg_id,
            "ts": int(time.time() * 1000),
        },
        VENDORS["ankang"].secret,
    )


@pytest.fixture
def start_intake() -> Iterator[Callable[..., AlarmIntake]]:
    """Start an intake on a broker with the test's topics; its persistent sessions are ended on
    the broker after the test."""
    used: list[tuple[str, str]] = []

    def start(
        rt: Runtime, url: str, prefix: str, client: str | None = None, **options: Any
    ) -> AlarmIntake:
        client = client or f"intake-{prefix.rsplit('/', 1)[-1]}"
        used.append((url, client))
        return AlarmIntake(
            rt,
            mqtt_url=url,
            http=False,
            schedule=False,
            vendors=VENDORS,
            topic_prefix=prefix,
            client_id=client,
            **options,
        ).start(wait_connected=10)

    yield start
    for url, client in used:
        forget_sessions(Broker.from_url(url), client)


@dataclass
class Home:
    runtime: Runtime
    elder_id: int
    pendant: Any
    smoke: Any
    more: list[Any] = field(default_factory=list)


@pytest.fixture
def home(regions: Runtime) -> Home:
    with regions.session() as s:
        elder_id = new_elder(s)
        pendant = new_device(s, elder_id=elder_id)
        smoke = new_device(s, elder_id=elder_id, kind="smoke", sim=False)
    return Home(regions, elder_id, pendant, smoke)


def wait_until(predicate: Any, timeout: float = 10.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


def cli_environment(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """``hotline`` commands run in the test (CliRunner) reach the test's database."""
    s = rt.settings
    for key, value in {
        "DATABASE_URL": s.database_url,
        "DATA_KEY": s.data_key,
        "SECRET_KEY": s.secret_key,
        "DATA_DIR": str(s.data_dir),
        "REDIS_NAMESPACE": s.redis_namespace,
    }.items():
        monkeypatch.setenv(f"HOTLINE_{key}", value)


def count_alarms(rt: Runtime, **where: Any) -> int:
    with rt.session() as s:
        q = select(func.count()).select_from(Alarm)
        for k, v in where.items():
            q = q.where(getattr(Alarm, k) == v)
        return int(s.scalar(q) or 0)


def count_signals(rt: Runtime) -> int:
    with rt.session() as s:
        return int(s.scalar(select(func.count()).select_from(AlarmSignal)) or 0)


__all__ = [
    "POISON",
    "REQUIRE",
    "VENDORS",
    "Home",
    "Publisher",
    "broker_url",
    "cli_environment",
    "count_alarms",
    "count_signals",
    "home",
    "private_broker",
    "sos_message",
    "start_intake",
    "topic_prefix",
    "wait_until",
]
