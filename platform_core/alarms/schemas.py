"""What an intake adapter hands to the alarm service: one device signal, already parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from platform_core.alarms.vocabulary import AlarmType, Outcome, Step, StepResult

SignalKind = Literal["alarm", "restore"]


@dataclass(frozen=True)
class Signal:
    """An alarm or a restore from one device, as a vendor protocol reported it.

    ``device_ref`` is the serial or IMEI the device gave; ``msg_key`` identifies the message
    (the vendor's message id or sequence, else a digest of its content) so a redelivery is
    recognised. ``received_at`` is our clock: the alarm's clock starts there.
    """

    device_ref: str
    kind: SignalKind
    alarm_type: AlarmType
    occurred_at: datetime
    received_at: datetime
    msg_key: str
    vendor: str
    protocol: str
    transport: str = "mqtt"
    event_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    position_source: str | None = None
    raw: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalOutcome:
    """What became of one signal: ``result`` is one of RESULTS, ``alarm_id`` the alarm touched."""

    signal: Signal
    result: str
    alarm_id: int | None = None
    device_id: int | None = None


RESULTS = (
    "raised",  # a new alarm
    "folded",  # a repeat, counted on the open alarm
    "reopened",  # a chattering technical alarm raised again soon after its restore
    "restored",  # the condition cleared; the alarm stays open for its outcome
    "closed_by_restore",  # a technical alarm that nobody had taken closed itself
    "restore_unmatched",  # a restore with no open alarm to restore (recorded, nothing else)
    "suppressed",  # the device serves nobody any more (deceased elder, deactivated device)
    "redelivered",  # this very message was recorded before
    "unknown_device",  # no device with that serial or IMEI
)


class StepIn(BaseModel):
    """A step an agent records from the panel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    step: Step
    result: StepResult = StepResult.DONE
    contact_id: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome
    note: str = Field(default="", max_length=2000)
