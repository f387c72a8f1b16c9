"""The escalation ladder of one alarm: which rungs apply, which are done, which comes next.

DOMAIN.md section 8: talk to the elder (the device's speaker, or a call back) -> the landline ->
the emergency contacts in priority order (key holders first when the elder cannot be reached,
because then somebody must open the door) -> 120 / 110 / 119 (fire for smoke and gas) -> the
nearest provider on site. The agent may go straight to any rung; the ladder then goes on from
the furthest rung reached, and a rung passed over stays "not done" (nobody chose to skip it). A
rung with nothing to call (no landline, no contacts) does not apply. A call placed and not yet
answered keeps its rung current: the next thing to do is record how it went, not dial again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_core.alarms.vocabulary import (
    EMERGENCY_SERVICE,
    LADDER,
    RUNG_LABELS,
    RUNG_OF_STEP,
    SETTLING,
    AlarmType,
    Rung,
    Step,
    StepResult,
)


@dataclass(frozen=True)
class ContactFacts:
    id: int
    name: str
    relation: str
    priority: int
    holds_key: bool


@dataclass(frozen=True)
class ElderFacts:
    """What the ladder needs to know about the elder and the device."""

    device_can_speak: bool = False
    has_mobile: bool = False
    has_landline: bool = False
    contacts: tuple[ContactFacts, ...] = ()


@dataclass(frozen=True)
class StepFacts:
    step: str
    result: str
    contact_id: int | None = None


@dataclass
class RungState:
    rung: Rung
    label: str
    applicable: bool
    # pending, current, dialling (placed, result not recorded), tried, settled, not_applicable
    state: str = "pending"
    buttons: list[str] = field(default_factory=list)
    # while dialling: the step placed (and the contact), so the panel records its result
    dialled_step: str | None = None
    dialled_contact_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rung": self.rung.value,
            "label": self.label,
            "applicable": self.applicable,
            "state": self.state,
            "buttons": self.buttons,
            "dialled_step": self.dialled_step,
            "dialled_contact_id": self.dialled_contact_id,
        }


def contact_order(contacts: Sequence[ContactFacts], *, door_must_open: bool) -> list[ContactFacts]:
    """By priority; key holders first when somebody has to open the door."""
    return sorted(
        contacts, key=lambda c: ((not c.holds_key) if door_must_open else False, c.priority, c.id)
    )


def emergency_steps(alarm_type: str) -> list[Step]:
    """The service to call first for this type, then the others."""
    first = EMERGENCY_SERVICE.get(AlarmType(alarm_type), Step.CALL_120)
    return [first] + [s for s in (Step.CALL_120, Step.CALL_110, Step.CALL_119) if s != first]


def _applicable(rung: Rung, facts: ElderFacts) -> bool:
    if rung is Rung.TALK_TO_ELDER:
        return facts.device_can_speak or facts.has_mobile
    if rung is Rung.CALL_LANDLINE:
        return facts.has_landline
    if rung is Rung.CALL_CONTACT:
        return bool(facts.contacts)
    return True


def elder_unreachable(steps: Sequence[StepFacts]) -> bool:
    """Tried the elder (device or landline) and reached nobody: the door may have to be opened."""
    own = [
        s
        for s in steps
        if s.step in (Step.TALK_TO_ELDER, Step.CALL_LANDLINE) and s.result != StepResult.DIALLED
    ]
    return bool(own) and not any(s.result in SETTLING for s in own)


def ladder_state(
    *, alarm_type: str, facts: ElderFacts, steps: Sequence[StepFacts]
) -> tuple[list[RungState], Rung | None]:
    """Every rung with its state, and the current rung (None when the ladder is done)."""
    rungs = [RungState(r, RUNG_LABELS[r], _applicable(r, facts)) for r in LADDER]
    index = {r: i for i, r in enumerate(LADDER)}
    furthest = -1
    # per rung and contact, the call placed whose result is still to be recorded
    awaiting: dict[tuple[Rung, int | None], str] = {}
    for s in steps:
        rung = RUNG_OF_STEP.get(Step(s.step))
        if rung is None:
            continue
        state = rungs[index[rung]]
        key = (rung, s.contact_id)
        if s.result == StepResult.DIALLED:
            awaiting[key] = s.step
        else:
            awaiting.pop(key, None)
            if s.result in SETTLING:
                state.state = "settled"
            elif state.state != "settled":
                state.state = "tried"
        furthest = max(furthest, index[rung])
    for (rung, contact_id), step in awaiting.items():
        state = rungs[index[rung]]
        if state.state != "settled":
            state.state = "dialling"
            state.dialled_step, state.dialled_contact_id = step, contact_id

    tried_contacts = {
        s.contact_id
        for s in steps
        if s.step == Step.CALL_CONTACT and s.result != StepResult.DIALLED
    }
    contacts_left = [c for c in facts.contacts if c.id not in tried_contacts]
    contact_state = rungs[index[Rung.CALL_CONTACT]]

    current: Rung | None = None
    if furthest >= 0 and rungs[furthest].state == "dialling":
        current = LADDER[furthest]  # record how the call went before going on
    elif (
        furthest == index[Rung.CALL_CONTACT] and contact_state.state != "settled" and contacts_left
    ):
        current = Rung.CALL_CONTACT
    else:
        for i in range(furthest + 1, len(LADDER)):
            if rungs[i].applicable:
                current = LADDER[i]
                break
    for state in rungs:
        if not state.applicable:
            state.state = "not_applicable"
        elif current is not None and state.rung is current and state.state == "pending":
            state.state = "current"
        state.buttons = _buttons(state.rung, alarm_type) if state.applicable else []
    return rungs, current


def _buttons(rung: Rung, alarm_type: str) -> list[str]:
    if rung is Rung.CALL_EMERGENCY:
        return [s.value for s in emergency_steps(alarm_type)]
    step = {
        Rung.TALK_TO_ELDER: Step.TALK_TO_ELDER,
        Rung.CALL_LANDLINE: Step.CALL_LANDLINE,
        Rung.CALL_CONTACT: Step.CALL_CONTACT,
        Rung.DISPATCH_PROVIDER: Step.DISPATCH_PROVIDER,
        Rung.ON_SITE: Step.ON_SITE,
    }[rung]
    return [step.value]
