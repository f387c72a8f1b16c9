"""``hotline backup`` and ``hotline restore``: pgBackRest plus the data directory and keys."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from hotline.backup import BackupError


@click.command()
@click.option(
    "--type",
    "kind",
    type=click.Choice(["full", "diff", "incr"]),
    default="incr",
    show_default=True,
    help="备份类型 (无全量时自动全量) / backup type (a full one when there is none)",
)
@click.option("--init", is_flag=True, help="首次: 建立 stanza / first time: create the stanza")
@click.option("--list", "list_only", is_flag=True, help="列出已有备份 / list the backups")
def backup(kind: str, init: bool, list_only: bool) -> None:
    """备份数据库、数据目录与密钥 / back up the database, the data directory and the keys."""
    from hotline import backup as backups
    from platform_core.settings import load_settings

    # keys come from the environment or the data directory's files; none is made up here
    settings = load_settings(ensure_secrets=False)
    try:
        if list_only:
            for b in backups.backup_sets(settings):
                click.echo(f"{b.label}\t{b.type}\t{b.started.isoformat()}\t{b.stopped.isoformat()}")
            return
        if init:
            backups.create_stanza(settings)
        taken = backups.take_backup(settings, kind=kind)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    if not settings.backup_passphrase:
        click.echo(
            "注意: 未设置 HOTLINE_BACKUP_PASSPHRASE, 密钥未随备份保存 / keys not stored "
            "(no HOTLINE_BACKUP_PASSPHRASE): keep them in your secret store",
            err=True,
        )
    click.echo(f"已备份 / backed up: {taken.label} ({taken.type}, {taken.stopped.isoformat()})")


@click.command()
@click.option(
    "--pg-data",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="新的空 PostgreSQL 数据目录 / a new, empty PostgreSQL data directory",
)
@click.option(
    "--target",
    default=None,
    help="恢复到此时刻 (ISO 8601, 带时区) / point in time, ISO 8601 with zone; default: the end",
)
@click.option(
    "--files-to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="数据目录恢复到此处 / where the data directory is restored",
)
@click.option(
    "--show-keys",
    is_flag=True,
    help="用备份口令解开密钥并输出 / print the keys unsealed with HOTLINE_BACKUP_PASSPHRASE",
)
def restore(pg_data: Path, target: str | None, files_to: Path | None, show_keys: bool) -> None:
    """时间点恢复到新集群 / point-in-time restore into a new cluster."""
    from hotline import backup as backups
    from platform_core.settings import load_settings

    settings = load_settings(ensure_secrets=False)
    when = None
    if target:
        when = datetime.fromisoformat(target)
        if when.tzinfo is None:
            raise click.ClickException("--target 需要时区, 如 +08:00 / --target needs a zone")
    try:
        done = backups.restore(settings, pg_data=pg_data, target=when, files_to=files_to)
        if show_keys and files_to is not None:
            sealed = files_to / backups.KEYS_FILE
            if not sealed.exists():
                raise BackupError("备份中没有密钥 / this backup holds no keys")
            for name, value in backups.unseal_keys(
                sealed.read_bytes(), settings.backup_passphrase
            ).items():
                sys.stdout.write(f"{name}={value}\n")
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"已恢复 / restored backup {done['backup']} into {done['pg_data']}; start PostgreSQL on "
        "it to replay the archive" + (f" to {target}" if target else ""),
        err=True,
    )
