"""What every protocol parser returns, and how it refuses a message."""

from __future__ import annotations

from dataclasses import dataclass, field

from platform_core.alarms.schemas import Signal
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows.device_reports import FaultReport

Report = Signal | Heartbeat | FaultReport


class ProtocolError(ValueError):
    """A message that cannot be used. ``reason`` is a stable code (counted and stored)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Parsed:
    """The reports of one payload, and the refusals of the parts that could not be used (a
    batch with one bad message still delivers the good ones)."""

    reports: list[Report] = field(default_factory=list)
    refused: list[tuple[ProtocolError, str]] = field(default_factory=list)  # (error, raw part)
