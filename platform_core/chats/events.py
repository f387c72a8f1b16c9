"""Past-tense events of the online channel. They carry ids, never what was written: a screen
told of a message reads the conversation again through its guarded endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class ChatOpened(DomainEvent):
    chat_id: int
    region_code: str
    elder_id: int
    sender_user_id: int
    opened_at: str


@dataclass(frozen=True)
class ChatMessagePosted(DomainEvent):
    chat_id: int
    message_id: int
    region_code: str
    author: str  # sender, agent
    sender_user_id: int
    handler_user_id: int | None


@dataclass(frozen=True)
class ChatOffered(DomainEvent):
    chat_id: int
    offer_id: int
    region_code: str
    user_id: int
    agent_name: str
    opened_at: str
    expires_at: str


@dataclass(frozen=True)
class ChatOfferEnded(DomainEvent):
    chat_id: int
    offer_id: int
    region_code: str
    user_id: int
    outcome: str  # taken, lapsed, withdrawn


@dataclass(frozen=True)
class ChatTaken(DomainEvent):
    chat_id: int
    region_code: str
    elder_id: int
    sender_user_id: int
    handler_user_id: int
    waited_s: float


@dataclass(frozen=True)
class ChatEnded(DomainEvent):
    chat_id: int
    region_code: str
    sender_user_id: int
    handler_user_id: int | None
    status: str  # closed, abandoned
