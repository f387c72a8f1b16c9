"""Dispatch terms read from settings: ranking weights and status rules (the acceptance window
is the order's, in orders/followups.py).

Settings hold them as short "key=value,..." strings so a deployment tunes them with one
environment variable each; a malformed value is refused with the variable's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.settings import Settings, SettingsError, parse_number, parse_pairs

DEFAULT_WEIGHTS = {
    "distance": 30.0,
    "load": 25.0,
    "grade": 20.0,
    "credit": 15.0,
    "coverage": 10.0,
    # an order at a service site: points for the provider that runs the site
    "site": 10.0,
}


def weights(settings: Settings) -> dict[str, float]:
    """Points per ranking part; ``emergency_distance`` (default: twice ``distance``) replaces
    the distance weight for emergency orders, where the nearest provider matters most."""
    raw = parse_pairs(settings.dispatch_weights, variable="dispatch_weights")
    out = dict(DEFAULT_WEIGHTS)
    for key, value in raw.items():
        out[key] = parse_number(value, variable="dispatch_weights", key=key)
    out.setdefault("emergency_distance", out["distance"] * 2)
    return out


@dataclass(frozen=True)
class StatusRule:
    penalty: float  # points added to the score (negative)
    capacity_share: float  # share of the provider's capacity it may fill


def status_rules(settings: Settings) -> dict[str, StatusRule]:
    out: dict[str, StatusRule] = {}
    for status, value in parse_pairs(
        settings.dispatch_status_rules, variable="dispatch_status_rules"
    ).items():
        points, _, share = value.partition(":")
        rule = StatusRule(
            parse_number(points, variable="dispatch_status_rules", key=status),
            parse_number(share or "1", variable="dispatch_status_rules", key=status),
        )
        if not 0 < rule.capacity_share <= 1:
            raise SettingsError(
                f"HOTLINE_DISPATCH_STATUS_RULES: {status} 容量比例应在 (0,1] / share outside (0,1]"
            )
        out[status] = rule
    return out
