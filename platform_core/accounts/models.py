from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import CHANNEL_ID, Base, utcnow


class User(Base):
    """A person who signs in: agent, supervisor, administrator, provider staff or officer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    # The user sees this region and everything below it (a prefix of the 12-digit code).
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    # The queue member interface of the agent's phone ("PJSIP/8001"): maps telephony events
    # about a member to the person signed in to the console.
    sip_interface: Mapped[str | None] = mapped_column(String(80), unique=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # a practitioner's own login: the provider_staff row it belongs to
    staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set by an administrator's reset: the next login must choose a new password first
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # second factor (TOTP, RFC 6238): the secret sealed with the data key, when it was
    # confirmed, and the last time step used (a code is accepted once)
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sessions: Mapped[list[LoginSession]] = relationship(back_populates="user", lazy="raise")


class LoginSession(Base):
    """One signed-in browser. The cookie carries a random token; only its hash is stored, so a
    copy of the database cannot be replayed as a login."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))  # logout, idle, disabled, password
    source_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # a step the login still owes before it grants anything: "totp_enroll", "totp",
    # "password_change" (None: complete)
    pending_step: Mapped[str | None] = mapped_column(String(20))
    ended_by: Mapped[int | None]  # who ended it when it was not its owner's logout

    user: Mapped[User] = relationship(back_populates="sessions", lazy="joined")


class RecoveryCode(Base):
    """One-time codes that stand in for the authenticator app (lost phone); only a keyed hash
    of each is stored."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class WrapUp(Base):
    """After-call work an agent must close with a disposition before taking the next call."""

    __tablename__ = "agent_wrapups"
    __table_args__ = (UniqueConstraint("user_id", "linkedid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linkedid: Mapped[str] = mapped_column(String(CHANNEL_ID))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    disposition: Mapped[str | None] = mapped_column(String(30))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    completed_at: Mapped[datetime | None]
