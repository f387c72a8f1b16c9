"""Past-tense events of dispatch (the order's own steps publish OrderDispatched and the rest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class DispatchStalled(DomainEvent):
    """No provider could take the order: a supervisor alert; dispatch tries again later."""

    order_id: int
    order_no: str
    region_code: str
    service_type_code: str
    urgency: str
    attempt: int
    excluded: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DispatchOverridden(DomainEvent):
    """Hotline staff sent the order to a provider of their choosing."""

    order_id: int
    order_no: str
    region_code: str
    provider_id: int
    previous_provider_id: int | None
    auto_choice_id: int | None
    reason: str
    by: str
