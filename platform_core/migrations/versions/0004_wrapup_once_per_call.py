"""one wrap-up per agent and call

Revision ID: 0004_wrapup_once_per_call
Revises: 0003_confirmation_evidence
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_wrapup_once_per_call"
down_revision: str | Sequence[str] | None = "0003_confirmation_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # wrap-ups opened twice for one call (two console processes) keep the first
    op.execute(
        "DELETE FROM agent_wrapups WHERE id NOT IN "
        "(SELECT MIN(id) FROM agent_wrapups GROUP BY user_id, linkedid)"
    )
    with op.batch_alter_table("agent_wrapups", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_agent_wrapups_user_id_linkedid"), ["user_id", "linkedid"]
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_wrapups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_agent_wrapups_user_id_linkedid"), type_="unique")
