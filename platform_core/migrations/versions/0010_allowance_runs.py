"""government purchase: the monthly allowance run and its progress

Revision ID: 0010_allowance_runs
Revises: 0009_registry_imports
Create Date: 2026-12-08 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0010_allowance_runs"
down_revision: str | Sequence[str] | None = "0009_registry_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "allowance_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("charged", sa.Integer(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.Column("cursor_elder_id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allowance_runs")),
    )
    with op.batch_alter_table("allowance_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allowance_runs_region_code"), ["region_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("allowance_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allowance_runs_region_code"))
    op.drop_table("allowance_runs")
