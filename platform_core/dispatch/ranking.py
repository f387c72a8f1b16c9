"""Ranking the providers that could take an order: pure rules, no database.

Each candidate earns points per part (distance, load against capacity, grade, credit score, how
closely its coverage fits the elder's region, and for a service at a site whether it runs that
site) and loses the penalty of its status; a provider
under warning or reduced dispatch may also fill only a share of its capacity. The breakdown is
kept so that the console can say why a provider came first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from platform_core.dispatch.config import StatusRule
from platform_core.providers.service import Candidate

GRADE_SHARE = {"A": 1.0, "B": 0.75, "C": 0.4, "D": 0.0}
# How closely a coverage entry fits: a provider covering the very village is more local than one
# covering the whole league (level 1 autonomous region .. 5 village).
COVERAGE_SHARE = {5: 1.0, 4: 0.85, 3: 0.6, 2: 0.3, 1: 0.1}
# Providers that take no new orders at all.
CLOSED = frozenset({"suspended", "terminated"})

EXCLUSION_LABELS = {
    "declined": "已拒单",
    "timed_out": "接单超时",
    "breached": "超时未到",
    "at_capacity": "已满负荷",
    "closed": "暂停或终止派单",
    "too_far": "超出紧急派单半径",
}


@dataclass(frozen=True)
class CandidateFacts(Candidate):
    """A candidate as the ranking scores it: with its load, how far and how closely it covers."""

    load: int
    distance_km: float | None
    coverage_level: int
    # For an order at a service site: whether this provider runs that site (None: at home).
    operates_site: bool | None = None


@dataclass(frozen=True)
class Scored:
    facts: CandidateFacts
    score: float
    parts: dict[str, float]
    effective_capacity: int

    def explain(self, rank: int) -> dict[str, Any]:
        f = self.facts
        return {
            "rank": rank,
            "provider_id": f.provider_id,
            "provider_name": f.name,
            "score": round(self.score, 1),
            "parts": {k: round(v, 1) for k, v in self.parts.items()},
            "distance_km": None if f.distance_km is None else round(f.distance_km, 2),
            "load": f.load,
            "capacity": f.capacity,
            "effective_capacity": self.effective_capacity,
            "status": f.status,
            "grade": f.grade,
            "credit_score": f.credit_score,
        }


@dataclass(frozen=True)
class Excluded:
    provider_id: int
    name: str
    reason: str
    distance_km: float | None = None

    def explain(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider_id": self.provider_id,
            "provider_name": self.name,
            "reason": self.reason,
            "label": EXCLUSION_LABELS.get(self.reason, self.reason),
        }
        if self.distance_km is not None:
            out["distance_km"] = round(self.distance_km, 2)
        return out


@dataclass(frozen=True)
class Ranking:
    ranked: list[Scored] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def effective_capacity(capacity: int, status: str, rules: Mapping[str, StatusRule]) -> int:
    rule = rules.get(status)
    if rule is None:
        return max(0, capacity)
    return max(1, math.floor(capacity * rule.capacity_share)) if capacity > 0 else 0


def score(
    facts: CandidateFacts,
    *,
    weights: Mapping[str, float],
    rules: Mapping[str, StatusRule],
    max_distance_km: float,
    emergency: bool,
) -> Scored:
    cap = effective_capacity(facts.capacity, facts.status, rules)
    w_distance = weights["emergency_distance"] if emergency else weights["distance"]
    if facts.distance_km is None:
        # no coordinates on one side: neither rewarded nor ruled out
        distance = w_distance * 0.5
    else:
        distance = w_distance * max(0.0, 1 - facts.distance_km / max_distance_km)
    parts = {
        "distance": distance,
        "load": weights["load"] * (max(0.0, 1 - facts.load / cap) if cap else 0.0),
        "grade": weights["grade"] * GRADE_SHARE.get(facts.grade, 0.0),
        "credit": weights["credit"] * max(0.0, min(100.0, facts.credit_score)) / 100,
        "coverage": weights["coverage"] * COVERAGE_SHARE.get(facts.coverage_level, 0.0),
    }
    if facts.operates_site is not None:
        # the service happens at a site: its own operator is on the premises already
        parts["site"] = weights.get("site", 0.0) * (1.0 if facts.operates_site else 0.0)
    rule = rules.get(facts.status)
    if rule is not None and rule.penalty:
        parts["status"] = rule.penalty
    return Scored(facts, sum(parts.values()), parts, cap)


def rank(
    candidates: Iterable[CandidateFacts],
    *,
    weights: Mapping[str, float],
    rules: Mapping[str, StatusRule],
    max_distance_km: float,
    emergency: bool = False,
    passed_over: Mapping[int, str] | None = None,
    radius_km: float | None = None,
) -> Ranking:
    """Best first; ``passed_over`` maps providers that already had the order to why they lost it.
    With ``radius_km`` (an emergency) a provider known to be farther is not sent at all: a person
    decides instead (widen the radius, call 120, send the key holder)."""
    passed_over = passed_over or {}
    ranked: list[Scored] = []
    excluded: list[Excluded] = []
    for c in candidates:
        if c.status in CLOSED:
            excluded.append(Excluded(c.provider_id, c.name, "closed"))
            continue
        if c.provider_id in passed_over:
            excluded.append(Excluded(c.provider_id, c.name, passed_over[c.provider_id]))
            continue
        if radius_km is not None and c.distance_km is not None and c.distance_km > radius_km:
            excluded.append(Excluded(c.provider_id, c.name, "too_far", c.distance_km))
            continue
        s = score(
            c, weights=weights, rules=rules, max_distance_km=max_distance_km, emergency=emergency
        )
        if c.load >= s.effective_capacity:
            excluded.append(Excluded(c.provider_id, c.name, "at_capacity"))
            continue
        ranked.append(s)
    far = float("inf")
    ranked.sort(
        key=lambda s: (
            -round(s.score, 6),
            s.facts.distance_km if s.facts.distance_km is not None else far,
            s.facts.provider_id,
        )
    )
    return Ranking(ranked, excluded)
