"""Staffing maths against published values: Erlang B and C tables, Erlang A's closed forms
(patience equal to handle time makes the callers in the system Poisson; no abandonment is
Erlang C; infinite impatience is Erlang B), and the arrivals forecast's seasonality."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from platform_core.forecast.arrivals import IntervalHistory, forecast, patience_of
from platform_core.forecast.erlang import (
    agents_needed,
    erlang_b,
    erlang_c,
    predict_a,
    predict_c,
)


@pytest.mark.parametrize(
    ("load", "agents", "published"),
    [
        (10.0, 10, 0.2146),  # Erlang B tables
        (10.0, 15, 0.0365),
        (2.0, 2, 0.4000),
        (5.0, 10, 0.0184),
    ],
)
def test_erlang_b_matches_the_tables(load: float, agents: int, published: float) -> None:
    assert erlang_b(load, agents) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(
    ("load", "agents", "published"),
    [
        (2.0, 3, 4 / 9),  # textbook M/M/3 with 2 Erlangs
        (10.0, 11, 0.6821),  # 10 Erlangs on 11 agents
        (1.0, 1, 1.0),  # saturated: everyone waits
    ],
)
def test_erlang_c_matches_the_tables(load: float, agents: int, published: float) -> None:
    assert erlang_c(load, agents) == pytest.approx(published, abs=5e-5)


def test_erlang_c_service_level_and_asa_follow_the_closed_form() -> None:
    # 360 calls an hour, 4 minutes each: 24 Erlangs on 28 agents, 20 seconds
    rate, aht, n = 360 / 3600, 240.0, 28
    p = predict_c(rate, aht, n, sl_s=20)
    c = erlang_c(24.0, 28)
    assert p.service_level == pytest.approx(1 - c * math.exp(-(n - 24) * 20 / aht))
    assert p.asa_s == pytest.approx(c * aht / (n - 24))
    assert p.occupancy == pytest.approx(24 / 28)


def _poisson(load: float, k: int) -> float:
    return math.exp(-load + k * math.log(load) - math.lgamma(k + 1))


@pytest.mark.parametrize(("load", "agents"), [(10.0, 8), (10.0, 12), (30.0, 28)])
def test_erlang_a_with_patience_equal_to_handle_time_is_poisson(load: float, agents: int) -> None:
    aht = 120.0
    p = predict_a(load / aht, aht, aht, agents, sl_s=20)
    pois = [_poisson(load, k) for k in range(400)]
    assert p.wait_probability == pytest.approx(sum(pois[agents:]), abs=1e-9)
    queue = sum((k - agents) * q for k, q in enumerate(pois) if k > agents)
    assert 1 - p.answer_rate == pytest.approx(queue / load, abs=1e-9)


def test_erlang_a_tends_to_erlang_c_and_to_erlang_b() -> None:
    rate, aht = 10 / 180, 180.0
    patient = predict_a(rate, aht, 1e8, 12, sl_s=20)
    assert patient.service_level == pytest.approx(
        predict_c(rate, aht, 12, sl_s=20).service_level, abs=1e-4
    )
    assert patient.wait_probability == pytest.approx(erlang_c(10.0, 12), abs=1e-4)
    impatient = predict_a(rate, aht, 0.05, 12, sl_s=20)  # gone within a twentieth of a second
    assert 1 - impatient.answer_rate == pytest.approx(erlang_b(10.0, 12), abs=1e-3)


def test_the_fewest_agents_that_hold_both_targets() -> None:
    rate, aht, patience = 0.33, 120.0, 90.0
    need = agents_needed(
        rate, aht, patience, sl_s=20, answer_rate_target=0.95, service_level_target=0.8
    )
    for pred, predict in (
        (need.erlang_a, lambda n: predict_a(rate, aht, patience, n, sl_s=20)),
        (need.erlang_c, lambda n: predict_c(rate, aht, n, sl_s=20, patience=patience)),
    ):
        assert pred.answer_rate >= 0.95 and pred.service_level >= 0.8
        fewer = predict(pred.agents - 1)
        assert fewer.answer_rate < 0.95 or fewer.service_level < 0.8
    # Erlang C ignores abandonment and so never asks for fewer agents than Erlang A
    assert need.erlang_c.agents >= need.erlang_a.agents


def test_arrivals_follow_weekday_and_time_of_day() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    monday = datetime(2026, 3, 2, 0, 0, tzinfo=tz)
    history = []
    for week in range(8):
        for day in range(7):
            for slot in range(48):
                start = monday + timedelta(weeks=week, days=day, minutes=30 * slot)
                busy = 20 if 16 <= slot < 36 else 2  # 08:00-18:00
                weekend = 0.5 if day >= 5 else 1.0
                history.append(IntervalHistory(start, int(busy * weekend), 150.0 * busy, busy))
    target = monday + timedelta(weeks=8)
    plan = forecast(
        history,
        [
            target + timedelta(hours=10),
            target + timedelta(hours=2),
            target + timedelta(days=5, hours=10),
        ],
    )
    assert [round(p.offered) for p in plan] == [20, 2, 10]
    assert plan[0].aht_s == pytest.approx(150.0)


def test_patience_is_waiting_time_at_risk_over_abandons() -> None:
    p = patience_of(
        [("answered", 10.0), ("abandoned", 30.0), ("abandoned", 50.0), ("timeout", 10.0)]
    )
    assert p.mean_s == pytest.approx(100.0 / 2)
    assert patience_of([("answered", 5.0)]).mean_s is None
