"""What every protocol parser returns, how it refuses a message, and what each refusal means."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from platform_core.alarms.schemas import Signal
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows.device_reports import FaultReport

Report = Signal | Heartbeat | FaultReport

# The largest payload read, over MQTT as over HTTP; a device message is a few hundred bytes and
# a vendor's batch of 500 messages about 130 KB.
MAX_PAYLOAD = 256 * 1024

# Each reason a message is refused for: stored with the reject, and what a vendor's webhook
# answer says (Chinese first).
REASONS: dict[str, str] = {
    "malformed": "消息格式错误 / malformed message",
    "too_large": "消息过大 / message too large",
    "too_deep": "嵌套层数过多 / JSON nested too deeply",
    "unreadable": "消息无法解析, 已留存待查 / message could not be read, kept for review",
    "not_stored": "消息无法保存, 已留存待查 / message could not be stored, kept for review",
    "unsigned": "缺少签名 / not signed",
    "bad_signature": "签名不符 / signature does not match",
    "bad_timestamp": "时间戳无效 / invalid timestamp",
    "stale_timestamp": "时间戳超出允许范围 / timestamp too old or too new",
    "unknown_vendor": "未知厂商 / unknown vendor",
    "unknown_device": "设备未登记 / device not registered",
    "unknown_type": "未知消息类型 / unknown message type",
    "unknown_event": "未知事件 / unknown event",
    "unsupported_version": "不支持的协议版本 / unsupported protocol version",
    "missing_field": "缺少字段 / missing field",
    "bad_field": "字段无效 / invalid field",
    "bad_time": "时间无效 / invalid time",
    "bad_crc": "校验码错误 / CRC mismatch",
    "bad_length": "帧长度不符 / frame length mismatch",
    "encrypted_unsupported": "不支持加密帧 / encrypted frames not supported",
    "bad_content_length": "请求体长度无效 / invalid Content-Length",
    "length_required": "须声明请求体长度 / Content-Length required",
    "incomplete_body": "请求体未在时限内收全 / request body incomplete in time",
    "not_found": "未找到 / not found",
}

# Control characters (NUL among them) and lone surrogates: never part of a name, a key or a code.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def has_unprintable(text: str) -> bool:
    return _UNPRINTABLE.search(text) is not None


class ProtocolError(ValueError):
    """A message that cannot be used. ``reason`` is a stable code (counted and stored)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @property
    def message(self) -> str:
        """What the reason means, Chinese first."""
        return REASONS.get(self.reason, "消息被拒收 / message refused")


@dataclass
class Parsed:
    """The reports of one payload, and the refusals of the parts that could not be used (a
    batch with one bad message still delivers the good ones)."""

    reports: list[Report] = field(default_factory=list)
    refused: list[tuple[ProtocolError, str]] = field(default_factory=list)  # (error, raw part)
