"""Set membership for batches: one array parameter on PostgreSQL instead of one per value.

A batch of 500 alarms or 5,000 heartbeats would otherwise send statements with thousands of
placeholders, and converting those (driver side) costs more than running them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import any_, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def member_of(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values``, as ``column = ANY(:array)`` on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(  # type: ignore[no-any-return]
            bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        )
    return column.in_(list(values))  # type: ignore[no-any-return]


def next_ids(session: Session, table: str, count: int) -> list[int] | None:
    """``count`` ids from a table's serial sequence (PostgreSQL), so rows can be inserted with
    their keys and without RETURNING; None elsewhere (the insert returns them)."""
    if count == 0 or session.get_bind().dialect.name != "postgresql":
        return None

    rows = session.execute(
        text(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"
        ),
        {"n": count},
    ).scalars()
    return list(rows)
