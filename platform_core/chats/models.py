"""The online channel (网络受理, 在线客服): a conversation a family member opens from their phone
page about an elder they follow, its messages, and the reservations that offer a waiting
conversation to one ready agent at a time.

A conversation belongs to the elder's record and region: every agent of the region may be
offered it, the agent who takes it answers it, and it stays on the elder's record after it
closes. Message texts and positions are sealed (precise location and what families write
about an elder's health are personal information); photos are kept under the data directory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow

_BIGID = BigInteger().with_variant(Integer(), "sqlite")
_OPEN_OFFER = text("status = 'offered'")


class Chat(Base):
    """One conversation: ``waiting`` for an agent, ``handling`` by the agent who took it, then
    ``closed`` by that agent, or ``abandoned`` (the sender withdrew it before anyone answered)."""

    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_status_opened", "status", "opened_at"),
        Index("ix_chats_region_opened", "region_code", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    # the family member who wrote (their login and their relation to the elder when they did)
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sender_name: Mapped[str] = mapped_column(String(64))
    sender_relation: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_at: Mapped[datetime | None]
    handler_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    handler_name: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(255), default="")
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatMessage(Base):
    """A message of a conversation: from the sender or the agent (``author``), with a sealed
    text, an optional photo and, from the sender, an optional sealed position."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(10))  # sender, agent
    author_user_id: Mapped[int | None]
    author_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    text_sealed: Mapped[str | None] = mapped_column(String)
    position_sealed: Mapped[str | None] = mapped_column(String)
    photo_path: Mapped[str | None] = mapped_column(String(255))
    photo_type: Mapped[str | None] = mapped_column(String(20))
    photo_size: Mapped[int | None]
    photo_sha256: Mapped[str | None] = mapped_column(String(64))


class ChatOffer(Base):
    """One reservation of a waiting conversation for one ready agent (as the alarm queue's):
    at most one open per conversation and one per agent, held by partial unique indexes.
    It ends ``taken``, ``lapsed`` (not taken in time: the next ready agent is offered it) or
    ``withdrawn`` (a colleague took it, or the sender withdrew it)."""

    __tablename__ = "chat_offers"
    __table_args__ = (
        Index(
            "uq_chat_offers_open_chat",
            "chat_id",
            unique=True,
            postgresql_where=_OPEN_OFFER,
            sqlite_where=_OPEN_OFFER,
        ),
        Index(
            "uq_chat_offers_open_user",
            "user_id",
            unique=True,
            postgresql_where=_OPEN_OFFER,
            sqlite_where=_OPEN_OFFER,
        ),
        Index("ix_chat_offers_status_expires", "status", "expires_at"),
        Index("ix_chat_offers_user_ended", "user_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int]
    agent_name: Mapped[str] = mapped_column(String(64), default="")
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="offered")
    ended_at: Mapped[datetime | None]
