"""The 12349 inbound flow over FastAGI: SOS first, languages, the short menu, never a loop."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_core.ivr import service as ivr_service
from platform_core.runtime import Runtime, build_runtime
from tests.ivr_flows.conftest import AGENT, RunningServer, register_elder, start_server, stop_server

MENU = "hotline/zh/main_menu"


def streamed(outcome, name: str) -> int:
    return sum(1 for c in outcome.commands if c.startswith(f"STREAM FILE {name} "))


def last_session(runtime: Runtime):
    with runtime.session() as s:
        return ivr_service.list_sessions(s, limit=1)[0]


def elder_row(runtime: Runtime, elder_id: int):
    from platform_core.elders.models import Elder

    with runtime.session() as s:
        return s.get(Elder, elder_id)


def test_device_sim_goes_straight_to_the_emergency_queue(ivr: RunningServer) -> None:
    from platform_core.devices import service as devices
    from platform_core.devices.schemas import DeviceIn

    elder_id = register_elder(ivr.runtime, phones=[{"number": "13904710000"}])
    with ivr.runtime.session() as s:
        pendant = devices.register_device(
            s,
            actor=AGENT,
            data=DeviceIn.model_validate(
                {"device_type": "sos_pendant", "serial": "P-9", "sim_number": "14771010009"}
            ),
        )
        devices.bind_device(s, device_id=pendant.id, elder_id=elder_id, actor=AGENT)

    outcome = ivr.call(callerid="14771010009")
    assert outcome.variables["HOTLINE_QUEUE"] == "hotline-emergency"
    assert outcome.variables["HOTLINE_PRIORITY"] == "10"
    assert outcome.variables["HOTLINE_INTENT"] == "sos"
    assert outcome.variables["HOTLINE_ELDER_ID"] == str(elder_id)
    assert not any(
        c.startswith(("STREAM FILE", "GET DATA", "WAIT FOR DIGIT")) for c in outcome.commands
    )
    row = last_session(ivr.runtime)
    assert (row.caller_kind, row.outcome, row.elder_id) == ("device", "handed_off", elder_id)


def test_high_risk_elder_goes_straight_to_the_emergency_queue_but_family_does_not(
    ivr: RunningServer,
) -> None:
    elder_id = register_elder(
        ivr.runtime,
        risk_level="high",
        phones=[{"number": "13904711234"}],
        contacts=[{"name": "李强", "relation": "儿子", "phone": "13804710001"}],
    )
    own = ivr.call(callerid="13904711234")
    assert (own.variables["HOTLINE_QUEUE"], own.variables["HOTLINE_PRIORITY"]) == (
        "hotline-emergency",
        "10",
    )
    assert streamed(own, MENU) == 0

    son = ivr.call(callerid="13804710001", digits=["1", "3"])
    assert son.variables["HOTLINE_QUEUE"] == "hotline-general"
    assert son.variables["HOTLINE_INTENT"] == "consult"
    assert son.variables["HOTLINE_ELDER_ID"] == str(elder_id)  # whose relative is calling
    assert last_session(ivr.runtime).caller_kind == "family"


def test_unknown_caller_chooses_a_language(ivr: RunningServer) -> None:
    outcome = ivr.call(callerid="13911112222", digits=["2", "3"])
    assert streamed(outcome, "hotline/zh/choose_language") == 1
    assert streamed(outcome, "hotline/mn/welcome") == 1  # prompts now in Mongolian
    assert streamed(outcome, "hotline/mn/main_menu") == 1
    assert outcome.variables["HOTLINE_LANGUAGE"] == "mn"
    assert outcome.variables["HOTLINE_ELDER_ID"] == ""


def test_mongolian_elder_is_asked_once_then_remembered(ivr: RunningServer) -> None:
    elder_id = register_elder(
        ivr.runtime, name="巴特尔", ethnicity_code="02", phones=[{"number": "15047900001"}]
    )
    first = ivr.call(callerid="15047900001", digits=["2", "3"])
    assert streamed(first, "hotline/zh/choose_language") == 1
    assert elder_row(ivr.runtime, elder_id).ivr_language == "mn"
    assert last_session(ivr.runtime).language_chosen

    second = ivr.call(callerid="15047900001", digits=["3"])
    assert streamed(second, "hotline/zh/choose_language") == 0
    assert streamed(second, "hotline/mn/welcome") == 1
    assert second.variables["HOTLINE_LANGUAGE"] == "mn"


def test_mongolian_prompt_without_a_recording_falls_back_to_mandarin(
    ivr: RunningServer, sounds_dir: Path
) -> None:
    for lang, names in {"zh": ["welcome", "main_menu"], "mn": ["main_menu"]}.items():
        (sounds_dir / lang).mkdir(exist_ok=True)
        for name in names:
            (sounds_dir / lang / f"{name}.wav").write_bytes(b"RIFF")
    outcome = ivr.call(callerid="13911112222", digits=["2", "3"])
    assert streamed(outcome, "hotline/zh/welcome") == 1  # no Mongolian recording yet
    assert streamed(outcome, "hotline/mn/main_menu") == 1


def test_zero_always_reaches_a_person(ivr: RunningServer) -> None:
    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    at_menu = ivr.call(callerid="13904711234", digits=["0"])
    assert at_menu.variables["HOTLINE_INTENT"] == "person"
    assert at_menu.variables["HOTLINE_QUEUE"] == "hotline-general"
    in_submenu = ivr.call(callerid="13904711234", digits=["2", "0"])
    assert streamed(in_submenu, "hotline/zh/service_menu") == 1
    assert in_submenu.variables["HOTLINE_QUEUE"] == "hotline-general"
    assert last_session(ivr.runtime).path[-1] == "to_person"


def test_silence_repeats_the_menu_once_then_reaches_a_person(ivr: RunningServer) -> None:
    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    outcome = ivr.call(callerid="13904711234", digits=["", ""])
    assert streamed(outcome, MENU) == 2
    assert streamed(outcome, "hotline/zh/invalid_key") == 1
    assert sum(1 for c in outcome.commands if c.startswith("WAIT FOR DIGIT")) == 2
    assert outcome.variables["HOTLINE_INTENT"] == "person"
    assert last_session(ivr.runtime).outcome == "handed_off"


def test_invalid_keys_repeat_once_then_reach_a_person(ivr: RunningServer, caplog) -> None:
    caplog.set_level(logging.INFO)
    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    outcome = ivr.call(callerid="13904711234", digits=["7", "9"])
    assert streamed(outcome, MENU) == 2
    assert outcome.variables["HOTLINE_INTENT"] == "person"
    assert "invalid key 7" in caplog.text

    corrected = ivr.call(callerid="13904711234", digits=["7", "3"])
    assert corrected.variables["HOTLINE_INTENT"] == "consult"


def test_a_key_pressed_during_the_menu_prompt_chooses_at_once(ivr: RunningServer) -> None:
    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    outcome = ivr.call(callerid="13904711234", digits=["1"])
    menu_at = next(
        i for i, c in enumerate(outcome.commands) if c.startswith(f"STREAM FILE {MENU} ")
    )
    assert outcome.replies[menu_at] == "200 result=49 endpos=4000"  # interrupted by 1
    assert not any(c.startswith("WAIT FOR DIGIT") for c in outcome.commands)
    assert outcome.variables["HOTLINE_QUEUE"] == "hotline-emergency"
    assert outcome.variables["HOTLINE_INTENT"] == "sos"


def test_missing_prompt_is_logged_and_the_caller_reaches_a_person(
    ivr: RunningServer, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    outcome = ivr.call(callerid="13904711234", digits=["3"], sounds=lambda name: name != MENU)
    assert "prompt missing, not played: main_menu (file hotline/zh/main_menu)" in caplog.text
    assert outcome.variables["HOTLINE_INTENT"] == "person"
    assert outcome.variables["HOTLINE_QUEUE"] == "hotline-general"
    assert outcome.status == "FAILURE"  # AGISTATUS, as Asterisk sets it after a failed STREAM FILE
    row = last_session(ivr.runtime)
    assert row.prompt_failures == ["zh/main_menu"] and row.outcome == "handed_off"


@pytest.fixture
def busy_ivr(regions: Runtime, sounds_dir: Path) -> Iterator[RunningServer]:
    """Queues so long that every caller is offered a call back."""
    settings = regions.settings.with_overrides(ivr_callback_offer_wait_s=0)
    runtime = build_runtime(settings, engine=regions.engine)
    running = start_server(runtime, None, sounds_dir)
    yield running
    stop_server(running)
    runtime.outbox.close()
    runtime.event_bus.close()


def test_long_wait_offers_a_call_back_that_keeps_the_place(busy_ivr: RunningServer) -> None:
    register_elder(busy_ivr.runtime, phones=[{"number": "13904711234"}])
    booked = busy_ivr.call(callerid="13904711234", digits=["3", "1"])
    assert streamed(booked, "hotline/zh/offer_callback") == 1
    assert streamed(booked, "hotline/zh/callback_confirmed") == 1
    assert booked.status == "HANGUP"  # the IVR ended the call after confirming
    row = last_session(busy_ivr.runtime)
    assert row.callback_requested and row.outcome == "completed"
    assert row.caller_number == "13904711234" and row.queue == "hotline-general"
    from platform_core.calls.models import RecallItem

    with busy_ivr.runtime.session() as s:
        recall = s.get(RecallItem, row.recall_id)
        assert (recall.reason, recall.status, recall.number) == (
            "callback_requested",
            "open",
            "13904711234",
        )
        assert recall.opened_at == row.started_at  # dated at the call: the caller keeps their place
        assert recall.origin_linkedid == row.linkedid

    waits = busy_ivr.call(callerid="13904711234", digits=["3", "2"])
    assert waits.variables["HOTLINE_INTENT"] == "consult"
    assert not last_session(busy_ivr.runtime).callback_requested


def test_the_wait_is_estimated_from_the_callers_already_waiting(
    ivr: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr_flows import backend
    from platform_core.calls.models import TelephonyQueue

    # the count is read at most once a second: these two calls are a moment apart
    monkeypatch.setattr(backend, "WAIT_FRESH_S", 0.0)

    register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    with ivr.runtime.session() as s:
        s.add(TelephonyQueue(name="hotline-general", waiting=1))
    short = ivr.call(callerid="13904711234", digits=["3"])  # 1 x 60 s < 120 s: no offer
    assert streamed(short, "hotline/zh/offer_callback") == 0
    with ivr.runtime.session() as s:
        s.get(TelephonyQueue, "hotline-general").waiting = 2
    long = ivr.call(callerid="13904711234", digits=["3", "2"])  # 2 x 60 s: offered, caller waits
    assert streamed(long, "hotline/zh/offer_callback") == 1
    assert long.variables["HOTLINE_INTENT"] == "consult"


def test_choosing_a_service_drafts_an_order_for_the_agent(ivr: RunningServer) -> None:
    from hotline.demo_data.catalogue import seed_catalogue
    from platform_core.orders.models import ServiceOrder

    with ivr.runtime.session() as s:
        seed_catalogue(s)
    elder_id = register_elder(ivr.runtime, phones=[{"number": "13904711234"}])
    outcome = ivr.call(callerid="13904711234", digits=["2", "1"])
    assert outcome.variables["HOTLINE_INTENT"] == "service"
    assert outcome.variables["HOTLINE_PRIORITY"] == "2"
    order_id = int(outcome.variables["HOTLINE_DRAFT_ORDER_ID"])
    with ivr.runtime.session() as s:
        order = s.get(ServiceOrder, order_id)
        assert (order.elder_id, order.service_type_code, order.source) == (
            elder_id,
            "meal_delivery",
            "ivr",
        )
    assert last_session(ivr.runtime).draft_order_id == order_id

    stranger = ivr.call(callerid="13911112222", digits=["1", "2", "1"])  # nobody to draft it for
    assert "HOTLINE_DRAFT_ORDER_ID" not in stranger.variables
    assert stranger.variables["HOTLINE_INTENT"] == "service"


def test_a_bare_local_number_is_completed_with_the_trunks_area_code(ivr: RunningServer) -> None:
    elder_id = register_elder(ivr.runtime, phones=[{"number": "0471-6912345", "kind": "home"}])
    outcome = ivr.call(callerid="6912345", digits=["0"])
    assert outcome.variables["HOTLINE_ELDER_ID"] == str(elder_id)
