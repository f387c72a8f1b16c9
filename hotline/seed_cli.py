"""``hotline seed``: a realistic demo region (regions, catalogue, providers, accounts, elders)."""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import inspect

from platform_core.settings import load_settings


def _optional(module: str, attr: str) -> Callable[..., Any] | None:
    """A colleague module's seeder, or None when that module is not part of this build."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


@click.command()
@click.option(
    "--elders",
    "elder_count",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="演示老人数量 / how many demo elders the region should hold",
)
@click.option(
    "--seed",
    type=int,
    default=12349,
    show_default=True,
    help="随机种子 / random seed (deterministic)",
)
@click.option("--league", "league", default=None, help="只生成某个盟市, 如 150100 / only this 盟市")
@click.option("--batch-size", type=click.IntRange(min=100), default=2000, show_default=True)
def seed(elder_count: int, seed: int, league: str | None, batch_size: int) -> None:
    """生成演示数据 / create a realistic demo region.

    Runs again safely: elders are matched by ID number, so the same --seed only tops up what is
    missing (raise --elders to add more); catalogue, providers and accounts add only what is absent.
    """
    from hotline.context import runtime_for_cli
    from hotline.demo_data.elders import seed_elders
    from platform_core.db import refresh_statistics
    from platform_core.regions.codes import InvalidRegionCode
    from platform_core.regions.dictionary import LEAGUES
    from platform_core.regions.service import canonical_code, load_dictionary

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = runtime_for_cli(settings, start_jobs=False)
    try:
        if not inspect(runtime.engine).has_table("elders"):
            raise click.ClickException(
                "数据库尚未建表, 请先运行 hotline db upgrade / no schema yet: run `hotline db upgrade` first"
            )
        with runtime.session() as s:
            n = load_dictionary(s)
            if league:
                try:
                    league = canonical_code(s, league)
                except InvalidRegionCode as exc:
                    raise click.BadParameter(exc.message, param_hint="--league") from None
                if league[:6] not in LEAGUES or league[4:] != "0" * 8:
                    raise click.BadParameter(
                        f"{league} 不是盟市代码 / not a 盟市 code", param_hint="--league"
                    )
        click.echo(f"区划字典 {n} 条 / {n} regions")

        rng = random.Random(seed)
        steps: list[tuple[str, str, str, Callable[[Any], Any]]] = [
            (
                "服务目录 / catalogue",
                "hotline.demo_data.catalogue",
                "seed_catalogue",
                lambda f: f(s),
            ),
            (
                "服务商 / providers",
                "hotline.demo_data.providers",
                "seed_providers",
                lambda f: f(s, rng=rng),
            ),
            ("账号 / accounts", "hotline.demo_data.accounts", "seed_users", lambda f: f(s)),
        ]
        accounts: list[tuple[str, str, str]] = []
        for label, module, attr, call in steps:
            func = _optional(module, attr)
            if func is None:
                click.echo(f"{label}: 模块未安装, 跳过 / module absent, skipped")
                continue
            with runtime.session() as s:
                result = call(func)
            if attr == "seed_users":
                accounts = list(result or [])
                click.echo(f"{label}: 新建 {len(accounts)} 个 / {len(accounts)} created")
            else:
                click.echo(f"{label}: {result}")

        started = time.monotonic()
        session = runtime.session_factory()
        try:
            with click.progressbar(
                length=elder_count,
                label="老人档案 / elders",
                show_pos=True,
                show_percent=True,
                width=30,
            ) as bar:

                def committed(done: int) -> None:
                    session.commit()
                    bar.update(done)

                report = seed_elders(
                    session,
                    count=elder_count,
                    seed=seed,
                    league_code=league,
                    batch_size=batch_size,
                    after_batch=committed,
                )
            session.commit()
        finally:
            session.close()
        refresh_statistics(runtime.engine)
        took = time.monotonic() - started
        click.echo(
            f"老人新建 {report.created} 名 (其中已故 {report.deceased}), 已存在 {report.existing} 名; "
            f"电话 {report.phones}, 紧急联系人 {report.contacts}, 设备 {report.devices}; "
            f"新建区划 {report.regions_created}; 用时 {took:.1f} 秒 / elders created {report.created} "
            f"({report.deceased} deceased), already present {report.existing}; {took:.1f}s"
        )
        for note in report.notes:
            click.echo(note)
        if accounts:
            click.echo("演示账号 (密码只显示这一次) / demo accounts (passwords shown once):")
            for username, password, role in accounts:
                click.echo(f"  {role:<12} {username:<16} {password}")
    finally:
        runtime.close()
