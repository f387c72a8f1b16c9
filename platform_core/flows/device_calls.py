"""A call from a device's SIM answered by an agent is that device's SOS being handled.

Pendants press SOS twice over: a data alarm to the platform and a voice call to 12349 (which
the IVR puts first in the emergency queue). When an agent answers the call, the device's open
emergency alarms are taken by that agent, with the conversation recorded as the first rung, so
nobody takes the same emergency twice from the alarm panel.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, system_actor
from platform_core.alarms import service as alarms
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import NEEDS_PERSON, OPEN_STATUSES, Step, StepResult
from platform_core.devices.service import find_device_by_sim


def link_device_call(
    session: Session,
    *,
    caller_number: str,
    agent_interface: str,
    linkedid: str,
    area_code: str | None = None,
) -> list[int]:
    """Take the open emergency alarms of the device that called; returns their ids."""
    device = find_device_by_sim(session, number=caller_number, area_code=area_code)
    if device is None:
        return []
    open_alarms = session.scalars(
        select(Alarm).where(
            Alarm.device_id == device.id,
            Alarm.status.in_([s.value for s in OPEN_STATUSES]),
            Alarm.alarm_type.in_([t.value for t in NEEDS_PERSON]),
        )
    ).all()
    if not open_alarms:
        return []
    user = accounts.find_user_by_interface(session, agent_interface)
    actor: Actor = (
        accounts.actor_for(user)
        if user is not None
        else system_actor(f"坐席 {agent_interface}"[:64], region_code=open_alarms[0].region_code)
    )
    taken = []
    for alarm in open_alarms:
        if alarm.status == "handling" and alarm.handler_user_id not in (None, actor.user_id):
            continue  # someone already works on it from the panel
        alarms.record_step(
            session,
            alarm_id=alarm.id,
            step=Step.TALK_TO_ELDER,
            result=StepResult.REACHED,
            actor=actor,
            note="设备来电已接通 / the device's call was answered",
            detail={"linkedid": linkedid, "interface": agent_interface},
        )
        taken.append(alarm.id)
    return taken
