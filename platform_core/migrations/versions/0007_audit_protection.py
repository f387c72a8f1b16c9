"""audit trail: anchors for the retention job, and the database refuses edits and deletes

Revision ID: 0007_audit_protection
Revises: 0006_channel_ids_150
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db
from platform_core.audit.protection import CREATE, DROP

revision: str = "0007_audit_protection"
down_revision: str | Sequence[str] | None = "0006_channel_ids_150"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "chain_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("removed_before", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_anchors")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
    op.drop_table("audit_chain_anchors")
