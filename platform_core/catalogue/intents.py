"""The service a caller asked for in the IVR, as a service type of the catalogue: the screen
pop's order form starts from it (``HOTLINE_INTENT_SERVICE_TYPES``: intent=service type code).
An intent with no type (``person``: the caller pressed 0) leaves the choice to the agent; a
service chosen in the IVR's menu left a draft order on the call, whose type wins over the intent.
"""

from __future__ import annotations

from typing import Any

from platform_core.settings import Settings

# Intents whose order starts as an emergency.
EMERGENCY_INTENTS = frozenset({"sos", "emergency"})


def intent_service_types(settings: Settings) -> dict[str, str]:
    """``HOTLINE_INTENT_SERVICE_TYPES`` as a mapping of intent to service type code."""
    table: dict[str, str] = {}
    for part in settings.intent_service_types.split(","):
        intent, sep, code = part.partition("=")
        if sep and intent.strip() and code.strip():
            table[intent.strip()] = code.strip()
    return table


def order_presets(settings: Settings) -> dict[str, Any]:
    """What the order form starts from for each IVR intent: a service type and an urgency."""
    return {"service_types": intent_service_types(settings), "emergency": sorted(EMERGENCY_INTENTS)}
