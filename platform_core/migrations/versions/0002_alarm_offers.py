"""alarm queue reservations; the emergency order's dispatch issue on the alarm

Revision ID: 0002_alarm_offers
Revises: 0001_baseline
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0002_alarm_offers"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status = 'offered'")


def upgrade() -> None:
    op.create_table(
        "alarm_offers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(length=80), nullable=False),
        sa.Column("agent_name", sa.String(length=64), nullable=False),
        sa.Column("offered_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ended_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.String(length=64), nullable=True),
        sa.Column("desk_paused_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("desk_released_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_offers_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_offers")),
    )
    with op.batch_alter_table("alarm_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_offers_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(
            "ix_alarm_offers_status_expires", ["status", "expires_at"], unique=False
        )
        batch_op.create_index("ix_alarm_offers_user_ended", ["user_id", "ended_at"], unique=False)
        batch_op.create_index(
            "uq_alarm_offers_open_alarm",
            ["alarm_id"],
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )
        batch_op.create_index(
            "uq_alarm_offers_open_user",
            ["user_id"],
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatch_issue", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "dispatch_issue_at", platform_core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("dispatch_issue_detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("dispatch_issue_detail")
        batch_op.drop_column("dispatch_issue_at")
        batch_op.drop_column("dispatch_issue")
    with op.batch_alter_table("alarm_offers", schema=None) as batch_op:
        batch_op.drop_index("uq_alarm_offers_open_user")
        batch_op.drop_index("uq_alarm_offers_open_alarm")
        batch_op.drop_index("ix_alarm_offers_user_ended")
        batch_op.drop_index("ix_alarm_offers_status_expires")
        batch_op.drop_index(batch_op.f("ix_alarm_offers_alarm_id"))
    op.drop_table("alarm_offers")
