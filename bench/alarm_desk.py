"""A simulated shift on the alarm desk: how long alarms wait for a person.

Everything real but the people and Asterisk: a fresh PostgreSQL database and Redis namespace,
``hotline console --workers 2`` (two console processes routing one alarm queue), ``hotline
callcenter`` on the PBX simulator (``hotline pbx-sim``: six desks PJSIP/8001-8006 in both voice
queues, elders calling at a steady rate, the desk phones answering), and ``hotline devices
intake`` receiving the alarms over the vendors' signed webhook, and ``hotline worker`` (the
outbox relay and the jobs: an offer's reservation timeout is a timer it fires). The six agents are scripted
Socket.IO clients logged in to the console like browsers: each takes the alarm offered to its
desk after a human-like delay (now and then it has stepped away and lets the offer lapse, and
comes back later), works it (a call with the elder recorded, then closed), records the
disposition of its voice calls after a short wrap-up (announced live, or in the snapshot its
screen reads on connecting: the simulator's desks answer calls before the agents log in), takes a
break now and then, and presses ready again. Waits are read from the database: raised (``received_at``) to taken.

    python bench/alarm_desk.py [--shift 200] [--alarm-every 10] [--call-every 20] [--talk 30]

Prints the share of alarms taken within 60 s and 180 s, the longest wait and the alarms lost
(sent and never recorded, or never taken), and ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import socketio  # noqa: E402
from console_load import (  # noqa: E402
    PASSWORD,
    PG_ADMIN_URL,
    REDIS_URL,
    free_port,
    login,
    percentile,
    stop,
)
from sqlalchemy import func, select, text  # noqa: E402

DESKS = 6  # the demo's staffing: PJSIP/8001-8006
VENDOR = "ankang"
HEADERS_JSON = {"Content-Type": "application/json"}


def seed(db_url: str, env: dict[str, str], *, devices: int) -> dict[str, Any]:
    """Regions, 300 elders in 呼和浩特, ``devices`` SOS pendants and sensors bound to them, six
    agents on the simulator's desks and a supervisor."""
    from hotline.demo_data.elders import seed_elders
    from platform_core.accounts.service import create_user
    from platform_core.actors import Role, system_actor
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
            seed_elders(s, count=300, seed=1234, league_code="150100000000")
        with rt.session() as s:
            elders = s.execute(
                select(Elder.id, Elder.region_code)
                .where(Elder.status == "active")
                .order_by(Elder.id)
            ).all()
            s.execute(text("DELETE FROM device_status_changes"))
            s.execute(text("DELETE FROM devices"))
            now = utcnow()
            kinds = ["sos_pendant"] * 6 + ["smoke", "gas", "water", "fall_detector"]
            fleet = []
            for i in range(devices):
                elder_id, region = elders[i % len(elders)]
                body = f"86{i:012d}"
                device = Device(
                    device_type=kinds[i % len(kinds)],
                    serial=f"AD{i:08d}",
                    imei=body + imei_check_digit(body),
                    vendor="安康通",
                    model="BENCH",
                    status="online",
                    elder_id=elder_id,
                    region_code=region,
                    heartbeat_interval_s=86400,
                    last_heartbeat_at=now,
                    bound_at=now,
                    installed_at=now,
                )
                s.add(device)
                fleet.append(device)
            s.flush()
            devices_out = [{"imei": d.imei, "kind": d.device_type} for d in fleet]
            home = rt.settings.home_region_code
            for n in range(DESKS):
                create_user(
                    s,
                    actor=system_actor(),
                    username=f"desk{n + 1}",
                    password=PASSWORD,
                    role=Role.AGENT,
                    region_code=home,
                    display_name=f"坐席{n + 1}",
                    sip_interface=f"PJSIP/{8001 + n}",
                )
        refresh_statistics(engine)
        return {"devices": devices_out}
    finally:
        rt.close()


EVENT_OF = {
    "sos_pendant": "sos",
    "smoke": "smoke",
    "gas": "gas",
    "water": "water",
    "fall_detector": "fall",
}


class Agent:
    """One scripted person at a desk."""

    def __init__(
        self, n: int, base: str, http: aiohttp.ClientSession, args: argparse.Namespace
    ) -> None:
        self.n, self.base, self.http, self.args = n, base, http, args
        self.name = f"desk{n}"
        self.rng = random.Random(1000 + n)
        self.cookie = self.csrf = ""
        self.sio = socketio.AsyncClient(reconnection=True)
        self.holding: int | None = None  # the alarm in hand
        # owes a disposition (the form is on screen); ``owed`` wakes the one task filling it
        self.wrapup = False
        self.owed = asyncio.Event()
        self.wrapups_seen: set[str] = set()
        self.away_until = 0.0
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._post(path, body)
        except aiohttp.ClientError as exc:  # the console went away (at the end of the shift)
            raise RuntimeError(f"{path}: {exc!r}") from exc

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.base}{path}",
            json=body,
            headers={
                "Cookie": f"hotline_session={self.cookie}",
                "X-CSRF-Token": self.csrf,
                "Accept": "application/json",
            },
        ) as r:
            data = await r.json(content_type=None)
            if r.status >= 400:
                raise RuntimeError(f"{path}: {r.status} {data.get('code')} {data.get('message')}")
            return data  # type: ignore[no-any-return]

    async def start(self) -> None:
        self.cookie, self.csrf = await login(self.http, self.base, self.name)
        self.sio.on("alarm_offered", self.on_offer, namespace="/agent")
        self.sio.on("wrapup_required", self.on_wrapup, namespace="/agent")
        self.sio.on("alarm_offer_ended", self.on_offer_ended, namespace="/agent")
        # as the agent's screen does: a snapshot on every (re)connect, read again after a gap
        self.sio.on("snapshot", self.on_snapshot, namespace="/agent")
        self.sio.on("resync", self.on_resync, namespace="/agent")
        self._spawn(self.wrap_up_desk())
        await self.sio.connect(
            self.base,
            namespaces=["/agent"],
            transports=["websocket"],
            headers={"Cookie": f"hotline_session={self.cookie}"},
            wait_timeout=30,
        )

    # -- the shift -----------------------------------------------------------------------------

    async def on_offer(self, env: dict[str, Any]) -> None:
        self.counts["offered"] += 1
        self._spawn(self.handle_offer(env["data"]))

    async def on_offer_ended(self, env: dict[str, Any]) -> None:
        self.counts[f"offer_{env['data']['outcome']}"] += 1
        if env["data"]["outcome"] == "lapsed":
            self._spawn(self.come_back())

    async def handle_offer(self, offer: dict[str, Any]) -> None:
        if self.rng.random() < self.args.miss:
            self.away_until = time.monotonic() + self.rng.uniform(20, 40)
            return  # stepped away: the offer lapses and goes to the next desk
        # reading the band, reaching for F4: 2-12 s, mostly 4-6
        await asyncio.sleep(min(12.0, max(2.0, self.rng.lognormvariate(1.6, 0.45))))
        try:
            await self.post(f"/api/alarms/{offer['alarm_id']}/take", {"call_back": False})
        except RuntimeError as exc:
            self.counts["take_refused"] += 1
            self.errors.append(str(exc)[:200])
            return
        self.holding = offer["alarm_id"]
        self.counts["taken"] += 1
        await asyncio.sleep(self.rng.uniform(*self.args.handle))
        try:
            await self.post(
                f"/api/alarms/{offer['alarm_id']}/steps",
                {"step": "talk_to_elder", "result": "reached", "note": "老人称已无事"},
            )
            await self.post(
                f"/api/alarms/{offer['alarm_id']}/close", {"outcome": "elder_safe", "note": ""}
            )
        except RuntimeError as exc:
            self.errors.append(str(exc)[:200])
        self.holding = None
        await self.ready()

    async def come_back(self) -> None:
        await asyncio.sleep(max(0.0, self.away_until - time.monotonic()))
        await self.ready()

    async def on_snapshot(self, snap: dict[str, Any]) -> None:
        # a wrap-up opened while this screen was away (or before it connected) is on screen now
        if snap and snap.get("wrapup"):
            self.owe(snap["wrapup"])

    async def on_resync(self, _data: Any = None) -> None:
        self.refresh()

    def refresh(self) -> None:
        async def ack(answer: dict[str, Any]) -> None:
            if answer and answer.get("ok"):
                await self.on_snapshot(answer["snapshot"])

        self._spawn(self.sio.emit("snapshot", {}, namespace="/agent", callback=ack))

    async def on_wrapup(self, data: dict[str, Any]) -> None:
        self.owe(data)

    def owe(self, wrapup: dict[str, Any]) -> None:
        linkedid = str(wrapup.get("linkedid"))
        if linkedid not in self.wrapups_seen:
            self.wrapups_seen.add(linkedid)
            self.counts["calls"] += 1
        self.wrapup = True
        self.owed.set()

    async def wrap_up_desk(self) -> None:
        """The one task recording dispositions, one at a time while any is open: two answers
        racing each other cannot leave the desk believing in a wrap-up already recorded."""
        while True:
            await self.owed.wait()
            self.owed.clear()
            await asyncio.sleep(self.rng.uniform(3, 8))
            try:
                res = await self.post(
                    "/api/agent/disposition", {"disposition": "resolved", "notes": ""}
                )
                if res.get("wrapup_pending"):
                    self.owed.set()
            except RuntimeError as exc:
                if "no_wrapup" not in str(exc):  # told twice of one already recorded
                    self.errors.append(str(exc)[:200])
            if self.owed.is_set():
                continue  # another one is open, or was announced while this one was recorded
            self.wrapup = False
            if self.holding is None:
                await self.ready()

    async def ready(self) -> None:
        if self.wrapup or self.holding is not None:
            return
        try:
            await self.post("/api/agent/ready", {})
        except RuntimeError as exc:
            self.errors.append(str(exc)[:200])
            if "wrapup_pending" in str(exc):
                self.refresh()  # the screen reads its state again and shows the form

    async def breaks(self, shift_s: float) -> None:
        """A break of 20-40 s at a random moment of the shift, for some of the desks."""
        if self.rng.random() > self.args.breaks:
            return
        await asyncio.sleep(self.rng.uniform(0.1, 0.8) * shift_s)
        while self.holding is not None or self.wrapup:
            await asyncio.sleep(1)
        try:
            await self.post("/api/agent/pause", {"reason": "break"})
            self.counts["breaks"] += 1
            await asyncio.sleep(self.rng.uniform(20, 40))
        except RuntimeError as exc:
            self.errors.append(str(exc)[:200])
        await self.ready()


def alarm_message(imei: str, event: str, msg_id: str) -> dict[str, Any]:
    return {
        "ver": 1,
        "type": "alarm",
        "event": event,
        "dev": imei,
        "msgId": msg_id,
        "ts": int(time.time() * 1000),
    }


async def send_alarm(
    http: aiohttp.ClientSession, url: str, secret: str, message: dict[str, Any]
) -> None:
    from callcenter.alarm_intake.protocols import hxjson
    from callcenter.alarm_intake.vendors import sign_request

    body = b"[" + hxjson.encode(message, secret) + b"]"
    stamp = str(int(time.time()))
    headers = {
        **HEADERS_JSON,
        "X-Hotline-Timestamp": stamp,
        "X-Hotline-Signature": sign_request(secret, stamp, body),
    }
    for attempt in range(5):  # a vendor retries until the intake acknowledges
        try:
            async with http.post(url, data=body, headers=headers) as r:
                if r.status < 300:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5 * (attempt + 1))


def _spawn_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # noqa: SIM115 - a pipe nobody reads would fill and block the process
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("hotline")), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


async def wait_http(http: aiohttp.ClientSession, url: str, what: str, log: Path) -> None:
    for _ in range(300):
        try:
            async with http.get(url) as r:
                if r.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not start: {log.read_text()[-2000:]}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from platform_core.accounts.models import User, WrapUp
    from platform_core.alarms.models import Alarm, AlarmOffer, AlarmSignal
    from platform_core.calls.models import Agent as Desk
    from platform_core.db import make_engine

    run_id = uuid.uuid4().hex[:8]
    db_name = f"hotline_bench_alarm_desk_{run_id}"
    namespace = f"hotline-bench-{run_id}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    data_dir = Path(f"/tmp/{namespace}")
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    ami_port, console_port, intake_port = free_port(), free_port(), free_port()
    env = {
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_REDIS_URL": REDIS_URL,
        "HOTLINE_REDIS_NAMESPACE": namespace,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HOTLINE_DATA_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HOTLINE_AMI_HOST": "127.0.0.1",
        "HOTLINE_AMI_PORT": str(ami_port),
        "HOTLINE_AMI_SECRET": "bench",
        "HOTLINE_ALARM_VENDORS": f"{VENDOR}:安康通:hx-json",
        "HOTLINE_ALARM_VENDOR_SECRETS": f"{VENDOR}={secret}",
        "HOTLINE_ALARM_HTTP_HOST": "127.0.0.1",
        "HOTLINE_ALARM_HTTP_PORT": str(intake_port),
        "HOTLINE_MQTT_URL": "",
    }
    procs: list[subprocess.Popen[bytes]] = []
    agents: list[Agent] = []
    sent: list[dict[str, Any]] = []
    engine = None
    open_wrapups: dict[str, int] = {}
    try:
        world = seed(db_url, env, devices=args.devices)
        engine = make_engine(db_url)
        procs.append(
            _spawn_process(
                [
                    "pbx-sim",
                    "--port",
                    str(ami_port),
                    "--agents",
                    str(DESKS),
                    "--rate",
                    str(1 / args.call_every),
                    "--talk",
                    str(args.talk),
                    "--patience",
                    "120",
                    "--seed",
                    "7",
                ],
                env,
                data_dir / "pbx.log",
            )
        )
        await asyncio.sleep(1.0)
        procs.append(_spawn_process(["callcenter"], env, data_dir / "callcenter.log"))
        procs.append(
            _spawn_process(
                ["console", "--port", str(console_port), "--workers", "2"],
                env,
                data_dir / "console.log",
            )
        )
        # a deployment always runs a worker: it fires the offers' reservation timeouts and hands
        # on what a process could not publish itself after its commit
        procs.append(_spawn_process(["worker"], env, data_dir / "worker.log"))
        procs.append(
            _spawn_process(
                ["devices", "intake", "--http-port", str(intake_port), "--stats-every", "3600"],
                env,
                data_dir / "intake.log",
            )
        )
        base = f"http://127.0.0.1:{console_port}"
        intake_url = f"http://127.0.0.1:{intake_port}/alarm-intake/v1/{VENDOR}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            await wait_http(http, f"{base}/login", "console", data_dir / "console.log")
            await wait_http(http, intake_url, "intake", data_dir / "intake.log")
            # the desks appear in the database once callcenter has read the simulator's queues
            for _ in range(200):
                with engine.connect() as c:
                    if c.scalar(select(func.count()).select_from(Desk)) >= DESKS:
                        break
                await asyncio.sleep(0.1)
            agents = [Agent(n, base, http, args) for n in range(1, DESKS + 1)]
            for a in agents:
                await a.start()
            print(f"{DESKS} agents on their desks; the shift starts", flush=True)

            rng = random.Random(42)
            devices = list(world["devices"])
            rng.shuffle(devices)
            shift_started = time.monotonic()
            breaks = [asyncio.create_task(a.breaks(args.shift)) for a in agents]
            n = 0
            while time.monotonic() - shift_started < args.shift and n < len(devices):
                await asyncio.sleep(rng.expovariate(1 / args.alarm_every))
                device = devices[n]
                n += 1
                message = alarm_message(
                    device["imei"], EVENT_OF[device["kind"]], f"bench-{run_id}-{n}"
                )
                sent.append(message)
                asyncio.create_task(send_alarm(http, intake_url, secret, message))
            print(
                f"{len(sent)} alarms raised in {time.monotonic() - shift_started:.0f} s", flush=True
            )
            # the last alarms: until every one is taken, or the drain runs out
            drain_started = time.monotonic()
            keys = [m["msgId"] for m in sent]
            while time.monotonic() - drain_started < args.drain:
                with engine.connect() as c:
                    waiting = c.scalar(
                        select(func.count())
                        .select_from(Alarm)
                        .join(AlarmSignal, AlarmSignal.alarm_id == Alarm.id)
                        .where(AlarmSignal.msg_key.in_(keys), Alarm.taken_at.is_(None))
                    )
                    recorded = c.scalar(
                        select(func.count())
                        .select_from(AlarmSignal)
                        .where(AlarmSignal.msg_key.in_(keys))
                    )
                if recorded == len(keys) and not waiting:
                    break
                await asyncio.sleep(1)
            for task in breaks:
                task.cancel()
            with engine.connect() as c:
                rows = c.execute(
                    select(
                        AlarmSignal.msg_key,
                        Alarm.id,
                        Alarm.received_at,
                        Alarm.taken_at,
                        Alarm.alarm_type,
                    )
                    .join(Alarm, Alarm.id == AlarmSignal.alarm_id)
                    .where(AlarmSignal.msg_key.in_(keys))
                ).all()
                offers = dict(
                    c.execute(
                        select(AlarmOffer.status, func.count()).group_by(AlarmOffer.status)
                    ).all()
                )
                desks_at_end = [
                    f"{i}:{st}:{rs or ''}"
                    for i, st, rs in c.execute(
                        select(Desk.interface, Desk.state, Desk.reason).order_by(Desk.interface)
                    )
                ]
                open_wrapups = dict(
                    c.execute(
                        select(User.username, func.count())
                        .join(WrapUp, WrapUp.user_id == User.id)
                        .where(WrapUp.completed_at.is_(None))
                        .group_by(User.username)
                    ).all()
                )
            for a in agents:
                await a.sio.disconnect()
    finally:
        for proc in reversed(procs):
            stop(proc)
        if engine is not None:
            engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()
        try:
            import redis

            r = redis.Redis.from_url(REDIS_URL)
            for key in r.scan_iter(f"{namespace}*"):
                r.delete(key)
        except Exception:  # noqa: BLE001 - cleanup only
            pass

    waits = [(taken - received).total_seconds() for _k, _i, received, taken, _t in rows if taken]
    untaken = [k for k, _i, _r, taken, _t in rows if taken is None]
    missing = len(sent) - len(rows)
    counted = len(rows)
    within = {
        s: (sum(1 for w in waits if w <= s) / counted if counted else None) for s in (60, 180)
    }
    counts: Counter[str] = Counter()
    for a in agents:
        counts.update(a.counts)
    result = {
        "desks": DESKS,
        "shift_s": args.shift,
        "alarm_every_s": args.alarm_every,
        "call_every_s": args.call_every,
        "talk_s": args.talk,
        "alarms_sent": len(sent),
        "alarms_recorded": counted,
        "taken_within_60s_share": round(within[60], 4) if within[60] is not None else None,
        "taken_within_180s_share": round(within[180], 4) if within[180] is not None else None,
        "wait_p50_s": round(percentile(waits, 50), 1),
        "wait_p90_s": round(percentile(waits, 90), 1),
        "longest_wait_s": round(max(waits), 1) if waits else None,
        "alarms_lost": missing + len(untaken),
        "offers_lapsed": int(offers.get("lapsed", 0)),
        "offers_withdrawn": int(offers.get("withdrawn", 0)),
        "voice_calls_wrapped": counts["calls"],
        "breaks": counts["breaks"],
        "agent_errors": sum(len(a.errors) for a in agents),
    }
    print(
        f"alarms: {counted} raised, taken within 60 s: {result['taken_within_60s_share']}, "
        f"within 180 s: {result['taken_within_180s_share']}, longest wait "
        f"{result['longest_wait_s']} s, lost {result['alarms_lost']}",
        flush=True,
    )
    if result["alarms_lost"]:
        print(f"  desks at the end: {' '.join(desks_at_end)}", flush=True)
        print(f"  agents: {dict(counts)}", flush=True)
        print(f"  wrap-ups still open: {open_wrapups}", flush=True)
        for a in agents:
            print(f"  {a.name}: wrapup={a.wrapup} holding={a.holding}", flush=True)
    for a in agents:
        for e in a.errors[:3]:
            print(f"  {a.name}: {e}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shift", type=float, default=200.0, help="seconds of alarms raised")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last")
    parser.add_argument(
        "--alarm-every", type=float, default=10.0, help="mean seconds between alarms"
    )
    parser.add_argument("--call-every", type=float, default=20.0, help="mean seconds between calls")
    parser.add_argument("--talk", type=float, default=30.0, help="mean talk time of a voice call")
    parser.add_argument("--devices", type=int, default=400)
    parser.add_argument("--miss", type=float, default=0.05, help="share of offers left to lapse")
    parser.add_argument("--breaks", type=float, default=0.5, help="share of desks taking a break")
    parser.add_argument(
        "--handle", type=float, nargs=2, default=(10.0, 30.0), help="seconds to work an alarm"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
