"""Realistic device traffic for the demo and the benchmarks: heartbeats, alarms, restores,
low batteries and faults, in each vendor's own protocol, over MQTT or the vendors' webhooks.

Each device beats at its interval (jittered, so ten thousand devices do not beat in step);
alarms arrive at random (a Poisson process over all devices) with the types a device of that
kind raises; sensors restore a while later, and an SOS is sometimes cancelled on the pendant.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from callcenter.alarm_intake.protocols import dc09, hxjson
from callcenter.alarm_intake.vendors import Vendor, sign_request
from platform_core.db import utcnow

log = logging.getLogger(__name__)

# What each kind of device raises, with weights.
ALARMS_OF: dict[str, list[tuple[str, int]]] = {
    "sos_pendant": [("sos", 9), ("fall", 1)],
    "fixed_caller": [("sos", 1)],
    "smart_watch": [("sos", 5), ("fall", 3), ("hr_high", 2)],
    "fall_detector": [("fall", 1)],
    "smart_mattress": [("bed_exit", 2), ("breath_abnormal", 1)],
    "pir": [("inactivity", 1)],
    "smoke": [("smoke", 1)],
    "gas": [("gas", 1)],
    "water": [("water", 1)],
    "door": [],
}
# The Contact ID event of each hx-json event, for devices on a DC-09 vendor.
CID_OF = {
    "sos": "101",
    "fall": "105",
    "inactivity": "102",
    "smoke": "111",
    "gas": "151",
    "water": "154",
    "low_battery": "384",
    "hr_high": "100",
    "bed_exit": "100",
    "breath_abnormal": "100",
}
SENSORS = frozenset({"smoke", "gas", "water", "pir", "smart_mattress", "fall_detector", "door"})


@dataclass(frozen=True)
class SimDevice:
    serial: str
    imei: str | None
    device_type: str
    vendor: Vendor
    heartbeat_s: float

    @property
    def ref(self) -> str:
        """How the device names itself in its protocol."""
        if self.vendor.protocol == dc09.NAME:
            return self.serial
        return self.imei or self.serial


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Transport:
    """Where the simulator's messages go."""

    def send(self, device: SimDevice, channel: str, payload: bytes, *, qos: int) -> Any: ...

    def close(self) -> None: ...


class MqttTransport(Transport):
    def __init__(self, url: str, topic_prefix: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from callcenter.alarm_intake.mqtt import Broker

        broker = Broker.from_url(url)
        self.prefix = topic_prefix
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"hotline-sim-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def send(self, device: SimDevice, channel: str, payload: bytes, *, qos: int) -> Any:
        topic = f"{self.prefix}/{device.vendor.code}/{device.ref}/{channel}"
        return self.client.publish(topic, payload, qos=qos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class HttpTransport(Transport):
    """Batches per vendor, posted every ``every_s`` like a vendor cloud's webhook."""

    def __init__(self, base_url: str, *, every_s: float = 0.5) -> None:
        self.base = base_url.rstrip("/")
        self.every_s = every_s
        self.http = requests.Session()
        self._pending: dict[str, list[bytes]] = {}
        self._vendors: dict[str, Vendor] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-http", daemon=True)
        self._thread.start()

    def send(self, device: SimDevice, channel: str, payload: bytes, *, qos: int) -> Any:
        with self._lock:
            self._pending.setdefault(device.vendor.code, []).append(payload)
            self._vendors[device.vendor.code] = device.vendor

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for code, items in pending.items():
            vendor = self._vendors[code]
            if vendor.protocol == hxjson.NAME:
                body = b"[" + b",".join(items) + b"]"
            else:
                body = b"".join(items)
            stamp = str(int(time.time()))
            try:
                resp = self.http.post(
                    f"{self.base}/alarm-intake/v1/{code}",
                    data=body,
                    headers={
                        "X-Hotline-Timestamp": stamp,
                        "X-Hotline-Signature": sign_request(vendor.secret, stamp, body),
                        "Content-Type": "application/json"
                        if vendor.protocol == hxjson.NAME
                        else "text/plain",
                    },
                    timeout=15,
                )
                if resp.status_code >= 300:
                    log.warning("webhook %s: %s %s", code, resp.status_code, resp.text[:200])
            except requests.RequestException as exc:
                log.warning("webhook %s 发送失败 / failed: %s", code, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._flush()


class DeviceSimulator:
    def __init__(
        self,
        devices: list[SimDevice],
        transport: Transport,
        *,
        alarm_every_s: float = 30.0,
        restore_after_s: tuple[float, float] = (20.0, 120.0),
        low_battery_share: float = 0.05,
        fault_share: float = 0.02,
        heartbeat_scale: float = 1.0,
        seed: int = 12349,
    ) -> None:
        self.devices = devices
        self.transport = transport
        self.alarm_every_s = alarm_every_s
        self.restore_after_s = restore_after_s
        self.low_battery_share = low_battery_share
        self.fault_share = fault_share
        self.heartbeat_scale = heartbeat_scale
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {}
        self._seq = itertools.count()
        self._dc09_seq = itertools.count(1)
        self._heap: list[_Due] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- messages ----------------------------------------------------------------------

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def _next_seq(self) -> int:
        return (next(self._dc09_seq) - 1) % 9999 + 1

    def heartbeat(self, device: SimDevice, *, battery: int | None = None) -> None:
        if device.vendor.protocol == dc09.NAME:
            payload = dc09.encode_link_test(
                account=device.ref, seq=self._next_seq(), at=utcnow()
            ).encode()
        else:
            body: dict[str, Any] = {"ver": 1, "type": "heartbeat", "dev": device.ref}
            if battery is not None:
                body["bat"] = battery
            payload = hxjson.encode(body, device.vendor.secret)
        self.transport.send(device, "heartbeat", payload, qos=0)
        self._count("heartbeat")

    def event(
        self,
        device: SimDevice,
        event: str,
        *,
        restore: bool = False,
        msg_id: str | None = None,
        position: tuple[float, float] | None = None,
    ) -> str:
        """Send one alarm (or its restore); returns the message id it carries."""
        msg_id = msg_id or uuid.uuid4().hex[:16]
        if device.vendor.protocol == dc09.NAME:
            seq = self._next_seq()
            payload = dc09.encode_event(
                account=device.ref,
                seq=seq,
                qualifier="3" if restore else "1",
                event=CID_OF[event],
                at=utcnow(),
                latitude=position[0] if position else None,
                longitude=position[1] if position else None,
            ).encode()
        else:
            body: dict[str, Any] = {
                "ver": 1,
                "type": "restore" if restore else "alarm",
                "event": event,
                "dev": device.ref,
                "msgId": msg_id,
                "ts": int(time.time() * 1000),
            }
            if position:
                body["loc"] = {"lat": position[0], "lng": position[1], "acc": 20, "src": "gps"}
            payload = hxjson.encode(body, device.vendor.secret)
        self.transport.send(device, "alarm", payload, qos=1)
        self._count("restore" if restore else f"alarm.{event}")
        return msg_id

    def fault(self, device: SimDevice) -> None:
        if device.vendor.protocol == dc09.NAME:
            payload = dc09.encode_event(
                account=device.ref, seq=self._next_seq(), qualifier="1", event="380", at=utcnow()
            ).encode()
        else:
            payload = hxjson.encode(
                {
                    "ver": 1,
                    "type": "fault",
                    "dev": device.ref,
                    "msgId": uuid.uuid4().hex[:16],
                    "ts": int(time.time() * 1000),
                    "code": "F03",
                    "detail": "传感器自检失败 / self-test failed",
                },
                device.vendor.secret,
            )
        self.transport.send(device, "alarm", payload, qos=1)
        self._count("fault")

    # --- the schedule ------------------------------------------------------------------

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._heap, _Due(time.monotonic() + delay, next(self._seq), action))

    def _beat_loop(self, device: SimDevice) -> None:
        battery = self.rng.randint(30, 100)
        self.heartbeat(device, battery=battery)
        interval = device.heartbeat_s * self.heartbeat_scale
        self._at(interval * self.rng.uniform(0.9, 1.1), lambda: self._beat_loop(device))

    def _random_alarm(self) -> None:
        device = self.rng.choice(self.devices)
        roll = self.rng.random()
        if roll < self.fault_share:
            self.fault(device)
        elif roll < self.fault_share + self.low_battery_share:
            self.event(device, "low_battery")
            self._at(
                self.rng.uniform(*self.restore_after_s),
                lambda: self.event(device, "low_battery", restore=True),
            )
        else:
            choices = ALARMS_OF.get(device.device_type) or []
            if choices:
                event = self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
                self.event(device, event)
                if device.device_type in SENSORS or self.rng.random() < 0.3:
                    self._at(
                        self.rng.uniform(*self.restore_after_s),
                        lambda: self.event(device, event, restore=True),
                    )
        self._at(self.rng.expovariate(1 / self.alarm_every_s), self._random_alarm)

    def start(self, *, heartbeats: bool = True, alarms: bool = True) -> DeviceSimulator:
        if heartbeats:
            for device in self.devices:
                first = self.rng.uniform(0, device.heartbeat_s * self.heartbeat_scale)
                self._at(first, lambda d=device: self._beat_loop(d))  # type: ignore[misc]
        if alarms and self.devices:
            self._at(self.rng.expovariate(1 / self.alarm_every_s), self._random_alarm)
        self._thread = threading.Thread(target=self._run, name="device-sim", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                due = self._heap[0] if self._heap else None
                if due is not None and due.at <= time.monotonic():
                    heapq.heappop(self._heap)
                else:
                    due = None
            if due is None:
                self._stop.wait(0.01)
                continue
            try:
                due.action()
            except Exception:
                log.exception("模拟设备消息失败 / simulated message failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.transport.close()


def load_devices(
    runtime: Any, vendors: dict[str, Vendor], *, limit: int | None = None
) -> list[SimDevice]:
    """Devices in service from the registry, each with the vendor (by name) it reports through;
    a device whose vendor is not configured reports through the first vendor that is."""
    from sqlalchemy import select

    from platform_core.devices.config import heartbeat_intervals
    from platform_core.devices.models import Device

    by_name = {v.name: v for v in vendors.values()}
    fallback = next(iter(vendors.values()))
    intervals = heartbeat_intervals(runtime.settings)
    with runtime.session() as s:
        q = (
            select(
                Device.serial,
                Device.imei,
                Device.device_type,
                Device.vendor,
                Device.heartbeat_interval_s,
            )
            .where(
                Device.status.in_(["installed", "online", "offline", "low_battery"]),
                Device.elder_id.is_not(None),
            )
            .order_by(Device.id)
        )
        if limit:
            q = q.limit(limit)
        rows = s.execute(q).all()
    return [
        SimDevice(
            serial=serial,
            imei=imei,
            device_type=kind,
            vendor=by_name.get(vendor, fallback),
            heartbeat_s=float(interval or intervals[kind]),
        )
        for serial, imei, kind, vendor, interval in rows
    ]


def run_simulator(
    runtime: Any,
    *,
    transport: str = "mqtt",
    mqtt_url: str | None = None,
    http_url: str | None = None,
    devices: int | None = None,
    alarm_every_s: float = 30.0,
    heartbeat_scale: float = 1.0,
    seed: int = 12349,
) -> DeviceSimulator:
    """Start simulated traffic from the registry's devices (the demo and ``hotline devices
    simulate`` call this); ``stop()`` ends it."""
    from callcenter.alarm_intake.vendors import load_vendors

    vendors = load_vendors(runtime.settings)
    sims = load_devices(runtime, vendors, limit=devices)
    if transport == "mqtt":
        out: Transport = MqttTransport(
            mqtt_url or runtime.settings.mqtt_url, runtime.settings.mqtt_topic_prefix
        )
    else:
        out = HttpTransport(
            http_url
            or f"http://{runtime.settings.alarm_http_host}:{runtime.settings.alarm_http_port}"
        )
    log.info("模拟 %d 台设备 / simulating %d devices over %s", len(sims), len(sims), transport)
    return DeviceSimulator(
        sims, out, alarm_every_s=alarm_every_s, heartbeat_scale=heartbeat_scale, seed=seed
    ).start()


def describe(sim: DeviceSimulator) -> str:
    return json.dumps(sim.counts, ensure_ascii=False, sort_keys=True)
