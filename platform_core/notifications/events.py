"""Past-tense events of the SMS outbox."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class SmsFailed(DomainEvent):
    """A message could not be delivered after its attempts: someone has to phone instead."""

    message_id: int
    region_code: str
    ref_type: str
    ref_id: str
    template: str
    error_code: str | None
