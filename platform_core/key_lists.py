"""``column IN (...)`` for statements a hot path runs again and again, built once.

``column.in_(values)`` makes a bound parameter that keeps itself among its own clones: a
reference cycle only the cycle collector frees. Built per execution, as the AMI writer's reads
were (a batch's calls, queues, desks, recalls; the outbox relay's deletes), they left 10 to 20
such objects a statement, nine in ten of what callcenter's young collections walked; each of
those pauses (20-80 ms) held every screen pop behind it. A statement built once at import around
an expanding parameter, its values given when it runs, leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

KEYS = "keys"


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str = KEYS
) -> ColumnElement[bool]:
    """``column IN (:name)``, the list given at execution: ``session.execute(stmt, {name: [...]})``
    (an empty list matches nothing)."""
    return column.in_(bindparam(name, expanding=True))
