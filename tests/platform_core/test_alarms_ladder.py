"""The ladder follows the facts: a call placed stays current until its result is recorded, and a
rung nobody chose to skip is never shown as skipped."""

from __future__ import annotations

from platform_core.alarms.ladder import ContactFacts, ElderFacts, StepFacts, ladder_state

FACTS = ElderFacts(
    device_can_speak=True,
    has_mobile=True,
    has_landline=True,
    contacts=(ContactFacts(7, "王小明", "儿子", 1, True),),
)


def _states(rungs) -> dict[str, str]:
    return {r.rung.value: r.state for r in rungs}


def test_a_call_placed_keeps_its_rung_current_until_its_result_is_recorded() -> None:
    """Taking an alarm rings the pendant: the next thing to do is record how that call went,
    not to dial the next rung (which rang the elder a second time)."""
    rungs, current = ladder_state(
        alarm_type="sos", facts=FACTS, steps=[StepFacts("talk_to_elder", "dialled")]
    )
    assert current is not None and current.value == "talk_to_elder"
    talk = rungs[0].as_dict()
    assert talk["state"] == "dialling" and talk["dialled_step"] == "talk_to_elder"
    rungs, current = ladder_state(
        alarm_type="sos",
        facts=FACTS,
        steps=[StepFacts("talk_to_elder", "dialled"), StepFacts("talk_to_elder", "no_answer")],
    )
    assert current is not None and current.value == "call_landline"
    assert _states(rungs)["talk_to_elder"] == "tried"


def test_a_contact_dialled_waits_for_its_result() -> None:
    rungs, current = ladder_state(
        alarm_type="sos", facts=FACTS, steps=[StepFacts("call_contact", "dialled", 7)]
    )
    assert current is not None and current.value == "call_contact"
    assert rungs[2].dialled_contact_id == 7


def test_rungs_passed_over_are_not_shown_as_skipped() -> None:
    """119 called first for smoke: the rungs above it were not skipped by anyone; a rung with
    nothing to call does not apply."""
    facts = ElderFacts(device_can_speak=False, has_mobile=True, has_landline=False, contacts=())
    rungs, current = ladder_state(
        alarm_type="smoke", facts=facts, steps=[StepFacts("call_119", "reached")]
    )
    states = _states(rungs)
    assert states["talk_to_elder"] == "pending"
    assert states["call_landline"] == "not_applicable"
    assert states["call_contact"] == "not_applicable"
    assert states["call_emergency"] == "settled"
    assert "skipped" not in states.values()
    assert current is not None and current.value == "dispatch_provider"
