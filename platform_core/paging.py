"""Lists longer than a screen come a page at a time from the database (never all of them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def fetch_page_of_ids(
    session: Session,
    ids: Any,
    load: Callable[[list[int]], Any],
    *,
    page: int,
    size: int,
) -> Page[Any]:
    """One page of a long list, paged on the ids alone and read in full for that page only.

    ``ids`` selects the list's ids, filtered and ordered, from its own table (with whatever
    index serves the order); the count and the page's offset walk that table's index and nothing
    else. ``load(ids)`` then selects the page's rows (with the joins that name and mask them),
    each row's first element carrying ``.id``; they come back in the list's order.
    """
    page = clamp_page(page)
    total = int(
        session.scalar(select(func.count()).select_from(ids.order_by(None).subquery())) or 0
    )
    page_ids = list(session.scalars(ids.limit(size).offset((page - 1) * size)))
    rank = {i: n for n, i in enumerate(page_ids)}
    rows = (
        sorted(session.execute(load(page_ids)).all(), key=lambda r: rank[r[0].id])
        if page_ids
        else []
    )
    return Page(rows=rows, total=total, page=page, size=size)
