"""the online channel: family members' conversations about an elder, their messages (sealed
text and position, photos) and the reservations offering them to ready agents

Revision ID: 0024_online_chats
Revises: 0023_data_exchange
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_core.db

revision: str = "0024_online_chats"
down_revision: str | Sequence[str] | None = "0023_data_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = platform_core.db.UTCDateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = sa.text("status = 'offered'")


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=False),
        sa.Column("sender_name", sa.String(length=64), nullable=False),
        sa.Column("sender_relation", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("taken_at", UTC, nullable=True),
        sa.Column("handler_user_id", sa.Integer(), nullable=True),
        sa.Column("handler_name", sa.String(length=64), nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("end_reason", sa.String(length=255), nullable=False),
        sa.Column("last_message_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_chats_elder_id_elders")),
        sa.ForeignKeyConstraint(
            ["handler_user_id"], ["users.id"], name=op.f("fk_chats_handler_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"], ["users.id"], name=op.f("fk_chats_sender_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
    )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chats_elder_id"), ["elder_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chats_sender_user_id"), ["sender_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chats_handler_user_id"), ["handler_user_id"], unique=False
        )
        batch_op.create_index("ix_chats_status_opened", ["status", "opened_at"], unique=False)
        batch_op.create_index("ix_chats_region_opened", ["region_code", "opened_at"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=64), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("text_sealed", sa.String(), nullable=True),
        sa.Column("position_sealed", sa.String(), nullable=True),
        sa.Column("photo_path", sa.String(length=255), nullable=True),
        sa.Column("photo_type", sa.String(length=20), nullable=True),
        sa.Column("photo_size", sa.Integer(), nullable=True),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_chat_messages_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_messages_chat_id"), ["chat_id"], unique=False)

    op.create_table(
        "chat_offers",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agent_name", sa.String(length=64), nullable=False),
        sa.Column("offered_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_offers_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_offers")),
    )
    with op.batch_alter_table("chat_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_offers_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(
            "ix_chat_offers_status_expires", ["status", "expires_at"], unique=False
        )
        batch_op.create_index("ix_chat_offers_user_ended", ["user_id", "ended_at"], unique=False)
        batch_op.create_index(
            "uq_chat_offers_open_chat",
            ["chat_id"],
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )
        batch_op.create_index(
            "uq_chat_offers_open_user",
            ["user_id"],
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )


def downgrade() -> None:
    op.drop_table("chat_offers")
    op.drop_table("chat_messages")
    op.drop_table("chats")
