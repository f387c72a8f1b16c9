"""Data-key rotation (`hotline keys rotate`): every sealed value and keyed index is rewritten
under the current data key, in batches, while the platform keeps running.

How a rotation goes (README, Security): a new key becomes ``HOTLINE_DATA_KEY`` and the old one
moves to ``HOTLINE_DATA_KEYS_RETIRED``; processes restart one by one (each reads both keys:
a value names the key it was sealed under, lookups try both keyed indexes); then this job
reseals row by row, committing each batch, and can be stopped and run again (it picks up the
rows still under an old key). When it reports nothing left, the old key can go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from platform_core.accounts.models import User
from platform_core.assessment.models import Assessment
from platform_core.chats.models import ChatMessage
from platform_core.elders.models import Elder
from platform_core.notifications.models import OutboxMessage
from platform_core.provider_api.models import ProviderApiKey
from platform_core.providers.models import ProviderStaff
from platform_core.runtime import cipher_of
from platform_core.social_work.models import SocialCase, SocialCaseVisit
from platform_core.volunteers.models import Volunteer


@dataclass(frozen=True)
class SealedColumn:
    model: Any
    column: str
    index_column: str | None = None  # a keyed index of the same plaintext, rewritten with it

    @property
    def label(self) -> str:
        return f"{self.model.__tablename__}.{self.column}"


# Every sealed column of the platform (docs/personal-data.md lists what each holds).
SEALED: tuple[SealedColumn, ...] = (
    SealedColumn(Elder, "id_number_sealed", "id_number_index"),
    SealedColumn(Elder, "health_sealed"),
    SealedColumn(ProviderStaff, "id_number_sealed", "id_number_index"),
    SealedColumn(Assessment, "detail_sealed"),
    SealedColumn(OutboxMessage, "body_sealed"),
    SealedColumn(ProviderApiKey, "secret_sealed"),
    SealedColumn(User, "totp_secret_sealed"),
    SealedColumn(SocialCase, "referral_sealed"),
    SealedColumn(SocialCase, "needs_sealed"),
    SealedColumn(SocialCase, "plan_sealed"),
    SealedColumn(SocialCaseVisit, "notes_sealed"),
    SealedColumn(Volunteer, "id_number_sealed", "id_number_index"),
    SealedColumn(ChatMessage, "text_sealed"),
    SealedColumn(ChatMessage, "position_sealed"),
)


@dataclass
class Progress:
    column: str
    resealed: int
    left: int


def _stale(session: Session, target: SealedColumn) -> list[Any]:
    cipher = cipher_of(session)
    column = getattr(target.model, target.column)
    prefix = f"v2:{cipher.key_id}:"
    return [column.is_not(None), ~column.startswith(prefix)]


def count_stale(session: Session) -> dict[str, int]:
    """Per sealed column, how many values are not yet under the current key."""
    out = {}
    for target in SEALED:
        pk = target.model.__mapper__.primary_key[0]
        rows = session.scalars(select(pk).where(*_stale(session, target)))
        out[target.label] = len(list(rows))
    return out


def reseal(
    session_factory: sessionmaker[Session],
    *,
    batch_size: int = 500,
    progress: Callable[[Progress], None] | None = None,
) -> dict[str, int]:
    """Reseal everything not under the current key, one committed batch at a time; returns
    the count per column. Each batch locks only its own rows, briefly."""
    done: dict[str, int] = {}
    for target in SEALED:
        pk = target.model.__mapper__.primary_key[0]
        total = 0
        while True:
            with session_factory() as s:
                cipher = cipher_of(s)
                rows = list(
                    s.scalars(
                        select(target.model)
                        .where(*_stale(s, target))
                        .order_by(pk)
                        .limit(batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not rows:
                    break
                for row in rows:
                    plain = cipher.open(getattr(row, target.column))
                    setattr(row, target.column, cipher.seal(plain))
                    if target.index_column:
                        setattr(row, target.index_column, cipher.blind_index(plain))
                s.commit()
                total += len(rows)
                if progress is not None:
                    left = len(list(s.scalars(select(pk).where(*_stale(s, target)))))
                    progress(Progress(target.label, total, left))
        done[target.label] = total
    return done
