"""orders after service: complaints followed to their reply, the IVR's survey calls of orders

Revision ID: 0014_order_complaints_surveys
Revises: 0013_service_sites
Create Date: 2026-12-08 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0014_order_complaints_surveys"
down_revision: str | Sequence[str] | None = "0013_service_sites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("complainant", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("handling", sa.Text(), nullable=False),
        sa.Column("handled_by", sa.String(length=80), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("upheld", sa.Boolean(), nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("reply_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["service_orders.id"],
            name=op.f("fk_order_complaints_order_id_service_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_order_complaints_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_complaints")),
    )
    with op.batch_alter_table("order_complaints", schema=None) as batch_op:
        for column in ("order_id", "region_code", "provider_id", "status", "opened_at"):
            batch_op.create_index(
                batch_op.f(f"ix_order_complaints_{column}"), [column], unique=False
            )
    op.create_table(
        "order_survey_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("command_key", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=150), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=80), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["service_orders.id"],
            name=op.f("fk_order_survey_calls_order_id_service_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_survey_calls")),
        sa.UniqueConstraint("command_key", name=op.f("uq_order_survey_calls_command_key")),
    )
    with op.batch_alter_table("order_survey_calls", schema=None) as batch_op:
        for column in ("order_id", "region_code"):
            batch_op.create_index(
                batch_op.f(f"ix_order_survey_calls_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("order_survey_calls", schema=None) as batch_op:
        for column in ("order_id", "region_code"):
            batch_op.drop_index(batch_op.f(f"ix_order_survey_calls_{column}"))
    op.drop_table("order_survey_calls")
    with op.batch_alter_table("order_complaints", schema=None) as batch_op:
        for column in ("order_id", "region_code", "provider_id", "status", "opened_at"):
            batch_op.drop_index(batch_op.f(f"ix_order_complaints_{column}"))
    op.drop_table("order_complaints")
