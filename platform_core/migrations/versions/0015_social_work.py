"""social work: social workers, their cases (referral, intake, needs, plan, visits,
review, closing) with sealed notes

Revision ID: 0015_social_work
Revises: 0014_order_complaints_surveys
Create Date: 2026-12-10 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0015_social_work"
down_revision: str | Sequence[str] | None = "0014_order_complaints_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "social_workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("qualification", sa.String(length=20), nullable=False),
        sa.Column("max_caseload", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_social_workers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_workers")),
        sa.UniqueConstraint("user_id", name=op.f("uq_social_workers_user_id")),
    )
    with op.batch_alter_table("social_workers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_workers_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "social_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=20), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_ref", sa.String(length=150), nullable=True),
        sa.Column("referred_by", sa.String(length=100), nullable=False),
        sa.Column("referred_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("referral_sealed", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("needs_sealed", sa.Text(), nullable=True),
        sa.Column("assessed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("plan_sealed", sa.Text(), nullable=True),
        sa.Column("planned_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("visit_interval_days", sa.Integer(), nullable=True),
        sa.Column("next_visit_due", sa.Date(), nullable=True),
        sa.Column("last_visit_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("reviewed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_social_cases_elder_id_elders")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["social_workers.id"],
            name=op.f("fk_social_cases_worker_id_social_workers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_cases")),
        sa.UniqueConstraint("case_no", name=op.f("uq_social_cases_case_no")),
    )
    with op.batch_alter_table("social_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_cases_elder_id"), ["elder_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_social_cases_next_visit_due"), ["next_visit_due"], unique=False
        )
        batch_op.create_index(
            "ix_social_cases_region_prefix",
            ["region_code"],
            unique=False,
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        )
        batch_op.create_index(batch_op.f("ix_social_cases_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_social_cases_worker_status", ["worker_id", "status"], unique=False
        )

    op.create_table(
        "social_case_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["social_cases.id"],
            name=op.f("fk_social_case_steps_case_id_social_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_case_steps")),
    )
    with op.batch_alter_table("social_case_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_case_steps_case_id"), ["case_id"], unique=False)

    op.create_table(
        "social_case_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("visited_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notes_sealed", sa.Text(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("recorded_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["social_cases.id"],
            name=op.f("fk_social_case_visits_case_id_social_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["social_workers.id"],
            name=op.f("fk_social_case_visits_worker_id_social_workers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_case_visits")),
    )
    with op.batch_alter_table("social_case_visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_case_visits_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("social_case_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_case_visits_case_id"))

    op.drop_table("social_case_visits")
    with op.batch_alter_table("social_case_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_case_steps_case_id"))

    op.drop_table("social_case_steps")
    with op.batch_alter_table("social_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_social_cases_worker_status")
        batch_op.drop_index(batch_op.f("ix_social_cases_status"))
        batch_op.drop_index(
            "ix_social_cases_region_prefix", postgresql_ops={"region_code": "varchar_pattern_ops"}
        )
        batch_op.drop_index(batch_op.f("ix_social_cases_next_visit_due"))
        batch_op.drop_index(batch_op.f("ix_social_cases_elder_id"))

    op.drop_table("social_cases")
    with op.batch_alter_table("social_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_workers_region_code"))

    op.drop_table("social_workers")
