"""Commands from the console go to callcenter and Asterisk (the PBX simulator over AMI TCP); the
screen changes only with the events that confirm them."""

from __future__ import annotations

import time

import pytest

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.audit import service as audit
from platform_core.calls import desk
from platform_core.calls.queries import live_snapshot
from platform_core.calls.recalls import list_recalls
from tests.agent_console.conftest import login

SECRET = "control-ami-secret"


@pytest.fixture
def pbx(world):
    config = default_config(secret=SECRET, agents=1)  # PJSIP/8001: agent_hhht's desk
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.time_scale = 20.0
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        world.runtime,
        host="127.0.0.1",
        port=sim.port,
        username="hotline",
        secret=SECRET,
        ping_interval=0,
    )
    center.start()
    yield sim
    center.stop()
    sim.stop()


def _agent_state(world, interface: str) -> dict:
    with world.runtime.session() as s:
        return next(a for a in live_snapshot(s)["agents"] if a["interface"] == interface)


def _wait_state(world, interface: str, state: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        agent = _agent_state(world, interface)
        if agent["state"] == state or time.monotonic() > deadline:
            return agent
        time.sleep(0.05)


def _wait_desk_call(world, interface: str, timeout: float = 5.0) -> dict | None:
    """The call the desk's line is on, once callcenter has recorded whose call it is (the desk
    may show busy a moment before the call's AgentConnect is written)."""
    deadline = time.monotonic() + timeout
    while True:
        with world.runtime.session() as s:
            call = desk.desk_call(s, interface=interface)
        if (call and call["status"] == "on_call") or time.monotonic() > deadline:
            return call
        time.sleep(0.05)


def test_pause_with_reason_ready_and_queue_logout(app, world, pbx) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    headers = {"X-CSRF-Token": token}
    assert client.post("/api/agent/pause", json={"reason": "meal"}, headers=headers).json["ok"]
    paused = _wait_state(world, "PJSIP/8001", "paused")
    assert paused["state"] == "paused" and paused["reason"] == "meal"
    assert client.get("/api/agent/snapshot").json["agent"]["state"] == "paused"
    bad = client.post("/api/agent/pause", json={"reason": "nap"}, headers=headers)
    assert bad.status_code == 422 and bad.json["code"] == "invalid_pause_reason"
    assert client.post("/api/agent/ready", json={}, headers=headers).json["ok"]
    assert _wait_state(world, "PJSIP/8001", "ready")["state"] == "ready"
    assert client.post("/api/agent/queue-logout", json={}, headers=headers).json["ok"]
    assert _wait_state(world, "PJSIP/8001", "logged_out")["state"] == "logged_out"
    assert client.post("/api/agent/queue-login", json={}, headers=headers).json["ok"]
    assert _wait_state(world, "PJSIP/8001", "ready")["state"] == "ready"
    with world.runtime.session() as s:
        kinds = {r.action for r in audit.list_records(s, actor_user_id=world.users["agent_hhht"])}
    assert {
        "telephony.pause",
        "telephony.unpause",
        "telephony.queue_logout",
        "telephony.queue_login",
    } <= kinds


def test_one_click_call_back_of_a_lost_call_dials_once(app, world, pbx) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    headers = {"X-CSRF-Token": token}
    assert client.post("/api/agent/pause", json={"reason": "break"}, headers=headers).json["ok"]
    _wait_state(world, "PJSIP/8001", "paused")
    lost = pbx.place_call(CallerConfig(number=world.phones["hhht"], patience=4))
    pbx.wait(lost)
    assert lost.outcome == "abandoned"
    deadline = time.monotonic() + 5
    recalls: list = []
    while not recalls and time.monotonic() < deadline:
        recalls = client.get("/api/recalls").json["recalls"]
        time.sleep(0.05)
    assert [r["number"] for r in recalls] == [world.phones["hhht"]]
    first = client.post(f"/api/recalls/{recalls[0]['id']}/callback", json={}, headers=headers)
    again = client.post(f"/api/recalls/{recalls[0]['id']}/callback", json={}, headers=headers)
    assert first.status_code == 200 and first.json["ok"], first.json
    assert again.json["repeated"] is True  # the double click reused the command: one call only
    with world.runtime.session() as s:
        item = list_recalls(s, status=None)[0]
        assert item.attempts <= 1


def test_supervisor_listens_to_an_agent_in_region_only(app, world, pbx) -> None:
    client = app.test_client()
    token = login(client, "sup_hhht")
    idle = client.post(
        "/api/monitor",
        json={"agent_interface": "PJSIP/8001", "mode": "listen"},
        headers={"X-CSRF-Token": token},
    )
    # nothing to listen to while the agent has no call
    assert idle.status_code == 409 and idle.json["code"] == "agent_not_on_call"
    call = pbx.place_call(CallerConfig(number=world.phones["hhht"], talk=200))
    assert _wait_state(world, "PJSIP/8001", "on_call")["state"] == "on_call"
    assert _wait_desk_call(world, "PJSIP/8001") is not None
    resp = client.post(
        "/api/monitor",
        json={"agent_interface": "PJSIP/8001", "mode": "listen"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 200 and resp.json["ok"], resp.json
    assert call.outcome == "answered"
    other = client.post(
        "/api/monitor",
        json={"agent_interface": "PJSIP/8002", "mode": "barge"},
        headers={"X-CSRF-Token": token},
    )
    assert other.status_code == 403 and other.json["code"] == "out_of_region"
    with world.runtime.session() as s:
        assert audit.list_records(s, action="telephony.spy", actor_user_id=world.users["sup_hhht"])
