"""Pooled PostgreSQL connections outlive a database restart without a ping on every checkout:
the first unit of work after the server is back succeeds, on connections the pool replaced."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from platform_core.db import make_engine
from tests.conftest import PG_ADMIN_URL, _unavailable


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if isinstance(found, list):
        return found[-1] if found else None
    return found


class PrivatePostgres:
    """A PostgreSQL server of this test's own, which it may restart."""

    def __init__(self, root: Path) -> None:
        self.root, self.data = root, root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root: run it as the postgres system user then
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self, initdb: str) -> None:
        if self.prefix:
            shutil.chown(self.root, "postgres")
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def pg_ctl(self, pg_ctl: str, *action: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-m",
            "fast",
            *action,
        )


@pytest.fixture
def private_postgres(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PrivatePostgres, str]]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        _unavailable("PostgreSQL server binaries", FileNotFoundError("initdb / pg_ctl"))
    # not under pytest's private temporary directory: the postgres user must reach it
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    try:
        server = PrivatePostgres(root)
        server.init(initdb)
        server.pg_ctl(pg_ctl, "start")
        try:
            yield server, pg_ctl
        finally:
            server.pg_ctl(pg_ctl, "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _backend_pids(engine: Engine, n: int) -> set[int]:
    """Run ``n`` units of work at once (so ``n`` pooled connections exist); their backend pids."""
    conns = [engine.connect() for _ in range(n)]
    try:
        return {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in conns}
    finally:
        for c in conns:
            c.close()


def _count_pings(engine: Engine) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


def test_a_restarted_server_is_survived_by_the_next_unit_of_work(private_postgres) -> None:
    server, pg_ctl = private_postgres
    engine = make_engine(server.url, pool_size=3, max_overflow=0)
    try:
        pings = _count_pings(engine)
        before = _backend_pids(engine, 3)
        assert (
            _backend_pids(engine, 3) == before and pings == []
        )  # pooled, and no ping per checkout
        server.pg_ctl(pg_ctl, "restart")
        after = _backend_pids(engine, 3)  # no error: every dead connection was replaced
        assert after and not (after & before)
    finally:
        engine.dispose()


def test_connections_the_server_terminated_are_replaced_at_checkout(pg_url: str) -> None:
    """The same on the shared server, as an administrator's pg_terminate_backend does it."""
    engine = make_engine(pg_url, pool_size=2, max_overflow=0)
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        before = _backend_pids(engine, 2)
        with admin.connect() as c:
            killed = c.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = ANY(:p)"
                ),
                {"p": list(before)},
            ).scalar_one()
        assert killed == 2
        deadline = time.monotonic() + 10
        with admin.connect() as c:  # the backends are gone (their goodbye is on our sockets)
            while c.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                {"p": list(before)},
            ).scalar_one():
                assert time.monotonic() < deadline, "terminated backends did not exit"
                time.sleep(0.02)
        after = _backend_pids(engine, 2)
        assert not (after & before)
    finally:
        engine.dispose()
        admin.dispose()


def test_the_server_ends_a_session_left_idle_inside_a_transaction(pg_url: str) -> None:
    """A unit of work whose process froze or died while something kept its socket open gives its
    row locks back: the server ends the session after the configured idle time."""
    engine = make_engine(pg_url, idle_in_transaction_timeout_s=1, pool_size=1, max_overflow=0)
    other = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        with other.connect() as c:  # the platform's default, set on every connection
            assert c.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "1min"
        with engine.connect() as c:
            c.execute(text("SELECT 1"))  # a transaction begins, then nothing happens
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
            time.sleep(2)
            with pytest.raises(Exception) as ended:
                c.execute(text("SELECT 1"))
            assert "idle-in-transaction timeout" in str(ended.value)
        with other.connect() as c:
            assert not c.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar()
    finally:
        engine.dispose()
        other.dispose()
