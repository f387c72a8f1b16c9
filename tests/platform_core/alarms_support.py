"""Builders shared by the alarm, device-lifecycle and flow tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from platform_core.actors import Actor, Role, system_actor
from platform_core.alarms.schemas import Signal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.db import utcnow
from platform_core.devices import maintenance
from platform_core.devices import service as devices
from platform_core.devices.schemas import DeviceIn, imei_check_digit
from platform_core.elders import service as elders
from platform_core.elders.schemas import validate_input
from tests.platform_core.elders_support import elder_input

STAFF = system_actor("设备管理员")
AGENT = Actor(kind="user", name="坐席甲", region_code="150100000000", role=Role.AGENT, user_id=101)
AGENT_2 = Actor(
    kind="user", name="坐席乙", region_code="150100000000", role=Role.AGENT, user_id=102
)
SUPERVISOR = Actor(
    kind="user", name="班长", region_code="150100000000", role=Role.SUPERVISOR, user_id=103
)
AGENT_BAOTOU = Actor(
    kind="user", name="包头坐席", region_code="150200000000", role=Role.AGENT, user_id=104
)
OFFICER = Actor(
    kind="user", name="民政", region_code="150100000000", role=Role.OFFICER, user_id=105
)

_n = itertools.count(1)


def new_elder(s: Any, **overrides: Any) -> int:
    return elders.register_elder(s, data=elder_input(**overrides), actor=STAFF).id


def new_device(
    s: Any,
    *,
    elder_id: int | None,
    kind: str = "sos_pendant",
    installed: bool = True,
    sim: bool = True,
    interval: int | None = None,
) -> Any:
    n = next(_n)
    body = f"8645120{n:07d}"
    data = validate_input(
        DeviceIn,
        {
            "device_type": kind,
            "serial": f"T{kind[:3].upper()}{n:06d}",
            "imei": body + imei_check_digit(body),
            "sim_number": f"1477{n:07d}" if sim else None,
            "vendor": "安康通",
            "model": "AK-100",
            "heartbeat_interval_s": interval,
        },
    )
    device = devices.register_device(s, data=data, actor=STAFF)
    if elder_id is not None:
        devices.bind_device(s, device_id=device.id, elder_id=elder_id, actor=STAFF)
        if installed:
            maintenance.install_device(s, device_id=device.id, actor=STAFF)
    return device


def signal(
    device_ref: str,
    alarm_type: AlarmType | str = AlarmType.SOS,
    *,
    kind: str = "alarm",
    msg: str | None = None,
    at: datetime | None = None,
    **extra: Any,
) -> Signal:
    at = at or utcnow()
    return Signal(
        device_ref=device_ref,
        kind=kind,  # type: ignore[arg-type]
        alarm_type=AlarmType(alarm_type),
        occurred_at=at - timedelta(seconds=1),
        received_at=at,
        msg_key=msg or f"m{next(_n)}",
        vendor="ankang",
        protocol="hx-json",
        **extra,
    )
