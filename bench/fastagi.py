"""500 simultaneous IVR sessions over FastAGI against ``hotline ivr``'s server, on PostgreSQL.

    python bench/fastagi.py [--sessions 500] [--elders 2000] [--admin-url URL]

Creates a dedicated database (dropped at the end) with the region dictionary and seeded demo
elders, starts the FastAGI server in its own process (as ``hotline ivr`` runs it), and drives
all sessions at once over TCP with the PBX simulator's Asterisk side. Callers are a mix: known
elders choosing from the menu, device SIMs and high-risk elders (straight to the emergency
queue), strangers choosing a language, silent callers (one repeat, then a person), callers
pressing 0, and callers hanging up mid-flow. Prints sessions/s, the p50/p99 command round trip
measured inside the server (write of a command to its reply), and failures: a session that did
not end as its caller's behaviour requires (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from callcenter.pbx_sim.agi import AgiOutcome, CallerBehaviour, run_fastagi_call  # noqa: E402
from platform_core.db import make_engine, refresh_statistics  # noqa: E402
from platform_core.settings import Settings  # noqa: E402

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Caller:
    number: str
    digits: list[str]
    hangup_after: int | None
    # what must come back: a queue name, or "HANGUP" for a caller who leaves
    expect: str


def serve(settings_kwargs: dict[str, Any], conn: Any) -> None:
    """The server process: ``hotline ivr``'s FastAGI server on a free port until told to stop."""
    import logging

    from ivr_flows.server import FastAgiServer
    from platform_core.runtime import build_runtime, install_runtime

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(**settings_kwargs)
    runtime = build_runtime(settings)
    install_runtime(runtime)
    server = FastAgiServer(runtime, host="127.0.0.1", port=0)

    async def main() -> None:
        await server.start()
        conn.send(server.port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        await server.stop(grace=30.0)  # in-flight sessions finish and are recorded
        stats = server.stats
        conn.send(
            {
                "p50_ms": stats.percentile_ms(50),
                "p99_ms": stats.percentile_ms(99),
                "round_trips": len(stats.round_trips),
                "outcomes": dict(stats.outcomes),
            }
        )

    asyncio.run(main())
    runtime.close()


def build_callers(runtime: Any, n: int, rng: random.Random) -> list[Caller]:
    """A mix of callers whose expected route is worked out from the database beforehand."""
    from ivr_flows.backend import identify, ivr_actor
    from platform_core.devices.models import Device
    from platform_core.elders.models import Elder, ElderPhone

    actor = ivr_actor(runtime)
    with runtime.session() as s:
        active = Elder.status == "active"
        numbers = [
            r[0]
            for r in s.execute(
                select(ElderPhone.number).join(Elder).where(active).order_by(func.random()).limit(n)
            )
        ]
        numbers += [
            r[0]
            for r in s.execute(
                select(Device.sim_number)
                .join(Elder, Elder.id == Device.elder_id)
                .where(active, Device.sim_number.is_not(None))
                .order_by(func.random())
                .limit(n // 4)
            )
        ]
        known = {num: identify(s, actor=actor, number=num, area_code=None) for num in numbers}
    emergency = [num for num, info in known.items() if info.kind == "device" or info.high_risk]
    menu = [num for num, info in known.items() if num not in emergency]
    callers: list[Caller] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.15 and emergency:
            callers.append(Caller(rng.choice(emergency), [], None, "hotline-emergency"))
        elif kind < 0.55 and menu:
            number = rng.choice(menu)
            choice = rng.choice(["3", "1", "0"])
            asked = known[number].language is None  # the IVR asks the language first
            digits = (["1"] if asked else []) + [choice]
            callers.append(
                Caller(
                    number,
                    digits,
                    None,
                    "hotline-emergency" if choice == "1" else "hotline-general",
                )
            )
        elif kind < 0.75:
            callers.append(
                Caller(f"1390{i:07d}", ["1", "3"], None, "hotline-general")
            )  # stranger, Mandarin
        elif kind < 0.88:
            callers.append(
                Caller(f"1391{i:07d}", ["1", "", ""], None, "hotline-general")
            )  # silent at the menu
        else:
            callers.append(Caller(f"1392{i:07d}", ["1"], 2 + i % 3, "HANGUP"))  # leaves mid-flow
    return callers


def check(caller: Caller, outcome: AgiOutcome) -> bool:
    if caller.expect == "HANGUP":
        return outcome.status == "HANGUP"
    if outcome.status != "SUCCESS":
        return False
    return outcome.variables.get("HOTLINE_QUEUE") == caller.expect


async def drive(url: str, callers: list[Caller]) -> tuple[list[AgiOutcome], list[float]]:
    durations: list[float] = []

    async def one(i: int, caller: Caller) -> AgiOutcome:
        started = time.perf_counter()
        outcome = await run_fastagi_call(
            url,
            channel=f"PJSIP/trunk-{i:08x}",
            uniqueid=f"1800000000.{i}",
            linkedid=f"1800000000.{i}",
            callerid=caller.number,
            calleridname="",
            behaviour=CallerBehaviour(list(caller.digits), caller.hangup_after),
            timeout=240.0,
        )
        durations.append(time.perf_counter() - started)
        return outcome

    outcomes = await asyncio.gather(*[one(i, c) for i, c in enumerate(callers)])
    return list(outcomes), durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--elders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12349)
    parser.add_argument(
        "--admin-url", default=os.environ.get("HOTLINE_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN)
    )
    args = parser.parse_args()

    from hotline.demo_data.elders import seed_elders
    from platform_core.models import metadata
    from platform_core.regions.service import load_dictionary
    from platform_core.runtime import build_runtime

    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    settings_kwargs = {
        "data_dir": Path(tempfile.mkdtemp(prefix="hotline-bench-")),
        "database_url": url,
        "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "secret_key": secrets.token_urlsafe(16),
    }
    runtime = None
    proc = None
    try:
        runtime = build_runtime(Settings(**settings_kwargs), start_jobs=False)
        metadata.create_all(runtime.engine)
        with runtime.session() as s:
            load_dictionary(s)
        session = runtime.session_factory()
        try:
            seed_elders(
                session, count=args.elders, seed=args.seed, after_batch=lambda _n: session.commit()
            )
            session.commit()
        finally:
            session.close()
        refresh_statistics(runtime.engine)
        callers = build_callers(runtime, args.sessions, random.Random(args.seed))

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve, args=(settings_kwargs, child), daemon=True)
        proc.start()
        if not parent.poll(60):
            raise RuntimeError("the FastAGI server did not start")
        port = parent.recv()

        started = time.perf_counter()
        outcomes, durations = asyncio.run(drive(f"agi://127.0.0.1:{port}/main", callers))
        wall = time.perf_counter() - started
        parent.send("stop")
        server = parent.recv() if parent.poll(30) else {}

        failures = [(c, o) for c, o in zip(callers, outcomes, strict=True) if not check(c, o)]
        for caller, outcome in failures[:5]:
            print(f"failure: {caller} -> {outcome.status} {outcome.variables}", file=sys.stderr)
        from platform_core.ivr.models import IvrSession

        with runtime.session() as s:
            recorded = s.scalar(
                select(func.count()).select_from(IvrSession).where(IvrSession.ended_at.is_not(None))
            )
        durations.sort()
        result = {
            "sessions": len(callers),
            "concurrent": len(callers),
            "wall_s": round(wall, 2),
            "sessions_per_s": round(len(callers) / wall, 1),
            "round_trip_p50_ms": round(server.get("p50_ms") or 0, 2),
            "round_trip_p99_ms": round(server.get("p99_ms") or 0, 2),
            "round_trips": server.get("round_trips", 0),
            "session_p50_s": round(statistics.median(durations), 2),
            "session_p99_s": round(durations[int(len(durations) * 0.99) - 1], 2),
            "recorded_sessions": recorded,
            "outcomes": server.get("outcomes", {}),
            "failures": len(failures) + max(0, len(callers) - (recorded or 0)),
        }
        print(
            f"{result['sessions']} 个并发 IVR 会话 / simultaneous sessions in {result['wall_s']} s: "
            f"{result['sessions_per_s']} sessions/s"
        )
        print(
            f"服务器内命令往返 / command round trip in the server: p50 {result['round_trip_p50_ms']} ms, "
            f"p99 {result['round_trip_p99_ms']} ms over {result['round_trips']} commands"
        )
        print(f"失败 / failures: {result['failures']}  outcomes: {result['outcomes']}")
        print("RESULT " + json.dumps(result, ensure_ascii=False))
    finally:
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(10)
        if runtime is not None:
            runtime.close()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
