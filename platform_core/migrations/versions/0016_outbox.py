"""the transactional outbox: jobs, timers and domain events written with the transaction that
starts them

Work queued before this revision (RQ jobs and their scheduled timers) stays in Redis and runs as
before; the worker's recovery sweep at start re-creates anything a stopped worker lost.

Revision ID: 0016_outbox
Revises: 0015_social_work
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0016_outbox"
down_revision: str | Sequence[str] | None = "0015_social_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = sa.text("handed_at IS NULL")
_HANDED = sa.text("handed_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("func_path", sa.String(length=120), nullable=True),
        sa.Column("job_id", sa.String(length=160), nullable=True),
        sa.Column("queue", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("relay_after", platform_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handed_at", platform_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_waiting",
            ["relay_after"],
            unique=False,
            postgresql_where=_WAITING,
            sqlite_where=_WAITING,
        )
        batch_op.create_index(
            "ix_outbox_handed",
            ["handed_at"],
            unique=False,
            postgresql_where=_HANDED,
            sqlite_where=_HANDED,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_handed")
        batch_op.drop_index("ix_outbox_waiting")
    op.drop_table("outbox")
