"""Call records, queue entries, agent offers, agent state, recall items.

A call is keyed by Asterisk's ``Linkedid`` (every channel of one call shares it), a queue entry
is one stay of the caller in one queue, an offer is one ringing of one agent's phone (keyed by
the agent leg's ``Uniqueid``). Natural keys make every handler idempotent: the same AMI stream
applied twice finds its rows and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import CHANNEL_ID, Base, utcnow

_BIGID = BigInteger().with_variant(Integer(), "sqlite")


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_caller_open", "caller_number", "ended_at"),)

    linkedid: Mapped[str] = mapped_column(String(CHANNEL_ID), primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(CHANNEL_ID), index=True)  # the caller's channel
    channel: Mapped[str] = mapped_column(String(128), default="")
    direction: Mapped[str] = mapped_column(String(10), default="inbound")  # inbound, outbound
    caller_number: Mapped[str] = mapped_column(String(40), default="")
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    elder_id: Mapped[int | None] = mapped_column(index=True)
    is_device: Mapped[bool] = mapped_column(default=False)
    identified: Mapped[bool] = mapped_column(default=False)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    intent: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(default=0)
    requested_queue: Mapped[str | None] = mapped_column(String(64))
    queue_status: Mapped[str | None] = mapped_column(String(20))  # QUEUESTATUS after Queue()
    recall_id: Mapped[int | None] = mapped_column(index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Offered = entered a hotline queue (DOMAIN.md 8): the first QueueCallerJoin.
    queued_at: Mapped[datetime | None] = mapped_column(index=True)
    first_queue: Mapped[str | None] = mapped_column(String(64), index=True)
    answered_at: Mapped[datetime | None]
    answered_queue: Mapped[str | None] = mapped_column(String(64))
    agent_interface: Mapped[str | None] = mapped_column(String(80), index=True)
    member_name: Mapped[str | None] = mapped_column(String(80))
    wait_s: Mapped[float | None]
    talk_s: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(12), index=True)
    transferred: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None]
    closed_by_resync: Mapped[bool] = mapped_column(default=False)
    recall_opened: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    entries: Mapped[list[QueueEntry]] = relationship(
        order_by="QueueEntry.seq", cascade="all, delete-orphan", passive_deletes=True
    )
    offers: Mapped[list[AgentOffer]] = relationship(
        order_by="AgentOffer.id", cascade="all, delete-orphan", passive_deletes=True
    )


class QueueEntry(Base):
    """One stay of a caller in one queue (a transfer or overflow makes another)."""

    __tablename__ = "call_queue_entries"
    __table_args__ = (
        UniqueConstraint("linkedid", "seq"),
        Index("ix_call_queue_entries_waiting", "queue", "left_at"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    linkedid: Mapped[str] = mapped_column(
        ForeignKey("calls.linkedid", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    uniqueid: Mapped[str] = mapped_column(String(CHANNEL_ID))
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    joined_at: Mapped[datetime] = mapped_column(index=True)
    left_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(
        String(12)
    )  # answered, abandoned, timeout, transferred
    wait_s: Mapped[float | None]
    abandon_position: Mapped[int | None]
    agent_interface: Mapped[str | None] = mapped_column(String(80))


class AgentOffer(Base):
    """One ringing of one agent's phone for one call (AgentCalled ... its end)."""

    __tablename__ = "call_agent_offers"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    dest_uniqueid: Mapped[str] = mapped_column(String(CHANNEL_ID), unique=True)
    linkedid: Mapped[str] = mapped_column(
        ForeignKey("calls.linkedid", ondelete="CASCADE"), index=True
    )
    queue: Mapped[str] = mapped_column(String(64))
    interface: Mapped[str] = mapped_column(String(80), index=True)
    member_name: Mapped[str] = mapped_column(String(80), default="")
    dest_channel: Mapped[str] = mapped_column(String(128), default="")
    offered_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(
        String(12)
    )  # ringing, no_answer, cancelled, connected, completed
    ring_ms: Mapped[int | None]
    connected_at: Mapped[datetime | None]
    hold_s: Mapped[int | None]
    talk_s: Mapped[int | None]
    complete_reason: Mapped[str | None] = mapped_column(String(12))  # caller, agent, transfer
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    wrapup_s: Mapped[float | None]


class TelephonyQueue(Base):
    __tablename__ = "telephony_queues"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy: Mapped[str | None] = mapped_column(String(20))
    weight: Mapped[int] = mapped_column(default=0)
    service_level_s: Mapped[int | None]
    waiting: Mapped[int] = mapped_column(default=0)
    oldest_joined_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Agent(Base):
    """An agent's desk as the queues see it, identified by its member interface."""

    __tablename__ = "telephony_agents"

    interface: Mapped[str] = mapped_column(String(80), primary_key=True)
    member_name: Mapped[str] = mapped_column(String(80), default="")
    state: Mapped[str] = mapped_column(String(12), default="logged_out")
    reason: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(default=utcnow)
    device_status: Mapped[int] = mapped_column(default=0)
    ringing_uniqueid: Mapped[str | None] = mapped_column(String(CHANNEL_ID))
    linkedid: Mapped[str | None] = mapped_column(String(CHANNEL_ID))  # the call on the line
    wrapup_until: Mapped[datetime | None] = mapped_column(index=True)
    # Time of the newest member event applied: an older one (a replayed stream) is stale.
    member_event_at: Mapped[datetime | None]
    region_code: Mapped[str | None] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[AgentMembership]] = relationship(
        order_by="AgentMembership.queue", cascade="all, delete-orphan", passive_deletes=True
    )


class AgentMembership(Base):
    __tablename__ = "telephony_agent_queues"

    interface: Mapped[str] = mapped_column(
        ForeignKey("telephony_agents.interface", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str] = mapped_column(String(40), default="")
    penalty: Mapped[int] = mapped_column(default=0)
    status: Mapped[int] = mapped_column(default=0)
    in_call: Mapped[bool] = mapped_column(default=False)
    calls_taken: Mapped[int] = mapped_column(default=0)
    membership: Mapped[str] = mapped_column(String(10), default="dynamic")
    login_time: Mapped[int] = mapped_column(default=0)


class AgentStateSpan(Base):
    """An agent entered ``state`` at ``started_at``; it lasts until the agent's next span.
    Insert-only (the end is the next start), so state changes cost one INSERT each."""

    __tablename__ = "telephony_agent_spans"
    __table_args__ = (Index("ix_telephony_agent_spans_agent", "interface", "started_at"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    interface: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(index=True)


class RecallItem(Base):
    """A lost call that someone must still get through to (呼损 -> 回拨)."""

    __tablename__ = "recall_items"
    __table_args__ = (Index("ix_recall_items_open_number", "status", "number"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    origin_linkedid: Mapped[str] = mapped_column(String(CHANNEL_ID), unique=True)
    elder_id: Mapped[int | None] = mapped_column(index=True)
    number: Mapped[str] = mapped_column(String(40))
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(
        String(20)
    )  # abandoned, timeout, no_agent, after_hours, callback_requested
    wait_s: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open, closed
    opened_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(
        String(20)
    )  # reached_inbound, reached_callback, cancelled
    closed_by_linkedid: Mapped[str | None] = mapped_column(String(CHANNEL_ID))
    closed_by: Mapped[str | None] = mapped_column(String(64))


class RecallAttempt(Base):
    __tablename__ = "recall_attempts"
    __table_args__ = (UniqueConstraint("recall_id", "attempt_key"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    recall_id: Mapped[int] = mapped_column(
        ForeignKey("recall_items.id", ondelete="CASCADE"), index=True
    )
    attempt_key: Mapped[str] = mapped_column(
        String(80)
    )  # linkedid of the call back, or a command key
    at: Mapped[datetime]
    result: Mapped[str] = mapped_column(
        String(20)
    )  # reached, no_answer, busy, failed, agent_no_answer
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[int | None]
