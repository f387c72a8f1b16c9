"""heartbeat history: when each hour's row was last written, so the warehouse reads the hours
that changed (a device's late batch writes an hour long past)

Revision ID: 0025_heartbeat_recorded_at
Revises: 0024_online_chats
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0025_heartbeat_recorded_at"
down_revision: str | Sequence[str] | None = "0024_online_chats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("device_heartbeat_hours") as batch:
        # rows written before this revision count as written at their newest beat
        batch.add_column(sa.Column("recorded_at", UTC, nullable=True))
    op.execute("UPDATE device_heartbeat_hours SET recorded_at = last_at")
    with op.batch_alter_table("device_heartbeat_hours") as batch:
        batch.alter_column("recorded_at", existing_type=UTC, nullable=False)
        batch.create_index(
            op.f("ix_device_heartbeat_hours_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_heartbeat_hours") as batch:
        batch.drop_index(op.f("ix_device_heartbeat_hours_recorded_at"))
        batch.drop_column("recorded_at")
