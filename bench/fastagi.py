"""IVR sessions over FastAGI against ``hotline ivr``'s server, on PostgreSQL: what callers wait for.

    python bench/fastagi.py [--concurrent 500] [--paced-s 40] [--time-scale 1] [--runs 3]

Creates a dedicated database (dropped at the end) with the region dictionary and seeded demo
elders, starts the FastAGI server in its own process (as ``hotline ivr`` runs it) and plays
Asterisk's side with the PBX simulator. Callers are a mix: known elders choosing from the menu,
device SIMs and high-risk elders (straight to the emergency queue), strangers choosing a
language, silent callers (one repeat, then a person), callers pressing 0, and callers hanging up
mid-flow.

Each run has two phases:
- paced: ``--concurrent`` sessions in progress at any time for ``--paced-s`` seconds, as real
  calls are: each prompt takes its length, a key takes a second, a wait nobody answers lasts its
  timeout (``--time-scale`` > 1 plays them that many times faster, and says so in the result);
  the slots start spread over ``--ramp-s`` and each takes its next caller when one ends;
- burst: ``--concurrent`` sessions started in the same instant, replies without delay.

Measured at the simulated Asterisk, as the caller experiences it: think time (Asterisk's reply
written -> the server's next command read: the server's own work plus the loopback hop) and
time to first command (the AGI environment written -> the first command read); failures are
sessions that did not end as the caller's behaviour requires or were not recorded (must be 0).
CPU per session for the server process and for this process, the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import multiprocessing as mp
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bench.support import (  # noqa: E402
    PG_ADMIN_URL,
    CpuMeter,
    Target,
    add_run_options,
    own_process,
    percentile,
    repeat,
    scratch_database,
    settle_load_generator,
)
from callcenter.pbx_sim.agi import (  # noqa: E402
    AgiOutcome,
    AgiTrace,
    CallerBehaviour,
    media_seconds,
    run_fastagi_call,
)
from platform_core.db import refresh_statistics  # noqa: E402
from platform_core.settings import Settings  # noqa: E402


@dataclass(frozen=True)
class Caller:
    number: str
    digits: list[str]
    hangup_after: int | None
    # what must come back: a queue name, or "HANGUP" for a caller who leaves
    expect: str


def serve(settings_kwargs: dict[str, Any], conn: Any, profile: str | None = None) -> None:
    """The server process: ``hotline ivr``'s FastAGI server on a free port until told to stop;
    with ``profile``, the event loop's thread runs under cProfile and its stats go there."""
    import cProfile
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

    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    asyncio.run(main())
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
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
    # one number per elder, each once: an elder who chooses a language is not asked again,
    # whichever of their phones they call from next
    by_elder = {info.elder_id: num for num, info in known.items() if num not in emergency}
    menu = list(by_elder.values())
    rng.shuffle(menu)
    callers: list[Caller] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.15 and emergency:
            callers.append(Caller(rng.choice(emergency), [], None, "hotline-emergency"))
        elif kind < 0.55 and menu:
            number = menu.pop()
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


def _ms(seconds: list[float], p: float) -> float:
    return round(percentile(seconds, p) * 1000, 2)


async def drive(
    url: str,
    callers: Iterator[tuple[int, Caller]],
    *,
    concurrent: int,
    pace: Callable[[str, str], float] | None,
    until: float | None,
    ramp_s: float,
) -> dict[str, Any]:
    """``concurrent`` slots, each calling its next caller when one ends; with ``until`` None each
    slot places one call and all start at once (the burst)."""
    think: list[float] = []
    first: list[float] = []
    failures: list[tuple[Caller, AgiOutcome]] = []
    sessions = 0

    async def slot(k: int) -> None:
        nonlocal sessions
        if until is not None:
            await asyncio.sleep(ramp_s * k / concurrent)
        while True:
            i, caller = next(callers)
            trace = AgiTrace()
            outcome = await run_fastagi_call(
                url,
                channel=f"PJSIP/trunk-{i:08x}",
                uniqueid=f"1800000000.{i}",
                linkedid=f"1800000000.{i}",
                callerid=caller.number,
                calleridname="",
                behaviour=CallerBehaviour(list(caller.digits), caller.hangup_after),
                timeout=240.0,
                pace=pace,
                trace=trace,
            )
            sessions += 1
            think.extend(trace.think_s)
            if trace.first_command_s is not None:
                first.append(trace.first_command_s)
            if not check(caller, outcome):
                failures.append((caller, outcome))
            if until is None or time.monotonic() >= until:
                return

    await asyncio.gather(*(slot(k) for k in range(concurrent)))
    for caller, outcome in failures[:5]:
        print(f"failure: {caller} -> {outcome.status} {outcome.variables}", file=sys.stderr)
    return {
        "sessions": sessions,
        "think_p50_ms": _ms(think, 50),
        "think_p99_ms": _ms(think, 99),
        "think_max_ms": _ms(think, 100),
        "first_command_p50_ms": _ms(first, 50),
        "first_command_p99_ms": _ms(first, 99),
        "commands": len(think) + len(first),
        "failures": len(failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--paced-s", type=float, default=40.0, help="seconds of the paced phase")
    parser.add_argument(
        "--ramp-s", type=float, default=15.0, help="seconds over which the paced slots start"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="prompts and waits play this many times faster than real (1: real time)",
    )
    parser.add_argument("--elders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12349)
    parser.add_argument("--admin-url", default=PG_ADMIN_URL)
    parser.add_argument(
        "--profile", default=None, help="write the server's cProfile stats (event loop) here"
    )
    add_run_options(parser)
    args = parser.parse_args()

    from hotline.demo_data.elders import seed_elders
    from platform_core.ivr.models import IvrSession
    from platform_core.models import metadata
    from platform_core.regions.service import load_dictionary
    from platform_core.runtime import build_runtime

    with scratch_database(admin_url=args.admin_url) as url:
        settings_kwargs = {
            "data_dir": Path(tempfile.mkdtemp(prefix="hotline-bench-")),
            "database_url": url,
            "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "secret_key": secrets.token_urlsafe(16),
        }
        runtime = build_runtime(Settings(**settings_kwargs), start_jobs=False)
        proc = None
        parent = None
        try:
            metadata.create_all(runtime.engine)
            with runtime.session() as s:
                load_dictionary(s)
            session = runtime.session_factory()
            try:
                seed_elders(
                    session,
                    count=args.elders,
                    seed=args.seed,
                    after_batch=lambda _n: session.commit(),
                )
                session.commit()
            finally:
                session.close()
            refresh_statistics(runtime.engine)

            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=serve, args=(settings_kwargs, child, args.profile), daemon=True
            )
            proc.start()
            if not parent.poll(60):
                raise RuntimeError("the FastAGI server did not start")
            agi_url = f"agi://127.0.0.1:{parent.recv()}/main"
            server_pid = proc.pid
            numbering = itertools.count()
            scale = args.time_scale

            def pace(line: str, reply: str) -> float:
                return media_seconds(line, reply) / scale

            def recorded() -> int:
                with runtime.session() as s:
                    return int(
                        s.scalar(
                            select(func.count())
                            .select_from(IvrSession)
                            .where(IvrSession.ended_at.is_not(None))
                        )
                        or 0
                    )

            def phase(run: int, name: str, paced: bool) -> dict[str, Any]:
                rng = random.Random(f"{args.seed}-{run}-{name}")
                pool = build_callers(runtime, args.concurrent * (8 if paced else 1), rng)

                def callers() -> Iterator[tuple[int, Caller]]:
                    yield from zip(numbering, pool, strict=False)
                    for i in numbering:  # the pool ran out: strangers choosing Mandarin
                        yield i, Caller(f"1393{i:07d}", ["1", "3"], None, "hotline-general")

                before = recorded()
                # the simulated Asterisk's own garbage collections would stop its event loop and
                # be counted as the server's think time: its heap is frozen as a service's is
                settle_load_generator()
                cpu = CpuMeter(server=lambda: [server_pid], loadgen=own_process).start()
                started = time.monotonic()
                figures = asyncio.run(
                    drive(
                        agi_url,
                        callers(),
                        concurrent=args.concurrent,
                        pace=pace if paced else None,
                        until=started + args.paced_s if paced else None,
                        ramp_s=args.ramp_s,
                    )
                )
                wall = time.monotonic() - started
                cpu.stop()
                # the server closes the AGI socket before it closes the session's record: the
                # last records land a moment after the last call; one missing 30 s on is lost
                deadline = time.monotonic() + 30
                while recorded() - before < figures["sessions"] and time.monotonic() < deadline:
                    time.sleep(0.1)
                unrecorded = figures["sessions"] - (recorded() - before)
                figures["failures"] += max(0, unrecorded)
                figures["sessions_per_s"] = round(figures["sessions"] / wall, 1)
                figures["wall_s"] = round(wall, 1)
                figures.update(cpu.figures(figures["sessions"], "session"))
                return {f"{name}_{k}": v for k, v in figures.items()}

            def measure(run: int) -> dict[str, Any]:
                return {**phase(run, "paced", True), **phase(run, "burst", False)}

            repeat(
                "fastagi",
                args.runs,
                measure,
                [
                    Target("paced_think_p99_ms", "<=", 20),
                    Target("paced_failures", "==", 0),
                    Target("burst_failures", "==", 0),
                ],
                setup={
                    "concurrent": args.concurrent,
                    "paced_s": args.paced_s,
                    "time_scale": args.time_scale,
                },
            )
        finally:
            if parent is not None and proc is not None and proc.is_alive():
                parent.send("stop")
                proc.join(40)
            if proc is not None and proc.is_alive():
                proc.terminate()
                proc.join(10)
            runtime.close()


if __name__ == "__main__":
    main()
