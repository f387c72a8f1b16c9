"""the account that opened a service order (its steps reach that agent's screen)

Revision ID: 0020_order_opener
Revises: 0019_staff_records
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_order_opener"
down_revision: str | Sequence[str] | None = "0019_staff_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_orders") as batch:
        batch.add_column(sa.Column("opened_by_user_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_service_orders_opened_by_user",
        "service_orders",
        ["opened_by_user_id", "opened_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_service_orders_opened_by_user", table_name="service_orders")
    with op.batch_alter_table("service_orders") as batch:
        batch.drop_column("opened_by_user_id")
