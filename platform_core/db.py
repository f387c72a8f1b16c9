"""SQLAlchemy 2 engine, the shared declarative ``Base`` and the unit-of-work scope.

A session carries its runtime context in ``session.info`` (the event bus that publishes after
commit, the field cipher), so service functions keep the ``(session, *, ...)`` signature and
still reach what they need without globals.
"""

from __future__ import annotations

import hashlib
import json
import select
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    FromClause,
    MetaData,
    create_engine,
    event,
    exc,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from platform_core import clock

# Width of a column holding an Asterisk channel id (Uniqueid, Linkedid): AST_MAX_UNIQUEID. With
# asterisk.conf's systemname they read "<systemname>-<epoch>.<n>", far past 64 characters.
CHANNEL_ID = 150


def fit_channel_id(value: str) -> str:
    """A channel id as stored: Asterisk's own whole; anything longer than :data:`CHANNEL_ID`
    (no Asterisk sends it) keeps its head and a digest of the whole, so it stays one id and
    its record is kept."""
    if len(value) <= CHANNEL_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{value[: CHANNEL_ID - 17]}~{digest}"


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return clock.now()


# Seconds PostgreSQL lets a session sit idle inside a transaction before ending it (settings:
# db_idle_in_transaction_timeout_s).
IDLE_IN_TRANSACTION_TIMEOUT_S = 60


def make_engine(
    url: str, *, idle_in_transaction_timeout_s: float = IDLE_IN_TRANSACTION_TIMEOUT_S, **kwargs: Any
) -> Engine:
    """An engine tuned for the backend: WAL and foreign keys on SQLite, pooling on PostgreSQL.

    On PostgreSQL every connection asks the server to end its session when it stays idle inside
    a transaction longer than ``idle_in_transaction_timeout_s`` (0: never): a process that froze
    or died mid-transaction, while something still held its socket open, would otherwise keep
    its row locks for ever and stall everyone waiting on them.
    """
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool, **kwargs)
        else:
            engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 40)
    # Connections older than this are replaced at checkout (firewalls and poolers drop idle ones).
    kwargs.setdefault("pool_recycle", 1800)
    if idle_in_transaction_timeout_s and url.startswith("postgresql+psycopg"):
        pg_args: dict[str, Any] = dict(kwargs.pop("connect_args", {}))
        option = (
            f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_timeout_s * 1000)}"
        )
        pg_args["options"] = f"{pg_args.get('options', '')} {option}".strip()
        kwargs["connect_args"] = pg_args
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping") and engine.dialect.driver == "psycopg":
        event.listen(engine, "checkout", _refuse_if_closed_by_server)
    return engine


def _refuse_if_closed_by_server(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Liveness at checkout without pre-ping's round trip (two, on psycopg: BEGIN and SELECT 1).

    A server that restarts, or terminates a backend, sends its goodbye (FATAL 57P01) and closes
    the socket, so the pooled connection has something to read; an idle healthy connection never
    does. One poll() tells them apart; the pool then replaces the dead one with a fresh connection.
    """
    if dbapi_conn.closed:
        raise exc.DisconnectionError("连接已关闭 / connection closed")
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise exc.DisconnectionError("数据库已断开此连接 / the server closed this connection")


def make_session_factory(engine: Engine, **info: Any) -> sessionmaker[Session]:
    """Sessions whose ``info`` holds the runtime context (``event_bus``, ``cipher``, ...)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=dict(info))


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success (events publish after it), roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class ReadOnlySession(RuntimeError):
    """A write attempted in a session opened for reads only (``reading_scope``)."""


_READ_ONLY = "db.read_only"


@event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, _flush_context: Any, _instances: Any) -> None:
    if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySession("只读会话不能写入 / a read-only session cannot write")


@contextmanager
def reading_scope(factory: sessionmaker[Session], engine: Engine) -> Iterator[Session]:
    """A session for reads only, on a connection in autocommit: no BEGIN and no COMMIT round
    trip around a lookup someone waits for (a caller in the IVR). Each statement sees its own
    snapshot, so it serves reads that need no consistent view across statements; a flush of
    anything written in it raises ReadOnlySession."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        session = factory(bind=connection)
        session.info[_READ_ONLY] = True
        try:
            yield session
        finally:
            session.close()


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE after a bulk load, so the planner knows the tables' sizes from the first query.

    Until autovacuum gets round to it (a minute or more), a freshly loaded PostgreSQL table has
    no statistics and lookups may be planned as scans of the whole table.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def bulk_insert(session: Session, table: FromClause, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL's COPY where the session runs
    on it (an import writes a million rows), an executemany elsewhere. Every row names the same
    columns; defaults are not applied, so rows give every column they need."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))  # type: ignore[arg-type]
        return
    columns = list(rows[0])
    as_json = [isinstance(table.c[c].type, JSON) for c in columns]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table.description}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c], ensure_ascii=False) if j else row[c]
                    for c, j in zip(columns, as_json, strict=True)
                ]
            )


def reserve_ids(session: Session, table: FromClause, count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence (PostgreSQL), for rows written by
    :func:`bulk_insert` that others must reference."""
    return list(
        session.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table.description}', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": count},
        ).scalars()
    )


def storable_text(text: str) -> str:
    """Text from outside as every backend can store it: PostgreSQL's text holds no NUL, and a
    lone surrogate (``json.loads`` makes them from ``"\\ud800"``) cannot be encoded at all.
    Both are kept visible as escapes (``\\x00``, ``\\ud800``)."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def answers(engine: Engine) -> bool:
    """Whether the database answers a trivial query now: tells an outage (wait for it) from a
    statement the database refuses (retrying changes nothing)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure to answer is an answer
        return False


def insert_or_else(session: Session, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` clauses, in the session's dialect (PostgreSQL, SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
