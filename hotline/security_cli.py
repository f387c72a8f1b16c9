"""Account administration and the audit trail at the server: ``hotline users ...`` (beside
``users add``) and ``hotline audit ...``. Commands act as the system (the operator at the
server), every change is audited like the console's."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click

from hotline.console_cli import users
from platform_core.errors import DomainError


@contextmanager
def _session(what: str) -> Iterator[Any]:
    from hotline.context import runtime_for_cli

    runtime = runtime_for_cli(start_jobs=False)
    try:
        with runtime.session() as s:
            yield s
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        runtime.close()


def _operator(command: str) -> Any:
    from platform_core.actors import system_actor

    return system_actor(f"hotline {command}")


def _user_id(s: Any, username: str) -> int:
    from platform_core.accounts.service import find_user_by_username

    user = find_user_by_username(s, username)
    if user is None:
        raise click.ClickException(f"账号不存在: {username} / no such account")
    return int(user.id)


@users.command("list")
@click.option("--role", default=None, help="只列出该角色 / only this role")
@click.option("--region", "region_code", default="150000000000", show_default=True)
def list_users(role: str | None, region_code: str) -> None:
    """账号及其状态 (停用、锁定、待改密、动态口令) / accounts and their state."""
    from platform_core.accounts import administration
    from platform_core.actors import system_actor

    with _session("users list") as s:
        rows = administration.list_accounts(
            s, actor=system_actor("hotline users list", region_code=region_code), role=role
        )
    for r in rows:
        state = [
            "停用" if not r["active"] else "正常",
            *(["锁定"] if r["locked"] else []),
            *(["待改密"] if r["must_change_password"] else []),
            *(["动态口令"] if r["second_factor"] else []),
        ]
        click.echo(
            f"{r['username']:<20} {r['role_label']:<8} {r['region_code']} {'/'.join(state)} "
            f"在线 {r['live_sessions']}"
        )


def _simple(name: str, doc: str, run: Callable[[Any, Any, int], str]) -> None:
    @users.command(name, help=doc)
    @click.argument("username")
    def command(username: str) -> None:
        with _session(f"users {name}") as s:
            message = run(s, _operator(f"users {name}"), _user_id(s, username))
        click.echo(message)


def _disable(s: Any, actor: Any, uid: int) -> str:
    from platform_core.accounts import administration

    ended = administration.set_active(s, actor=actor, user_id=uid, active=False)
    return f"已停用, 结束登录 {len(ended)} 个 / disabled, {len(ended)} logins ended"


def _enable(s: Any, actor: Any, uid: int) -> str:
    from platform_core.accounts import administration

    administration.set_active(s, actor=actor, user_id=uid, active=True)
    return "已启用 / enabled"


def _unlock(s: Any, actor: Any, uid: int) -> str:
    from platform_core.accounts import administration

    administration.unlock(s, actor=actor, user_id=uid)
    return "已解锁 / unlocked"


def _reset(s: Any, actor: Any, uid: int) -> str:
    from platform_core.accounts import administration

    reset = administration.reset_password(s, actor=actor, user_id=uid)
    return (
        f"临时密码 (只显示这一次, 下次登录须改密) / temporary password, shown once: "
        f"{reset.temporary_password}"
    )


def _reset_2fa(s: Any, actor: Any, uid: int) -> str:
    from platform_core.accounts import second_factor

    second_factor.reset(s, actor=actor, user_id=uid)
    return "动态口令已重置, 下次登录重新绑定 / second factor reset"


_simple("disable", "停用账号并结束其登录 / disable an account", _disable)
_simple("enable", "启用账号 / enable an account", _enable)
_simple("unlock", "解除登录失败锁定 / unlock", _unlock)
_simple("reset-password", "重置密码, 下次登录须改密 / reset the password", _reset)
_simple("reset-2fa", "重置动态口令 / reset the second factor", _reset_2fa)


@users.command("role")
@click.argument("username")
@click.argument(
    "role",
    type=click.Choice(
        ["agent", "supervisor", "admin", "provider", "officer", "security_admin", "auditor"]
    ),
)
def change_role(username: str, role: str) -> None:
    """更改角色 (三员之间不能互换) / change an account's role."""
    from platform_core.accounts import administration

    with _session("users role") as s:
        administration.change_role(
            s, actor=_operator("users role"), user_id=_user_id(s, username), role=role
        )
    click.echo(f"{username} 的角色已改为 {role} / role changed")


@users.command("sessions")
@click.argument("username")
@click.option("--end", "end_prefix", default=None, help="结束该登录 (前缀) / end this login")
def sessions(username: str, end_prefix: str | None) -> None:
    """账号的在线登录, 或结束其中一个 / a user's open logins, or end one."""
    from platform_core.accounts import administration

    with _session("users sessions") as s:
        actor, uid = _operator("users sessions"), _user_id(s, username)
        if end_prefix:
            ended = administration.end_login(s, actor=actor, user_id=uid, login_prefix=end_prefix)
            click.echo("已结束 / ended" if ended else "没有这个登录 / no such open login")
            return
        for row in administration.list_logins(s, actor=actor, user_id=uid):
            click.echo(
                f"{row['id']}  {row['source_ip'] or '-':<15} 最近 {row['last_seen_at'][:19]}  "
                f"{row['user_agent'][:50]}"
            )


# ---------------------------------------------------------------- audit


@click.group()
def audit() -> None:
    """审计记录: 查询、导出、校验、保留 / the audit trail: search, export, verify, retention."""


def _query(
    person: str, elder: int | None, action: str, since: date | None, until: date | None, result: str
) -> Any:
    from platform_core import clock
    from platform_core.flows.audit_review import AuditQuery

    return AuditQuery(
        person=person,
        elder_id=elder,
        action=action,
        start=clock.start_of_day(since) if since else None,
        end=clock.start_of_day(until) if until else None,
        result=result,
    )


_filters = [
    click.option("--person", default="", help="操作人账号或用户编号 / username or user id"),
    click.option("--elder", type=int, default=None, help="老人编号 / elder id"),
    click.option("--action", default="", help='操作, 以 "." 结尾为前缀 / action ("auth." prefix)'),
    click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None),
    click.option(
        "--to",
        "until",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="不含当日 / exclusive",
    ),
    click.option("--result", default="", type=click.Choice(["", "ok", "denied", "failed"])),
]


def _with_filters(fn: Any) -> Any:
    for option in reversed(_filters):
        fn = option(fn)
    return fn


@audit.command("search")
@_with_filters
@click.option("--limit", type=int, default=50, show_default=True)
def search(
    person: str, elder: int | None, action: str, since: Any, until: Any, result: str, limit: int
) -> None:
    """查询审计记录 (最新在前) / search, newest first."""
    from platform_core.flows import audit_review as review

    with _session("audit search") as s:
        q = _query(person, elder, action, since and since.date(), until and until.date(), result)
        rows, total = review.search(s, actor=_operator("audit search"), query=q, limit=limit)
        tz = s.info["settings"].timezone
        for r in rows:
            click.echo("  ".join(str(v) for v in review.row_of(r, tz)))
    click.echo(f"共 {total} 条 / {total} records")


@audit.command("export")
@_with_filters
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default="-")
def export(
    person: str, elder: int | None, action: str, since: Any, until: Any, result: str, out: str
) -> None:
    """导出为 CSV (带导出人水印, 导出本身被审计) / export as CSV."""
    from platform_core.flows import audit_review as review

    with _session("audit export") as s:
        q = _query(person, elder, action, since and since.date(), until and until.date(), result)
        data = review.export_csv(
            s, actor=_operator("audit export"), query=q, tz=s.info["settings"].timezone
        )
    if out == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(out, "wb") as fh:
            fh.write(data)


@audit.command("verify")
def verify() -> None:
    """校验哈希链, 报告第一个断点 / check the hash chain; exit 1 at the first broken link."""
    from platform_core.flows import audit_review as review

    with _session("audit verify") as s:
        report = review.verify(s, actor=_operator("audit verify"))
    if report.intact:
        click.echo(f"完整: 校验 {report.checked} 条 / intact: {report.checked} records checked")
        return
    if report.broken_at_seq is not None:
        click.echo(
            f"哈希链在第 {report.broken_at_seq} 条断开 (记录被删除或改写) / chain broken at "
            f"link {report.broken_at_seq}"
        )
    if report.altered_ids:
        ids = ", ".join(str(i) for i in report.altered_ids[:20])
        click.echo(f"内容被改动的记录 / altered records: {ids}")
    sys.exit(1)


@audit.command("purge")
@click.option("--days", type=int, default=None, help="保留天数 (至少 184) / days kept")
def purge(days: int | None) -> None:
    """删除超过保留期的审计记录和已结束的登录 / remove records past retention."""
    from platform_core.flows import audit_review as review

    with _session("audit purge") as s:
        keep = days or s.info["settings"].audit_retention_days
        done = review.purge_expired(s, retention_days=keep)
    click.echo(
        f"已删除 {done.audit_records} 条审计记录、{done.login_sessions} 个登录 "
        f"(早于 {done.before:%Y-%m-%d}) / removed"
    )


# ---------------------------------------------------------------- data key


@click.group()
def keys() -> None:
    """数据密钥: 新建、状态、轮换 / the data key: new, status, rotate."""


@keys.command("new")
def new_key() -> None:
    """打印一个新的数据密钥 (32 字节, base64) / print a fresh data key."""
    import base64
    import secrets

    click.echo(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


@keys.command("status")
def key_status() -> None:
    """当前密钥编号, 以及各列尚未用当前密钥加密的数量 / values not yet under the current key."""
    from platform_core.flows import key_rotation as rotation
    from platform_core.runtime import cipher_of

    with _session("keys status") as s:
        click.echo(f"当前密钥 / current key: {cipher_of(s).key_id}")
        for column, left in rotation.count_stale(s).items():
            click.echo(f"  {column:<40} {left}")


@keys.command("rotate")
@click.option("--batch-size", type=int, default=500, show_default=True)
@click.option(
    "--new",
    "make_new",
    is_flag=True,
    help="嵌入式部署: 生成新密钥, 旧密钥转为待退役 / embedded defaults: make the new key here",
)
def rotate(batch_size: int, make_new: bool) -> None:
    """用当前数据密钥重新加密全部敏感字段 (分批提交, 不停机) / reseal everything, in batches."""
    import base64
    import os
    import secrets

    from hotline.context import runtime_for_cli
    from platform_core.audit import service as audit
    from platform_core.flows import key_rotation as rotation
    from platform_core.settings import load_settings

    settings = load_settings()
    if make_new:
        if os.environ.get("HOTLINE_DATA_KEY"):
            raise click.ClickException(
                "HOTLINE_DATA_KEY 来自环境变量: 请在密钥库中更换, 旧密钥放入 "
                "HOTLINE_DATA_KEYS_RETIRED / the key comes from the environment: change it there"
            )
        retired = settings.data_dir / "data_keys_retired"
        old = [k for k in [settings.data_key, *settings.data_keys_retired.split(",")] if k]
        fresh = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        for path, value in ((retired, ",".join(old)), (settings.data_dir / "data_key", fresh)):
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
            os.replace(tmp, path)
        settings = settings.with_overrides(data_key=fresh, data_keys_retired=",".join(old))
        click.echo(
            "已生成新密钥, 旧密钥仍可读取直至轮换完成 / new key made; the old one still reads"
        )
    runtime = runtime_for_cli(settings, start_jobs=False)
    try:

        def show(p: rotation.Progress) -> None:
            click.echo(f"  {p.column:<40} 已重新加密 {p.resealed:>8}, 剩余 {p.left:>8}")

        done = rotation.reseal(runtime.session_factory, batch_size=batch_size, progress=show)
        with runtime.session() as s:
            left = sum(rotation.count_stale(s).values())
            audit.record(
                s,
                actor=_operator("keys rotate"),
                action="security.rotate_data_key",
                target_type="data_key",
                target_id=runtime.cipher.key_id,
                detail={"resealed": done, "left": left},
            )
    finally:
        runtime.close()
    click.echo(f"完成: 重新加密 {sum(done.values())} 个值, 剩余 {left} / done")
    if left == 0:
        click.echo("旧密钥可以移出 HOTLINE_DATA_KEYS_RETIRED / the retired keys may now be removed")
