"""Shapes of what browsers send: anything else is refused before a service is called."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Field(default="", max_length=100_000)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PauseIn(Strict):
    reason: str = Field(min_length=1, max_length=30, pattern=r"^[a-z_]+$")


class DispositionIn(Strict):
    disposition: str = Field(min_length=1, max_length=30)
    notes: str = Text


class OrderIn(Strict):
    service_type_code: str = Field(min_length=1, max_length=40)
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    notes: str = Text
    address: str | None = Field(default=None, max_length=255)
    linkedid: str | None = Field(default=None, max_length=64)
    # the service site where the service happens (None: at the elder's home)
    site_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    # the online conversation the order comes from (instead of a call)
    chat_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class CancelOrderIn(Strict):
    reason: str = Field(min_length=1, max_length=100_000)


class RevealIn(Strict):
    field: Literal["id_number"]


class QuickRegisterIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(min_length=3, max_length=20)
    address: str = Field(min_length=1, max_length=255)
    region_code: str = Field(pattern=r"^[0-9]{12}$")
    living_arrangement: Literal["alone", "empty_nest", "with_family"] = "with_family"


class TransferIn(Strict):
    target: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_/@.-]+$")


class CallbackIn(Strict):
    number: str | None = Field(default=None, min_length=3, max_length=20, pattern=r"^\+?[0-9]+$")


class MonitorIn(Strict):
    agent_interface: str = Field(
        min_length=3, max_length=80, pattern=r"^[A-Za-z]+/[A-Za-z0-9_.@-]+$"
    )
    mode: Literal["listen", "whisper", "barge"]


class ScreenPopIn(Strict):
    elder_id: int | None = Field(default=None, ge=1)
    caller_number: str | None = Field(default=None, max_length=40)
    linkedid: str | None = Field(default=None, max_length=64)


class ElderOrdersIn(Strict):
    elder_id: int = Field(ge=1)


class SnapshotIn(Strict):
    pass
