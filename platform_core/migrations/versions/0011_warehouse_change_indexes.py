"""warehouse: index the columns the warehouse's sync reads changes by (each pass asks for the
rows changed in the last seconds; without these it would scan the whole table)

Revision ID: 0011_warehouse_change_indexes
Revises: 0010_allowance_runs
Create Date: 2026-12-06 22:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_warehouse_change_indexes"
down_revision: str | Sequence[str] | None = "0010_allowance_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("calls", "updated_at"),
    ("call_queue_entries", "joined_at"),
    ("call_queue_entries", "left_at"),
    ("call_agent_offers", "ended_at"),
    ("service_orders", "updated_at"),
    ("alarms", "updated_at"),
    ("alarm_signals", "received_at"),
    ("alarm_steps", "at"),
    ("devices", "updated_at"),
    ("elders", "updated_at"),
    ("providers", "updated_at"),
    ("ivr_sessions", "ended_at"),
    ("assessments", "recorded_at"),
]


def upgrade() -> None:
    # built without locking writes on PostgreSQL: the tables may be large and in use
    with op.get_context().autocommit_block():
        for table, column in INDEXES:
            op.create_index(
                f"ix_{table}_{column}",
                table,
                [column],
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for table, column in reversed(INDEXES):
            op.drop_index(
                f"ix_{table}_{column}",
                table_name=table,
                postgresql_concurrently=True,
                if_exists=True,
            )
