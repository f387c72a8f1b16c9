"""meal aid: a six-digit code per booking, looked up at the point's counter

Revision ID: 0012_meal_booking_codes
Revises: 0011_warehouse_change_indexes
Create Date: 2026-12-08 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_meal_booking_codes"
down_revision: str | Sequence[str] | None = "0011_warehouse_change_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meal_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=6), nullable=True))
        batch_op.create_index(
            "ix_meal_bookings_point_day_code", ["meal_point_id", "served_on", "code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meal_bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_bookings_point_day_code")
        batch_op.drop_column("code")
