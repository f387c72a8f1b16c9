"""The ranking rules on their own: distance, load, grade, credit, coverage, status penalties and
capacity caps, and the explanation that says why."""

from __future__ import annotations

import pytest

from platform_core.dispatch import config
from platform_core.dispatch.ranking import CandidateFacts, haversine_km, rank
from platform_core.orders import followups
from platform_core.settings import Settings, SettingsError

SETTINGS = Settings()
WEIGHTS = config.weights(SETTINGS)
RULES = config.status_rules(SETTINGS)


def facts(pid: int, **kw) -> CandidateFacts:
    base = dict(
        provider_id=pid,
        name=f"P{pid}",
        status="normal",
        grade="B",
        credit_score=80.0,
        capacity=10,
        load=0,
        distance_km=5.0,
        coverage_level=3,
    )
    base.update(kw)
    return CandidateFacts(**base)


def ranked_ids(*candidates, **kw) -> list[int]:
    out = rank(candidates, weights=WEIGHTS, rules=RULES, max_distance_km=30, **kw)
    return [s.facts.provider_id for s in out.ranked]


def test_haversine_matches_a_known_distance() -> None:
    # 呼和浩特 (40.8414, 111.7519) to 包头 (40.6574, 109.8403): about 162 km
    assert haversine_km(40.8414, 111.7519, 40.6574, 109.8403) == pytest.approx(162, abs=2)


def test_each_part_moves_the_ranking() -> None:
    assert ranked_ids(facts(1, distance_km=9), facts(2, distance_km=2)) == [2, 1]
    assert ranked_ids(facts(1, load=8), facts(2, load=1)) == [2, 1]
    assert ranked_ids(facts(1, grade="C"), facts(2, grade="A")) == [2, 1]
    assert ranked_ids(facts(1, credit_score=60), facts(2, credit_score=95)) == [2, 1]
    assert ranked_ids(facts(1, coverage_level=2), facts(2, coverage_level=5)) == [2, 1]


def test_emergencies_weigh_distance_more() -> None:
    close_but_busy = facts(1, distance_km=1, load=6)
    idle_but_far = facts(2, distance_km=12, load=0)
    assert ranked_ids(close_but_busy, idle_but_far) == [2, 1]
    assert ranked_ids(close_but_busy, idle_but_far, emergency=True) == [1, 2]


def test_warning_and_reduced_cost_points_and_capacity() -> None:
    normal, warning, reduced = facts(1), facts(2, status="warning"), facts(3, status="reduced")
    out = rank([reduced, warning, normal], weights=WEIGHTS, rules=RULES, max_distance_km=30)
    assert [s.facts.provider_id for s in out.ranked] == [1, 2, 3]
    by_id = {s.facts.provider_id: s for s in out.ranked}
    assert by_id[2].parts["status"] == -10 and by_id[3].parts["status"] == -20
    assert [by_id[i].effective_capacity for i in (1, 2, 3)] == [10, 5, 2]
    # a provider under warning with 5 open orders is full at half its capacity
    out = rank(
        [facts(2, status="warning", load=5)], weights=WEIGHTS, rules=RULES, max_distance_km=30
    )
    assert out.ranked == [] and out.excluded[0].reason == "at_capacity"


def test_suspended_full_and_passed_over_providers_are_left_out_with_the_reason() -> None:
    out = rank(
        [facts(1, status="suspended"), facts(2, load=10), facts(3), facts(4)],
        weights=WEIGHTS,
        rules=RULES,
        max_distance_km=30,
        passed_over={3: "declined"},
    )
    assert [s.facts.provider_id for s in out.ranked] == [4]
    assert {e.provider_id: e.reason for e in out.excluded} == {
        1: "closed",
        2: "at_capacity",
        3: "declined",
    }
    assert out.excluded[2].explain()["label"] == "已拒单"


def test_the_explanation_adds_up_to_the_score() -> None:
    out = rank(
        [facts(1, distance_km=3, load=2, status="warning")],
        weights=WEIGHTS,
        rules=RULES,
        max_distance_km=30,
    )
    e = out.ranked[0].explain(1)
    assert e["rank"] == 1 and set(e["parts"]) == {
        "distance",
        "load",
        "grade",
        "credit",
        "coverage",
        "status",
    }
    assert sum(e["parts"].values()) == pytest.approx(e["score"], abs=0.3)
    assert e["parts"]["distance"] == pytest.approx(30 * (1 - 3 / 30), abs=0.05)
    assert e["parts"]["load"] == pytest.approx(25 * (1 - 2 / 5), abs=0.05)


def test_unknown_distance_is_neither_rewarded_nor_ruled_out() -> None:
    out = rank([facts(1, distance_km=None)], weights=WEIGHTS, rules=RULES, max_distance_km=30)
    assert out.ranked[0].parts["distance"] == pytest.approx(15)


def test_configuration_is_read_and_checked() -> None:
    s = Settings(
        dispatch_weights="distance=50,load=10",
        dispatch_status_rules="warning=-5:0.8",
        dispatch_accept_windows="emergency_sos=2,emergency=4,normal=45",
    )
    assert config.weights(s)["distance"] == 50 and config.weights(s)["emergency_distance"] == 100
    assert config.weights(s)["grade"] == 20  # defaults fill the rest
    assert config.status_rules(s)["warning"].capacity_share == 0.8
    window = followups.accept_window_minutes
    assert window(s, service_type_code="emergency_sos", urgency="emergency") == 2
    assert window(s, service_type_code="emergency_fall", urgency="emergency") == 4
    assert window(s, service_type_code="care_cleaning", urgency="urgent") == 45
    with pytest.raises(SettingsError):
        config.weights(Settings(dispatch_weights="distance"))
    with pytest.raises(SettingsError):
        config.status_rules(Settings(dispatch_status_rules="warning=-5:1.5"))
