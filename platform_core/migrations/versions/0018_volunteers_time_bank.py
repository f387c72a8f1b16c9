"""volunteers and the time bank: phone verifications, volunteers, activities and
sign-ups, the time bank's accounts, transactions and entries

Revision ID: 0018_volunteers_time_bank
Revises: 0017_family_accounts
Create Date: 2026-12-10 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0018_volunteers_time_bank"
down_revision: str | Sequence[str] | None = "0017_family_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_index", sa.String(length=64), nullable=False),
        sa.Column("issued_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("verified_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consumed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_verifications")),
    )
    with op.batch_alter_table("phone_verifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_phone_verifications_phone_issued", ["phone", "issued_at"], unique=False
        )

    op.create_table(
        "time_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("league_code", sa.String(length=12), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("balance", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("opened_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_accounts")),
        sa.UniqueConstraint(
            "kind",
            "holder_id",
            "league_code",
            name=op.f("uq_time_accounts_kind_holder_id_league_code"),
        ),
    )
    with op.batch_alter_table("time_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_time_accounts_league_code"), ["league_code"], unique=False
        )

    op.create_table(
        "time_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("ref_type", sa.String(length=20), nullable=True),
        sa.Column("ref_id", sa.String(length=40), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["time_transactions.id"],
            name=op.f("fk_time_transactions_reverses_id_time_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_time_transactions_key")),
    )
    with op.batch_alter_table("time_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_transactions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_time_transactions_kind"), ["kind"], unique=False)

    op.create_table(
        "time_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["time_accounts.id"],
            name=op.f("fk_time_entries_account_id_time_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["time_transactions.id"],
            name=op.f("fk_time_entries_transaction_id_time_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entries")),
    )
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.create_index("ix_time_entries_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_time_entries_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "volunteer_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("skill", sa.String(length=20), nullable=True),
        sa.Column("starts_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["service_sites.id"],
            name=op.f("fk_volunteer_activities_site_id_service_sites"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_activities")),
    )
    with op.batch_alter_table("volunteer_activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_volunteer_activities_region_prefix",
            ["region_code"],
            unique=False,
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        )
        batch_op.create_index(
            batch_op.f("ix_volunteer_activities_site_id"), ["site_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volunteer_activities_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("id_number_sealed", sa.Text(), nullable=False),
        sa.Column("id_number_index", sa.String(length=64), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("home_site_id", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("id_checked_by", sa.String(length=100), nullable=False),
        sa.Column("phone_verification_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_site_id"],
            ["service_sites.id"],
            name=op.f("fk_volunteers_home_site_id_service_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["phone_verification_id"],
            ["phone_verifications.id"],
            name=op.f("fk_volunteers_phone_verification_id_phone_verifications"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_volunteers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("id_number_index", name=op.f("uq_volunteers_id_number_index")),
        sa.UniqueConstraint("user_id", name=op.f("uq_volunteers_user_id")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteers_home_site_id"), ["home_site_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volunteers_phone"), ["phone"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volunteers_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "activity_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("signed_up_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_in_latitude", sa.Double(), nullable=True),
        sa.Column("check_in_longitude", sa.Double(), nullable=True),
        sa.Column("check_in_distance_m", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("time_transaction_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["volunteer_activities.id"],
            name=op.f("fk_activity_signups_activity_id_volunteer_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["time_transaction_id"],
            ["time_transactions.id"],
            name=op.f("fk_activity_signups_time_transaction_id_time_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_activity_signups_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_signups")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_activity_signups_activity_id_volunteer_id")
        ),
    )
    with op.batch_alter_table("activity_signups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_signups_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_signups_volunteer_id"), ["volunteer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("activity_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_signups_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_activity_signups_activity_id"))

    op.drop_table("activity_signups")
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteers_region_code"))
        batch_op.drop_index(batch_op.f("ix_volunteers_phone"))
        batch_op.drop_index(batch_op.f("ix_volunteers_home_site_id"))

    op.drop_table("volunteers")
    with op.batch_alter_table("volunteer_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_activities_starts_at"))
        batch_op.drop_index(batch_op.f("ix_volunteer_activities_site_id"))
        batch_op.drop_index(
            "ix_volunteer_activities_region_prefix",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        )

    op.drop_table("volunteer_activities")
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_entries_transaction_id"))
        batch_op.drop_index("ix_time_entries_account_id_id")

    op.drop_table("time_entries")
    with op.batch_alter_table("time_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_transactions_kind"))
        batch_op.drop_index(batch_op.f("ix_time_transactions_at"))

    op.drop_table("time_transactions")
    with op.batch_alter_table("time_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_accounts_league_code"))

    op.drop_table("time_accounts")
    with op.batch_alter_table("phone_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_verifications_phone_issued")

    op.drop_table("phone_verifications")
