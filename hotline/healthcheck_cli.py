"""``hotline healthcheck``: the container healthcheck of every hotline service."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import click


@click.command()
@click.option("--port", type=int, default=None, help="端口 / port (HOTLINE_METRICS_PORT)")
@click.option("--path", default="/readyz", show_default=True)
def healthcheck(port: int | None, path: str) -> None:
    """检查本进程的就绪接口 / exit 0 when this host's service answers /readyz with 200."""
    from platform_core.settings import load_settings

    if port is None:
        port = load_settings(ensure_secrets=False).metrics_port
    if not port:
        raise click.ClickException("HOTLINE_METRICS_PORT 未设置 / not set")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"unhealthy: {exc}", err=True)
        sys.exit(1)
    sys.exit(0 if ok else 1)
