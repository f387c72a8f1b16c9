"""service orders: an index on (elder, opened) for an elder's orders of a month (the subsidy used
so far, read at every opening and every care status)

Revision ID: 0026_orders_elder_month
Revises: 0025_heartbeat_recorded_at
Create Date: 2026-12-08 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_orders_elder_month"
down_revision: str | Sequence[str] | None = "0025_heartbeat_recorded_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_orders") as batch:
        batch.create_index(
            "ix_service_orders_elder_opened", ["elder_id", "opened_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_orders") as batch:
        batch.drop_index("ix_service_orders_elder_opened")
