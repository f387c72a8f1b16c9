"""IVR session records and satisfaction surveys, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from platform_core.actors import system_actor
from platform_core.db import utcnow
from platform_core.errors import Conflict, ValidationFailed
from platform_core.ivr import service as ivr
from platform_core.runtime import Runtime

IVR = system_actor("IVR", kind="ivr")


def _events(runtime: Runtime) -> list[dict]:
    seen: list[dict] = []
    runtime.event_bus.subscribe(seen.append)
    return seen


def test_session_opens_once_per_channel_and_script_and_closes_once(any_runtime: Runtime) -> None:
    seen = _events(any_runtime)
    with any_runtime.session() as s:
        first = ivr.open_session(
            s,
            actor=IVR,
            uniqueid="1.1",
            linkedid="1.0",
            channel="PJSIP/a-1",
            script="main",
            caller_number="13904711234",
        )
        again = ivr.open_session(
            s, actor=IVR, uniqueid="1.1", linkedid="1.0", channel="PJSIP/a-1", script="main"
        )
        survey_run = ivr.open_session(
            s, actor=IVR, uniqueid="1.1", linkedid="1.0", channel="PJSIP/a-1", script="survey"
        )
        assert again == first and survey_run != first
        ivr.close_session(
            s,
            actor=IVR,
            session_id=first,
            result=ivr.SessionResult(
                outcome="hung_up",
                path=["identify", "main_menu"],
                caller_kind="elder",
                elder_id=None,
            ),
        )
        ivr.close_session(
            s,
            actor=IVR,
            session_id=first,
            result=ivr.SessionResult(outcome="handed_off", path=[]),
        )
        assert seen == []  # nothing is published before the commit
    any_runtime.event_bus.drain()
    with any_runtime.session() as s:
        row = ivr.get_session(s, session_id=first)
        assert (row.outcome, row.path, row.caller_kind) == (
            "hung_up",
            ["identify", "main_menu"],
            "elder",
        )
        assert row.ended_at is not None
        assert ivr.find_session(s, uniqueid="1.1", script="main").id == first
    ended = [e for e in seen if e["type"] == "IvrSessionEnded"]
    assert len(ended) == 1 and ended[0]["data"]["outcome"] == "hung_up"


def test_unknown_outcome_is_refused(any_runtime: Runtime) -> None:
    with any_runtime.session() as s:
        opened = ivr.open_session(
            s, actor=IVR, uniqueid="2.1", linkedid="2.1", channel="c", script="main"
        )
        with pytest.raises(ValidationFailed):
            ivr.close_session(
                s,
                actor=IVR,
                session_id=opened,
                result=ivr.SessionResult(outcome="vanished", path=[]),
            )


def test_callback_request_needs_a_number(any_runtime: Runtime) -> None:
    seen = _events(any_runtime)
    with any_runtime.session() as s:
        anonymous = ivr.open_session(
            s, actor=IVR, uniqueid="3.1", linkedid="3.1", channel="c", script="main"
        )
        with pytest.raises(Conflict):
            ivr.record_callback_request(
                s, actor=IVR, session_id=anonymous, queue="hotline-general", recall_id=1
            )
        known = ivr.open_session(
            s,
            actor=IVR,
            uniqueid="3.2",
            linkedid="3.2",
            channel="c",
            script="main",
            caller_number="13904711234",
        )
        ivr.record_callback_request(
            s, actor=IVR, session_id=known, queue="hotline-general", recall_id=77
        )
    any_runtime.event_bus.drain()
    [event] = [e for e in seen if e["type"] == "CallbackRequested"]
    assert (event["data"]["recall_id"], event["data"]["caller_number"]) == (77, "13904711234")


def test_survey_rules_and_summary(any_runtime: Runtime) -> None:
    with any_runtime.session() as s:
        for linkedid, agent, score in [
            ("9.1", "PJSIP/8001", 5),
            ("9.2", "PJSIP/8001", 3),
            ("9.3", "PJSIP/8002", 1),
        ]:
            ivr.record_survey(
                s,
                actor=IVR,
                linkedid=linkedid,
                uniqueid=linkedid,
                score=score,
                agent_interface=agent,
            )
        with pytest.raises(ValidationFailed):
            ivr.record_survey(s, actor=IVR, linkedid="9.4", uniqueid="9.4", score=6)
        with pytest.raises(Conflict):
            ivr.record_survey(s, actor=IVR, linkedid="9.1", uniqueid="9.1", score=4)
        summary = ivr.survey_summary(
            s, start=utcnow() - timedelta(minutes=5), end=utcnow() + timedelta(minutes=1)
        )
    assert [(x.agent_interface, x.answered, x.average, x.by_score) for x in summary] == [
        ("PJSIP/8001", 2, 4.0, {3: 1, 5: 1}),
        ("PJSIP/8002", 1, 1.0, {1: 1}),
    ]
