"""Alarm intake under load: 10,000 devices sending heartbeats and a burst of 500 alarms through
Mosquitto, measured from the publish to the AlarmRaised event on the console's event stream.

A fresh PostgreSQL database and a Redis namespace of its own. The intake runs as its own process
(``hotline devices intake``), as in production; this process plays the devices (two MQTT
clients: heartbeats with QoS 0, alarms with QoS 1, in the vendors' protocols) and listens on
the Redis channel the console relays. After the burst it checks the books: every alarm raised
once, on the console once, recorded once (each message reaches the intake on two sessions).

    python bench/alarms.py [--devices 10000] [--alarms 500] [--heartbeats-per-s 1000] [--runs 3]

The intake and the heartbeats run throughout; each run is a burst from devices no earlier run
used, after a warm-up (every device's heartbeat before the first, ``--warmup-s`` before the
others). CPU per alarm for the intake (the service) and for this process (the load generator).

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import redis  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.support import (  # noqa: E402
    PG_ADMIN_URL,
    REDIS_URL,
    CpuMeter,
    Runs,
    Target,
    add_run_options,
    drop_redis_namespace,
    own_process,
    percentile,
    settle_load_generator,
)

TARGETS = [
    Target("p99_ms", "<=", 200),
    Target("lost", "==", 0),
    Target("duplicate_events", "==", 0),
    Target("recorded_once", "==", True),
]
MQTT_URL = os.environ.get("HOTLINE_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")
VENDORS = "ankang:安康通:hx-json,yijia:颐家:dc09-cid"
# device type, share of the fleet, the event it raises in the burst
FLEET = (
    ("sos_pendant", 0.45, "sos"),
    ("smart_watch", 0.15, "fall"),
    ("smoke", 0.15, "smoke"),
    ("fall_detector", 0.1, "fall"),
    ("gas", 0.05, "gas"),
    ("water", 0.05, "water"),
    ("pir", 0.05, "inactivity"),
)


def seed(env: dict[str, str], db_url: str, devices: int) -> list[dict[str, Any]]:
    """Regions, elders and ``devices`` devices in service, bound to them (bulk inserts)."""
    from hotline.demo_data.elders import seed_elders
    from platform_core.db import make_engine, refresh_statistics, utcnow
    from platform_core.devices.models import Device
    from platform_core.devices.schemas import imei_check_digit
    from platform_core.elders.models import Elder
    from platform_core.models import metadata
    from platform_core.regions.service import load_dictionary
    from platform_core.runtime import build_runtime
    from platform_core.settings import load_settings

    engine = make_engine(db_url)
    metadata.create_all(engine)
    rt = build_runtime(load_settings(env), engine=engine, start_jobs=False)
    try:
        with rt.session() as s:
            load_dictionary(s)
        with rt.session() as s:
            seed_elders(s, count=max(200, devices // 4), seed=777, league_code="150100000000")
        with rt.session() as s:
            elders = s.execute(
                select(Elder.id, Elder.region_code)
                .where(Elder.status == "active")
                .order_by(Elder.id)
            ).all()
            s.execute(text("DELETE FROM device_status_changes"))
            s.execute(text("DELETE FROM devices"))  # the seeder's own; the bench brings its fleet
        now = utcnow()
        rows = []
        kinds = [k for k, share, _e in FLEET for _ in range(int(share * 100))]
        for i in range(devices):
            kind = kinds[i % len(kinds)]
            elder_id, region = elders[i % len(elders)]
            body = f"86{i:012d}"
            vendor = "颐家" if i % 10 < 3 else "安康通"  # 30 % speak DC-09
            rows.append(
                {
                    "device_type": kind,
                    "serial": f"BN{i:08d}",
                    "imei": body + imei_check_digit(body),
                    "vendor": vendor,
                    "model": "BENCH",
                    "status": "online",
                    "elder_id": elder_id,
                    "region_code": region,
                    "heartbeat_interval_s": 3600,
                    "last_heartbeat_at": now - timedelta(minutes=5),
                    "bound_at": now - timedelta(days=30),
                    "installed_at": now - timedelta(days=29),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with engine.begin() as c:
            for start in range(0, len(rows), 2000):
                c.execute(insert(Device.__table__), rows[start : start + 2000])
        refresh_statistics(engine)
        return rows
    finally:
        rt.close()


class EventWatch:
    """The console's event stream: Redis pub/sub on ``<namespace>:events``."""

    def __init__(self, namespace: str) -> None:
        self.channel = f"{namespace}:events"
        self.raised: dict[int, list[float]] = {}  # device id -> receipt times
        self.other: dict[str, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        pubsub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        self._ready.set()
        while not self._stop.is_set():
            msg = pubsub.get_message(timeout=0.2)
            if msg is None:
                continue
            at = time.time()
            env = json.loads(msg["data"])
            if env["type"] == "AlarmRaised":
                self.raised.setdefault(int(env["data"]["device_id"]), []).append(at)
            else:
                self.other[env["type"]] = self.other.get(env["type"], 0) + 1
        pubsub.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def client(name: str) -> mqtt.Client:
    host, port = MQTT_URL.removeprefix("mqtt://").split(":")
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-{name}-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5,
    )
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(host, int(port))
    c.loop_start()
    return c


def run(args: argparse.Namespace) -> dict[str, Any]:
    from callcenter.alarm_intake.protocols import dc09, hxjson
    from platform_core.db import make_engine, utcnow
    from platform_core.devices.models import Device

    run_id = uuid.uuid4().hex[:8]
    db_name = f"hotline_bench_alarms_{run_id}"
    namespace = f"hotline-bench-{run_id}"
    prefix = f"hotline-bench/{run_id}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    data_dir = Path(f"/tmp/{namespace}")
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_of = {"ankang": secrets.token_urlsafe(24), "yijia": secrets.token_urlsafe(24)}
    env = {
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_REDIS_URL": REDIS_URL,
        "HOTLINE_REDIS_NAMESPACE": namespace,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HOTLINE_DATA_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HOTLINE_MQTT_URL": MQTT_URL,
        "HOTLINE_MQTT_TOPIC_PREFIX": prefix,
        "HOTLINE_MQTT_CLIENT_ID": f"bench-intake-{run_id}",
        "HOTLINE_ALARM_VENDORS": VENDORS,
        "HOTLINE_ALARM_VENDOR_SECRETS": ",".join(f"{k}={v}" for k, v in secrets_of.items()),
        "HOTLINE_ALARM_HTTP_PORT": "0",
    }
    proc: subprocess.Popen[str] | None = None
    watch: EventWatch | None = None
    clients: list[mqtt.Client] = []
    engine = None
    try:
        t_seed = time.monotonic()
        fleet = seed(env, db_url, args.devices)
        print(f"seeded {len(fleet)} devices in {time.monotonic() - t_seed:.1f}s", file=sys.stderr)
        engine = make_engine(db_url)
        with engine.connect() as c:
            ids = dict(c.execute(select(Device.serial, Device.id)).all())
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from hotline.cli import main; main()",
                "devices",
                "intake",
                "--stats-every",
                "3600",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if not args.verbose else None,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "intake running" not in line:
            raise RuntimeError(f"intake did not start: {line!r}")
        watch = EventWatch(namespace)
        beats, alarms = client("beats"), client("alarms")
        clients += [beats, alarms]

        def topic(device: dict[str, Any], channel: str) -> str:
            vendor = "yijia" if device["vendor"] == "颐家" else "ankang"
            ref = device["serial"] if vendor == "yijia" else device["imei"]
            return f"{prefix}/{vendor}/{ref}/{channel}"

        def heartbeat(device: dict[str, Any], seq: int) -> bytes:
            if device["vendor"] == "颐家":
                return dc09.encode_link_test(
                    account=device["serial"], seq=seq % 9999 + 1, at=utcnow()
                ).encode()
            return hxjson.encode(
                {"ver": 1, "type": "heartbeat", "dev": device["imei"], "bat": 80},
                secrets_of["ankang"],
            )

        # heartbeats: every device once in the warm-up, then on at the same rate through the burst
        stop_beats = threading.Event()
        sent = {"beats": 0}
        t_beats = time.monotonic()

        def beat_loop() -> None:
            period = 1 / args.heartbeats_per_s
            next_at = time.monotonic()
            n = 0
            while not stop_beats.is_set():
                device = fleet[n % len(fleet)]
                beats.publish(topic(device, "heartbeat"), heartbeat(device, n), qos=0)
                n += 1
                sent["beats"] = n
                next_at += period
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        beater = threading.Thread(target=beat_loop, daemon=True)
        beater.start()
        step = max(1, len(fleet) // args.alarms)
        if args.runs > step // 2:
            raise SystemExit(
                f"--runs {args.runs}: at most {step // 2} bursts from distinct devices"
            )
        book = Runs("alarms", args.runs, TARGETS)
        for run in range(args.runs):
            # the first run waits until every device has sent a heartbeat; later ones warm up
            # for --warmup-s, the intake having run all along
            warmup_s = len(fleet) / args.heartbeats_per_s if run == 0 else args.warmup_s
            with book.measured() as figures:
                figures.update(
                    burst(
                        args,
                        run,
                        warmup_s,
                        fleet,
                        ids,
                        alarms,
                        topic,
                        secrets_of,
                        watch,
                        engine,
                        sent,
                        t_beats,
                        proc.pid,
                    )
                )
        stop_beats.set()
        beater.join(5)
        return book.finish({"devices": len(fleet)})
    finally:
        for c in clients:
            c.disconnect()
            c.loop_stop()
        if watch is not None:
            watch.stop()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if engine is not None:
            engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()
        drop_redis_namespace(namespace)
        from callcenter.alarm_intake.mqtt import Broker, forget_sessions

        forget_sessions(Broker.from_url(MQTT_URL), f"bench-intake-{run_id}")


def burst(
    args: argparse.Namespace,
    run: int,
    warmup_s: float,
    fleet: list[dict[str, Any]],
    ids: dict[str, int],
    alarms: mqtt.Client,
    topic: Any,
    secrets_of: dict[str, str],
    watch: EventWatch,
    engine: Any,
    sent: dict[str, int],
    t_beats: float,
    intake_pid: int,
) -> dict[str, Any]:
    """One run: warm-up alarms, then a burst of alarms from devices no earlier run used."""
    from callcenter.alarm_intake.protocols import dc09, hxjson
    from platform_core.alarms.models import Alarm, AlarmSignal
    from platform_core.db import utcnow
    from platform_core.devices.models import Device

    step = max(1, len(fleet) // args.alarms)
    # a running intake has handled alarms before: a few now, from devices outside the burst,
    # so the burst is not the first (statement caches and connections are warm)
    for n in range(args.warmup_alarms):
        device = fleet[n * step + step // 2 + run]
        alarms.publish(
            topic(device, "alarm"),
            warmup_payload(device, 100 * run + n, secrets_of["ankang"]),
            qos=1,
        )
    time.sleep(warmup_s)
    watch.raised.clear()
    beats_before = sent["beats"]

    # the burst: one alarm from each of ``alarms`` devices spread over the fleet, as fast as
    # the client can publish them (payloads signed beforehand)
    chosen = [fleet[i * step + run] for i in range(args.alarms)]
    event_of = {kind: event for kind, _share, event in FLEET}
    payloads = []
    for n, device in enumerate(chosen):
        event = event_of[device["device_type"]]
        if device["vendor"] == "颐家":
            body = dc09.encode_event(
                account=device["serial"],
                seq=n + 1,
                qualifier="1",
                event=dc09_code(event),
                at=utcnow(),
            ).encode()
        else:
            body = hxjson.encode(
                {
                    "ver": 1,
                    "type": "alarm",
                    "event": event,
                    "dev": device["imei"],
                    "msgId": f"burst-{run}-{n}",
                    "ts": int(time.time() * 1000),
                },
                secrets_of["ankang"],
            )
        payloads.append((ids[device["serial"]], topic(device, "alarm"), body))
    # a full collection of the seeded fleet held the first run's publishing up 150 ms
    settle_load_generator()
    cpu = CpuMeter(service=lambda: [intake_pid], loadgen=own_process).start()
    published: dict[int, float] = {}
    t_burst = time.time()
    infos = []
    for device_id, t, body in payloads:
        published[device_id] = time.time()
        infos.append(alarms.publish(t, body, qos=1))
    burst_publish_s = time.time() - t_burst
    deadline = time.time() + args.timeout
    while time.time() < deadline and len(watch.raised) < len(payloads):
        time.sleep(0.05)
    cpu.stop()
    time.sleep(1.0)  # anything raised twice would show now
    beats_elapsed = time.monotonic() - t_beats

    latencies = [
        (times[0] - published[device_id]) * 1000
        for device_id, times in watch.raised.items()
        if device_id in published
    ]
    last = max((times[0] for times in watch.raised.values()), default=t_burst)
    lost = len([d for d in published if d not in watch.raised])
    duplicates = sum(len(t) - 1 for t in watch.raised.values())
    with engine.connect() as c:
        burst_ids = list(published)
        alarm_rows = c.execute(
            select(Alarm.device_id, Alarm.signal_count).where(Alarm.device_id.in_(burst_ids))
        ).all()
        signals = c.scalar(
            select(func.count())
            .select_from(AlarmSignal)
            .where(AlarmSignal.device_id.in_(burst_ids))
        )
        beat_seen = c.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.last_heartbeat_at > utcnow() - timedelta(seconds=beats_elapsed + 5))
        )
    recorded_once = (
        len(alarm_rows) == len(published)
        and all(count == 1 for _d, count in alarm_rows)
        and signals == len(published)
    )
    return {
        "heartbeats_sent": sent["beats"] - beats_before,
        "heartbeats_per_s": round(sent["beats"] / beats_elapsed, 1),
        "devices_with_fresh_heartbeat": beat_seen,
        "alarms": len(payloads),
        "burst_publish_ms": round(burst_publish_s * 1000, 1),
        "alarms_per_s": round(len(latencies) / max(last - t_burst, 1e-6), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "lost": lost,
        "duplicate_events": duplicates,
        "alarms_recorded": len(alarm_rows),
        "signals_recorded": signals,
        "recorded_once": recorded_once,
        # heartbeats go on through the burst: the CPU is the whole window's, per alarm
        **cpu.figures(len(payloads), "alarm"),
    }


def warmup_payload(device: dict[str, Any], n: int, secret: str) -> bytes:
    from callcenter.alarm_intake.protocols import dc09, hxjson
    from platform_core.db import utcnow

    if device["vendor"] == "颐家":
        return dc09.encode_event(
            account=device["serial"], seq=9000 + n, qualifier="1", event="101", at=utcnow()
        ).encode()
    return hxjson.encode(
        {
            "ver": 1,
            "type": "alarm",
            "event": "sos",
            "dev": device["imei"],
            "msgId": f"warm-{n}",
            "ts": int(time.time() * 1000),
        },
        secret,
    )


def dc09_code(event: str) -> str:
    from callcenter.alarm_intake.simulator import CID_OF

    return CID_OF[event]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=10_000)
    p.add_argument("--alarms", type=int, default=500)
    p.add_argument("--heartbeats-per-s", type=float, default=1000.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--warmup-alarms", type=int, default=20)
    p.add_argument("--verbose", action="store_true")
    add_run_options(p, warmup_s=3.0)
    args = p.parse_args()
    run(args)


if __name__ == "__main__":
    main()
