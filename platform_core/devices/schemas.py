"""Validated input of the device registry."""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from platform_core.devices.lifecycle import DeviceType
from platform_core.elders import phones


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def imei_check_digit(first14: str) -> str:
    """The Luhn digit that completes a 14-digit IMEI body."""
    return str(
        (
            10
            - sum(
                (lambda d: d - 9 if d > 9 else d)(int(c) * 2) if i % 2 else int(c)
                for i, c in enumerate(first14)
            )
            % 10
        )
        % 10
    )


class DeviceIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    device_type: DeviceType
    serial: str = Field(min_length=3, max_length=64)
    imei: str | None = None
    sim_number: str | None = None
    vendor: str = Field(default="", max_length=60)
    model: str = Field(default="", max_length=60)
    heartbeat_interval_s: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)

    @field_validator("serial")
    @classmethod
    def _serial(cls, v: str) -> str:
        v = unicodedata.normalize("NFKC", v).strip().upper()
        if any(ch.isspace() for ch in v):
            raise ValueError("序列号不能包含空格 / serial cannot contain spaces")
        return v

    @field_validator("imei")
    @classmethod
    def _imei(cls, v: str | None) -> str | None:
        if not v:
            return None
        v = "".join(unicodedata.normalize("NFKC", v).split()).replace("-", "")
        if len(v) != 15 or not v.isdigit():
            raise ValueError("IMEI 应为 15 位数字 / an IMEI has 15 digits")
        if not luhn_ok(v):
            raise ValueError(
                f"IMEI 校验位错误: 应为 {imei_check_digit(v[:14])} / IMEI check digit wrong"
            )
        return v

    @field_validator("sim_number")
    @classmethod
    def _sim(cls, v: str | None, info: Any) -> str | None:
        if not v:
            return None
        try:
            number = phones.normalize_phone(v, area_code=(info.context or {}).get("area_code"))
        except phones.InvalidPhoneNumber as exc:
            raise PydanticCustomError(
                exc.code, "SIM 卡号: " + exc.message.replace("{", "(")
            ) from None
        if number.kind is phones.PhoneKind.SERVICE:
            raise ValueError("SIM 卡号不能是特服号 / a SIM number cannot be a service number")
        return number.digits
