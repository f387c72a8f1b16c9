"""The staffing forecast checked against the PBX simulator: one interval's arrival rate, handle
time and patience played with a given number of agents, and the answer rate and service level
the simulated queue delivers (from what Asterisk would report: each caller's HoldTime).

Several independent replications run side by side in one event loop, each with a warm-up
before the measured interval (the formulas describe a queue in its steady state), and the
simulator's clock runs ``time_scale`` times faster than the real one.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from callcenter.pbx_sim.config import AgentConfig, QueueConfig, SimConfig
from callcenter.pbx_sim.pbx import PbxSimulator, SimCall
from callcenter.pbx_sim.scenario import LoadProfile, run_profile
from platform_core.forecast.erlang import agents_needed

QUEUE = "hotline-general"


@dataclass(frozen=True)
class Measured:
    offered: int
    answered: int
    answered_in_sl: int
    real_s: float
    # standard errors of the two rates, from the spread between the replications
    answer_rate_se: float = 0.0
    service_level_se: float = 0.0

    @property
    def answer_rate(self) -> float:
        return self.answered / self.offered if self.offered else 0.0

    @property
    def service_level(self) -> float:
        return self.answered_in_sl / self.offered if self.offered else 0.0


def interval_config(agents: int, *, sl_s: int, time_scale: float, seed: int) -> SimConfig:
    """One queue and ``agents`` desks that pick up at once and need no wrap-up: the handle time
    is all talk, as in the formulas."""
    queue = QueueConfig(
        QUEUE,
        strategy="rrmemory",
        timeout=3600,
        retry=0,
        wrapuptime=0,
        servicelevel=sl_s,
        max_wait=None,
    )
    desks = [
        AgentConfig(
            interface=f"PJSIP/{8001 + i}", name=f"坐席{i + 1}", queues=[QUEUE], answer_after=0.0
        )
        for i in range(agents)
    ]
    return SimConfig(queues=[queue], agents=desks, time_scale=time_scale, seed=seed)


async def _replication(
    *,
    rate: float,
    aht: float,
    patience: float,
    agents: int,
    sl_s: int,
    time_scale: float,
    seed: int,
    warmup_s: float,
    measure_s: float,
) -> list[SimCall]:
    pbx = PbxSimulator(interval_config(agents, sl_s=sl_s, time_scale=time_scale, seed=seed))
    pbx.bind_loop(asyncio.get_running_loop())
    started = time.monotonic()
    measured: list[SimCall] = []

    def keep(call: SimCall) -> None:
        if warmup_s <= pbx.sim_elapsed(started) < warmup_s + measure_s:
            measured.append(call)

    profile = LoadProfile(
        rate=rate,
        concurrency=100_000,
        talk=aht,
        patience=patience,
        duration=warmup_s + measure_s,
        emergency_share=0.0,
        ivr_hangup_share=0.0,
        known_elder_share=0.0,
    )
    await run_profile(pbx, profile, on_call=keep)
    # a call's fate and wait are known once it is answered or gone: its talk need not end
    while any(c.outcome is None for c in measured):
        await asyncio.sleep(0.05)
    await pbx.stop()
    return measured


def run_interval(
    *,
    rate: float,
    aht: float,
    patience: float,
    agents: int,
    sl_s: int = 20,
    replications: int = 8,
    time_scale: float = 100.0,
    warmup_s: float = 600.0,
    measure_s: float = 1800.0,
    seed: int = 12349,
) -> Measured:
    """Play the interval ``replications`` times at once and pool the measured calls."""

    async def main() -> list[list[SimCall]]:
        return await asyncio.gather(
            *(
                _replication(
                    rate=rate,
                    aht=aht,
                    patience=patience,
                    agents=agents,
                    sl_s=sl_s,
                    time_scale=time_scale,
                    seed=seed + r,
                    warmup_s=warmup_s,
                    measure_s=measure_s,
                )
                for r in range(replications)
            )
        )

    begun = time.monotonic()
    runs = [_count(run, sl_s) for run in asyncio.run(main())]
    offered = sum(r[0] for r in runs)
    answered = sum(r[1] for r in runs)
    in_sl = sum(r[2] for r in runs)
    return Measured(
        offered,
        answered,
        in_sl,
        time.monotonic() - begun,
        _ratio_se([(r[1], r[0]) for r in runs]),
        _ratio_se([(r[2], r[0]) for r in runs]),
    )


def _count(calls: list[SimCall], sl_s: int) -> tuple[int, int, int]:
    offered = [c for c in calls if c.outcome in ("answered", "abandoned", "timeout")]
    answered = [c for c in offered if c.outcome == "answered"]
    # HoldTime as Asterisk reports it (whole seconds), against the threshold as kpi.py does
    in_sl = [c for c in answered if c.wait_s is not None and c.wait_s <= sl_s]
    return len(offered), len(answered), len(in_sl)


def _ratio_se(parts: list[tuple[int, int]]) -> float:
    """Standard error of a pooled ratio over independent replications (ratio estimator)."""
    total_num = sum(n for n, _ in parts)
    total_den = sum(d for _, d in parts)
    k = len(parts)
    if k < 2 or total_den == 0:
        return 0.0
    ratio = total_num / total_den
    mean_den = total_den / k
    spread = sum((n - ratio * d) ** 2 for n, d in parts) / (k - 1)
    return float((spread / k) ** 0.5 / mean_den)


# Intervals of the README's table: (calls per half hour, handle time s, patience s).
INTERVALS = ((12, 240.0, 60.0), (30, 150.0, 90.0), (61, 180.0, 58.0), (100, 150.0, 60.0))


def table(intervals: tuple[tuple[int, float, float], ...] = INTERVALS) -> list[dict[str, float]]:
    """Each interval staffed as Erlang A recommends (接通率 >= 95 %, 80 % within 20 s),
    predicted and simulated side by side."""
    rows = []
    for calls, aht, patience in intervals:
        rate = calls / 1800
        need = agents_needed(
            rate, aht, patience, sl_s=20, answer_rate_target=0.95, service_level_target=0.80
        )
        p = need.erlang_a
        m = run_interval(
            rate=rate,
            aht=aht,
            patience=patience,
            agents=p.agents,
            replications=60,
            time_scale=50,
            warmup_s=300,
        )
        rows.append(
            {
                "calls_per_30min": calls,
                "aht_s": aht,
                "patience_s": patience,
                "agents_erlang_c": need.erlang_c.agents,
                "agents_erlang_a": p.agents,
                "predicted_answer_rate": round(p.answer_rate, 4),
                "simulated_answer_rate": round(m.answer_rate, 4),
                "predicted_service_level": round(p.service_level, 4),
                "simulated_service_level": round(m.service_level, 4),
                "simulated_calls": m.offered,
                "service_level_se": round(m.service_level_se, 4),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    table()
