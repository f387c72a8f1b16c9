"""Caller identification with 100,000 seeded elders on PostgreSQL: p50 / p99 per lookup.

    python bench/caller_lookup.py [--elders 100000] [--lookups 20000] [--runs 3] [--admin-url URL]

Creates a dedicated database (dropped at the end), seeds it with ``hotline seed``'s generator,
then times ``identify_caller`` over a mix of what a hotline trunk delivers: elders' mobiles and
landlines (with and without area code, +86 forms), device SIMs, family contacts, strangers and
unusable caller IDs. Each lookup runs in its own session, as the IVR does per call; the time is
that of the ``identify_caller`` call. Every known number must find its elder (``wrong`` = 0).
The elders are seeded once; each run draws its own mix. Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import base64
import random
import secrets
import statistics
import sys
import tempfile
import time
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
)
from hotline.demo_data.elders import seed_elders  # noqa: E402
from platform_core.calls.identification import identify_caller  # noqa: E402
from platform_core.db import refresh_statistics  # noqa: E402
from platform_core.devices.models import Device  # noqa: E402
from platform_core.elders.models import Elder, ElderPhone, EmergencyContact  # noqa: E402
from platform_core.models import metadata  # noqa: E402
from platform_core.regions.service import load_dictionary  # noqa: E402
from platform_core.runtime import build_runtime  # noqa: E402
from platform_core.settings import Settings  # noqa: E402


def _sample(session, stmt, k: int) -> list[tuple]:
    return [tuple(r) for r in session.execute(stmt.order_by(func.random()).limit(k))]


def build_mix(session, rng: random.Random, size: int) -> list[tuple[str, str | None, int | None]]:
    """(raw caller ID, trunk area code, elder expected among the matches or None)."""
    active = Elder.status != "deceased"
    mobiles = _sample(
        session,
        select(ElderPhone.number, ElderPhone.elder_id)
        .join(Elder)
        .where(active, ElderPhone.number.like("1%")),
        2000,
    )
    landlines = _sample(
        session,
        select(ElderPhone.number, ElderPhone.elder_id)
        .join(Elder)
        .where(active, ElderPhone.number.like("0%")),
        2000,
    )
    sims = _sample(
        session,
        select(Device.sim_number, Device.elder_id)
        .join(Elder, Elder.id == Device.elder_id)
        .where(
            active,
            Device.sim_number.is_not(None),
            Device.status.in_(["bound", "installed", "online", "offline", "low_battery", "fault"]),
        ),
        2000,
    )
    contacts = _sample(
        session,
        select(EmergencyContact.phone, EmergencyContact.elder_id).join(Elder).where(active),
        2000,
    )
    mix: list[tuple[str, str | None, int | None]] = []
    for _ in range(size):
        x = rng.random()
        if x < 0.25:
            number, elder = rng.choice(mobiles)
            raw = rng.choice([number, "+86" + number, "0086 " + number, "0" + number])
            mix.append((raw, None, elder))
        elif x < 0.45:
            number, elder = rng.choice(landlines)
            area, local = number[:4], number[4:]
            form = rng.randrange(4)
            if form == 0:
                mix.append((number, None, elder))
            elif form == 1:
                mix.append((local, area, elder))
            elif form == 2:
                mix.append((f"+86 {area[1:]} {local}", None, elder))
            else:
                mix.append((f"({area}){local}", None, elder))
        elif x < 0.60:
            number, elder = rng.choice(sims)
            mix.append((rng.choice([number, "+86" + number]), None, elder))
        elif x < 0.80:
            number, elder = rng.choice(contacts)
            mix.append((number, None, elder))
        elif x < 0.95:
            mix.append(("199" + f"{rng.randrange(10**8):08d}", None, None))  # a stranger
        else:
            mix.append((rng.choice(["<unknown>", "anonymous", "", "2001", "110"]), None, None))
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=12349)
    parser.add_argument("--admin-url", default=PG_ADMIN_URL)
    add_run_options(parser)
    args = parser.parse_args()

    with scratch_database(admin_url=args.admin_url) as url:
        settings = Settings(
            data_dir=Path(tempfile.mkdtemp(prefix="hotline-bench-")),
            database_url=url,
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(16),
        )
        runtime = build_runtime(settings, start_jobs=False)
        try:
            metadata.create_all(runtime.engine)
            with runtime.session() as s:
                load_dictionary(s)

            started = time.perf_counter()
            session = runtime.session_factory()
            try:
                report = seed_elders(
                    session,
                    count=args.elders,
                    seed=args.seed,
                    after_batch=lambda _n: session.commit(),
                )
                session.commit()
            finally:
                session.close()
            seed_s = time.perf_counter() - started
            print(
                f"seeded {report.created} elders, {report.phones} phones, {report.contacts} "
                f"contacts, {report.devices} devices in {seed_s:.1f}s",
                file=sys.stderr,
            )
            refresh_statistics(runtime.engine)

            def measure(run: int) -> dict[str, Any]:
                rng = random.Random(args.seed + run)
                with runtime.session() as s:
                    mix = build_mix(s, rng, args.lookups)
                # warm the pool, the statement cache and PostgreSQL's buffers
                for raw, area, _ in mix[:500]:
                    with runtime.session() as s:
                        identify_caller(s, number=raw, area_code=area)
                timings: list[float] = []
                wrong = 0
                # the lookups run in this process: its CPU is the service's
                cpu = CpuMeter(service=own_process).start()
                for raw, area, expected in mix:
                    with runtime.session() as s:
                        t0 = time.perf_counter()
                        who = identify_caller(s, number=raw, area_code=area)
                        timings.append((time.perf_counter() - t0) * 1000)
                    found = {m.elder_id for m in who.matches}
                    if (expected is None and found and raw[:3] != "199") or (
                        expected is not None and expected not in found
                    ):
                        wrong += 1
                cpu.stop()
                return {
                    "p50_ms": round(statistics.median(timings), 3),
                    "p99_ms": round(percentile(timings, 99), 3),
                    "max_ms": round(max(timings), 3),
                    "lookups": len(timings),
                    "wrong": wrong,
                    **cpu.figures(len(timings), "lookup"),
                }

            repeat(
                "caller_lookup",
                args.runs,
                measure,
                [Target("p99_ms", "<=", 5), Target("wrong", "==", 0)],
                setup={"elders": report.created, "seed_s": round(seed_s, 1)},
            )
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
