"""device heartbeat and battery history, one row per device and hour

Revision ID: 0021_heartbeat_history
Revises: 0020_order_opener
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0021_heartbeat_history"
down_revision: str | Sequence[str] | None = "0020_order_opener"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_heartbeat_hours",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("hour_start", UTC, nullable=False),
        sa.Column("beats", sa.Integer(), nullable=False),
        sa.Column("first_at", UTC, nullable=False),
        sa.Column("last_at", UTC, nullable=False),
        sa.Column("battery_min", sa.Integer(), nullable=True),
        sa.Column("battery_max", sa.Integer(), nullable=True),
        sa.Column("battery_last", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_heartbeat_hours_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "hour_start", name=op.f("pk_device_heartbeat_hours")),
    )
    with op.batch_alter_table("device_heartbeat_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_heartbeat_hours_hour_start"), ["hour_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_heartbeat_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_heartbeat_hours_hour_start"))
    op.drop_table("device_heartbeat_hours")
