"""Lists longer than a screen come a page at a time from the database (never all of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
# The deepest page a list serves: past it, filters narrow the list (an offset that deep would
# have the database read and skip every row before it).
MAX_PAGE = 2000


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    total: int
    page: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def clamp_page(page: int | None) -> int:
    return max(1, min(int(page or 1), MAX_PAGE))


def fetch_page(session: Session, query: Any, *, page: int, size: int) -> Page[Any]:
    """One page of ``query`` (a select, ordered by the caller) and the count of the whole list."""
    page = clamp_page(page)
    total = int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    rows = list(session.execute(query.limit(size).offset((page - 1) * size)).all())
    return Page(rows=rows, total=total, page=page, size=size)
