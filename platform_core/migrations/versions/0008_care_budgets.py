"""care budgets: each programme's budget per 盟市 and year, and its warning share

Revision ID: 0008_care_budgets
Revises: 0007_audit_protection
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0008_care_budgets"
down_revision: str | Sequence[str] | None = "0007_audit_protection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=20), nullable=False),
        sa.Column("league_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("warn_share", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("warned_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["league_code"], ["regions.code"], name=op.f("fk_care_budgets_league_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_budgets")),
        sa.UniqueConstraint(
            "programme",
            "league_code",
            "year",
            name=op.f("uq_care_budgets_programme_league_code_year"),
        ),
    )
    with op.batch_alter_table("care_budgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_budgets_league_code"), ["league_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("care_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_budgets_league_code"))
    op.drop_table("care_budgets")
