from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import CHANNEL_ID, Base, utcnow


class IvrSession(Base):
    """One run of an IVR flow on one channel: who called, which path they took, how it ended.

    Written when the flow starts and closed when it ends, so a caller who hangs up mid-flow
    leaves a record with ``outcome="hung_up"`` and the steps they heard.
    """

    __tablename__ = "ivr_sessions"
    __table_args__ = (UniqueConstraint("uniqueid", "script"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(CHANNEL_ID))
    linkedid: Mapped[str] = mapped_column(String(CHANNEL_ID), index=True)
    channel: Mapped[str] = mapped_column(String(128))
    script: Mapped[str] = mapped_column(String(64))  # the FastAGI path (agi://ivr/<script>)
    flow_name: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[str | None] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    dnid: Mapped[str] = mapped_column(String(32), default="")
    region_code: Mapped[str] = mapped_column(String(12))

    elder_id: Mapped[int | None] = mapped_column(index=True)
    caller_kind: Mapped[str] = mapped_column(
        String(12), default="unknown"
    )  # elder/device/family/ambiguous/unknown
    language: Mapped[str] = mapped_column(String(2), default="zh")
    # the caller chose the language in this session (not taken from the profile)
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    intent: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int | None]
    queue: Mapped[str | None] = mapped_column(String(64))
    draft_order_id: Mapped[int | None]

    # running -> handed_off (back to the dialplan for a person) | completed (the flow hung up
    # after finishing, e.g. a call back was booked) | hung_up (the caller left) | lost (the
    # connection to Asterisk broke) | failed (a fault in the flow; the caller was sent to a person)
    outcome: Mapped[str] = mapped_column(String(12), default="running", index=True)
    path: Mapped[list[str]] = mapped_column(JSON, default=list)
    prompt_failures: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    commands: Mapped[int] = mapped_column(default=0)

    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # the recall item (platform_core.calls) that keeps the caller's place in line
    recall_id: Mapped[int | None]

    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(index=True)


class SatisfactionSurvey(Base):
    """The caller's rating (1-5) of a call, against the call (linkedid) and the agent."""

    __tablename__ = "satisfaction_surveys"
    __table_args__ = (Index("ix_satisfaction_surveys_agent", "agent_interface", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(CHANNEL_ID), unique=True)
    uniqueid: Mapped[str] = mapped_column(String(CHANNEL_ID))
    agent_interface: Mapped[str] = mapped_column(String(64), default="")
    agent_name: Mapped[str] = mapped_column(String(64), default="")
    elder_id: Mapped[int | None] = mapped_column(index=True)
    score: Mapped[int]
    region_code: Mapped[str] = mapped_column(String(12))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
