"""Backup and point-in-time restore with pgBackRest, through ``hotline backup`` and
``hotline restore``: a private PostgreSQL archiving its WAL, orders written before and after
the backup, a restore into a new cluster to a moment between two batches of orders; the
orders up to that moment are there, the later ones are not, and the data directory's files
and the deployment's keys come back with it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from platform_core.db import make_engine
from platform_core.models import metadata
from platform_core.orders.models import ServiceOrder
from platform_core.runtime import build_runtime
from tests.deploy.pgbackrest_support import (
    ArchivingPostgres,
    make_root,
    pgbackrest,
    tools,
    wait_until_primary,
    write_pgbackrest_conf,
)
from tests.deploy.support import ROOT
from tests.platform_core.after_call_support import build_world, open_order
from tests.platform_core.test_db_liveness import PrivatePostgres

pytestmark = pytest.mark.slow
PASSPHRASE = "Backup-Passphrase-For-Tests"


def _hotline(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _order_numbers(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as c:
            return set(c.execute(select(ServiceOrder.order_no)).scalars())
    finally:
        engine.dispose()


def test_point_in_time_restore_into_a_new_cluster(base_settings) -> None:
    initdb, pg_ctl = tools()
    root = make_root("hotline-backup-")
    restored_root = make_root("hotline-restored-")
    primary = ArchivingPostgres(root, root / "pgbackrest.conf")
    restored = PrivatePostgres(restored_root)
    try:
        primary.init(initdb)
        conf = write_pgbackrest_conf(root, primary)
        primary.configure()
        primary.pg_ctl(pg_ctl, "start")
        engine = make_engine(primary.url)
        metadata.create_all(engine)
        settings = base_settings.with_overrides(database_url=primary.url)
        rt = build_runtime(settings, engine=engine, start_jobs=False)
        try:
            world = build_world(rt)
            first = [open_order(rt, world.elder) for _ in range(3)]

            files = root / "files"
            (files / "photos").mkdir(parents=True)
            (files / "photos" / "order-1-before.jpg").write_bytes(b"\xff\xd8 a photo")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PGBACKREST_CONFIG": str(conf),
                "HOTLINE_DATA_DIR": str(files),
                "HOTLINE_BACKUP_FILES_DIR": str(root / "files-archive"),
                "HOTLINE_BACKUP_PASSPHRASE": PASSPHRASE,
                "HOTLINE_DATA_KEY": settings.data_key,
                "HOTLINE_SECRET_KEY": settings.secret_key,
                "HOTLINE_AMI_SECRET": "ami-secret-to-keep",
                **(
                    {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
                ),
            }
            done = _hotline(["backup", "--init", "--type", "full"], env)
            assert done.returncode == 0, done.stderr
            assert "已备份 / backed up" in done.stdout

            second = [open_order(rt, world.elder) for _ in range(2)]
            with engine.connect() as c:  # the server's clock: the archive's times are its own
                target = c.execute(text("SELECT clock_timestamp()")).scalar_one()
            time.sleep(1.0)
            third = [open_order(rt, world.elder) for _ in range(2)]
            pgbackrest(conf, "check")  # switches the WAL segment and waits for it in the archive
        finally:
            rt.close()
        with make_engine(primary.url).connect() as c:
            numbers = dict(c.execute(select(ServiceOrder.id, ServiceOrder.order_no)).all())
        primary.pg_ctl(pg_ctl, "stop")  # the primary is gone; only the repository is left

        done = _hotline(
            [
                "restore",
                "--pg-data",
                str(restored.data),
                "--target",
                target.isoformat(),
                "--files-to",
                str(restored_root / "files"),
                "--show-keys",
            ],
            env,
        )
        assert done.returncode == 0, done.stderr
        keys = dict(line.split("=", 1) for line in done.stdout.splitlines())
        assert keys == {
            "HOTLINE_DATA_KEY": settings.data_key,
            "HOTLINE_SECRET_KEY": settings.secret_key,
            "HOTLINE_AMI_SECRET": "ami-secret-to-keep",
        }
        photo = restored_root / "files" / "photos" / "order-1-before.jpg"
        assert photo.read_bytes() == b"\xff\xd8 a photo"

        restored.pg_ctl(pg_ctl, "start")
        wait_until_primary(restored.url)
        assert _order_numbers(restored.url) == {numbers[i] for i in first + second}
        assert not ({numbers[i] for i in third} & _order_numbers(restored.url))

        # a second restore into the same directory is refused: nothing is overwritten
        again = _hotline(["restore", "--pg-data", str(restored.data)], env)
        assert again.returncode != 0 and "不是空目录" in again.stderr
    finally:
        for server in (restored, primary):
            with contextlib.suppress(subprocess.CalledProcessError):  # not running
                server.pg_ctl(pg_ctl, "stop")
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(restored_root, ignore_errors=True)
