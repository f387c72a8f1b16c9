"""Device vendors: who they are, which protocol they speak, the secret their messages are
signed with, and the signature of a webhook request.

A webhook carries ``X-Hotline-Timestamp`` (Unix seconds) and ``X-Hotline-Signature``:
hex HMAC-SHA256 over ``"<timestamp>.<body>"`` with the vendor's secret; a timestamp further than
``alarm_signature_max_skew_s`` from our clock is refused, so a captured request cannot be
replayed later (and a replay inside the window changes nothing: messages are idempotent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from platform_core.devices.config import parse_pairs
from platform_core.settings import Settings, SettingsError

_lock = threading.Lock()


@dataclass(frozen=True)
class Vendor:
    code: str  # in topics and URLs
    name: str  # as devices.vendor and screens show it
    protocol: str
    secret: str


def load_vendors(settings: Settings) -> dict[str, Vendor]:
    from callcenter.alarm_intake.protocols import PARSERS

    given = parse_pairs(settings.alarm_vendor_secrets, what="HOTLINE_ALARM_VENDOR_SECRETS")
    out: dict[str, Vendor] = {}
    for item in settings.alarm_vendors.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise SettingsError(f"HOTLINE_ALARM_VENDORS: 无法解析 {item!r} (code:名称:protocol)")
        code, name, protocol = (p.strip() for p in parts)
        if protocol not in PARSERS:
            raise SettingsError(f"HOTLINE_ALARM_VENDORS: 未知协议 {protocol!r} / unknown protocol")
        secret = given.get(code) or _generated_secret(settings.data_dir, code)
        out[code] = Vendor(code, name, protocol, secret)
    return out


def _generated_secret(data_dir: Path, code: str) -> str:
    """On embedded defaults each vendor's secret is generated once and kept (mode 0600)."""
    path = data_dir / "alarm_vendor_secrets.json"
    with _lock:
        known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        if code not in known:
            known[code] = secrets.token_urlsafe(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(known, fh)
            tmp.replace(path)
        return known[code]


def sign_request(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_request(
    vendor: Vendor, *, timestamp: str | None, signature: str | None, body: bytes, max_skew_s: int
) -> str | None:
    """None when the request is authentic and fresh, else the reason to refuse it."""
    if not timestamp or not signature:
        return "unsigned"
    # ASCII digits only: int() also takes "+1", "1_0", other scripts' digits and 4,300 of them
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "bad_timestamp"
    if abs(time.time() - int(timestamp)) > max_skew_s:
        return "stale_timestamp"
    expected = sign_request(vendor.secret, timestamp, body)
    # compare_digest takes ASCII text only (it raises on anything else)
    if not signature.isascii() or not hmac.compare_digest(expected, signature.lower()):
        return "bad_signature"
    return None
