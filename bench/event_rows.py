"""What domain events cost callcenter's writer: a recorded AMI stream through the writer's
batches on PostgreSQL, timed per AMI event.

    python bench/event_rows.py [--calls 1000] [--batch 100] [--rounds 3]

The PBX simulator plays ``--calls`` calls with nobody connected and the bytes are kept; each
round replays them (with fresh call ids) through ``EventPipeline.process`` in batches of
``--batch`` events, one transaction per batch as the live writer commits, into a fresh database
(dropped at the end). It reports AMI events per second and CPU microseconds per AMI event of the
writer's thread, the domain events the batches published and the outbox rows written for them.
Run it on two commits to see what a change to the after-commit path costs the hot path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ami_ingest import record_stream  # noqa: E402
from bench.support import bench_settings, percentile, scratch_database  # noqa: E402


def fresh_ids(messages: list[Any], round_no: int) -> list[Any]:
    """The same calls again under new Uniqueid/Linkedid values (a replay of old ids changes nothing)."""
    from panoramisk.message import Message

    out = []
    for m in messages:
        copy = Message(m)
        for key in ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid"):
            if key in copy:
                copy[key] = f"r{round_no}-{copy[key]}"
        for key in ("Channel", "DestChannel"):
            if key in copy and "-" in str(copy[key]):
                copy[key] = f"{copy[key]}r{round_no}"
        out.append(copy)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--agents", type=int, default=300)
    ap.add_argument("--batch", type=int, default=100, help="AMI events per transaction")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12349)
    a = ap.parse_args()

    from sqlalchemy import inspect, text

    from callcenter.pipeline import EventPipeline
    from callcenter.replay import read_messages
    from platform_core.db import make_engine
    from platform_core.models import metadata
    from platform_core.runtime import build_runtime, install_runtime

    stream = record_stream(a.calls, a.agents, a.seed).decode()
    messages = read_messages(stream)
    with scratch_database() as url:
        engine = make_engine(url)
        metadata.create_all(engine)
        runtime = build_runtime(bench_settings(url), engine=engine)
        install_runtime(runtime)
        published = 0
        original = runtime.event_bus.publish_many

        def publish_many(envelopes: list[dict[str, Any]]) -> None:
            nonlocal published
            published += len(envelopes)
            original(envelopes)

        runtime.event_bus.publish_many = publish_many  # type: ignore[method-assign]
        has_outbox = "outbox" in inspect(engine).get_table_names()
        rounds = []
        try:
            for r in range(a.rounds):
                msgs = fresh_ids(messages, r)
                pipeline = EventPipeline(runtime)
                batch_ms: list[float] = []
                published = 0
                now = time.time()
                wall0, cpu0 = time.perf_counter(), time.thread_time()
                for i in range(0, len(msgs), a.batch):
                    t0 = time.perf_counter()
                    pipeline.process([(m, now, None) for m in msgs[i : i + a.batch]])
                    batch_ms.append((time.perf_counter() - t0) * 1000)
                wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
                pipeline.close()
                getattr(runtime.jobs, "wait_idle", lambda _t: True)(30)
                time.sleep(0.5)  # the outbox's bookkeeping, if any, catches up
                rows = None
                if has_outbox:
                    with engine.connect() as c:
                        rows = c.execute(text("SELECT count(*) FROM outbox")).scalar()
                rounds.append(
                    {
                        "events_per_s": round(len(msgs) / wall),
                        "cpu_us_per_event": round(cpu / len(msgs) * 1e6, 1),
                        "batch_p50_ms": round(statistics.median(batch_ms), 2),
                        "batch_p99_ms": round(percentile(batch_ms, 99), 2),
                        "domain_events": published,
                        "outbox_rows_left": rows,
                    }
                )
                print(json.dumps(rounds[-1]), flush=True)
        finally:
            runtime.close()
            engine.dispose()
    best = max(rounds, key=lambda x: x["events_per_s"])
    print(
        "RESULT "
        + json.dumps(
            {
                "ami_events": len(messages),
                "batch": a.batch,
                "rounds": rounds,
                "best_events_per_s": best["events_per_s"],
                "median_cpu_us_per_event": statistics.median(x["cpu_us_per_event"] for x in rounds),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
