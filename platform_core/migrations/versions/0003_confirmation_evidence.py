"""service orders keep the elder's evidence behind their confirmation

Confirmations recorded before this revision are read back from their step: the SMS code, a
signature or a meal redemption's identity check count as the elder's evidence; a confirmation
on the provider's word alone (the provider API's) keeps none, and settlement holds it.

Revision ID: 0003_confirmation_evidence
Revises: 0002_alarm_offers
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_confirmation_evidence"
down_revision: str | Sequence[str] | None = "0002_alarm_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IDENTITY_METHODS = ("身份证核验", "人脸核验")


def _evidence_of(method: str) -> str | None:
    if method == "code":
        return "code:legacy"
    if method.startswith("signature:"):
        return method[:60]
    if method in _IDENTITY_METHODS:
        return "identity_check:legacy"
    return None


def upgrade() -> None:
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmation_evidence", sa.String(length=60), nullable=True))
    bind = op.get_bind()
    steps = sa.table(
        "order_transitions",
        sa.column("order_id", sa.Integer),
        sa.column("command", sa.String),
        sa.column("detail", sa.JSON),
    )
    orders = sa.table(
        "service_orders",
        sa.column("id", sa.Integer),
        sa.column("confirmation_evidence", sa.String),
    )
    rows = bind.execute(
        sa.select(steps.c.order_id, steps.c.detail).where(steps.c.command == "confirm")
    ).all()
    for order_id, detail in rows:
        stored = _evidence_of(str((detail or {}).get("method", "")))
        if stored is not None:
            bind.execute(
                orders.update().where(orders.c.id == order_id).values(confirmation_evidence=stored)
            )


def downgrade() -> None:
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.drop_column("confirmation_evidence")
