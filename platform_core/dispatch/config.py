"""Dispatch terms read from settings: ranking weights, status rules, acceptance windows.

Settings hold them as short "key=value,..." strings so a deployment tunes them with one
environment variable each; a malformed value is refused with the variable's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.settings import Settings, SettingsError

DEFAULT_WEIGHTS = {
    "distance": 30.0,
    "load": 25.0,
    "grade": 20.0,
    "credit": 15.0,
    "coverage": 10.0,
    # an order at a service site: points for the provider that runs the site
    "site": 10.0,
}


def parse_pairs(raw: str, *, variable: str) -> dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}``; blanks ignored, anything else refused."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(
                f"HOTLINE_{variable.upper()}: 无法解析 {item!r} / expected key=value"
            )
        out[key.strip()] = value.strip()
    return out


def _number(raw: str, *, variable: str, key: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(
            f"HOTLINE_{variable.upper()}: {key}={raw!r} 不是数字 / is not a number"
        ) from exc


def weights(settings: Settings) -> dict[str, float]:
    """Points per ranking part; ``emergency_distance`` (default: twice ``distance``) replaces
    the distance weight for emergency orders, where the nearest provider matters most."""
    raw = parse_pairs(settings.dispatch_weights, variable="dispatch_weights")
    out = dict(DEFAULT_WEIGHTS)
    for key, value in raw.items():
        out[key] = _number(value, variable="dispatch_weights", key=key)
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
            _number(points, variable="dispatch_status_rules", key=status),
            _number(share or "1", variable="dispatch_status_rules", key=status),
        )
        if not 0 < rule.capacity_share <= 1:
            raise SettingsError(
                f"HOTLINE_DISPATCH_STATUS_RULES: {status} 容量比例应在 (0,1] / share outside (0,1]"
            )
        out[status] = rule
    return out


def accept_window_minutes(settings: Settings, *, service_type_code: str, urgency: str) -> float:
    """Minutes a provider has to accept: the service type's own window, else its urgency's."""
    windows = parse_pairs(settings.dispatch_accept_windows, variable="dispatch_accept_windows")
    raw = windows.get(service_type_code) or windows.get(urgency) or windows.get("normal") or "30"
    minutes = _number(raw, variable="dispatch_accept_windows", key=service_type_code)
    if minutes <= 0:
        raise SettingsError(
            "HOTLINE_DISPATCH_ACCEPT_WINDOWS: 接单时限必须大于 0 / must be positive"
        )
    return minutes
