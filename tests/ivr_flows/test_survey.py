"""The satisfaction survey after a call: a 1-5 key stored against the call and the agent."""

from __future__ import annotations

from datetime import timedelta

from platform_core.db import utcnow
from platform_core.ivr import service as ivr_service
from tests.ivr_flows.conftest import RunningServer

AFTER_QUEUE = {"MEMBERINTERFACE": "PJSIP/8001", "MEMBERNAME": "坐席01", "HOTLINE_ELDER_ID": ""}


def test_rating_is_stored_against_the_call_and_the_agent(ivr: RunningServer) -> None:
    outcome = ivr.call(
        "survey", digits=["4"], linkedid="1700000500.1", channel_variables=AFTER_QUEUE
    )
    assert outcome.status == "HANGUP"
    assert any(c.startswith("STREAM FILE hotline/zh/survey_thanks") for c in outcome.commands)
    with ivr.runtime.session() as s:
        survey = ivr_service.find_survey(s, linkedid="1700000500.1")
        assert survey is not None
        assert (survey.score, survey.agent_interface, survey.agent_name) == (
            4,
            "PJSIP/8001",
            "坐席01",
        )
        [summary] = ivr_service.survey_summary(s, start=utcnow() - timedelta(hours=1), end=utcnow())
        assert (summary.agent_interface, summary.answered, summary.by_score) == (
            "PJSIP/8001",
            1,
            {4: 1},
        )


def test_silence_or_wrong_keys_store_nothing(ivr: RunningServer) -> None:
    outcome = ivr.call(
        "survey", digits=["", "9"], linkedid="1700000500.2", channel_variables=AFTER_QUEUE
    )
    assert (
        sum(1 for c in outcome.commands if c.startswith("STREAM FILE hotline/zh/survey_question"))
        == 2
    )
    assert any(c.startswith("STREAM FILE hotline/zh/goodbye") for c in outcome.commands)
    with ivr.runtime.session() as s:
        assert ivr_service.find_survey(s, linkedid="1700000500.2") is None


def test_one_rating_per_call_and_no_survey_without_an_agent(ivr: RunningServer) -> None:
    ivr.call("survey", digits=["5"], linkedid="1700000500.3", channel_variables=AFTER_QUEUE)
    ivr.call("survey", digits=["1"], linkedid="1700000500.3", channel_variables=AFTER_QUEUE)
    no_agent = ivr.call("survey", digits=["3"], linkedid="1700000500.4")
    assert not any("survey_question" in c for c in no_agent.commands)
    with ivr.runtime.session() as s:
        assert ivr_service.find_survey(s, linkedid="1700000500.3").score == 5
        assert ivr_service.find_survey(s, linkedid="1700000500.4") is None


def test_the_agent_comes_from_the_call_record_when_the_dialplan_kept_no_variables(
    ivr: RunningServer,
) -> None:
    from platform_core.calls.models import Call

    with ivr.runtime.session() as s:
        s.add(
            Call(
                linkedid="1700000500.9",
                uniqueid="1700000500.9",
                region_code="150100000000",
                agent_interface="PJSIP/8002",
                member_name="李娜",
            )
        )
    ivr.call("survey", digits=["5"], linkedid="1700000500.9")
    with ivr.runtime.session() as s:
        survey = ivr_service.find_survey(s, linkedid="1700000500.9")
        assert (survey.agent_interface, survey.agent_name, survey.score) == (
            "PJSIP/8002",
            "李娜",
            5,
        )
