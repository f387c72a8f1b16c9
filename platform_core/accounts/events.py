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


@dataclass(frozen=True)
class WrapUpOpened(DomainEvent):
    """An agent owes a call's disposition before the next call (the desk is paused meanwhile)."""

    user_id: int
    linkedid: str
    agent_interface: str
    region_code: str
