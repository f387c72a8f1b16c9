"""``hotline db``: schema migrations and the region dictionary."""

from __future__ import annotations

import click

from platform_core import migrate
from platform_core.settings import load_settings


@click.group()
def db() -> None:
    """数据库结构迁移 / database schema migrations."""


@db.command()
@click.argument("revision", default="heads")
def upgrade(revision: str) -> None:
    """升级到最新结构 / upgrade the schema (default: all heads)."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url, revision)
    from hotline.context import runtime_for_cli
    from platform_core.regions.service import load_dictionary

    runtime = runtime_for_cli(settings, start_jobs=False)
    with runtime.session() as s:
        n = load_dictionary(s)
    click.echo(f"数据库已升级, 区划字典 {n} 条 / schema upgraded, {n} regions in the dictionary")


@db.command()
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """回退结构 / downgrade the schema (default: one step)."""
    migrate.downgrade(load_settings().effective_database_url, revision)
    click.echo(f"已回退到 {revision} / downgraded to {revision}")


@db.command()
def current() -> None:
    """显示当前版本 / show the current revision."""
    migrate.current(load_settings().effective_database_url)


@db.command()
@click.option("-m", "--message", required=True, help="迁移说明 / what the migration changes")
def revision(message: str) -> None:
    """由模型差异生成迁移 / autogenerate a migration from the models' difference to the database."""
    migrate.revision(load_settings().effective_database_url, message)
