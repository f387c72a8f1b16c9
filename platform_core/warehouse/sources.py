"""How facts leave the primary database for the warehouse.

PostgreSQL (production): ClickHouse pulls the rows itself through a database of its
PostgreSQL engine named ``hotline_source`` (connections kept between passes), so no fact passes
through Python; each fact's column list picks only what the warehouse may keep.

SQLite (the embedded default): the rows are read through the application's own engine and
written to the warehouse as JSON rows. ClickHouse's SQLite reader cannot be used here: it reads
the database file without its write-ahead log (it misses every recent commit), and a second
SQLite library opening the file in the same process would release the application's locks.
Both paths fill the same tables with the same values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypedDict, Unpack
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import ColumnElement, Engine, Table, and_, func, or_, select

from platform_core.models import metadata
from platform_core.settings import Settings
from platform_core.warehouse.engine import Warehouse
from platform_core.warehouse.facts import Column, Fact
from platform_core.warehouse.schema import table_of

SOURCE_DATABASE = "hotline_source"
BATCH_ROWS = 20_000


class SourceError(ValueError):
    """The primary database's URL names nothing the warehouse can read."""


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ch_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class CopyPass(TypedDict):
    """What one sync pass copies of a fact: the rows changed since ``since``, or those whose
    time falls in ``window`` (neither: all), versioned ``pass_version`` unless the fact's own
    change stamps give a version."""

    since: datetime | None
    window: tuple[datetime, datetime] | None
    pass_version: int


class Source(Protocol):
    @property
    def kind(self) -> str: ...

    def attach_statements(self) -> list[str]: ...

    def copy(self, wh: Warehouse, fact: Fact, **run: Unpack[CopyPass]) -> None: ...

    def span(self, wh: Warehouse, fact: Fact) -> tuple[int, datetime, datetime] | None: ...


def time_source(fact: Fact) -> str:
    """The source column behind the fact's time (a derived hour comes from its beat)."""
    for c in fact.columns:
        if c.name == fact.time_column:
            return c.src
    return fact.changed[0]


@dataclass(frozen=True)
class PostgresPull:
    """ClickHouse reads PostgreSQL: ``INSERT INTO fact SELECT ... FROM hotline_source.table``."""

    address: str
    database: str
    user: str
    password: str
    kind: str = "postgresql"

    def attach_statements(self) -> list[str]:
        """Statements that (re)define the source database (the URL or password may change)."""
        args = ", ".join(
            _literal(a) for a in (self.address, self.database, self.user, self.password)
        )
        return [
            f"DROP DATABASE IF EXISTS {SOURCE_DATABASE}",
            f"CREATE DATABASE {SOURCE_DATABASE} ENGINE = PostgreSQL({args})",
        ]

    def table(self, name: str) -> str:
        return f"{SOURCE_DATABASE}.`{name}`"

    @staticmethod
    def value(column: Column, table: str) -> str:
        """The source column read as the warehouse column's type (PostgreSQL prints its
        timestamps in UTC for the warehouse: PGTZ, see engine.py); an empty source value in a
        column the warehouse keeps filled becomes its type's empty value."""
        src = f"`{column.src}`"
        if "Nullable" not in column.type and metadata.tables[table].c[column.src].nullable:
            empty = "''" if "String" in column.type else "0"
            src = f"ifNull({src}, {empty})"
        return f"CAST({src} AS {column.type})"

    @staticmethod
    def timestamp(name: str) -> str:
        return f"CAST(`{name}` AS Nullable(DateTime64(6, 'UTC')))"

    def version(self, fact: Fact) -> str:
        if not fact.changed:
            return "{pass_version:UInt64}"
        parts = [f"ifNull(toUnixTimestamp64Micro({self.timestamp(c)}), 0)" for c in fact.changed]
        return parts[0] if len(parts) == 1 else f"greatest({', '.join(parts)})"

    def insert_statement(self, fact: Fact, *, since: bool, window: bool) -> str:
        conditions = [f"`{fact.required}` IS NOT NULL"] if fact.required else []
        if since and fact.changed:
            conditions.append(
                "("
                + " OR ".join(f"`{c}` >= {{since:DateTime64(6, 'UTC')}}" for c in fact.changed)
                + ")"
            )
        if window:
            column = time_source(fact)
            conditions.append(
                f"`{column}` >= {{from:DateTime64(6, 'UTC')}}"
                f" AND `{column}` < {{to:DateTime64(6, 'UTC')}}"
            )
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        names = ", ".join(f"`{n}`" for n in fact.column_names)
        values = ", ".join(self.value(c, fact.table) for c in fact.columns)
        return (
            f"INSERT INTO {table_of(fact)} ({names}, `_version`)"
            f" SELECT {values}, {self.version(fact)} FROM {self.table(fact.table)}{where}"
            " SETTINGS session_timezone = 'UTC'"
        )

    def copy(self, wh: Warehouse, fact: Fact, **run: Unpack[CopyPass]) -> None:
        since, window = run["since"], run["window"]
        params: dict[str, Any] = {"pass_version": run["pass_version"]}
        if since is not None:
            params["since"] = ch_time(since)
        if window is not None:
            params["from"], params["to"] = ch_time(window[0]), ch_time(window[1])
        wh.command(
            self.insert_statement(fact, since=since is not None, window=window is not None),
            params,
        )

    def span(self, wh: Warehouse, fact: Fact) -> tuple[int, datetime, datetime] | None:
        ts = self.timestamp(time_source(fact))
        where = f" WHERE `{fact.required}` IS NOT NULL" if fact.required else ""
        rows = wh.query(
            f"SELECT count() AS n, toUnixTimestamp64Micro(min({ts})) AS lo,"
            f" toUnixTimestamp64Micro(max({ts})) AS hi FROM {self.table(fact.table)}{where}"
            " SETTINGS session_timezone = 'UTC'"
        )
        if not rows or int(rows[0]["n"]) == 0 or rows[0]["lo"] is None:
            return None
        r = rows[0]
        return int(r["n"]), _from_micros(r["lo"]), _from_micros(r["hi"])


def _from_micros(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1_000_000, UTC)


@dataclass(frozen=True)
class EnginePush:
    """The application's engine reads the rows, the warehouse receives them as JSON rows."""

    engine: Engine
    kind: str = "engine"

    def attach_statements(self) -> list[str]:
        return [f"DROP DATABASE IF EXISTS {SOURCE_DATABASE}"]

    @staticmethod
    def table(fact: Fact) -> Table:
        return metadata.tables[fact.table]

    def _rows(
        self, fact: Fact, since: datetime | None, window: tuple[datetime, datetime] | None
    ) -> Iterator[dict[str, Any]]:
        table = self.table(fact)
        wanted = [table.c[c.src] for c in fact.columns]
        changed = [table.c[c] for c in fact.changed]
        conditions: list[ColumnElement[bool]] = []
        if fact.required:
            conditions.append(table.c[fact.required].is_not(None))
        if since is not None and changed:
            conditions.append(or_(*(c >= since for c in changed)))
        if window is not None:
            column = table.c[time_source(fact)]
            conditions.append(and_(column >= window[0], column < window[1]))
        query = select(*wanted, *changed).where(*conditions)
        keys = [*fact.column_names, *(f"_c{i}" for i in range(len(changed)))]
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(zip(keys, row, strict=True))

    def copy(self, wh: Warehouse, fact: Fact, **run: Unpack[CopyPass]) -> None:
        names = fact.column_names
        pass_version = run["pass_version"]
        batch: list[str] = []

        def flush() -> None:
            if batch:
                cols = ", ".join(f"`{n}`" for n in [*names, "_version"])
                wh.command(
                    f"INSERT INTO {table_of(fact)} ({cols}) FORMAT JSONEachRow\n" + "\n".join(batch)
                )
                batch.clear()

        for row in self._rows(fact, run["since"], run["window"]):
            version = pass_version
            if fact.changed:
                stamps = [row.pop(f"_c{i}") for i in range(len(fact.changed))]
                version = max(
                    (int(s.timestamp() * 1_000_000) for s in stamps if s is not None), default=0
                )
            out = {n: _json_value(row[n]) for n in names}
            out["_version"] = version
            batch.append(json.dumps(out, ensure_ascii=False))
            if len(batch) >= BATCH_ROWS:
                flush()
        flush()

    def span(self, wh: Warehouse, fact: Fact) -> tuple[int, datetime, datetime] | None:
        table = self.table(fact)
        column = table.c[time_source(fact)]
        with self.engine.connect() as conn:
            n, lo, hi = conn.execute(
                select(func.count(), func.min(column), func.max(column)).where(column.is_not(None))
            ).one()
        if not n:
            return None
        # min/max bypass the column's type on SQLite: read them as the text they are
        return int(n), _parse(lo), _parse(hi)


def _parse(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ch_time(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def source_for(settings: Settings, engine: Engine | None = None) -> Source:
    """The primary database as the warehouse reads it: PostgreSQL is pulled by ClickHouse
    (at ``warehouse_source_url`` when ClickHouse sees it under another address), anything
    else is pushed through ``engine``."""
    url = settings.warehouse_source_url or settings.effective_database_url
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        # a multi-host URL lists its servers (in the address or as libpq's host= parameters):
        # ClickHouse tries them as replicas (reading from a hot standby is fine)
        hosts = [h for h in parts.netloc.rsplit("@", 1)[-1].split(",") if h]
        hosts += [h for h in parse_qs(parts.query).get("host", []) if not h.startswith("/")]
        address = "|".join(h if ":" in h else f"{h}:5432" for h in hosts)
        return PostgresPull(
            address or "127.0.0.1:5432",
            unquote(parts.path.lstrip("/")) or "postgres",
            unquote(parts.username or "postgres"),
            unquote(parts.password or ""),
        )
    if engine is None:
        raise SourceError(
            "仓库只能直接读取 PostgreSQL, 其他数据库需由本进程推送 / the warehouse pulls from"
            " PostgreSQL only; other databases are pushed by this process"
        )
    return EnginePush(engine)
