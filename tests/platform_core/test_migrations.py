"""The Alembic migrations build exactly the schema the models declare, and go back down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from platform_core import migrate
from platform_core.db import make_engine
from platform_core.models import metadata
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def empty_pg(pg_url: str) -> Iterator[str]:
    name = f"hotline_mig_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrade_matches_models_and_downgrade_empties(
    backend: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    url = (
        request.getfixturevalue("empty_pg")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'm.db'}"
    )
    migrate.upgrade(url)
    assert _diff(url) == [], "models changed without a migration: run `hotline db revision -m ...`"
    migrate.downgrade(url, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
