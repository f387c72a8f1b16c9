"""The alarm desk's telephony: taking an alarm and dialling the ladder's numbers.

Taking an alarm keeps the agent paused in the voice queues (reason ``alarm``) and, where the
device can speak, rings the agent's phone and then the device. Each dial of a ladder step rings
the agent's phone, then the number the step calls, and is recorded as a step (dialled or
failed) with what telephony said. A dial is one attempt: pressing the button again before its
result is recorded is the same command (same idempotency key), so a number is never dialled
twice for one attempt.

Telephony is a round trip to callcenter (and Asterisk), so no transaction is held open across
it: the alarm is read and changed in units of work of their own before and after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from platform_core.actors import Actor
from platform_core.alarms import service as alarms
from platform_core.alarms.vocabulary import Step, StepResult
from platform_core.errors import Conflict, DomainError
from platform_core.runtime import Runtime
from platform_core.telephony.commands import TelephonyClient

log = logging.getLogger(__name__)

# The pause reason of a desk handling an alarm.
PAUSE_REASON = "alarm"


@dataclass(frozen=True)
class Taken:
    """An alarm taken at a desk, and what its telephony did."""

    alarm_id: int
    waited_s: float | None
    paused: dict[str, Any]
    call_back: dict[str, Any] | None


def pause_in_voice_queues(
    runtime: Runtime, *, interface: str | None, actor: Actor
) -> dict[str, Any]:
    """An agent handling an alarm takes no voice calls until they press ready again."""
    if not interface:
        return {"ok": False, "message": "no extension"}
    try:
        result = TelephonyClient(runtime).pause(
            interface=interface, reason=PAUSE_REASON, actor=actor
        )
        return {"ok": bool(result.ok), "message": result.message}
    except DomainError as err:
        log.warning("接警暂停失败 / pausing %s for an alarm failed: %s", interface, err.message)
        return {"ok": False, "message": err.message}


def take_alarm_at_desk(
    runtime: Runtime,
    *,
    alarm_id: int,
    actor: Actor,
    interface: str | None,
    take_over: bool = False,
    call_back: bool = True,
) -> Taken:
    """Take the alarm (the clock of "answered" stops), pause the desk in the voice queues, and
    ring the device back when it can speak. A repeated take is a no-op and dials nothing."""
    with runtime.session() as s:
        before = alarms.get_alarm(s, alarm_id=alarm_id)
        already_mine = before.status == "handling" and before.handler_user_id == actor.user_id
        alarm = alarms.take_alarm(s, alarm_id=alarm_id, actor=actor, take_over=take_over)
        can_speak = alarms.ladder_of(s, alarm=alarm)["device_can_speak"]
        waited = (alarm.taken_at - alarm.received_at).total_seconds() if alarm.taken_at else None
    paused = pause_in_voice_queues(runtime, interface=interface, actor=actor)
    dialled = None
    if call_back and can_speak and interface and not already_mine:
        dialled = dial_for_alarm(
            runtime,
            alarm_id=alarm_id,
            step=Step.TALK_TO_ELDER,
            actor=actor,
            interface=interface,
            key=f"alarm:{alarm_id}:taken-by:{actor.user_id}",
        )
    return Taken(alarm_id=alarm_id, waited_s=waited, paused=paused, call_back=dialled)


def dial_for_alarm(
    runtime: Runtime,
    *,
    alarm_id: int,
    step: Step,
    actor: Actor,
    interface: str | None,
    contact_id: int | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Ring the agent's phone, then the number ``step`` calls; the dial is recorded as a step.
    ``key`` names the attempt (by default the step's next attempt for that number)."""
    if not interface:
        raise Conflict(
            "该账号未绑定分机 / this account has no phone extension", code="no_interface"
        )
    with runtime.session() as s:
        target = alarms.dial_target(
            s, alarm_id=alarm_id, step=step, actor=actor, contact_id=contact_id
        )
        alarm = alarms.get_alarm(s, alarm_id=alarm_id)
        key = key or alarms.dial_attempt_key(alarm, step=step, contact_id=contact_id)
        elder_id = alarm.elder_id
    try:
        result = TelephonyClient(runtime).call_back(
            agent_interface=interface,
            number=target.number,
            elder_id=elder_id,
            idempotency_key=key,
            actor=actor,
        )
        outcome, message = (StepResult.DIALLED if result.ok else StepResult.FAILED), result.message
    except DomainError as err:
        outcome, message = StepResult.FAILED, err.message
    with runtime.session() as s:
        alarms.record_step(
            s,
            alarm_id=alarm_id,
            step=step,
            result=outcome,
            actor=actor,
            contact_id=contact_id,
            detail={"number": target.label, "telephony": message[:200]},
        )
    return {"ok": outcome is StepResult.DIALLED, "dialled": target.label, "message": message}
