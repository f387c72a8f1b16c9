"""Vendor protocols: each turns one received payload into device reports, or refuses it.

``hx-json`` is a signed JSON message per event (smart watches, pendants and sensors relayed by
the vendor's cloud); ``dc09-cid`` is the compact text of alarm panels and GSM pendants (SIA
DC-09 frames carrying Ademco Contact ID events). Both are documented in the README.
"""

from __future__ import annotations

from collections.abc import Callable

from callcenter.alarm_intake.protocols import dc09, hxjson
from callcenter.alarm_intake.protocols.base import Parsed, ProtocolError, Report

PARSERS: dict[str, Callable[..., Parsed]] = {
    hxjson.NAME: hxjson.parse,
    dc09.NAME: dc09.parse,
}

__all__ = ["PARSERS", "Parsed", "ProtocolError", "Report"]
