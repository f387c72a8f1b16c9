"""practitioners (从业人员): qualifications and certificates with expiry and training records as
rows of their own (the free JSON of qualifications moved into them, both ways); a person's own
login and their deactivation

Revision ID: 0019_staff_records
Revises: 0018_volunteers_time_bank
Create Date: 2026-12-07 09:00:00
"""

import json
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0019_staff_records"
down_revision: str | Sequence[str] | None = "0018_volunteers_time_bank"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)

_staff = sa.table(
    "provider_staff",
    sa.column("id", sa.Integer()),
    sa.column("qualifications", sa.JSON()),
    sa.column("created_at", UTC),
)
_quals = sa.table(
    "provider_staff_qualifications",
    sa.column("id", sa.Integer()),
    sa.column("staff_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("level", sa.String()),
    sa.column("number", sa.String()),
    sa.column("issuer", sa.String()),
    sa.column("valid_from", sa.Date()),
    sa.column("valid_until", sa.Date()),
    sa.column("created_at", UTC),
)


def _day(raw: object) -> date | None:
    # an unreadable date counted as "no expiry" before: it stays so
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _text(raw: object, limit: int) -> str:
    return " ".join(str(raw or "").split())[:limit]


def upgrade() -> None:
    op.create_table(
        "provider_staff_qualifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["provider_staff.id"],
            name=op.f("fk_provider_staff_qualifications_staff_id_provider_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_staff_qualifications")),
    )
    with op.batch_alter_table("provider_staff_qualifications", schema=None) as batch_op:
        for column in ("staff_id", "valid_until"):
            batch_op.create_index(
                batch_op.f(f"ix_provider_staff_qualifications_{column}"), [column], unique=False
            )
    op.create_table(
        "provider_staff_trainings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(length=100), nullable=False),
        sa.Column("organiser", sa.String(length=100), nullable=False),
        sa.Column("hours", sa.Numeric(precision=5, scale=1, asdecimal=False), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("certificate_no", sa.String(length=60), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["provider_staff.id"],
            name=op.f("fk_provider_staff_trainings_staff_id_provider_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_staff_trainings")),
    )
    with op.batch_alter_table("provider_staff_trainings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_staff_trainings_staff_id"), ["staff_id"], unique=False
        )

    conn = op.get_bind()
    rows = []
    for staff_id, raw, created_at in conn.execute(
        sa.select(_staff.c.id, _staff.c.qualifications, _staff.c.created_at)
    ):
        items = json.loads(raw) if isinstance(raw, str) else (raw or [])
        for q in items:
            if not isinstance(q, dict) or not _text(q.get("name"), 60):
                continue
            rows.append(
                {
                    "staff_id": staff_id,
                    "name": _text(q.get("name"), 60),
                    "level": _text(q.get("level"), 20),
                    "number": _text(q.get("number"), 60),
                    "issuer": _text(q.get("issuer"), 100),
                    "valid_from": _day(q.get("valid_from")),
                    "valid_until": _day(q.get("valid_until")),
                    "created_at": created_at,
                }
            )
    if rows:
        op.bulk_insert(_quals, rows)

    with op.batch_alter_table("provider_staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("deactivated_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("deactivated_by", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column(
                "deactivation_reason", sa.String(length=255), nullable=False, server_default=""
            )
        )
        batch_op.create_unique_constraint(batch_op.f("uq_provider_staff_user_id"), ["user_id"])
        batch_op.drop_column("qualifications")
    with op.batch_alter_table("provider_staff", schema=None) as batch_op:
        batch_op.alter_column("deactivation_reason", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("provider_staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("qualifications", sa.JSON(), nullable=False, server_default="[]")
        )
    conn = op.get_bind()
    by_staff: dict[int, list[dict[str, str]]] = {}
    for row in conn.execute(sa.select(_quals).order_by(_quals.c.id)):
        item = {"name": row.name, "level": row.level, "number": row.number, "issuer": row.issuer}
        if row.valid_from:
            item["valid_from"] = row.valid_from.isoformat()
        if row.valid_until:
            item["valid_until"] = row.valid_until.isoformat()
        by_staff.setdefault(row.staff_id, []).append({k: v for k, v in item.items() if v})
    for staff_id, items in by_staff.items():
        conn.execute(sa.update(_staff).where(_staff.c.id == staff_id).values(qualifications=items))
    with op.batch_alter_table("provider_staff", schema=None) as batch_op:
        batch_op.alter_column("qualifications", server_default=None)
        batch_op.drop_constraint(batch_op.f("uq_provider_staff_user_id"), type_="unique")
        batch_op.drop_column("deactivation_reason")
        batch_op.drop_column("deactivated_by")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("user_id")
    with op.batch_alter_table("provider_staff_trainings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_staff_trainings_staff_id"))
    op.drop_table("provider_staff_trainings")
    with op.batch_alter_table("provider_staff_qualifications", schema=None) as batch_op:
        for column in ("staff_id", "valid_until"):
            batch_op.drop_index(batch_op.f(f"ix_provider_staff_qualifications_{column}"))
    op.drop_table("provider_staff_qualifications")
