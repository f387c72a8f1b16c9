"""Vendor protocols: each turns one received payload into device reports, or refuses it.

``hx-json`` is a signed JSON message per event (smart watches, pendants and sensors relayed by
the vendor's cloud); ``dc09-cid`` is the compact text of alarm panels and GSM pendants (SIA
DC-09 frames carrying Ademco Contact ID events). Both are documented in the README.

:func:`read_payload` is how the transports call them: whatever a payload holds, the answer is
reports or a :class:`ProtocolError`, never another exception in a transport's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from callcenter.alarm_intake.protocols import dc09, hxjson
from callcenter.alarm_intake.protocols.base import (
    MAX_PAYLOAD,
    REASONS,
    Parsed,
    ProtocolError,
    Report,
)

log = logging.getLogger(__name__)

PARSERS: dict[str, Callable[..., Parsed]] = {
    hxjson.NAME: hxjson.parse,
    dc09.NAME: dc09.parse,
}


def read_payload(
    protocol: str,
    payload: bytes,
    *,
    vendor: str,
    secret: str,
    transport: str,
    received_at: datetime,
) -> Parsed:
    """Parse one payload in ``protocol``; raises only :class:`ProtocolError`."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("too_large", f"{len(payload)} bytes, at most {MAX_PAYLOAD}")
    try:
        return PARSERS[protocol](
            payload, vendor=vendor, secret=secret, transport=transport, received_at=received_at
        )
    except ProtocolError:
        raise
    except Exception as exc:  # a parser's own fault: the message is refused, the thread lives on
        log.exception("设备消息解析出错 / parsing a %s payload failed", protocol)
        raise ProtocolError("unreadable", type(exc).__name__) from None


__all__ = ["MAX_PAYLOAD", "PARSERS", "REASONS", "Parsed", "ProtocolError", "Report", "read_payload"]
