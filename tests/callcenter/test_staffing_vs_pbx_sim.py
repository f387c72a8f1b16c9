"""The staffing forecast holds on the PBX simulator: a weekday morning interval forecast from
history (arrivals, handle time, patience measured from the abandoned calls), staffed with the
agents Erlang A recommends, played on the simulator; the simulated answer rate and service level
land within 2 points of the prediction.

The interval is played 60 times at once (independent replications, each with a five-minute
warm-up), at 50 simulated seconds per real second: about 3,600 calls in some 45 seconds, enough
for a standard error under a point (checked from the spread between replications). A busier
interval at 90 % occupancy would need hundreds of simulated hours for the same precision: its
rates swing by several points from one half hour to the next."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.pbx_sim.staffing_check import run_interval
from platform_core.forecast.arrivals import IntervalHistory, forecast, patience_of
from platform_core.forecast.erlang import agents_needed

TZ = ZoneInfo("Asia/Shanghai")


def eight_weeks_of_history(
    rng: random.Random,
) -> tuple[list[IntervalHistory], list[tuple[str, float]]]:
    """Weekday mornings busy (about 60 calls per half hour from 09:00), handle time about
    three minutes, callers who give up after a minute on average."""
    start = datetime(2026, 1, 5, tzinfo=TZ)  # a Monday
    history, waits = [], []
    for day in range(56):
        for slot in range(48):
            at = start + timedelta(days=day, minutes=30 * slot)
            busy = 18 <= slot < 24 and at.weekday() < 5
            offered = int(rng.gauss(60, 7)) if busy else rng.randrange(0, 6)
            history.append(IntervalHistory(at, offered, 180.0 * offered, offered))
            for _ in range(offered if busy else 0):
                wait = rng.expovariate(1 / 20)
                gave_up = rng.expovariate(1 / 60)
                waits.append(("abandoned", gave_up) if gave_up < wait else ("answered", wait))
    return history, waits


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_recommended_agents_deliver_the_predicted_rates_on_the_simulator() -> None:
    history, waits = eight_weeks_of_history(random.Random(2026))
    target = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)  # the Monday after: 09:30-10:00
    [interval] = forecast(history, [target])
    patience = patience_of(waits).mean_s
    assert interval.offered == pytest.approx(60, abs=5) and patience == pytest.approx(60, rel=0.1)
    need = agents_needed(
        interval.rate_per_s,
        interval.aht_s or 0.0,
        patience,
        sl_s=20,
        answer_rate_target=0.95,
        service_level_target=0.80,
    )
    predicted = need.erlang_a
    assert predicted.answer_rate >= 0.95 and predicted.service_level >= 0.80

    measured = run_interval(
        rate=interval.rate_per_s,
        aht=interval.aht_s or 0.0,
        patience=patience or 0.0,
        agents=predicted.agents,
        sl_s=20,
        replications=60,
        time_scale=50,
        warmup_s=300,
        measure_s=1800,
    )
    assert measured.offered > 3000
    assert measured.answer_rate_se < 0.008 and measured.service_level_se < 0.008
    assert abs(measured.answer_rate - predicted.answer_rate) <= 0.02, (measured, predicted)
    assert abs(measured.service_level - predicted.service_level) <= 0.02, (measured, predicted)
