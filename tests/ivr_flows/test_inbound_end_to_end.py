"""An inbound 12349 call end to end: the PBX simulator runs AGI(agi://.../main) against the IVR
over TCP, queues the call as HOTLINE_QUEUE/HOTLINE_PRIORITY say, and callcenter records it
from the AMI events with the IVR's decisions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import default_config
from callcenter.pbx_sim.config import CallerConfig
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.calls.models import Call
from platform_core.ivr.models import IvrSession
from platform_core.runtime import Runtime
from tests.ivr_flows.conftest import RunningServer, register_elder, start_server, stop_server

SECRET = "test-ami-secret"


# asterisk.conf's systemname on a real deployment names the host: channel ids grow past 64
# characters ("<systemname>-<epoch>.<n>"; Asterisk allows 149).
LONG_SYSTEMNAME = "hotline-pbx-nei-menggu-huhehaote-xincheng-district-datacenter-a-node-0001"


@pytest.fixture(params=[""], ids=["plain-ids"])
def hotline(
    request: pytest.FixtureRequest, regions: Runtime, tmp_path: Path
) -> Iterator[tuple[Runtime, SimulatorThread]]:
    (tmp_path / "sounds").mkdir()
    ivr: RunningServer = start_server(regions, None, tmp_path / "sounds")
    config = default_config(secret=SECRET, agents=2)
    config.time_scale = 40.0
    config.agi_url = f"agi://127.0.0.1:{ivr.server.port}"
    config.systemname = request.param
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
        yield regions, sim
    finally:
        center.stop()
        sim.stop()
        stop_server(ivr)


def recorded(runtime: Runtime, linkedid: str, timeout: float = 15.0) -> Call:
    deadline = time.monotonic() + timeout
    while True:
        with runtime.session() as s:
            call = s.get(Call, linkedid)
            if call is not None and call.ended_at is not None:
                return call
        assert time.monotonic() < deadline, f"call {linkedid} was not recorded as ended"
        time.sleep(0.05)


def test_high_risk_elder_is_queued_first_in_the_emergency_queue(hotline) -> None:
    runtime, sim = hotline
    elder_id = register_elder(runtime, risk_level="high", phones=[{"number": "13904711234"}])
    call = sim.place_call(CallerConfig(number="13904711234", name="王桂兰", talk=10.0))
    sim.wait(call)
    row = recorded(runtime, call.channel.linkedid)
    assert (row.requested_queue, row.first_queue) == ("hotline-emergency", "hotline-emergency")
    assert (row.intent, row.priority, row.elder_id) == ("sos", 10, elder_id)
    assert row.answered_at is not None


def test_caller_who_leaves_in_the_ivr_is_not_offered(hotline) -> None:
    runtime, sim = hotline
    call = sim.place_call(CallerConfig(number="13911112222", digits=["1"], agi_hangup_after=3))
    sim.wait(call)
    row = recorded(runtime, call.channel.linkedid)
    assert row.queued_at is None and row.outcome == "ivr_only"


@pytest.mark.parametrize("hotline", [LONG_SYSTEMNAME], ids=["long-ids"], indirect=True)
def test_channel_ids_longer_than_64_characters_keep_the_ivr_session_and_the_call(hotline) -> None:
    runtime, sim = hotline
    elder_id = register_elder(runtime, risk_level="high", phones=[{"number": "13904711235"}])
    call = sim.place_call(CallerConfig(number="13904711235", name="王桂兰", talk=10.0))
    sim.wait(call)
    linkedid = call.channel.linkedid
    assert 64 < len(linkedid) <= 149
    row = recorded(runtime, linkedid)
    assert (row.elder_id, row.first_queue, row.outcome) == (
        elder_id,
        "hotline-emergency",
        "answered",
    )
    with runtime.session() as s:
        [session] = s.scalars(select(IvrSession).where(IvrSession.uniqueid == linkedid))
        assert (session.linkedid, session.outcome, session.elder_id) == (
            linkedid,
            "handed_off",
            elder_id,
        )
