"""What the outbox needs from an SMS gateway, whichever it is (Twilio is the one adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from platform_core.settings import Settings


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


def gateway_for(settings: Settings) -> SmsGateway | None:
    """Twilio when its account, token and sender are configured; else None (outbox only)."""
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        from platform_core.notifications.twilio_sms import TwilioSmsGateway

        return TwilioSmsGateway(settings)
    return None
