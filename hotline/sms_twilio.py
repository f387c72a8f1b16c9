"""The SMS gateway through Twilio's Python library, wired in by the composition root.

platform_core's outbox speaks only to the ``SmsGateway`` protocol and imports no vendor SDK; the
``hotline`` command names this adapter (``use_gateway``) before any subcommand runs, and the
library is imported only when Twilio is configured. ``HOTLINE_TWILIO_API_BASE`` points the client's API domain elsewhere (a regional proxy, or the
local stand-in the tests run); Twilio's REST errors become :class:`GatewayError`, retriable for
429 (rate limit) and 5xx, final for the rest (an invalid number will not become valid).
"""

from __future__ import annotations

from typing import Any

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client

from platform_core.notifications.transport import GatewayError, GatewayMessage, SmsGateway, e164
from platform_core.settings import Settings


def twilio_gateway(settings: Settings) -> SmsGateway:
    """The gateway factory ``platform_core.notifications.transport.use_gateway`` expects."""
    return TwilioSmsGateway(settings)


class TwilioSmsGateway:
    name = "twilio"

    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
        if settings.twilio_api_base:
            # every Messages call goes through the Api domain; its base URL is the host
            self.client.api.base_url = settings.twilio_api_base.rstrip("/")
        self.client.http_client.timeout = timeout_s
        self.sender = settings.twilio_from_number

    def send(self, *, to: str, body: str) -> GatewayMessage:
        return self._call(
            lambda: self.client.messages.create(to=e164(to), from_=self.sender, body=body)
        )

    def fetch(self, sid: str) -> GatewayMessage:
        return self._call(lambda: self.client.messages(sid).fetch())

    @staticmethod
    def _call(request: Any) -> GatewayMessage:
        try:
            msg = request()
        except (TwilioRestException, TwilioServiceException) as exc:
            status = int(exc.status or 0)
            text = getattr(exc, "msg", None) or getattr(exc, "title", "")
            raise GatewayError(
                f"Twilio {status} {exc.code}: {text}",
                retriable=status == 429 or status >= 500,
                code=str(exc.code) if exc.code is not None else str(status),
                status=status,
            ) from exc
        except (RequestException, TwilioException, OSError) as exc:
            raise GatewayError(
                f"Twilio unreachable: {exc}", retriable=True, code="unreachable"
            ) from exc
        return GatewayMessage(
            sid=str(msg.sid),
            status=str(msg.status),
            error_code=None if msg.error_code is None else str(msg.error_code),
            error_message=msg.error_message,
        )
