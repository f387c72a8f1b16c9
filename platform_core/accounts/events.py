from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class LoginSessionEnded(DomainEvent):
    """A login ended (logout, idle, disabled account, new password): its live connections close."""

    session_id: str
    user_id: int
    reason: str
    region_code: str
