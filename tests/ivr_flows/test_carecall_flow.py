"""The outbound care-call flow over FastAGI: 1 well, 2 a person at once, silence a person too."""

from __future__ import annotations

from datetime import date

from platform_core.care_calls import service as care
from platform_core.runtime import Runtime
from tests.ivr_flows.conftest import AGENT, RunningServer, register_elder


def dialled_attempt(runtime: Runtime, elder_id: int) -> tuple[int, int]:
    """A campaign reaching ``elder_id`` and its first attempt dialled: (care call id, attempt id)."""
    with runtime.session() as s:
        camp = care.create_campaign(
            s,
            actor=AGENT,
            name="关怀",
            region_code="150100000000",
            criteria=care.CareCriteria(living_arrangements=("alone",)),
            today=date(2026, 11, 26),
        )
        [call] = [c for c in care.list_calls(s, campaign_id=camp.id) if c.elder_id == elder_id]
        attempt = care.begin_attempt(s, actor=AGENT, care_call_id=call.id, attempt_no=1)
        care.record_dialled(s, attempt_id=attempt.id)
        return call.id, attempt.id


def status_of(runtime: Runtime, care_call_id: int) -> str:
    with runtime.session() as s:
        return care.get_care_call(s, care_call_id=care_call_id).status


def test_elder_presses_1_for_well(ivr: RunningServer) -> None:
    elder_id = register_elder(ivr.runtime, phones=[{"number": "04716912345", "kind": "home"}])
    call_id, attempt_id = dialled_attempt(ivr.runtime, elder_id)
    outcome = ivr.call(
        "carecall",
        callerid="04716912345",
        digits=["1"],
        channel_variables={"HOTLINE_CARE_ATTEMPT_ID": str(attempt_id)},
    )
    assert outcome.status == "HANGUP"  # thanked and hung up by the IVR
    assert any(c.startswith("STREAM FILE hotline/zh/care_goodbye") for c in outcome.commands)
    assert status_of(ivr.runtime, call_id) == "well"


def test_elder_presses_2_and_reaches_a_person_at_once(ivr: RunningServer) -> None:
    seen: list[dict] = []
    ivr.runtime.event_bus.subscribe(seen.append)
    elder_id = register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    call_id, attempt_id = dialled_attempt(ivr.runtime, elder_id)
    outcome = ivr.call(
        "carecall",
        callerid="13904711234",
        digits=["2"],
        channel_variables={"HOTLINE_CARE_ATTEMPT_ID": str(attempt_id)},
    )
    assert outcome.status == "SUCCESS"
    assert outcome.variables["HOTLINE_QUEUE"] == "hotline-general"
    assert outcome.variables["HOTLINE_INTENT"] == "care_help"
    assert outcome.variables["HOTLINE_PRIORITY"] == "8"
    assert outcome.variables["HOTLINE_ELDER_ID"] == str(elder_id)
    assert status_of(ivr.runtime, call_id) == "needs_help"
    ivr.runtime.event_bus.drain()
    assert any(e["type"] == "CareHelpRequested" and e["data"]["elder_id"] == elder_id for e in seen)


def test_silence_reaches_a_person_and_the_watchdog_records_no_key(ivr: RunningServer) -> None:
    elder_id = register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    call_id, attempt_id = dialled_attempt(ivr.runtime, elder_id)
    outcome = ivr.call(
        "carecall",
        callerid="13904711234",
        digits=["", ""],
        channel_variables={"HOTLINE_CARE_ATTEMPT_ID": str(attempt_id)},
    )
    assert outcome.variables["HOTLINE_INTENT"] == "care_help"
    assert (
        sum(1 for c in outcome.commands if c.startswith("STREAM FILE hotline/zh/care_question"))
        == 2
    )
    with ivr.runtime.session() as s:
        assert care.get_attempt(s, attempt_id=attempt_id).status == "answered"
        care.settle_stale_attempt(s, actor=AGENT, attempt_id=attempt_id)
    assert status_of(ivr.runtime, call_id) == "no_key"


def test_unknown_attempt_still_asks_and_reaches_a_person(ivr: RunningServer) -> None:
    outcome = ivr.call(
        "carecall", digits=["2"], channel_variables={"HOTLINE_CARE_ATTEMPT_ID": "999999"}
    )
    assert outcome.variables["HOTLINE_INTENT"] == "care_help"
