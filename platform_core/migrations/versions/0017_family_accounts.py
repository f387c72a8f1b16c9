"""the family (用户端): family members' own logins, their links to elders, invitations by text;
a practitioner's own login (users.staff_id)

Revision ID: 0017_family_accounts
Revises: 0016_outbox
Create Date: 2026-12-06 23:31:01.723590
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0017_family_accounts"
down_revision: str | Sequence[str] | None = "0016_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "family_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_family_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_members")),
        sa.UniqueConstraint("phone", name=op.f("uq_family_members_phone")),
        sa.UniqueConstraint("user_id", name=op.f("uq_family_members_user_id")),
    )
    op.create_table(
        "family_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_index", sa.String(length=64), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.String(length=80), nullable=False),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("used_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_family_invitations_elder_id_elders")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["family_members.id"],
            name=op.f("fk_family_invitations_member_id_family_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_invitations")),
        sa.UniqueConstraint("code_index", name=op.f("uq_family_invitations_code_index")),
    )
    with op.batch_alter_table("family_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_invitations_elder_id"), ["elder_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_family_invitations_phone"), ["phone"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_family_invitations_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "family_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=80), nullable=True),
        sa.Column("revoke_reason", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_family_links_elder_id_elders")
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["family_invitations.id"],
            name=op.f("fk_family_links_invitation_id_family_invitations"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["family_members.id"],
            name=op.f("fk_family_links_member_id_family_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_links")),
        sa.UniqueConstraint(
            "member_id", "elder_id", name=op.f("uq_family_links_member_id_elder_id")
        ),
    )
    with op.batch_alter_table("family_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_links_elder_id"), ["elder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_family_links_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_family_links_region_code"), ["region_code"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_staff_id"))
        batch_op.drop_column("staff_id")

    with op.batch_alter_table("family_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_links_region_code"))
        batch_op.drop_index(batch_op.f("ix_family_links_member_id"))
        batch_op.drop_index(batch_op.f("ix_family_links_elder_id"))

    op.drop_table("family_links")
    with op.batch_alter_table("family_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_invitations_region_code"))
        batch_op.drop_index(batch_op.f("ix_family_invitations_phone"))
        batch_op.drop_index(batch_op.f("ix_family_invitations_elder_id"))

    op.drop_table("family_invitations")
    op.drop_table("family_members")
