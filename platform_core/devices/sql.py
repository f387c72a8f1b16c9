"""Set membership for batches: one array parameter on PostgreSQL instead of one per value.

A batch of 500 alarms or 5,000 heartbeats would otherwise send statements with thousands of
placeholders, and converting those (driver side) costs more than running them.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Engine, any_, bindparam, text
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


class KeyReserve:
    """Keys of one table drawn from its sequence ahead of need (PostgreSQL), so a batch that
    inserts rows with their keys does not wait on the sequence first.

    Drawing 450 keys was a round trip of 6-13 ms inside each alarm batch of a burst; the keys
    now come from a reserve that ``top_up`` refills between bursts, off the writer's path. A
    key drawn and never used leaves a gap, as a rolled-back insert does; nothing reads order
    into alarm ids. Kept per database (a process may be pointed at another one), thread-safe:
    the intake's writers share one reserve."""

    def __init__(self, table: str, *, low: int = 1000, high: int = 2000) -> None:
        self.table = table
        self.low, self.high = low, high
        self._keys: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _database(bind: Engine | Connection) -> str | None:
        """The database's address, or None off PostgreSQL (the inserts return their keys)."""
        if bind.dialect.name != "postgresql":
            return None
        return bind.engine.url.render_as_string(hide_password=True)

    def take(self, session: Session, count: int) -> list[int] | None:
        """``count`` keys, from the reserve when it holds them; None off PostgreSQL."""
        database = self._database(session.get_bind())
        if count == 0 or database is None:
            return None
        with self._lock:
            keys = self._keys.get(database, [])
            if len(keys) >= count:
                self._keys[database] = keys[count:]
                return keys[:count]
        return next_ids(session, self.table, count)

    def needs_top_up(self, bind: Engine | Connection) -> bool:
        database = self._database(bind)
        with self._lock:
            return database is not None and len(self._keys.get(database, ())) < self.low

    def forget(self) -> None:
        """Drop every reserved key: after a failed write, the next keys come from the sequence
        as it stands (a database restored to an earlier moment has handed out fewer)."""
        with self._lock:
            self._keys.clear()

    def top_up(self, session: Session) -> None:
        """Refill the reserve to ``high`` keys (a statement of its own, outside any batch)."""
        database = self._database(session.get_bind())
        if database is None:
            return
        with self._lock:
            missing = self.high - len(self._keys.get(database, ()))
        if missing <= 0:
            return
        keys = next_ids(session, self.table, missing) or []
        with self._lock:
            self._keys.setdefault(database, []).extend(keys)
