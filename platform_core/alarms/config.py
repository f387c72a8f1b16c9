"""Reading the alarm settings that are lists ("key=value,...") into typed values."""

from __future__ import annotations

from platform_core.alarms.vocabulary import AlarmType, Rung
from platform_core.devices.config import parse_pairs
from platform_core.settings import Settings


def step_timeouts(settings: Settings) -> dict[Rung, int]:
    pairs = parse_pairs(settings.alarm_step_timeouts, what="HOTLINE_ALARM_STEP_TIMEOUTS")
    out = {rung: 120 for rung in Rung}
    for key, value in pairs.items():
        out[Rung(key)] = int(value)
    return out


def answer_targets(settings: Settings) -> list[tuple[int, float]]:
    """``[(60, 0.975), (180, 0.99)]``, by threshold."""
    pairs = parse_pairs(settings.alarm_answer_targets, sep=":", what="HOTLINE_ALARM_ANSWER_TARGETS")
    return sorted((int(k), float(v)) for k, v in pairs.items())


def order_service_type(settings: Settings, alarm_type: str) -> str:
    pairs = parse_pairs(
        settings.alarm_order_service_types, what="HOTLINE_ALARM_ORDER_SERVICE_TYPES"
    )
    return pairs.get(AlarmType(alarm_type).value) or pairs.get("*", "emergency_sos")
