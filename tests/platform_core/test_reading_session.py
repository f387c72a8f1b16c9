"""A read-only session: no transaction around its reads, and no write gets through it."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from platform_core.calls.models import TelephonyQueue
from platform_core.db import ReadOnlySession
from platform_core.runtime import Runtime


def test_a_reading_session_sends_no_begin_or_commit(runtime: Runtime) -> None:
    with runtime.session() as s:
        s.merge(TelephonyQueue(name="reading-test", waiting=3))
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement.split()[0].upper())

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        with runtime.reading() as s:
            row = s.get(TelephonyQueue, "reading-test")
            assert row is not None and row.waiting == 3
            # outside any transaction: the second statement's now() is its own start, where a
            # transaction's would be the first statement's
            level = s.execute(text("SELECT now() = statement_timestamp()")).scalar_one()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)
    assert sent == ["SELECT", "SELECT"]
    if runtime.engine.dialect.name == "postgresql":
        assert level is True


def test_a_reading_session_refuses_a_write(runtime: Runtime) -> None:
    with pytest.raises(ReadOnlySession), runtime.reading() as s:
        s.add(TelephonyQueue(name="never-written", waiting=1))
        s.flush()
    with runtime.session() as s:
        assert s.scalar(select(TelephonyQueue).where(TelephonyQueue.name == "never-written")) is None
