"""``hx-json``: one signed JSON object per device event, as vendor clouds relay them.

    {"ver": 1, "msgId": "AK-20241126-000123", "dev": "864512030000019",
     "type": "alarm", "event": "sos", "code": "E101", "ts": 1732586400123,
     "loc": {"lat": 40.8414, "lng": 111.7519, "acc": 15, "src": "gps"},
     "bat": 76, "val": {"hr": 148}, "sign": "<hex>"}

- ``type``: alarm | restore | heartbeat | fault. ``dev``: the device's IMEI or serial.
- ``msgId``: unique per device; a retransmission keeps it (that is how repeats are recognised).
- ``event`` (alarm and restore): sos, fall, smoke, gas, water, inactivity, hr_high, hr_low,
  spo2_low, breath_abnormal, bed_exit, low_battery. ``ts``: device time, epoch milliseconds or
  ISO 8601 with an offset. ``loc`` optional (lat/lng WGS-84, accuracy in metres, source gps /
  lbs / wifi). ``bat`` optional (percent). ``fault`` carries ``code`` and ``detail``.
- ``sign``: hex HMAC-SHA256 with the vendor's secret over the message without ``sign``,
  serialised with sorted keys, no spaces, UTF-8. An unsigned or wrongly signed message is refused.

A payload may also be a JSON array of such objects (webhooks batch them). A payload nested
deeper than ``MAX_DEPTH`` is refused unread (Python's parser would recurse once per level).
Text fields take no control characters (NUL among them) and no lone surrogates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime
from typing import Any

from callcenter.alarm_intake.protocols.base import (
    MAX_PAYLOAD,
    Parsed,
    ProtocolError,
    Report,
    has_unprintable,
)
from platform_core import bounded_json
from platform_core.alarms.schemas import Signal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows.device_reports import FaultReport

NAME = "hx-json"
MAX_BATCH = 500
# array of messages > message > loc / val: three levels; room to spare, nothing near recursion
MAX_DEPTH = 8

EVENTS: dict[str, AlarmType] = {
    "sos": AlarmType.SOS,
    "fall": AlarmType.FALL,
    "smoke": AlarmType.SMOKE,
    "gas": AlarmType.GAS,
    "water": AlarmType.WATER,
    "inactivity": AlarmType.NO_ACTIVITY,
    "hr_high": AlarmType.HEALTH_THRESHOLD,
    "hr_low": AlarmType.HEALTH_THRESHOLD,
    "spo2_low": AlarmType.HEALTH_THRESHOLD,
    "breath_abnormal": AlarmType.HEALTH_THRESHOLD,
    "bed_exit": AlarmType.HEALTH_THRESHOLD,
    "low_battery": AlarmType.LOW_BATTERY,
}
TYPES = ("alarm", "restore", "heartbeat", "fault")


def canonical(message: dict[str, Any]) -> bytes:
    body = {k: v for k, v in message.items() if k != "sign"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(message: dict[str, Any], secret: str) -> str:
    return hmac.new(secret.encode(), canonical(message), hashlib.sha256).hexdigest()


def encode(message: dict[str, Any], secret: str) -> bytes:
    """A signed message, as a device cloud sends it (the simulator and tests use this)."""
    signed = dict(message, sign=sign(message, secret))
    return json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()


def _time(value: Any) -> datetime:
    if isinstance(value, bool):
        raise ProtocolError("bad_time", repr(value))
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 < value < 4_102_444_800_000:
            raise ProtocolError("bad_time", repr(value))
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ProtocolError("bad_time", value[:40]) from None
        if parsed.tzinfo is None:
            raise ProtocolError("bad_time", "time without an offset")
        return parsed.astimezone(UTC)
    raise ProtocolError("bad_time", "missing ts")


def _text(message: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = message.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ProtocolError("missing_field", key)
    text = str(value).strip()
    if len(text) > limit:
        raise ProtocolError("bad_field", f"{key} too long")
    if has_unprintable(text):
        raise ProtocolError("bad_field", f"{key} has control characters")
    return text


def _position(message: dict[str, Any]) -> dict[str, Any]:
    loc = message.get("loc")
    if loc is None:
        return {}
    if not isinstance(loc, dict):
        raise ProtocolError("bad_field", "loc")
    lat, lng = loc.get("lat"), loc.get("lng")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lng)):
        raise ProtocolError("bad_field", "loc.lat/lng")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ProtocolError("bad_field", "loc out of range")
    acc = loc.get("acc")
    source = str(loc.get("src") or "gps")[:10]
    if has_unprintable(source):
        raise ProtocolError("bad_field", "loc.src has control characters")
    return {
        "latitude": float(lat),
        "longitude": float(lng),
        "accuracy_m": float(acc)
        if isinstance(acc, int | float) and not isinstance(acc, bool)
        else None,
        "position_source": source,
    }


def _battery(message: dict[str, Any]) -> int | None:
    bat = message.get("bat")
    if bat is None:
        return None
    if not isinstance(bat, int | float) or isinstance(bat, bool) or not 0 <= bat <= 100:
        raise ProtocolError("bad_field", "bat")
    return int(bat)


def parse_message(
    message: Any, *, vendor: str, secret: str, transport: str, received_at: datetime, raw: str
) -> Report:
    if not isinstance(message, dict):
        raise ProtocolError("malformed", "not a JSON object")
    given = message.get("sign")
    if not isinstance(given, str) or not given:
        raise ProtocolError("unsigned", "no sign")
    try:
        expected = sign(message, secret)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no UTF-8, so nobody signed it
        raise ProtocolError("bad_field", "text that is not Unicode") from None
    # compare_digest takes ASCII text only (it raises on anything else)
    if not given.isascii() or not hmac.compare_digest(expected, given.lower()):
        raise ProtocolError("bad_signature", "sign does not match")
    if message.get("ver", 1) != 1:
        raise ProtocolError("unsupported_version", str(message.get("ver"))[:10])
    kind = message.get("type")
    if kind not in TYPES:
        raise ProtocolError("unknown_type", str(kind)[:20])
    device = _text(message, "dev", limit=64)
    if kind == "heartbeat":
        return Heartbeat(device_ref=device, at=received_at, battery_pct=_battery(message))
    msg_id = _text(message, "msgId", limit=64)
    occurred = _time(message.get("ts"))
    if kind == "fault":
        code = _text(message, "code", limit=20)
        detail = _text(message, "detail", limit=200, required=False)
        return FaultReport(device, code, detail or code, received_at, vendor=vendor)
    event = message.get("event")
    if event not in EVENTS:
        raise ProtocolError("unknown_event", str(event)[:20])
    detail: dict[str, Any] = {"event": event}
    if isinstance(message.get("val"), dict):
        detail["values"] = {k: v for k, v in list(message["val"].items())[:10]}
    return Signal(
        device_ref=device,
        kind="alarm" if kind == "alarm" else "restore",
        alarm_type=EVENTS[event],
        occurred_at=occurred,
        received_at=received_at,
        msg_key=msg_id,
        vendor=vendor,
        protocol=NAME,
        transport=transport,
        event_code=_text(message, "code", limit=20, required=False) or event,
        raw=raw,
        detail=detail,
        **_position(message),
    )


def parse(
    payload: bytes, *, vendor: str, secret: str, transport: str, received_at: datetime
) -> Parsed:
    try:
        data = bounded_json.loads(payload, max_bytes=MAX_PAYLOAD, max_depth=MAX_DEPTH)
    except bounded_json.JsonRefused as refused:
        reason = refused.reason if refused.reason in ("too_large", "too_deep") else "malformed"
        raise ProtocolError(reason, refused.message) from None
    messages = data if isinstance(data, list) else [data]
    if len(messages) > MAX_BATCH:
        raise ProtocolError("too_large", f"{len(messages)} messages in one payload")
    out = Parsed()
    for message in messages:
        raw = json.dumps(message, ensure_ascii=False)[:2000]
        try:
            out.reports.append(
                parse_message(
                    message,
                    vendor=vendor,
                    secret=secret,
                    transport=transport,
                    received_at=received_at,
                    raw=raw,
                )
            )
        except ProtocolError as err:
            out.refused.append((err, raw))
    return out
