"""data exchange: departments' keys, batches with every row's result, medical insurance status,
exports sent upward and exports received

Revision ID: 0023_data_exchange
Revises: 0022_provider_onboarding
Create Date: 2026-12-07 00:46:04.836554
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0023_data_exchange"
down_revision: str | Sequence[str] | None = "0022_provider_onboarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "exchange_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("accepted_rows", sa.Integer(), nullable=False),
        sa.Column("repeated_rows", sa.Integer(), nullable=False),
        sa.Column("refused_rows", sa.Integer(), nullable=False),
        sa.Column("unknown_rows", sa.Integer(), nullable=False),
        sa.Column("received_by", sa.String(length=80), nullable=False),
        sa.Column("received_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_batches")),
        sa.UniqueConstraint(
            "department", "batch_no", name=op.f("uq_exchange_batches_department_batch_no")
        ),
    )
    with op.batch_alter_table("exchange_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_batches_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_exchange_batches_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_batches_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "exchange_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.String(length=10), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("target_url", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("acknowledged_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_exports")),
        sa.UniqueConstraint("batch_no", name=op.f("uq_exchange_exports_batch_no")),
    )
    with op.batch_alter_table("exchange_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_exports_status"), ["status"], unique=False)

    op.create_table(
        "exchange_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("party", sa.String(length=30), nullable=False),
        sa.Column("party_name", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("cipher", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("revoked_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_exchange_keys_key_id")),
    )
    with op.batch_alter_table("exchange_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_keys_party"), ["party"], unique=False)

    op.create_table(
        "exchange_received",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_region", sa.String(length=12), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.String(length=10), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt_no", sa.String(length=40), nullable=False),
        sa.Column("received_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_received")),
        sa.UniqueConstraint("receipt_no", name=op.f("uq_exchange_received_receipt_no")),
        sa.UniqueConstraint(
            "sender_region", "batch_no", name=op.f("uq_exchange_received_sender_region_batch_no")
        ),
    )
    op.create_table(
        "exchange_export_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=True),
        sa.Column("received_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["exchange_exports.id"],
            name=op.f("fk_exchange_export_files_export_id_exchange_exports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["received_id"],
            ["exchange_received.id"],
            name=op.f("fk_exchange_export_files_received_id_exchange_received"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_export_files")),
    )
    with op.batch_alter_table("exchange_export_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_export_files_export_id"), ["export_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_export_files_received_id"), ["received_id"], unique=False
        )

    op.create_table(
        "elder_medical_insurance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["exchange_batches.id"],
            name=op.f("fk_elder_medical_insurance_batch_id_exchange_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_elder_medical_insurance_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_medical_insurance")),
        sa.UniqueConstraint("elder_id", name=op.f("uq_elder_medical_insurance_elder_id")),
    )
    op.create_table(
        "exchange_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["exchange_batches.id"],
            name=op.f("fk_exchange_rows_batch_id_exchange_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_exchange_rows_elder_id_elders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rows")),
        sa.UniqueConstraint("batch_id", "row_no", name=op.f("uq_exchange_rows_batch_id_row_no")),
    )
    with op.batch_alter_table("exchange_rows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_rows_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_rows_elder_id"), ["elder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_rows_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_rows_row_key"), ["row_key"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("exchange_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_rows_row_key"))
        batch_op.drop_index(batch_op.f("ix_exchange_rows_outcome"))
        batch_op.drop_index(batch_op.f("ix_exchange_rows_elder_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_rows_batch_id"))

    op.drop_table("exchange_rows")
    op.drop_table("elder_medical_insurance")
    with op.batch_alter_table("exchange_export_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_export_files_received_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_export_files_export_id"))

    op.drop_table("exchange_export_files")
    op.drop_table("exchange_received")
    with op.batch_alter_table("exchange_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_keys_party"))

    op.drop_table("exchange_keys")
    with op.batch_alter_table("exchange_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_exports_status"))

    op.drop_table("exchange_exports")
    with op.batch_alter_table("exchange_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_batches_region_code"))
        batch_op.drop_index(batch_op.f("ix_exchange_batches_received_at"))
        batch_op.drop_index(batch_op.f("ix_exchange_batches_kind"))

    op.drop_table("exchange_batches")
