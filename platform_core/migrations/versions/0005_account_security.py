"""accounts: forced password change, second factor (TOTP) and recovery codes; login steps

Revision ID: 0005_account_security
Revises: 0004_wrapup_once_per_call
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0005_account_security"
down_revision: str | Sequence[str] | None = "0004_wrapup_once_per_call"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # the default stays in the database: processes of the previous release, still running
        # during a rolling upgrade, insert users without this column
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("totp_secret_sealed", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enabled_at", platform_core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_step", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ended_by", sa.Integer(), nullable=True))
    op.create_table(
        "user_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_recovery_codes")),
    )
    with op.batch_alter_table("user_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_recovery_codes_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("user_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_recovery_codes_user_id"))
    op.drop_table("user_recovery_codes")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_column("ended_by")
        batch_op.drop_column("pending_step")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret_sealed")
        batch_op.drop_column("must_change_password")
