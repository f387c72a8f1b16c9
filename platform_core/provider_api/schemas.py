"""The payload of a reported service event (after decryption)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Event = Literal[
    "accepted",
    "rejected",
    "staff_assigned",
    "en_route",
    "checked_in",
    "checked_out",
    "completed",
    "confirmed",
]
EVENTS: tuple[str, ...] = get_args(Event)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_no: str = Field(min_length=4, max_length=20)
    seq: int = Field(ge=1, le=10_000)
    event: Event
    occurred_at: datetime | None = None
    staff_id: int | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    reason: str = Field(default="", max_length=500)
    report: str = Field(default="", max_length=2000)
    confirmed_by: str = Field(default="", max_length=64)
    # "confirmed": the six-digit code the elder received by SMS and read out
    confirmation_code: str = Field(default="", max_length=6, pattern=r"^[0-9]{0,6}$")
