"""The ``hotline`` command. Subcommands live with their packages and load only when used, so
``hotline db upgrade`` does not import the web console or the telephony stack."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

# name -> "module:attribute" of a click command or group. One line per capability.
SUBCOMMANDS: dict[str, str] = {
    "db": "hotline.db_cli:db",
    "seed": "hotline.seed_cli:seed",
    "ivr": "ivr_flows.cli:ivr",
    "assessment": "hotline.assessment_cli:assessment",
    "console": "hotline.console_cli:console",
    "users": "hotline.security_cli:users",
    "audit": "hotline.security_cli:audit",
    "keys": "hotline.security_cli:keys",
    "demo": "hotline.demo:demo",
    "devices": "hotline.devices_cli:devices",
    "callcenter": "callcenter.cli:callcenter",
    "pbx-sim": "callcenter.pbx_sim.cli:pbx_sim",
    "report": "callcenter.report_cli:report",
    "worker": "hotline.worker_cli:worker",
    "jobs": "hotline.worker_cli:jobs",
    "backup": "hotline.backup_cli:backup",
    "restore": "hotline.backup_cli:restore",
    "healthcheck": "hotline.healthcheck_cli:healthcheck",
    "warehouse": "hotline.warehouse_cli:warehouse",
    "exchange": "hotline.exchange_cli:exchange",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, _, attr = SUBCOMMANDS[name].partition(":")
            cmd: click.Command = getattr(importlib.import_module(module), attr)
            return cmd
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="调试日志 / debug logging")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """12349 养老服务热线平台 / 12349 elderly-care hotline platform."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from platform_core.security import log_masking

    log_masking.install()  # no full phone or ID number reaches a log, whatever logs it
    from platform_core.settings import load_settings

    settings = load_settings(ensure_secrets=False)
    if settings.log_format == "json":
        from platform_core.json_logs import use_json

        use_json(settings.timezone)
    ctx.ensure_object(dict)
    from platform_core.notifications.transport import use_gateway

    use_gateway(_twilio_gateway)


def _twilio_gateway(settings: Any) -> Any:
    """Twilio's library is loaded only by a process that sends through it."""
    from hotline.sms_twilio import twilio_gateway

    return twilio_gateway(settings)


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="hotline")
