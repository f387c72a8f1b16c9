"""registries: import batches (the uploaded Excel file, its rows' problems, progress)

Revision ID: 0009_registry_imports
Revises: 0008_care_budgets
Create Date: 2026-12-06 22:31:50.680087
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0009_registry_imports"
down_revision: str | Sequence[str] | None = "0008_care_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("source_department", sa.String(length=60), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("new_rows", sa.Integer(), nullable=False),
        sa.Column("unchanged_rows", sa.Integer(), nullable=False),
        sa.Column("bad_rows", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_by_role", sa.String(length=20), nullable=True),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_imports")),
    )
    with op.batch_alter_table("registry_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_imports_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_registry_imports_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registry_imports_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_imports_status"))
        batch_op.drop_index(batch_op.f("ix_registry_imports_region_code"))
        batch_op.drop_index(batch_op.f("ix_registry_imports_kind"))

    op.drop_table("registry_imports")
