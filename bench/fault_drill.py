"""The fault drill as a benchmark: calls, alarms and orders flow while PostgreSQL, Redis and
Mosquitto restart and callcenter, the alarm intake and the worker are killed with SIGKILL.

Everything runs on servers of the drill's own (private ports and directories, removed after);
the harness is the suite's (tests/faults/harness.py). After each fault it measures the time until
the platform has recovered (every process ready and everything that happened up to the end of
the fault in the records); when the load stops it counts calls lost, doubled or made up, wrong
outcomes, ghosts in the queues, alarms lost and orders lost or stuck, against the simulators'
ground truth.

    python bench/fault_drill.py [--down 5] [--call-every 0.6] [--alarm-every 0.3]
                                [--order-every 0.3] [--faults postgres,redis,...]

Ends with one line ``RESULT {json}``: the counts (each loss must be 0), ``recovery_s`` per
fault (seconds from the end of the fault until recovered; null: not within
``--recover-timeout``), ``down_s`` per fault, the wall time and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import FAULTS, Drill, DrillConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=5.0, help="seconds each fault lasts")
    parser.add_argument("--call-every", type=float, default=1.0, help="seconds between calls")
    parser.add_argument("--alarm-every", type=float, default=0.3, help="seconds between alarms")
    parser.add_argument("--order-every", type=float, default=0.3, help="seconds between orders")
    parser.add_argument("--agents", type=int, default=8, help="desks (one never answers)")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--recover-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=12349)
    parser.add_argument("--keep", action="store_true", help="keep the logs and queue_log")
    args = parser.parse_args()
    faults = tuple(f for f in args.faults.split(",") if f)
    config = DrillConfig(
        call_every_s=args.call_every,
        alarm_every_s=args.alarm_every,
        order_every_s=args.order_every,
        agents=args.agents,
        down_s=args.down,
        faults=faults,
        recover_timeout_s=args.recover_timeout,
        seed=args.seed,
        keep=args.keep,
    )
    load_before = os.getloadavg()[0]
    with Drill(config, log=lambda line: print(line, flush=True)) as drill:
        result = drill.run()
        drill.kept = any(result.losses.values())  # the logs and queue_log, to see why
    for what, items in result.details.items():
        print(f"{what}: {items[:10]}")
    print("counts:", json.dumps(result.counts, ensure_ascii=False))
    for f in result.faults:
        when = "not recovered" if f.recovered_s is None else f"recovered in {f.recovered_s} s"
        print(f"  {f.fault:10} down {f.down_s} s, {when} {f.behind or ''}")
    print(
        "RESULT "
        + json.dumps(
            {
                **result.counts,
                "recovery_s": {f.fault: f.recovered_s for f in result.faults},
                "down_s": {f.fault: f.down_s for f in result.faults},
                "wall_s": result.wall_s,
                "load_avg_1m_before": round(load_before, 1),
                "load_avg_1m_after": round(os.getloadavg()[0], 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
