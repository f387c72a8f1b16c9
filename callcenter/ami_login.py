"""An AMI client logged in as the deployment's settings say: callcenter and the screen-pop
service each log in as their own AMI user, with the same login, keep-alive and reconnect rules."""

from __future__ import annotations

from typing import Any

from callcenter.ami import AmiClient
from platform_core.settings import Settings


def ami_client(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    username: str,
    secret: str,
    **options: Any,
) -> AmiClient:
    """``options`` (callbacks, the events wanted, a test's shorter keep-alive) over the
    settings' login, keep-alive and reconnect rules."""
    return AmiClient(
        host=host or settings.ami_host,
        port=port or settings.ami_port,
        username=username,
        secret=secret,
        **{
            "auth": settings.ami_auth,
            "action_timeout": settings.ami_action_timeout_s,
            "ping_interval": settings.ami_ping_interval_s,
            "reconnect_max": settings.ami_reconnect_max_s,
            "auth_retries": settings.ami_auth_retries,
            **options,
        },
    )
