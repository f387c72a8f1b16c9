"""What the outbox needs from an SMS gateway, whichever it is.

platform_core imports no vendor SDK: the process's composition root names the adapter with
:func:`use_gateway` (the ``hotline`` command wires in Twilio's, ``hotline.sms_twilio``). Without
one, or without Twilio credentials, messages wait in the outbox.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from platform_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayMessage:
    sid: str
    status: str  # the gateway's own word: queued, sending, sent, delivered, undelivered, failed ...
    error_code: str | None = None
    error_message: str | None = None


class GatewayError(Exception):
    """The gateway refused or could not be reached. ``retriable`` errors (rate limits, server
    errors, a lost connection) are tried again later; the rest fail the message."""

    def __init__(
        self, message: str, *, retriable: bool, code: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retriable = retriable
        self.code = code
        self.status = status


class SmsGateway(Protocol):
    name: str

    def send(self, *, to: str, body: str) -> GatewayMessage: ...

    def fetch(self, sid: str) -> GatewayMessage: ...


def e164(number: str) -> str:
    """A canonical Chinese mobile number (13812345678) in the form gateways expect."""
    return number if number.startswith("+") else "+86" + number


GatewayFactory = Callable[[Settings], SmsGateway]

_factory: GatewayFactory | None = None
# one client per thread and set of credentials: built once, not per message
_built = threading.local()
_warned = threading.Event()


def use_gateway(factory: GatewayFactory | None) -> None:
    """Name the adapter that sends this process's messages once credentials are configured."""
    global _factory
    _factory = factory


def gateway_for(settings: Settings) -> SmsGateway | None:
    """The configured gateway when Twilio's account, token and sender are set; else None."""
    if not (
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
    ):
        return None
    if _factory is None:
        if not _warned.is_set():
            _warned.set()
            log.warning(
                "已配置 Twilio 但本进程未接入短信网关, 短信留在待发箱 / Twilio is configured but no "
                "gateway adapter is wired into this process; messages stay in the outbox"
            )
        return None
    key = (
        _factory,
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from_number,
        settings.twilio_api_base,
    )
    cache: dict[tuple[object, ...], SmsGateway] | None = getattr(_built, "gateways", None)
    if cache is None:
        cache = _built.gateways = {}
    gateway = cache.get(key)
    if gateway is None:
        gateway = cache[key] = _factory(settings)
    return gateway
