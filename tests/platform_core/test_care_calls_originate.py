"""Care calls end to end: the RQ job asks callcenter to Originate over AMI (PBX simulator on
TCP), the answered call runs the carecall flow over FastAGI, and every attempt is recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import default_config
from callcenter.pbx_sim.config import PhoneConfig
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.care_calls import jobs
from platform_core.care_calls import service as care
from platform_core.care_calls.models import CareNotice
from platform_core.runtime import Runtime
from tests.ivr_flows.conftest import RunningServer, start_server, stop_server
from tests.platform_core.test_care_calls import OFFICE, TODAY, elder

SECRET = "test-ami-secret"
WELL, HELP, BUSY, AWAY = "04716900001", "04716900002", "04716900003", "04716900004"


def settled(runtime: Runtime, care_call_ids: list[int], timeout: float = 15.0) -> dict[int, str]:
    """Statuses once no call is still "calling" (an answered call ends in the IVR a moment after
    Originate reports the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        with runtime.session() as s:
            status = {i: care.get_care_call(s, care_call_id=i).status for i in care_call_ids}
        if "calling" not in status.values() or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _telephony(
    regions: Runtime, tmp_path: Path
) -> Iterator[tuple[Runtime, SimulatorThread, RunningServer]]:
    from hotline.demo_data.catalogue import seed_catalogue
    from platform_core.regions.service import load_dictionary

    with regions.session() as s:
        load_dictionary(s)
        seed_catalogue(s)
    (tmp_path / "sounds").mkdir()
    ivr = start_server(regions, None, tmp_path / "sounds")
    config = default_config(secret=SECRET, agents=2)
    config.time_scale = 40.0
    config.agi_url = f"agi://127.0.0.1:{ivr.server.port}"
    config.phones = {
        WELL: PhoneConfig(answer_after=2.0, digits=["1"]),
        HELP: PhoneConfig(answer_after=2.0, digits=["2"], talk=20.0),
        BUSY: PhoneConfig(busy=True),
        AWAY: PhoneConfig(answer_after=None),  # rings out
    }
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        regions,
        host="127.0.0.1",
        port=sim.port,
        username="hotline",
        secret=SECRET,
        ping_interval=0,
        reconnect_initial=0.05,
    )
    center.start()
    try:
        yield regions, sim, ivr
    finally:
        center.stop()
        sim.stop()
        stop_server(ivr)


@pytest.fixture
def telephony(
    runtime: Runtime, tmp_path: Path
) -> Iterator[tuple[Runtime, SimulatorThread, RunningServer]]:
    """In-process jobs and telephony commands (the embedded default)."""
    yield from _telephony(runtime, tmp_path)


@pytest.fixture
def telephony_redis(
    redis_runtime: Runtime, tmp_path: Path
) -> Iterator[tuple[Runtime, SimulatorThread, RunningServer]]:
    """RQ jobs and telephony commands over Redis, as in production."""
    yield from _telephony(redis_runtime, tmp_path)


def test_campaign_dials_through_callcenter_and_records_every_attempt(telephony) -> None:
    runtime, _sim, _ivr = telephony
    ids = {
        number: elder(
            runtime,
            born=date(1940, 1, 1),
            living="alone",
            phones=[{"number": number, "kind": "home"}],
        )
        for number in (WELL, HELP, BUSY, AWAY)
    }
    with runtime.session() as s:
        camp = care.create_campaign(
            s,
            actor=OFFICE,
            name="寒潮加呼",
            region_code="150100000000",
            reason="extreme_weather",
            max_attempts=2,
            today=TODAY,
        )
        calls = {c.elder_id: c.id for c in care.list_calls(s, campaign_id=camp.id)}
    call_of = {number: calls[elder_id] for number, elder_id in ids.items()}

    # the worker runs the first attempt of each call (as RQ would, by id)
    results = {
        number: jobs.place_care_call(call_of[number], 1) for number in (WELL, HELP, BUSY, AWAY)
    }
    assert results == {WELL: "answered", HELP: "answered", BUSY: "busy", AWAY: "no_answer"}
    assert (
        jobs.place_care_call(call_of[WELL], 1) == "nothing_to_do"
    )  # delivered twice: dialled once

    status = settled(runtime, list(call_of.values()))
    assert {n: status[call_of[n]] for n in call_of} == {
        WELL: "well",
        HELP: "needs_help",
        BUSY: "retry",
        AWAY: "retry",
    }

    # the retries, due after the interval, fail again: family is told and a visit is ordered
    assert jobs.place_care_call(call_of[BUSY], 2) == "busy"
    assert jobs.place_care_call(call_of[AWAY], 2) == "no_answer"
    from platform_core.orders.models import ServiceOrder

    with runtime.session() as s:
        for number in (BUSY, AWAY):
            row = care.get_care_call(s, care_call_id=call_of[number])
            assert row.status == "unreachable"
            assert [a.status for a in row.attempt_rows] == (
                ["busy", "busy"] if number == BUSY else ["no_answer"] * 2
            )
            assert s.get(CareNotice, row.notice_id).to_name == "李强"
            assert s.get(ServiceOrder, row.visit_order_id).service_type_code == "visit_home"
        helped = care.get_care_call(s, care_call_id=call_of[HELP])
        [attempt] = helped.attempt_rows
        assert attempt.uniqueid  # the channel that reached the IVR
        assert care.get_campaign(s, campaign_id=camp.id).status == "finished"
        assert care.campaign_summary(s, campaign_id=camp.id) == {
            "well": 1,
            "needs_help": 1,
            "unreachable": 2,
        }


def test_nothing_is_dialled_while_callcenter_is_away(regions: Runtime) -> None:
    """Without callcenter the attempt never happened: it does not count and is tried later."""
    elder_id = elder(regions, born=date(1940, 1, 1), living="alone")
    with regions.session() as s:
        camp = care.create_campaign(
            s, actor=OFFICE, name="关怀", region_code="150100000000", today=TODAY
        )
        [call] = [c for c in care.list_calls(s, campaign_id=camp.id) if c.elder_id == elder_id]
    assert jobs.place_care_call(call.id, 1) == "not_placed"
    with regions.session() as s:
        row = care.get_care_call(s, care_call_id=call.id)
        assert (row.status, row.attempts, row.attempt_rows) == ("retry", 0, [])


def test_a_scheduled_campaign_runs_on_the_job_queue(telephony) -> None:
    runtime, _sim, _ivr = telephony
    elder_id = elder(runtime, born=date(1930, 1, 1), phones=[{"number": WELL, "kind": "home"}])
    with runtime.session() as s:
        camp = care.create_campaign(
            s,
            actor=OFFICE,
            name="高龄关怀",
            region_code="150100000000",
            criteria=care.CareCriteria(min_age=95),
            today=TODAY,
        )
    jobs.schedule_campaign(runtime, camp.id)
    assert runtime.jobs.wait_idle(30)
    with runtime.session() as s:
        [call] = care.list_calls(s, campaign_id=camp.id)
    settled(runtime, [call.id])
    with runtime.session() as s:
        [call] = care.list_calls(s, campaign_id=camp.id)
        assert (call.elder_id, call.status, call.attempts) == (elder_id, "well", 1)
        assert care.get_campaign(s, campaign_id=camp.id).status == "finished"


def test_a_campaign_runs_on_rq_with_commands_over_redis(telephony_redis) -> None:
    from rq import Queue

    from platform_core.jobs import InProcessWorker

    runtime, _sim, _ivr = telephony_redis
    elder_id = elder(runtime, born=date(1930, 1, 1), phones=[{"number": HELP, "kind": "home"}])
    with runtime.session() as s:
        camp = care.create_campaign(
            s,
            actor=OFFICE,
            name="高龄关怀",
            region_code="150100000000",
            criteria=care.CareCriteria(min_age=95),
            today=TODAY,
        )
    jobs.schedule_campaign(runtime, camp.id)
    queue = Queue(runtime.jobs.queue_name("default"), connection=runtime.jobs.connection)
    InProcessWorker([queue], connection=runtime.jobs.connection).work(burst=True)
    with runtime.session() as s:
        [call] = care.list_calls(s, campaign_id=camp.id)
    assert settled(runtime, [call.id]) == {call.id: "needs_help"}
    assert call.elder_id == elder_id
