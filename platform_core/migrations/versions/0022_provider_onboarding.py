"""provider onboarding: licences with expiry, service agreements, agreed prices of the services
offered, and every status change with its reason

Revision ID: 0022_provider_onboarding
Revises: 0021_heartbeat_history
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0022_provider_onboarding"
down_revision: str | Sequence[str] | None = "0021_heartbeat_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)


def _owned_by_provider(table: str, *columns: sa.Column) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f(f"fk_{table}_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_provider_id"), ["provider_id"], unique=False)


def upgrade() -> None:
    _owned_by_provider(
        "provider_agreements",
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    _owned_by_provider(
        "provider_licences",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    with op.batch_alter_table("provider_licences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_licences_valid_until"), ["valid_until"], unique=False
        )
    _owned_by_provider(
        "provider_status_changes",
        sa.Column("from_status", sa.String(length=12), nullable=False),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("at", UTC, nullable=False),
    )
    with op.batch_alter_table("provider_offerings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agreed_price", sa.Numeric(precision=10, scale=2), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_offerings", schema=None) as batch_op:
        batch_op.drop_column("agreed_price")
    with op.batch_alter_table("provider_licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_licences_valid_until"))
    for table in ("provider_status_changes", "provider_licences", "provider_agreements"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_provider_id"))
        op.drop_table(table)
