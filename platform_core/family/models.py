"""The family (用户端): an elder's family member with a login of their own, the elders they were
invited for, and the invitations that opened that access.

A family member sees only the elders they are linked to; a link is made only by accepting an
invitation an agent or officer sent by text message to the member's mobile, and is ended by the
hotline (or by the member) without deleting what happened while it lasted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow


class FamilyMember(Base):
    """A person with a family login; one per mobile number, whatever elders they follow."""

    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # canonical mobile digits: the invitation went there, the login names it
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    links: Mapped[list[FamilyLink]] = relationship(
        back_populates="member", order_by="FamilyLink.id", lazy="selectin"
    )


class FamilyLink(Base):
    """A family member may see one elder (while ``revoked_at`` is empty)."""

    __tablename__ = "family_links"
    __table_args__ = (UniqueConstraint("member_id", "elder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("family_members.id", ondelete="CASCADE"), index=True
    )
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    # the elder's region when linked: who may end the link
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # 儿子, 女儿, 配偶, 监护人 ...
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("family_invitations.id"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    revoke_reason: Mapped[str] = mapped_column(String(255), default="")

    member: Mapped[FamilyMember] = relationship(back_populates="links")


class FamilyInvitation(Base):
    """An invitation texted to a family member's mobile: a code that works once, until it
    expires. Only a keyed hash of the code is kept."""

    __tablename__ = "family_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    code_index: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    invited_by: Mapped[str] = mapped_column(String(80))
    invited_by_user_id: Mapped[int | None]
    message_id: Mapped[int | None]
    used_at: Mapped[datetime | None]
    member_id: Mapped[int | None] = mapped_column(ForeignKey("family_members.id"))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(80))
