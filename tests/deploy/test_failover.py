"""Hot standby and failover: a private primary streams to a private standby; the services'
engine reaches whichever is writable through a multi-host URL with
``target_session_attrs=read-write`` (as compose.yaml configures every service). Orders are
opened without pause while the primary is stopped and the standby promoted: the opening goes
on against the new primary with the same engine, and every order whose commit returned is
there."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time

import pytest
from sqlalchemy import select

from platform_core.db import make_engine
from platform_core.models import metadata
from platform_core.orders.models import ServiceOrder
from platform_core.runtime import build_runtime
from tests.deploy.pgbackrest_support import make_root, tools, wait_until_primary
from tests.platform_core.after_call_support import build_world, open_order
from tests.platform_core.test_db_liveness import PrivatePostgres, _pg_bin

pytestmark = pytest.mark.slow


def _streaming_config(server: PrivatePostgres) -> None:
    with (server.data / "postgresql.conf").open("a") as f:
        f.write(
            "\nwal_level = replica\nmax_wal_senders = 5\nmax_replication_slots = 5\n"
            "hot_standby = on\nwal_keep_size = 256MB\n"
        )


def _base_backup(primary: PrivatePostgres, standby: PrivatePostgres) -> None:
    """pg_basebackup of the primary with a slot and standby.signal, as deploy/postgres/standby.sh."""
    subprocess.run(
        [
            *primary.prefix,
            str(_pg_bin("pg_basebackup")),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.data),
            "-R",
            "-X",
            "stream",
            "-C",
            "-S",
            "standby1",
            "--checkpoint=fast",
        ],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("stop_mode", "synchronous"),
    [
        # a planned switchover (or a primary that shuts down cleanly): asynchronous streaming
        # as compose.yaml runs it loses nothing, the walsender hands over every record first
        ("fast", False),
        # a crash: only synchronous replication guarantees that a returned commit is on the
        # standby (what the README says about RPO and Patroni's synchronous mode)
        ("immediate", True),
    ],
)
def test_promoted_standby_carries_on_and_no_committed_order_is_lost(
    base_settings, stop_mode: str, synchronous: bool
) -> None:
    initdb, pg_ctl = tools()
    roots = [make_root("hotline-primary-"), make_root("hotline-standby-")]
    primary, standby = PrivatePostgres(roots[0]), PrivatePostgres(roots[1])
    stop = threading.Event()
    committed: list[tuple[float, int]] = []
    failures: list[float] = []
    rt = None
    try:
        primary.init(initdb)
        _streaming_config(primary)
        primary.pg_ctl(pg_ctl, "start")
        _base_backup(primary, standby)
        standby.pg_ctl(pg_ctl, "start")
        if synchronous:  # from now on a commit returns once the standby has it
            with (primary.data / "postgresql.conf").open("a") as f:
                f.write("\nsynchronous_standby_names = '*'\nsynchronous_commit = on\n")
            primary.pg_ctl(pg_ctl, "reload")

        url = (
            "postgresql+psycopg://postgres@/postgres?"
            f"host=127.0.0.1:{primary.port}&host=127.0.0.1:{standby.port}"
            "&target_session_attrs=read-write&connect_timeout=2"
        )
        engine = make_engine(url, pool_size=4, max_overflow=0)
        metadata.create_all(engine)
        rt = build_runtime(
            base_settings.with_overrides(database_url=url), engine=engine, start_jobs=False
        )
        world = build_world(rt)

        def keep_opening() -> None:
            while not stop.is_set():
                try:
                    committed.append((time.monotonic(), open_order(rt, world.elder)))
                except Exception:  # noqa: BLE001 - the primary is gone: try again
                    failures.append(time.monotonic())
                    time.sleep(0.05)
                time.sleep(0.02)

        opener = threading.Thread(target=keep_opening, daemon=True)
        opener.start()
        deadline = time.monotonic() + 30
        while len(committed) < 20:
            assert time.monotonic() < deadline, "orders are not being opened"
            time.sleep(0.1)

        primary._run(str(pg_ctl), "-D", str(primary.data), "-m", stop_mode, "-w", "stop")
        stopped_at = time.monotonic()  # from here nothing can commit on the old primary
        standby._run(str(pg_ctl), "-D", str(standby.data), "-w", "promote")
        promoted_at = time.monotonic()
        before = len(committed)
        deadline = time.monotonic() + 60
        while len(committed) < before + 20:
            assert time.monotonic() < deadline, f"no orders after the promotion: {failures[-3:]}"
            time.sleep(0.1)
        stop.set()
        opener.join(10)
        first_after = next(at for at, _ in committed if at > stopped_at)
        failover_s = first_after - stopped_at
        print(  # noqa: T201 - the README's failover figure
            f"failover: promote took {promoted_at - stopped_at:.2f} s, first order on the new "
            f"primary {failover_s:.2f} s after the primary stopped; {len(failures)} attempts failed"
        )

        wait_until_primary(standby.url)
        check = make_engine(standby.url, pool_size=1, max_overflow=0)
        try:
            with check.connect() as c:
                present = set(c.execute(select(ServiceOrder.id)).scalars())
        finally:
            check.dispose()
        ids = [order_id for _, order_id in committed]
        assert len(ids) == len(set(ids))
        assert set(ids) <= present, f"lost: {sorted(set(ids) - present)}"
        assert failover_s < 30
    finally:
        stop.set()
        if rt is not None:
            rt.close()
        for server in (standby, primary):
            with contextlib.suppress(subprocess.CalledProcessError):
                server.pg_ctl(pg_ctl, "stop")
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
