"""Backups and point-in-time restores: pgBackRest for PostgreSQL, an archive for the files.

PostgreSQL archives every WAL segment to the pgBackRest repository as it fills (or every
``archive_timeout``), so a restore can stop at any moment after the oldest kept full backup.
``hotline backup`` takes a pgBackRest backup (full, differential or incremental) and beside it
an archive of the data directory (order and adaptation photos, generated keys) named by the
backup's label, plus the deployment's keys sealed with ``HOTLINE_BACKUP_PASSPHRASE``: a
restored database is useless without the data key that sealed its ID numbers.

``hotline restore`` restores into a new, empty PostgreSQL data directory, to a point in time
(or the end of the archive), with archiving off so the restored cluster never writes into the
repository it came from; the files come from the newest backup taken before that point.

pgBackRest's own configuration (``pgbackrest.conf`` or ``PGBACKREST_*`` variables: repository,
``pg1-path``, encryption) is used as it stands; it runs as the database's owner.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_core.settings import Settings

KEYS_FILE = "keys.sealed"


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and why."""


@dataclass(frozen=True)
class BackupSet:
    label: str
    type: str
    started: datetime
    stopped: datetime


def _pgbackrest(settings: Settings, *args: str) -> str:
    exe = shutil.which("pgbackrest")
    if exe is None:
        raise BackupError(
            "未找到 pgbackrest (apt-get install pgbackrest) / pgbackrest is not installed"
        )
    command = [exe, f"--stanza={settings.backup_stanza}", *args]
    if os.environ.get("PGBACKREST_CONFIG"):
        # on the command line it is written into a restored cluster's restore_command too
        command.insert(1, f"--config={os.environ['PGBACKREST_CONFIG']}")
    # pgBackRest runs as the database's owner, whose files it reads and writes
    if os.geteuid() == 0 and settings.backup_os_user:
        command = ["runuser", "-u", settings.backup_os_user, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(
            f"pgbackrest {args[0] if args else ''} 失败 / failed ({done.returncode}): "
            + (done.stderr or done.stdout).strip()[-2000:]
        )
    return done.stdout


def backup_sets(settings: Settings) -> list[BackupSet]:
    """Backups in the repository, oldest first."""
    info = json.loads(_pgbackrest(settings, "--output=json", "info") or "[]")
    sets = []
    for stanza in info:
        for b in stanza.get("backup", []):
            sets.append(
                BackupSet(
                    label=b["label"],
                    type=b["type"],
                    started=datetime.fromtimestamp(b["timestamp"]["start"], UTC),
                    stopped=datetime.fromtimestamp(b["timestamp"]["stop"], UTC),
                )
            )
    return sorted(sets, key=lambda b: b.stopped)


def create_stanza(settings: Settings) -> None:
    """Once per cluster, after PostgreSQL first starts with archiving on."""
    _pgbackrest(settings, "stanza-create")


def take_backup(settings: Settings, *, kind: str = "incr") -> BackupSet:
    """A pgBackRest backup (an incremental becomes a full when there is none), then the files
    and the sealed keys under the backup's label."""
    _pgbackrest(settings, f"--type={kind}", "backup")
    latest = backup_sets(settings)[-1]
    files_dir = settings.backup_files_dir
    files_dir.mkdir(parents=True, exist_ok=True)
    archive = files_dir / f"{latest.label}.tar.gz"
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w:gz") as tar:
        if settings.data_dir.is_dir():
            tar.add(settings.data_dir, arcname="data")
        sealed = seal_keys(settings)
        if sealed is not None:
            info = tarfile.TarInfo(KEYS_FILE)
            info.size = len(sealed)
            info.mode = 0o600
            import io

            tar.addfile(info, io.BytesIO(sealed))
    partial.rename(archive)  # only a complete archive carries the label
    return latest


def seal_keys(settings: Settings) -> bytes | None:
    """The data key, the secret key and the AMI secret, encrypted with the backup passphrase
    (scrypt, then Fernet); None when no passphrase is set (the keys stay in the secret store)."""
    if not settings.backup_passphrase:
        return None
    from cryptography.fernet import Fernet

    salt = os.urandom(16)
    token = Fernet(_key_from(settings.backup_passphrase, salt)).encrypt(
        json.dumps(
            {
                "HOTLINE_DATA_KEY": settings.data_key,
                "HOTLINE_SECRET_KEY": settings.secret_key,
                "HOTLINE_AMI_SECRET": settings.ami_secret,
            }
        ).encode()
    )
    return b"hotline-keys-1\n" + base64.b64encode(salt) + b"\n" + token


def unseal_keys(blob: bytes, passphrase: str) -> dict[str, str]:
    from cryptography.fernet import Fernet, InvalidToken

    head, salt, token = blob.split(b"\n", 2)
    if head != b"hotline-keys-1":
        raise BackupError("不认识的密钥文件 / unknown key file format")
    try:
        data = Fernet(_key_from(passphrase, base64.b64decode(salt))).decrypt(token)
    except InvalidToken:
        raise BackupError("备份口令不对 / wrong backup passphrase") from None
    keys: dict[str, str] = json.loads(data)
    return keys


def _key_from(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    raw = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    return base64.urlsafe_b64encode(raw)


def restore(
    settings: Settings,
    *,
    pg_data: Path,
    target: datetime | None = None,
    files_to: Path | None = None,
) -> dict[str, Any]:
    """Restore the database into ``pg_data`` (a new, empty directory) up to ``target`` (the
    end of the archive when None), and the files of the newest backup before it into
    ``files_to``. Returns what was restored; start PostgreSQL on ``pg_data`` to replay."""
    if pg_data.exists() and any(pg_data.iterdir()):
        raise BackupError(f"{pg_data} 不是空目录 / is not empty: restore into a new directory")
    sets = backup_sets(settings)
    if target is not None:
        before = [b for b in sets if b.stopped <= target]
        if not before:
            raise BackupError(f"{target.isoformat()} 早于最早的备份 / is before the oldest backup")
        chosen = before[-1]
    elif sets:
        chosen = sets[-1]
    else:
        raise BackupError("仓库里没有备份 / the repository holds no backup")
    pg_data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and settings.backup_os_user:
        shutil.chown(pg_data, settings.backup_os_user, settings.backup_os_user)
        pg_data.chmod(0o700)
    args = [f"--pg1-path={pg_data}", "--archive-mode=off", f"--set={chosen.label}"]
    if target is not None:
        args += [
            "--type=time",
            f"--target={target.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f+00')}",
            "--target-action=promote",
        ]
    _pgbackrest(settings, *args, "restore")
    restored: dict[str, Any] = {"backup": chosen.label, "pg_data": str(pg_data), "files": None}
    archive = settings.backup_files_dir / f"{chosen.label}.tar.gz"
    if files_to is not None and archive.exists():
        files_to.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("data")]
            for m in members:
                m.name = m.name[len("data") :].lstrip("/") or "."
            tar.extractall(files_to, members=members, filter="data")
            if KEYS_FILE in tar.getnames():
                keys = tar.extractfile(KEYS_FILE)
                if keys is not None:
                    sealed = files_to / KEYS_FILE
                    sealed.write_bytes(keys.read())
                    sealed.chmod(0o600)
        restored["files"] = str(files_to)
    return restored
