"""``hotline console`` serves the agent console; ``hotline users`` manages console accounts."""

from __future__ import annotations

import sys
from typing import Any

import click

from platform_core.errors import DomainError

# HOTLINE_CONSOLE_SERVER's values: gunicorn's gevent or gthread worker, or the development server
SERVERS = ("gunicorn-gevent", "gunicorn", "werkzeug")


@click.command()
@click.option("--host", default=None, help="监听地址 / bind address (HOTLINE_CONSOLE_HOST)")
@click.option("--port", default=None, type=int, help="端口 / port (HOTLINE_CONSOLE_PORT)")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(min=1),
    show_default=True,
    help="进程数 (大于 1 需要 Redis) / processes sharing the port (more than one needs Redis)",
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default=None,
    help="WSGI 服务器 / WSGI server (HOTLINE_CONSOLE_SERVER, default gunicorn-gevent)",
)
@click.option("--reuse-port", is_flag=True, hidden=True)
def console(
    host: str | None, port: int | None, workers: int, server: str | None, reuse_port: bool
) -> None:
    """启动坐席控制台 / serve the agent console (HTTP + Socket.IO)."""
    import subprocess

    from platform_core.settings import load_settings

    settings = load_settings()
    host = host or settings.console_host
    port = port or settings.console_port
    server = server or settings.console_server
    if server not in SERVERS:
        raise click.ClickException(
            f"HOTLINE_CONSOLE_SERVER={server!r}: 应为 gunicorn-gevent、gunicorn 或 werkzeug"
            " / must be gunicorn-gevent, gunicorn or werkzeug"
        )
    if workers > 1 and not settings.redis_url:
        raise click.ClickException(
            "多个进程需要 HOTLINE_REDIS_URL / more than one worker needs HOTLINE_REDIS_URL"
        )
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers - 1):
            # each worker is a whole console process; the kernel shares the port between them and
            # Redis carries events, Socket.IO emits and logouts between them
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "from hotline.cli import main; main()",
                        "console",
                        "--host",
                        host,
                        "--port",
                        str(port),
                        "--server",
                        server,
                        "--reuse-port",
                    ]
                )
            )
        click.echo(
            f"坐席控制台 / console: http://{host}:{port} ({server}"
            + (f", {workers} 进程 / workers)" if workers > 1 else ")")
        )
        if server.startswith("gunicorn"):
            from hotline.console_serving import WORKER_CLASSES

            _serve_gunicorn(
                settings,
                host,
                port,
                reuse_port=reuse_port or workers > 1,
                worker_class=WORKER_CLASSES[server],
            )
        else:
            _serve_werkzeug(settings, host, port, reuse_port=reuse_port or workers > 1)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


def _build_console(settings: Any) -> tuple[Any, Any]:
    """The runtime and the Flask app of one console process."""
    from agent_console import create_app
    from platform_core.db import make_engine
    from platform_core.runtime import build_runtime, install_runtime

    url = settings.effective_database_url
    pool = (
        {"pool_size": settings.console_db_pool, "max_overflow": 0}
        if url.startswith("postgresql")
        else {}
    )
    runtime = build_runtime(settings, engine=make_engine(url, **pool))
    install_runtime(runtime)
    return runtime, create_app(runtime)


def _serve_gunicorn(
    settings: Any, host: str, port: int, *, reuse_port: bool, worker_class: str
) -> None:
    from hotline.console_serving import ConsoleApplication, gunicorn_options
    from platform_core.process import settle_service_process

    built: list[Any] = []

    def build() -> Any:
        runtime, app = _build_console(settings)
        built.append(runtime)
        settle_service_process()
        return app

    options = gunicorn_options(
        settings, host=host, port=port, reuse_port=reuse_port, worker_class=worker_class
    )
    options["worker_exit"] = lambda _arbiter, _worker: [rt.close() for rt in built]
    ConsoleApplication(build, options).run()


def _serve_werkzeug(settings: Any, host: str, port: int, *, reuse_port: bool) -> None:
    from agent_console.server import ConsoleServer
    from platform_core.process import settle_service_process

    runtime, app = _build_console(settings)
    try:
        server = ConsoleServer(app, host, port, reuse_port=reuse_port)
        # Python's GIL switch interval stays at its default (5 ms): at 0.5 ms a thousand socket
        # threads traded the GIL 50,000-70,000 times a second under load and the console's p95
        # doubled.
        settle_service_process()
        server.serve_forever()
    finally:
        runtime.close()


@click.group()
def users() -> None:
    """控制台账号 / console accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        [
            "agent",
            "supervisor",
            "admin",
            "provider",
            "officer",
            "community_worker",
            "security_admin",
            "auditor",
            "site_manager",
            "social_worker",
            "volunteer",
        ]
    ),
)
@click.option("--region", "region_code", required=True, help="12 位区划代码 / 12-digit region code")
@click.option("--name", "display_name", default="", help="显示名 / display name")
@click.option(
    "--interface",
    "sip_interface",
    default=None,
    help="坐席分机, 如 PJSIP/8001 / queue member interface",
)
@click.option(
    "--provider-id",
    type=int,
    default=None,
    help="服务商 id (服务商账号) / provider id for provider staff",
)
@click.option(
    "--password-stdin", is_flag=True, help="从标准输入读取密码 / read the password from stdin"
)
def add_user(
    username: str,
    role: str,
    region_code: str,
    display_name: str,
    sip_interface: str | None,
    provider_id: int | None,
    password_stdin: bool,
) -> None:
    """新建账号, 密码须符合强度要求 / create an account (the password must meet the policy)."""
    from hotline.context import runtime_for_cli
    from platform_core.accounts.service import create_user
    from platform_core.actors import system_actor

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    runtime = runtime_for_cli(start_jobs=False)
    try:
        with runtime.session() as s:
            user = create_user(
                s,
                actor=system_actor("hotline users add"),
                username=username,
                password=password,
                role=role,
                region_code=region_code,
                display_name=display_name,
                sip_interface=sip_interface,
                provider_id=provider_id,
            )
            user_id = user.id
    except DomainError as err:
        raise click.ClickException(err.message) from None
    finally:
        runtime.close()
    click.echo(f"已创建账号 {username} (id {user_id}, {role}, {region_code}) / account created")
