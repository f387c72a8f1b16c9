"""The warehouse's ClickHouse: chDB in this process (embedded default) or a ClickHouse server
(production, over HTTP with clickhouse-connect). Both run the same SQL; callers see one
interface: ``query`` returns rows as dicts, ``command`` runs a statement.

chDB keeps its data in ``<data_dir>/warehouse`` and only one process may open it, so on the
embedded default the process that serves the dashboards also runs the sync (the demo does).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import chdb.session as chdb_session
import clickhouse_connect

from platform_core.settings import Settings

DATABASE = "hotline_wh"


class WarehouseError(RuntimeError):
    """The warehouse refused a statement or could not be reached."""


class Warehouse(Protocol):
    kind: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def close(self) -> None: ...


def _use_utc_for_source_timestamps() -> None:
    # ClickHouse reads PostgreSQL's timestamptz as text and drops the offset; libpq's PGTZ makes
    # the server print every timestamp in UTC, which the warehouse's UTC columns expect.
    os.environ["PGTZ"] = "UTC"


def _off_the_hub(call: Callable[[], Any]) -> Any:
    """Run a chDB call where it blocks nobody else. chDB's calls release the GIL but, in a
    process gevent has patched (the console's production server), they would still stop every
    greenlet of the process until the query ends: there they run on a real thread of gevent's
    pool instead, and this greenlet waits for it."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent  # only in a process gevent has patched, which has it loaded

        return gevent.get_hub().threadpool.apply(call)
    return call()


class ChdbWarehouse:
    """ClickHouse in this process. chDB runs one query at a time, so calls are serialised."""

    kind = "chdb"
    _open: dict[str, ChdbWarehouse] = {}
    _open_lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        _use_utc_for_source_timestamps()
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._session = chdb_session.Session(str(path))
        except RuntimeError as exc:
            # another process holds this directory: chDB serves one process; several console
            # processes need a ClickHouse server (HOTLINE_CLICKHOUSE_URL)
            raise WarehouseError(f"chDB at {path} is not available: {exc}") from exc
        self._lock = threading.Lock()
        self._users = 1

    @classmethod
    def shared(cls, path: Path) -> ChdbWarehouse:
        """The one chDB session of ``path`` in this process (chDB allows one at a time)."""
        key = str(path.resolve())
        with cls._open_lock:
            found = cls._open.get(key)
            if found is not None and found._session is not None:
                found._users += 1
                return found
            if cls._open:
                # chDB holds one session per process: a second path closes the first
                for other in list(cls._open.values()):
                    other._really_close()
            made = cls(path)
            cls._open[key] = made
            return made

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            try:
                result = _off_the_hub(
                    lambda: self._session.query(sql, "JSONEachRow", params=params or None)
                )
            except RuntimeError as exc:
                raise WarehouseError(str(exc)) from exc
        text = result.data() if hasattr(result, "data") else str(result)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._lock:
            try:
                _off_the_hub(lambda: self._session.query(sql, "CSV", params=params or None))
            except RuntimeError as exc:
                raise WarehouseError(str(exc)) from exc

    def close(self) -> None:
        with self._open_lock:
            self._users -= 1
            if self._users > 0:
                return
            self._really_close()

    def _really_close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None  # type: ignore[assignment]
        self._open.pop(str(self.path.resolve()), None)


class ServerWarehouse:
    """A ClickHouse server over HTTP (``HOTLINE_CLICKHOUSE_URL``: http://user:pw@host:8123)."""

    kind = "clickhouse"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._client = clickhouse_connect.get_client(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=parts.username or "default",
            password=parts.password or "",
            secure=parts.scheme == "https",
            # many threads of the console share the client: sessions would collide
            autogenerate_session_id=False,
        )

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self._client.query(sql, parameters=params or None)
        except Exception as exc:  # clickhouse-connect raises its own hierarchy
            raise WarehouseError(str(exc)) from exc
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=params or None)
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc

    def close(self) -> None:
        self._client.close()


def warehouse_path(settings: Settings) -> Path:
    return settings.data_dir / "warehouse"


def open_warehouse(settings: Settings) -> Warehouse:
    """The configured warehouse: the server at ``clickhouse_url``, else chDB in the data dir."""
    if settings.clickhouse_url:
        return ServerWarehouse(settings.clickhouse_url)
    return ChdbWarehouse.shared(warehouse_path(settings))
