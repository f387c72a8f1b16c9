"""What the IVR's channel variables (HOTLINE_*) say about a call, read as the call's fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def small_int(value: str) -> int | None:
    """A channel variable as an id or a priority, or None when it is no integer a column holds."""
    digits = value[1:] if value[:1] == "-" else value
    if not digits.isdigit() or len(digits) > 9:
        return None
    return int(value)


def named_elder(value: str) -> int | None:
    """The elder a HOTLINE_ELDER_ID names, or None when it names none."""
    elder_id = small_int(value.strip())
    return elder_id if elder_id is not None and elder_id > 0 else None


def variable_changes(variables: Mapping[str, str]) -> dict[str, Any]:
    """The call fields the IVR's HOTLINE_* variables set, in order (a value no column can hold
    sets nothing)."""
    out: dict[str, Any] = {}
    for name, value in variables.items():
        value = value.strip()
        if name == "HOTLINE_ELDER_ID":
            elder_id = named_elder(value)
            if elder_id is not None:
                out["elder_id"] = elder_id
        elif name == "HOTLINE_INTENT":
            out["intent"] = value[:40] or None
        elif name == "HOTLINE_PRIORITY":
            priority = small_int(value)
            if priority is not None:
                out["priority"] = priority
        elif name == "HOTLINE_QUEUE":
            out["requested_queue"] = value[:64] or None
        elif name == "HOTLINE_RECALL_ID":
            recall_id = small_int(value)
            if recall_id is not None and recall_id > 0:
                out["recall_id"] = recall_id
        elif name == "QUEUESTATUS":
            out["queue_status"] = value[:20] or None
        elif name == "HOTLINE_AFTER_HOURS" and value in ("1", "yes", "true"):
            out["queue_status"] = "AFTER_HOURS"
        elif name == "HOTLINE_IVR_SESSION" and value:
            out["ivr_ran"] = True
    return out


def inbound_context_names(setting: str) -> set[str]:
    """The 12349 inbound dialplan contexts a comma-separated setting names."""
    return {c.strip() for c in setting.split(",") if c.strip()}
