"""A private PostgreSQL that archives its WAL to a private pgBackRest repository (no tests here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import _unavailable
from tests.platform_core.test_db_liveness import PrivatePostgres, _pg_bin

STANZA = "hotline"


class ArchivingPostgres(PrivatePostgres):
    """PrivatePostgres with WAL archiving into pgBackRest (``archive_command``) and a stanza."""

    def __init__(self, root: Path, conf: Path) -> None:
        super().__init__(root)
        self.conf = conf

    def configure(self, extra: str = "") -> None:
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(
                "\nwal_level = replica\narchive_mode = on\n"
                f"archive_command = 'pgbackrest --config={self.conf} --stanza={STANZA} "
                "archive-push %p'\narchive_timeout = 60\nmax_wal_senders = 5\n"
                "wal_keep_size = 256MB\nhot_standby = on\n" + extra
            )


def tools() -> tuple[str, str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        _unavailable("PostgreSQL server binaries", FileNotFoundError("initdb / pg_ctl"))
    if shutil.which("pgbackrest") is None:
        _unavailable("pgbackrest", FileNotFoundError("pgbackrest (apt-get install pgbackrest)"))
    return str(initdb), str(pg_ctl)


def make_root(prefix: str) -> Path:
    """A directory outside pytest's private tree, owned by the postgres user when we are root."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    return root


def write_pgbackrest_conf(root: Path, pg: PrivatePostgres) -> Path:
    conf = root / "pgbackrest.conf"
    repo = root / "repo"
    conf.write_text(
        "[global]\n"
        f"repo1-path={repo}\n"
        "repo1-retention-full=2\n"
        "repo1-cipher-type=aes-256-cbc\n"
        "repo1-cipher-pass=test-repository-passphrase\n"
        "start-fast=y\n"
        "compress-type=lz4\n"
        f"log-path={root / 'pgbackrest-log'}\n"
        f"lock-path={root / 'pgbackrest-lock'}\n"
        "log-level-console=warn\n"
        f"[{STANZA}]\n"
        f"pg1-path={pg.data}\n"
        f"pg1-port={pg.port}\n"
        f"pg1-socket-path={pg.root}\n"
    )
    for d in ("repo", "pgbackrest-log", "pgbackrest-lock"):
        (root / d).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root / d, "postgres", "postgres")
    if os.geteuid() == 0:
        shutil.chown(conf, "postgres", "postgres")
    return conf


def wait_until_primary(url: str, timeout: float = 60) -> None:
    """Until the server accepts connections and has left recovery."""
    engine = create_engine(url, pool_pre_ping=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as c:
                    if not c.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                        return
            except Exception:  # noqa: BLE001 - starting up
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not become a primary")
            time.sleep(0.2)
    finally:
        engine.dispose()


def pgbackrest(conf: Path, *args: str) -> str:
    command = ["pgbackrest", f"--config={conf}", f"--stanza={STANZA}", *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout
