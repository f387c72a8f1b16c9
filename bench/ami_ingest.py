"""AMI ingest: the PBX simulator drives ~500 concurrent calls through real AMI TCP into callcenter
and PostgreSQL.

Measures, in one run:
- events/s processed end to end (read from AMI, handled, committed), overall and over the
  sustained-load window, and the largest backlog between reader and writer;
- p50/p99 from the simulator writing AgentCalled to a console's subscriber receiving its
  CallRinging (the screen pop) from Redis, both clocks being this machine's; the pop comes from
  the screen-pop service (its own process and AMI session) or from callcenter's writer after
  its commit, whichever is first, and each pop is checked against the call's record and
  counted against the rings recorded (one per ring);
- the accounting check: every simulated call recorded once, with the simulator's own outcome,
  queue, agent, wait and talk time;
- the ceiling: stock panoramisk with a no-op handler reading a pre-recorded stream as fast as a
  socket delivers it (and this project's adapter on the same stream), and the ratio.

The simulator runs in its own process (as Asterisk would), configured like asterisk_conf's
manager.conf: callcenter's user (read classes call,agent,user), the screen-pop service's (the
rings only) and the HOTLINE_* channel variables. A fresh PostgreSQL database is created for the
run and dropped afterwards; events go through the machine's Redis, in a namespace of the run.

    python bench/ami_ingest.py [--rate 180] [--talk 50] [--seconds 40] [--concurrency 500] [--agents 640]
        [--runs 3]

Each run has a fresh database, simulator, callcenter and screen-pop service; the ceiling is
measured once. CPU per event for the service (callcenter, in this process, and the screen-pop
service, each also apart) and for the simulator (the load generator).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import (  # noqa: E402
    REDIS_URL,
    CpuMeter,
    GcPauses,
    Runs,
    Target,
    add_run_options,
    bench_settings,
    drop_redis_namespace,
    own_process,
    percentile,
    scratch_database,
    settle_load_generator,
)

TARGETS = [
    Target("p99_ms", "<=", 100),
    Target("lost", "==", 0),
    Target("phantom", "==", 0),
    Target("misattributed", "==", 0),
    Target("pops_not_one_per_ring", "==", 0),
    Target("pops_wrong", "==", 0),
    Target("events_per_s", ">=", 5000),
]
SECRET = "bench-ami-secret"
POP_SECRET = "bench-ami-pop-secret"
CHANNELVARS = [
    "HOTLINE_ELDER_ID",
    "HOTLINE_INTENT",
    "HOTLINE_PRIORITY",
    "HOTLINE_QUEUE",
    "HOTLINE_IVR_SESSION",
    "HOTLINE_RECALL_ID",
    "HOTLINE_AFTER_HOURS",
    "QUEUESTATUS",
]


def sim_config(agents: int, time_scale: float, seed: int) -> Any:
    from callcenter.pbx_sim import default_config
    from callcenter.pbx_sim.config import screen_pop_user

    cfg = default_config(secret=SECRET, agents=agents)
    cfg.time_scale = time_scale
    cfg.channelvars = list(CHANNELVARS)
    cfg.users["hotline"].read = "call,agent,user"
    cfg.users["hotline"].write = "call,agent,originate,reporting,user"
    cfg.users["hotline-pop"] = screen_pop_user(POP_SECRET)
    cfg.seed = seed
    rng = random.Random(seed)
    for i, desk in enumerate(cfg.agents):
        # most desks pick up after 1-4 s; a few let it ring (ring-no-answer, then someone else)
        desk.answer_after = None if rng.random() < 0.02 else rng.uniform(1, 4)
        # every desk takes general calls; one in ten is also on the emergency team (ringall)
        desk.queues = (
            ["hotline-general", "hotline-emergency"] if i % 10 == 0 else ["hotline-general"]
        )
    return cfg


def simulator_process(args: dict[str, Any], port_q: Any, go: Any, truth_q: Any, stop: Any) -> None:
    """Asterisk's stand-in: serve AMI, then place calls at the rate for the duration."""
    from callcenter.pbx_sim import AmiServer, PbxSimulator
    from callcenter.pbx_sim.scenario import LoadProfile, run_profile

    async def main() -> None:
        pbx = PbxSimulator(sim_config(args["agents"], args["time_scale"], args["seed"]))
        server = AmiServer(pbx)
        port_q.put(await server.start("127.0.0.1", 0))
        # Asterisk has no collector: the simulator's full collections (a heap of hundreds of
        # calls, 86-183 ms each, every few seconds) held its events back and sent them in a
        # burst, and the pops behind the burst counted the pause as callcenter's. Frozen, then
        # no collection at all for the run's minute (its cyclic garbage stays until it exits);
        # the longest pause is still reported, to show there was none
        settle_load_generator()
        gc.disable()
        pauses = GcPauses().start()
        while not go.is_set():
            await asyncio.sleep(0.01)
        active: set[Any] = set()
        peak = 0

        def on_call(call: Any) -> None:
            nonlocal peak
            active.add(call)
            peak = max(peak, len(active))
            call.done.add_done_callback(lambda _f: active.discard(call))

        profile = LoadProfile(
            rate=args["rate"] / args["time_scale"],
            concurrency=args["concurrency"],
            talk=args["talk"],
            patience=args["patience"],
            duration=args["seconds"] * args["time_scale"],
            emergency_share=0.05,
            ivr_hangup_share=0.03,
        )
        started = time.time()
        cpu0 = time.process_time()
        calls = await run_profile(pbx, profile, rng=random.Random(args["seed"]), on_call=on_call)
        arrivals_end = time.time()
        await asyncio.wait_for(asyncio.gather(*(c.done for c in calls)), 120)
        truth = [
            {
                "linkedid": c.linkedid,
                "outcome": c.outcome,
                "queue": c.queue,
                "agent": c.agent_interface,
                "wait_s": c.wait_s,
                "talk_s": c.talk_s,
                "queues": list(c.queues),
                "agent_called": c.agent_called_at,
            }
            for c in calls
        ]
        truth_q.put(
            {
                "calls": truth,
                "peak": peak,
                "started": started,
                "arrivals_end": arrivals_end,
                "events": pbx.events_emitted,
                "dropped_slow": server.dropped_slow,
                "cpu_s": time.process_time() - cpu0,
                "gc_longest_ms": round(pauses.longest_ms, 1),
            }
        )
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.stop()

    asyncio.run(main())


# -- the ceiling: a socket delivering a recorded stream as fast as it can -----------------------


def record_stream(calls: int, agents: int, seed: int) -> bytes:
    """Play ``calls`` calls at a very high time scale with nobody connected; keep the bytes."""
    from callcenter.pbx_sim import PbxSimulator
    from callcenter.pbx_sim import wire as simwire
    from callcenter.pbx_sim.scenario import LoadProfile, run_profile

    async def main() -> bytes:
        pbx = PbxSimulator(sim_config(agents, 400.0, seed))
        pbx.record = []
        pbx.bind_loop(asyncio.get_running_loop())
        placed = await run_profile(
            pbx,
            LoadProfile(rate=40.0, concurrency=500, talk=50, patience=60, total=calls),
            rng=random.Random(seed),
        )
        await asyncio.wait_for(asyncio.gather(*(c.done for c in placed)), 120)
        await pbx.stop()
        return b"".join(simwire.encode(fields) for _, fields in pbx.record)

    return asyncio.run(main())


def _record_into(conn: Any, calls: int, agents: int, seed: int) -> None:
    conn.send_bytes(record_stream(calls, agents, seed))
    conn.close()


def record_stream_apart(calls: int, agents: int, seed: int) -> bytes:
    """:func:`record_stream` in a child process. Played here, the recording's simulator (its
    calls and the asyncio tasks holding them) stayed in the process callcenter is measured in,
    for each of its full garbage collections to walk: 13 of them in a run, 100-340 ms each."""
    ctx = mp.get_context("fork")
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_record_into, args=(theirs, calls, agents, seed), daemon=True)
    proc.start()
    theirs.close()
    stream = ours.recv_bytes()
    proc.join(30)
    return stream


def blaster_process(stream: bytes, port_q: Any, rounds: int) -> None:
    """Accept one AMI client per round, log it in, then write the whole stream at once."""
    import socket

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    end = (
        b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: HotlineProbe\r\nToken: end\r\n\r\n"
    )
    for _ in range(rounds):
        conn, _ = srv.accept()
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(4096)
        action_id = ""
        for line in buf.decode().split("\r\n"):
            if line.lower().startswith("actionid:"):
                action_id = line.split(":", 1)[1].strip()
        conn.sendall(
            f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode()
        )
        time.sleep(0.2)
        conn.sendall(stream + end)
        with contextlib.suppress(OSError):
            conn.recv(1)
        conn.close()


def measure_ceiling(stream: bytes, events: int) -> dict[str, float]:
    import panoramisk

    from callcenter.ami import AmiClient

    port_q: Any = mp.Queue()
    proc = mp.Process(target=blaster_process, args=(stream, port_q, 2), daemon=True)
    proc.start()
    port = port_q.get(timeout=30)

    async def stock() -> float:
        loop = asyncio.get_running_loop()
        seen = {"n": 0, "first": 0.0, "last": 0.0}
        done = loop.create_future()

        def noop(_mgr: Any, event: Any) -> None:
            if seen["n"] == 0:
                seen["first"] = time.perf_counter()
            seen["n"] += 1
            if event.get("Token") == "end" and not done.done():
                seen["last"] = time.perf_counter()
                done.set_result(None)

        m = panoramisk.Manager(
            host="127.0.0.1",
            port=port,
            username="hotline",
            secret=SECRET,
            ping_delay=3600,
            loop=loop,
        )
        m.register_event("*", noop)
        m.connect()
        await asyncio.wait_for(done, 120)
        m.close()
        return seen["n"] / (seen["last"] - seen["first"])

    async def ours() -> float:
        loop = asyncio.get_running_loop()
        seen = {"n": 0, "first": 0.0, "last": 0.0}
        done = loop.create_future()

        def noop(message: Any, _at: float) -> None:
            if seen["n"] == 0:
                seen["first"] = time.perf_counter()
            seen["n"] += 1
            if message.get("Token") == "end" and not done.done():
                seen["last"] = time.perf_counter()
                done.set_result(None)

        c = AmiClient(
            host="127.0.0.1",
            port=port,
            username="hotline",
            secret=SECRET,
            auth="plain",
            ping_interval=0,
            on_message=noop,
        )
        await c.connect()
        await asyncio.wait_for(done, 120)
        return seen["n"] / (seen["last"] - seen["first"])

    stock_rate = asyncio.run(stock())
    our_rate = asyncio.run(ours())
    proc.join(10)
    return {"panoramisk": stock_rate, "adapter": our_rate}


# -- the run ------------------------------------------------------------------------------------


def _listen(channel: str, ready: Any, stop: Any, out: Any) -> None:
    import json

    import redis

    pubsub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    ready.set()
    received: list[tuple[float, bytes]] = []
    while not stop.is_set():
        msg = pubsub.get_message(timeout=0.1)
        if msg is not None and b'"CallRinging"' in msg["data"]:
            received.append((time.time(), msg["data"]))
    rings = []
    for at, raw in received:
        envelope = json.loads(raw)
        if envelope["type"] == "CallRinging":
            rings.append((at, envelope["data"]))
    out.send(rings)
    out.close()


class PopListener:
    """A console's view of the bus in a process of its own: when each pop is received."""

    def __init__(self, channel: str) -> None:
        ctx = mp.get_context("fork")
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._ours, theirs = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_listen, args=(channel, self._ready, self._stop, theirs), daemon=True
        )

    def start(self) -> PopListener:
        self._proc.start()
        if not self._ready.wait(10):
            raise TimeoutError("pop listener did not subscribe")
        return self

    def stop(self) -> tuple[list[tuple[str, str, float]], list[dict[str, Any]]]:
        """(linkedid, desk, received at) of each pop, and what each showed."""
        time.sleep(0.5)  # the last pops in flight
        self._stop.set()
        rings = self._ours.recv()
        self._proc.join(10)
        return [(d["linkedid"], d["agent_interface"], at) for at, d in rings], [
            d for _at, d in rings
        ]


def _serve_pops(settings: Any, port: int, ready: Any, stop: Any, out: Any) -> None:
    from callcenter.screen_pop import ScreenPops
    from platform_core.runtime import build_runtime

    runtime = build_runtime(settings)
    service = ScreenPops(runtime, host="127.0.0.1", port=port, ping_interval=0)

    async def main() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(service.run(stopping))
        while not service.ready:
            await asyncio.sleep(0.01)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        stopping.set()
        await task

    asyncio.run(main())
    out.send(service.stats())
    out.close()
    runtime.close()


class ScreenPopProcess:
    """``hotline callcenter pops`` in a process of its own, as deployed."""

    def __init__(self, settings: Any, port: int) -> None:
        ctx = mp.get_context("fork")
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._ours, theirs = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_serve_pops, args=(settings, port, self._ready, self._stop, theirs), daemon=True
        )

    def start(self) -> ScreenPopProcess:
        self._proc.start()
        if not self._ready.wait(30):
            raise TimeoutError("screen-pop service did not log in")
        return self

    @property
    def pid(self) -> int:
        assert self._proc.pid is not None
        return self._proc.pid

    def pids(self) -> list[int]:
        return [self.pid]

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        stats: dict[str, Any] = self._ours.recv()
        self._proc.join(10)
        return stats


def measure_run(a: argparse.Namespace, ceiling: dict[str, float]) -> dict[str, Any]:
    """One run on a fresh database: a simulator process, callcenter in this process."""
    with scratch_database() as url:
        return _measure_on(url, a, ceiling)


def _measure_on(url: str, a: argparse.Namespace, ceiling: dict[str, float]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from callcenter.app import CallCenterThread
    from callcenter.pipeline import PROBE_EVENT
    from platform_core.calls.models import AgentOffer, Call, QueueEntry
    from platform_core.db import make_engine
    from platform_core.models import metadata
    from platform_core.runtime import build_runtime, install_runtime

    engine = make_engine(url)
    metadata.create_all(engine)
    # as deployed: callcenter and the screen-pop service in their own processes, the pops
    # reaching the console through Redis; a listener of its own times each pop as received
    settings = bench_settings(
        url, ami_secret=SECRET, ami_pop_secret=POP_SECRET, redis_url=REDIS_URL
    )
    runtime = build_runtime(settings, engine=engine)
    install_runtime(runtime)
    listener = PopListener(f"{settings.redis_namespace}:events").start()

    ctx = mp.get_context("fork")
    port_q, truth_q, go, stop = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    args = {
        "agents": a.agents,
        "time_scale": a.time_scale,
        "seed": a.seed,
        "rate": a.rate,
        "seconds": a.seconds,
        "concurrency": a.concurrency,
        "talk": a.talk,
        "patience": a.patience,
    }
    sim = ctx.Process(target=simulator_process, args=(args, port_q, go, truth_q, stop), daemon=True)
    sim.start()
    port = port_q.get(timeout=60)
    pops = ScreenPopProcess(settings, port).start()
    center = CallCenterThread(
        runtime, host="127.0.0.1", port=port, username="hotline", secret=SECRET, ping_interval=0
    )
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        center.center.switch_interval_s = float(os.environ["BENCH_SWITCH_INTERVAL"])
    center.start(wait_connected=60)
    stats = center.center.pipeline.stats
    ami_stats = center.center.ami.stats

    def counts() -> tuple[int, int]:
        """Events read from AMI; events done with (dropped unparsed, filtered, or committed)."""
        return ami_stats.events, ami_stats.skipped + stats.processed

    base_read, base_done = counts()
    samples: list[tuple[float, int, int, int]] = []
    sampling = threading.Event()

    def sampler() -> None:
        while not sampling.is_set():
            read, done = counts()
            samples.append(
                (time.time(), read - base_read, done - base_done, center.center.pipeline.backlog)
            )
            time.sleep(0.5)

    print(
        f"负载 / load: {a.rate:.0f} calls/s for {a.seconds:.0f} s, {a.agents} desks, "
        f"cap {a.concurrency} concurrent calls",
        flush=True,
    )
    threading.Thread(target=sampler, daemon=True).start()
    # callcenter runs in this process; the simulator (the load) in its own
    # a service freezes what its start built (settle_service_process, once per process); this
    # process starts a callcenter per run, and what earlier runs left grew every run's collections
    settle_load_generator()
    cpu = CpuMeter(
        service=lambda: [os.getpid(), pops.pid],
        callcenter=own_process,
        screen_pop=pops.pids,
        loadgen=lambda: [sim.pid],
    ).start()
    service_pauses = GcPauses().start()
    go.set()
    truth = truth_q.get(timeout=a.seconds + 300)
    token = uuid.uuid4().hex
    asyncio.run_coroutine_threadsafe(
        center.center.ami.send_action(
            {"Action": "UserEvent", "UserEvent": PROBE_EVENT, "Token": token}
        ),
        center.loop,
    ).result(30)
    deadline = time.time() + 120
    while center.center.pipeline.last_probe != token and time.time() < deadline:
        time.sleep(0.01)
    center.center.pipeline.wait_idle(120)
    finished = time.time()
    cpu.stop()
    service_gc_longest_ms = service_pauses.stop()
    sampling.set()

    events = counts()[1] - base_done
    first = next((t for t, r, _, _ in samples if r > 0), truth["started"])
    overall = events / (finished - first)
    window = [
        (t, p) for t, _, p, _ in samples if truth["started"] + 5 <= t <= truth["arrivals_end"]
    ]
    sustained = (
        (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        if len(window) > 2
        else overall
    )
    backlog = max((b for _, _, _, b in samples), default=0)

    sim_calls = {c["linkedid"]: c for c in truth["calls"]}
    with runtime.session() as s:
        db_calls = {c.linkedid: c for c in s.scalars(select(Call))}
        entries: dict[str, int] = {}
        for e in s.scalars(select(QueueEntry)):
            entries[e.linkedid] = entries.get(e.linkedid, 0) + 1
    lost = [x for x in sim_calls if x not in db_calls]
    phantom = [x for x in db_calls if x not in sim_calls]
    wrong = []
    for linkedid, c in sim_calls.items():
        row = db_calls.get(linkedid)
        if row is None:
            continue
        mine = (
            row.outcome,
            row.agent_interface if row.outcome == "answered" else None,
            row.wait_s if row.outcome in ("answered", "abandoned") else None,
            row.talk_s if row.outcome == "answered" else None,
            entries.get(linkedid, 0),
        )
        theirs = (
            c["outcome"],
            c["agent"] if c["outcome"] == "answered" else None,
            c["wait_s"] if c["outcome"] in ("answered", "abandoned") else None,
            c["talk_s"] if c["outcome"] == "answered" else None,
            len(c["queues"]),
        )
        if mine != theirs:
            wrong.append((linkedid, mine, theirs))
    with runtime.session() as s:
        rings = s.scalar(select(func.count()).select_from(AgentOffer))
    ringing, shown = listener.stop()
    pop_stats = pops.stop()
    pops_wrong = sum(
        1
        for d in shown
        if (row := db_calls.get(d["linkedid"])) is None
        or (d["elder_id"], d["region_code"], d["intent"], d["priority"], d["caller_number"])
        != (row.elder_id, row.region_code, row.intent, row.priority, row.caller_number)
    )
    outcomes: dict[str, int] = {}
    for c in truth["calls"]:
        outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1

    called: dict[tuple[str, str], list[float]] = {}
    for c in truth["calls"]:
        for iface, t in c["agent_called"]:
            called.setdefault((c["linkedid"], iface), []).append(t)
    latencies = []
    for linkedid, iface, published in ringing:
        times = called.get((linkedid, iface))
        if times:
            latencies.append((published - times.pop(0)) * 1000)

    center.stop()
    stop.set()  # the simulator goes after callcenter, which would otherwise try to reconnect
    sim.join(30)
    runtime.close()
    drop_redis_namespace(settings.redis_namespace)  # each pop's claim

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"calls {len(sim_calls)} {outcomes}; peak concurrent {truth['peak']}; events {events} "
        f"({events / max(1, len(sim_calls)):.1f}/call)"
    )
    print(
        f"end to end: {overall:.0f} ev/s overall, {sustained:.0f} ev/s sustained; max backlog {backlog} events"
    )
    print(
        f"screen pop AgentCalled -> CallRinging: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} pops)"
    )
    print(
        f"accounting: lost {len(lost)}, phantom {len(phantom)}, misattributed {len(wrong)}"
        + (f" e.g. {wrong[:2]}" if wrong else "")
    )
    print(
        f"ceiling: panoramisk no-op {ceiling['panoramisk']:.0f} ev/s; ratio end-to-end/ceiling "
        f"{sustained / ceiling['panoramisk']:.2f}"
    )
    result = {
        "events_per_s": round(sustained, 1),
        "events_per_s_overall": round(overall, 1),
        "events": events,
        "calls": len(sim_calls),
        "peak_concurrent_calls": truth["peak"],
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "screen_pops": len(latencies),
        "pops_by_screen_pop_service": pop_stats["lane"]["popped"],
        "screen_pop_ami_events": pop_stats["ami"]["events"],
        "pops_not_one_per_ring": abs(len(shown) - rings),
        "pops_wrong": pops_wrong,
        "lost": len(lost),
        "phantom": len(phantom),
        "misattributed": len(wrong),
        "max_backlog_events": backlog,
        "ceiling_panoramisk_events_per_s": round(ceiling["panoramisk"], 1),
        "ceiling_adapter_events_per_s": round(ceiling["adapter"], 1),
        "ratio_to_ceiling": round(sustained / ceiling["panoramisk"], 3),
        "dropped_by_write_timeout": truth["dropped_slow"],
        "service_gc_longest_ms": service_gc_longest_ms,
        "loadgen_gc_longest_ms": truth["gc_longest_ms"],
        **cpu.figures(events, "event"),
        "service_events_per_cpu_s": round(events / max(cpu.seconds["service"], 1e-9), 1),
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=180.0, help="new calls per real second")
    ap.add_argument("--seconds", type=float, default=40.0, help="real seconds of arrivals")
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--agents", type=int, default=640)
    ap.add_argument(
        "--time-scale", type=float, default=20.0, help="simulated seconds per real second"
    )
    ap.add_argument("--talk", type=float, default=50.0, help="mean talk, simulated seconds")
    ap.add_argument("--patience", type=float, default=90.0, help="mean patience, simulated seconds")
    ap.add_argument("--ceiling-calls", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=12349)
    add_run_options(ap)
    a = ap.parse_args()

    print("录制上限测试流 / recording the ceiling stream ...", flush=True)
    stream = record_stream_apart(a.ceiling_calls, a.agents, a.seed)
    stream_events = stream.count(b"\r\n\r\n")
    ceiling = measure_ceiling(stream, stream_events)
    print(
        f"ceiling: panoramisk no-op {ceiling['panoramisk']:.0f} ev/s, adapter no-op {ceiling['adapter']:.0f} ev/s "
        f"({stream_events} events)",
        flush=True,
    )

    runs = Runs("ami_ingest", a.runs, TARGETS)
    for _ in range(a.runs):
        with runs.measured() as figures:
            figures.update(measure_run(a, ceiling))
    runs.finish({"ceiling_stream_events": stream_events})


if __name__ == "__main__":
    main()
