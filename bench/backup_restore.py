"""Backup and point-in-time restore at a region's size: 100,000 elders and a million calls.

    python bench/backup_restore.py [--elders 100000] [--calls 1000000] [--photos 200]

A private PostgreSQL (initdb in a temporary directory, archiving its WAL to a private,
encrypted pgBackRest repository) is seeded with ``hotline seed``'s elders and a million call
records; ``hotline backup --init --type full`` is timed (database, data directory with photos,
sealed keys). More calls follow, the moment between two batches is noted, and ``hotline
restore`` into a new cluster to that moment is timed, then PostgreSQL's replay until the
restored cluster accepts writes (the RTO is both together). The restored rows are counted
against what was committed before the target.

Ends with one line ``RESULT {json}``; keys carry their units.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from hotline.demo_data.elders import seed_elders  # noqa: E402
from platform_core.db import make_engine, refresh_statistics  # noqa: E402
from platform_core.models import metadata  # noqa: E402
from platform_core.regions.service import load_dictionary  # noqa: E402
from platform_core.runtime import build_runtime  # noqa: E402
from platform_core.settings import Settings  # noqa: E402
from tests.deploy.pgbackrest_support import (  # noqa: E402
    ArchivingPostgres,
    make_root,
    pgbackrest,
    tools,
    wait_until_primary,
    write_pgbackrest_conf,
)
from tests.platform_core.test_db_liveness import PrivatePostgres  # noqa: E402

# Calls as callcenter records them, made in the database (INSERT ... SELECT generate_series):
# answered, abandoned and timed-out calls spread over 1,000 hours, in the seeded leagues.
CALLS_SQL = """
INSERT INTO calls (linkedid, uniqueid, channel, direction, caller_number, caller_name,
    is_device, identified, region_code, priority, started_at, queued_at, first_queue,
    answered_at, answered_queue, agent_interface, member_name, wait_s, talk_s, outcome,
    transferred, ended_at, closed_by_resync, recall_opened, updated_at)
SELECT 'bench-' || :tag || '-' || g, 'bench-' || :tag || '-' || g, 'PJSIP/trunk-' || g,
    'inbound', '139' || lpad((g % 100000000)::text, 8, '0'), '', g % 50 = 0, g % 3 <> 0,
    '150102000000', g % 10, t, t + interval '2 seconds', 'hotline-general',
    CASE WHEN g % 10 < 9 THEN t + interval '14 seconds' END,
    CASE WHEN g % 10 < 9 THEN 'hotline-general' END,
    CASE WHEN g % 10 < 9 THEN 'PJSIP/80' || lpad((g % 6 + 1)::text, 2, '0') END,
    CASE WHEN g % 10 < 9 THEN '坐席' || (g % 6 + 1) END,
    12.0, CASE WHEN g % 10 < 9 THEN 95 END,
    CASE WHEN g % 10 < 9 THEN 'answered' WHEN g % 10 = 9 THEN 'abandoned' END,
    false, t + interval '2 minutes', false, false, t + interval '2 minutes'
FROM (SELECT g, timestamptz '2026-01-01 00:00:00+08' + (g * interval '3.6 seconds') AS t
      FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS g) AS s
"""


def insert_calls(engine, start: int, stop: int, tag: str, batch: int = 200_000) -> None:
    for lo in range(start, stop + 1, batch):
        with engine.begin() as c:
            c.execute(text(CALLS_SQL), {"tag": tag, "start": lo, "stop": min(stop, lo + batch - 1)})


def hotline(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hotline {' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def run(args: argparse.Namespace) -> dict[str, object]:
    initdb, pg_ctl = tools()
    root, restored_root = make_root("hotline-bench-backup-"), make_root("hotline-bench-restored-")
    primary = ArchivingPostgres(root, root / "pgbackrest.conf")
    restored = PrivatePostgres(restored_root)
    load_start = os.getloadavg()[0]
    try:
        primary.init(initdb)
        conf = write_pgbackrest_conf(root, primary)
        primary.configure("shared_buffers = 512MB\nmax_wal_size = 4GB\n")
        primary.pg_ctl(pg_ctl, "start")
        settings = Settings(
            data_dir=root / "files",
            database_url=primary.url,
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(16),
        )
        runtime = build_runtime(settings, start_jobs=False)
        engine = runtime.engine
        metadata.create_all(engine)
        t0 = time.perf_counter()
        with runtime.session() as s:
            load_dictionary(s)
        session = runtime.session_factory()
        try:
            seed_elders(session, count=args.elders, after_batch=lambda _n: session.commit())
            session.commit()
        finally:
            session.close()
        seed_elders_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        insert_calls(engine, 1, args.calls, "a")
        seed_calls_s = time.perf_counter() - t0
        refresh_statistics(engine)
        photos = settings.data_dir / "photos"
        photos.mkdir(parents=True)
        for i in range(args.photos):  # order photos: incompressible, as JPEGs are
            (photos / f"order-{i}.jpg").write_bytes(os.urandom(150_000))
        with engine.connect() as c:
            db_mb = (
                c.execute(text("SELECT pg_database_size(current_database())")).scalar_one() / 2**20
            )
        print(
            f"seeded {args.elders} elders in {seed_elders_s:.0f} s, {args.calls} calls in "
            f"{seed_calls_s:.0f} s; database {db_mb:.0f} MB",
            file=sys.stderr,
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGBACKREST_CONFIG": str(conf),
            "HOTLINE_DATA_DIR": str(settings.data_dir),
            "HOTLINE_BACKUP_FILES_DIR": str(root / "files-archive"),
            "HOTLINE_BACKUP_PASSPHRASE": "bench-passphrase",
            "HOTLINE_DATA_KEY": settings.data_key,
            "HOTLINE_SECRET_KEY": settings.secret_key,
            "HOTLINE_AMI_SECRET": "bench",
            "PYTHONPATH": str(ROOT),
        }
        backup_s = hotline(["backup", "--init", "--type", "full"], env)
        print(f"full backup in {backup_s:.1f} s", file=sys.stderr)

        insert_calls(engine, args.calls + 1, args.calls + args.calls_after, "b")
        with engine.connect() as c:
            target = c.execute(text("SELECT clock_timestamp()")).scalar_one()
            expected = c.execute(text("SELECT count(*) FROM calls")).scalar_one()
        time.sleep(1.0)
        insert_calls(engine, 1, 1000, "c")  # after the target: must not come back
        pgbackrest(conf, "check")
        runtime.close()
        primary.pg_ctl(pg_ctl, "stop")

        restore_s = hotline(
            [
                "restore",
                "--pg-data",
                str(restored.data),
                "--target",
                target.isoformat(),
                "--files-to",
                str(restored_root / "files"),
            ],
            env,
        )
        t0 = time.perf_counter()
        restored.pg_ctl(pg_ctl, "start")
        wait_until_primary(restored.url, timeout=600)
        replay_s = time.perf_counter() - t0
        check = make_engine(restored.url, pool_size=1, max_overflow=0)
        with check.connect() as c:
            calls = c.execute(text("SELECT count(*) FROM calls")).scalar_one()
            elders = c.execute(text("SELECT count(*) FROM elders")).scalar_one()
        check.dispose()
        restored_photos = len(list((restored_root / "files" / "photos").glob("*.jpg")))
        return {
            "elders": elders,
            "calls_committed_before_target": expected,
            "calls_restored": calls,
            "rows_lost": expected - calls,
            "photos_restored": restored_photos,
            "database_mb": round(db_mb),
            "repository_mb": round(du_mb(root / "repo") + du_mb(root / "files-archive")),
            "seed_elders_s": round(seed_elders_s, 1),
            "seed_calls_s": round(seed_calls_s, 1),
            "backup_s": round(backup_s, 1),
            "restore_s": round(restore_s, 1),
            "replay_s": round(replay_s, 1),
            "rto_s": round(restore_s + replay_s, 1),
            "rpo_archive_timeout_s": 60,
            "load_avg_1m_start": round(load_start, 2),
            "load_avg_1m_end": round(os.getloadavg()[0], 2),
        }
    finally:
        for server in (restored, primary):
            with contextlib.suppress(subprocess.CalledProcessError):  # not running
                server.pg_ctl(pg_ctl, "stop")
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(restored_root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--elders", type=int, default=100_000)
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--calls-after", type=int, default=20_000, help="calls after the backup")
    p.add_argument("--photos", type=int, default=200)
    result = run(p.parse_args())
    print(
        f"backup {result['backup_s']} s, restore {result['restore_s']} s + replay "
        f"{result['replay_s']} s (RTO {result['rto_s']} s), {result['rows_lost']} rows lost",
        file=sys.stderr,
    )
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
