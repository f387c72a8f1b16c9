"""channel ids (Uniqueid, Linkedid) as long as Asterisk makes them

asterisk.conf's systemname prefixes every channel id ("<systemname>-<epoch>.<n>"), up to
AST_MAX_UNIQUEID (150): a 64-character column refused such an id, and the IVR session or the
call it belonged to was not recorded. Widening a varchar is a change of the catalogue only on
PostgreSQL (no table rewrite).

Revision ID: 0006_channel_ids_150
Revises: 0005_account_security
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_channel_ids_150"
down_revision: str | Sequence[str] | None = "0005_account_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its columns holding a channel id (the calls' key first: others refer to it)
COLUMNS: dict[str, list[str]] = {
    "calls": ["linkedid", "uniqueid"],
    "call_queue_entries": ["linkedid", "uniqueid"],
    "call_agent_offers": ["linkedid", "dest_uniqueid"],
    "telephony_agents": ["ringing_uniqueid", "linkedid"],
    "recall_items": ["origin_linkedid", "closed_by_linkedid"],
    "ivr_sessions": ["uniqueid", "linkedid"],
    "satisfaction_surveys": ["linkedid", "uniqueid"],
    "care_call_attempts": ["uniqueid"],
    "agent_wrapups": ["linkedid"],
    "service_orders": ["source_ref"],
    "assessment_requests": ["source_ref"],
}


def _alter(width: int, was: int) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.String(length=was), type_=sa.String(length=width)
                )


def upgrade() -> None:
    _alter(150, 64)


def downgrade() -> None:
    # ids longer than 64 characters would not fit back: cut to the old width
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(
                sa.text(
                    f"UPDATE {table} SET {column} = substr({column}, 1, 64) "
                    f"WHERE length({column}) > 64"
                )
            )
    _alter(64, 150)
