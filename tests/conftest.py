"""Shared fixtures: a real PostgreSQL database and a real Redis namespace per test session.

Each pytest session creates its own PostgreSQL database and Redis key namespace, so parallel
runs never see each other's rows, queues or events. Where the services are absent the tests
that need them are skipped, except when ``HOTLINE_TEST_REQUIRE_SERVICES=1`` (CI and the README's
test command), which turns their absence into a failure.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from platform_core.db import make_engine
from platform_core.models import metadata
from platform_core.runtime import Runtime, build_runtime, install_runtime
from platform_core.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE = os.environ.get("HOTLINE_TEST_REQUIRE_SERVICES") == "1"
RUN_ID = uuid.uuid4().hex[:10]


def _unavailable(what: str, exc: BaseException) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is required (HOTLINE_TEST_REQUIRE_SERVICES=1) but unreachable: {exc}")
    pytest.skip(f"{what} unreachable: {exc}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database owned by this test session."""
    name = f"hotline_t_{RUN_ID}"
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    yield REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*hotline-t-{RUN_ID}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def data_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory, data_key: str) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("hotline-data"),
        secret_key=secrets.token_urlsafe(32),
        data_key=data_key,
        ami_secret="test-ami-secret",
        redis_namespace=f"hotline-t-{RUN_ID}",
        # the second factor is on for supervisors, officers and administrators by default;
        # tests/agent_console/test_second_factor.py runs it, the rest log in with passwords
        totp_roles="",
        # a console's process runs the warehouse's sync only where a test starts it
        warehouse_sync_embedded=False,
    )


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "hotline.db"
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    """Delete every row, children first. On PostgreSQL a DELETE of tiny tables costs a few
    milliseconds where a TRUNCATE of all of them costs most of a second per test; TRUNCATE
    remains the fallback when rows reference each other in a cycle."""
    tables = [t.name for t in metadata.sorted_tables]
    if not tables:
        return
    try:
        with engine.begin() as c:
            if engine.dialect.name == "postgresql":
                # the audit trail refuses deletes (platform_core/audit/protection.py); the test
                # database's superuser sets triggers aside for the clean-up
                c.execute(text("SET LOCAL session_replication_role = replica"))
            for t in reversed(tables):
                c.execute(text(f'DELETE FROM "{t}"'))
    except Exception:
        if engine.dialect.name != "postgresql":
            raise
        with engine.begin() as c:
            c.execute(text("SET LOCAL session_replication_role = replica"))
            c.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )


def _runtime(settings: Settings, engine: Engine) -> Iterator[Runtime]:
    rt = build_runtime(settings, engine=engine)
    install_runtime(rt)
    try:
        yield rt
    finally:
        # jobs a test's commits set off (dispatch, SMS) finish before the tables are emptied
        getattr(rt.jobs, "wait_idle", lambda _t: True)(15)
        # the outbox relay stops taking rows (and writes what it handed) before the tables empty
        rt.outbox.close()
        # then stop them (jobs due later are dropped) before uninstalling the runtime: a job
        # still running would otherwise act on the next test's data through current_runtime()
        close = getattr(rt.jobs, "close", None)
        if close:
            close()
        rt.event_bus.close()
        install_runtime(None)
        _empty_tables(engine)


@pytest.fixture
def runtime(base_settings: Settings, pg_engine: Engine, pg_url: str) -> Iterator[Runtime]:
    """PostgreSQL with in-process events and jobs (the common case for domain tests)."""
    yield from _runtime(base_settings.with_overrides(database_url=pg_url), pg_engine)


@pytest.fixture
def redis_runtime(
    base_settings: Settings, pg_engine: Engine, pg_url: str, redis_url: str
) -> Iterator[Runtime]:
    """PostgreSQL with Redis pub/sub events and RQ jobs, as in production."""
    yield from _runtime(
        base_settings.with_overrides(database_url=pg_url, redis_url=redis_url), pg_engine
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def any_runtime(request: pytest.FixtureRequest, base_settings: Settings) -> Iterator[Runtime]:
    """The same test on PostgreSQL and on the embedded SQLite default."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        engine = request.getfixturevalue("pg_engine")
    else:
        engine = request.getfixturevalue("sqlite_engine")
        url = str(engine.url)
    yield from _runtime(base_settings.with_overrides(database_url=url), engine)


@pytest.fixture
def regions(runtime: Runtime) -> Runtime:
    """The runtime with the region dictionary loaded."""
    from platform_core.regions.service import load_dictionary

    with runtime.session() as s:
        load_dictionary(s)
    return runtime


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[object]:
    """A Redis server of this test's own, which the test may stop and restart."""
    import shutil
    import socket
    import subprocess
    import time

    import redis

    exe = shutil.which("redis-server")
    if exe is None:
        _unavailable("redis-server binary", FileNotFoundError("redis-server"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        proc: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            self.proc = subprocess.Popen(
                [
                    exe,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(100):
                try:
                    redis.Redis.from_url(self.url).ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError("private redis-server did not start")

        def stop(self) -> None:
            if self.proc is not None:
                self.proc.kill()
                self.proc.wait()
                self.proc = None

    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def warehouse(any_runtime: Runtime) -> Iterator[object]:
    """An empty chDB warehouse reading the test's primary database (PostgreSQL and SQLite)."""
    # chDB is a large library: only the tests that use the warehouse load it
    from tests.warehouse_support import fresh_warehouse

    yield from fresh_warehouse(any_runtime)


@pytest.fixture
def pg_warehouse(runtime: Runtime) -> Iterator[object]:
    """An empty chDB warehouse reading the test's PostgreSQL database."""
    from tests.warehouse_support import fresh_warehouse  # loads chDB, as above

    yield from fresh_warehouse(runtime)
