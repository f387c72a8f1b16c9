"""``hotline exchange``: a department's file in, the export upward, the parties' keys."""

from __future__ import annotations

import json
from pathlib import Path

import click

from platform_core.actors import Actor
from platform_core.errors import DomainError


@click.group()
def exchange() -> None:
    """数据交换 / data exchange (standard 5.2)."""


def _actor(region: str | None) -> Actor:
    from platform_core.actors import system_actor

    return system_actor("命令行数据交换", region_code=region or "150000000000")


@exchange.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["deaths", "disability", "insurance"]), required=True)
@click.option("--region", default=None, help="所属地区代码 / the department's area (default: all)")
def import_file(path: Path, kind: str, region: str | None) -> None:
    """导入部门文件 (.xlsx/.csv) / take a department's file: each row's result is printed."""
    from hotline.context import runtime_for_cli
    from platform_core.flows import department_batches as batches

    rt = runtime_for_cli()
    try:
        with rt.session() as s:
            batch, duplicate = batches.import_file(
                s,
                actor=_actor(region or rt.settings.home_region_code),
                department=batches.KINDS[kind].department,
                kind=kind,
                filename=path.name,
                content=path.read_bytes(),
                channel="command",
            )
            result = batches.batch_result(s, batch, duplicate=duplicate)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        rt.close()
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@exchange.command("export")
def export() -> None:
    """生成本平台数据并报送上级 / build this platform's export and send it upward."""
    from hotline.context import runtime_for_cli
    from platform_core.exchange import upward

    rt = runtime_for_cli()
    try:
        with rt.session() as s:
            e = upward.create_export(s, actor=_actor(rt.settings.home_region_code))
            click.echo(json.dumps({"batch_no": e.batch_no, "manifest": e.manifest}, indent=2))
        # the embedded default sends from this process: give the first attempt its time
        getattr(rt.jobs, "wait_idle", lambda _t: True)(60)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        rt.close()


@exchange.command("issue-key")
@click.option(
    "--party",
    type=click.Choice(["public_security", "disabled_federation", "medical_insurance", "platform"]),
    required=True,
)
@click.option("--name", "party_name", default="", help="部门或平台名称 / the party's name")
@click.option("--region", required=True, help="其辖区代码 / the party's area")
def issue_key(party: str, party_name: str, region: str) -> None:
    """为部门或下级平台签发密钥 (仅显示一次) / issue a key (shown once)."""
    from hotline.context import runtime_for_cli
    from platform_core.exchange import keys

    rt = runtime_for_cli(start_jobs=False)
    try:
        with rt.session() as s:
            k = keys.issue_key(
                s, actor=_actor(region), party=party, party_name=party_name, region_code=region
            )
            click.echo(json.dumps({"key_id": k.key_id, "secret": k.secret, "cipher": k.cipher}))
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        rt.close()
