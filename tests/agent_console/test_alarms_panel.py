"""The alarm panel through HTTP and Socket.IO: guarded, region-scoped, masked until revealed,
audited; the offer reaches a ready agent; the ladder's buttons record who did what."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import select

from platform_core.alarms.models import Alarm
from platform_core.audit import service as audit
from platform_core.calls.models import Agent
from platform_core.elders import service as elders
from platform_core.elders.schemas import ElderUpdate, HealthIn
from platform_core.flows.device_reports import receive_signals
from platform_core.notifications.models import OutboxMessage
from platform_core.telephony.commands import CommandResult, result_to_wire, serve_in_process
from tests.agent_console.conftest import csrf_of, http_login, login
from tests.agent_console.test_socket import Listener
from tests.platform_core.alarms_support import STAFF, new_device, signal


@pytest.fixture
def alarm_world(world):
    """A pendant for the Hohhot elder (with medical notes) and one for the Baotou elder."""
    with world.runtime.session() as s:
        elders.update_elder(
            s,
            elder_id=world.elders["hhht"],
            changes=ElderUpdate(
                health=HealthIn(chronic_illnesses=["冠心病"], medications=["硝酸甘油"])
            ),
            actor=STAFF,
        )
        world.devices = {
            "hhht": new_device(s, elder_id=world.elders["hhht"]).serial,
            "bt": new_device(s, elder_id=world.elders["bt"]).serial,
        }
    return world


@pytest.fixture
def telephony(world):
    """callcenter's side of the command channel, answering as callcenter does on the wire."""
    sent: list[dict[str, Any]] = []

    def serve(request: dict[str, Any]) -> Future:
        sent.append(request)
        done: Future = Future()
        done.set_result(
            result_to_wire(CommandResult(ok=True, message="Originate successfully queued"))
        )
        return done

    stop = serve_in_process(world.runtime.settings.redis_namespace, serve)
    yield sent
    stop()


def ready_desk(world, interface: str = "PJSIP/8001", member: str = "agent_hhht") -> None:
    """The Hohhot agent's desk, ready in the voice queues: alarms are offered to it."""
    with world.runtime.session() as s:
        s.add(
            Agent(
                interface=interface, member_name=member, state="ready", region_code="150100000000"
            )
        )


def _raise(world, key: str, alarm_type: str = "sos", **extra) -> int:
    with world.runtime.session() as s:
        [out] = receive_signals(s, signals=[signal(world.devices[key], alarm_type, **extra)])
    return out.alarm_id


def _client(app, username: str):
    client = app.test_client()
    token = login(client, username)
    return client, {"X-CSRF-Token": token}


def test_the_panel_list_detail_reveal_and_region(app, alarm_world) -> None:
    world = alarm_world
    mine = _raise(world, "hhht", latitude=40.84, longitude=111.75, accuracy_m=12.0)
    theirs = _raise(world, "bt")
    client, headers = _client(app, "agent_hhht")
    page = client.get("/alarms")
    assert page.status_code == 200 and "告警面板" in page.get_data(as_text=True)
    listed = client.get("/api/alarms").json["alarms"]
    assert [a["id"] for a in listed] == [mine]  # Baotou's alarm is not shown in Hohhot
    assert listed[0]["elder_name"] == "巴**" and listed[0]["status"] == "waiting"

    detail = client.get(f"/api/alarms/{mine}").json["alarm"]
    assert detail["elder"]["name"] == "巴特尔" and detail["position"]["accuracy_m"] == 12.0
    contact = detail["elder"]["contacts"][0]
    assert contact["phone_masked"] == "138****1009"
    assert "冠心病" not in str(detail) and detail["elder"]["has_health_notes"]
    assert detail["ladder"]["current"] == "talk_to_elder" and detail["ladder"]["device_can_speak"]
    with world.runtime.session() as s:
        assert audit.list_records(
            s, action="elder.view_profile", target_id=str(world.elders["hhht"])
        )

    revealed = client.post(f"/api/alarms/{mine}/reveal", json={"field": "health"}, headers=headers)
    assert revealed.json["value"]["chronic_illnesses"] == ["冠心病"]
    number = client.post(
        f"/api/alarms/{mine}/reveal",
        json={"field": "contact_phone", "contact_id": contact["id"]},
        headers=headers,
    )
    assert number.json["value"] == world.phones["hhht_son"]
    with world.runtime.session() as s:
        actions = [r.action for r in audit.list_records(s, target_type="elder")]
    assert "alarm.reveal_health" in actions and "alarm.reveal_contact_phone" in actions

    # another region's alarm: refused and audited, on reads and commands alike
    for method, path in (("GET", f"/api/alarms/{theirs}"), ("POST", f"/api/alarms/{theirs}/take")):
        resp = client.open(
            path, method=method, json={} if method == "POST" else None, headers=headers
        )
        assert resp.status_code == 403 and resp.json["code"] == "out_of_region"
    with world.runtime.session() as s:
        assert audit.list_records(s, action="http.out_of_region", target_id=str(theirs))


def test_roles_and_sessions(app, alarm_world) -> None:
    alarm_id = _raise(alarm_world, "hhht")
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/login").get_data(as_text=True))
    assert anonymous.get("/api/alarms").status_code == 401
    assert (
        anonymous.post(
            f"/api/alarms/{alarm_id}/take", json={}, headers={"X-CSRF-Token": token}
        ).status_code
        == 401
    )
    officer, headers = _client(app, "officer_hhht")
    assert officer.get("/api/alarms").status_code == 403
    assert officer.post(f"/api/alarms/{alarm_id}/take", json={}, headers=headers).status_code == 403
    assert officer.get("/api/alarms/kpi").status_code == 200  # officers see the figures
    agent, headers = _client(app, "agent_hhht")
    assert agent.get("/api/alarms/kpi").status_code == 403
    # a state-changing request without the CSRF token is refused
    assert agent.post(f"/api/alarms/{alarm_id}/take", json={}).status_code in (400, 403)
    # malformed bodies are refused before any service runs
    bad = agent.post(f"/api/alarms/{alarm_id}/close", json={"outcome": "x" * 50}, headers=headers)
    assert bad.status_code == 422 and bad.json["code"] == "malformed_payload"


def test_take_dial_the_ladder_and_close(app, alarm_world, telephony) -> None:
    world = alarm_world
    alarm_id = _raise(world, "hhht")
    client, headers = _client(app, "agent_hhht")
    taken = client.post(f"/api/alarms/{alarm_id}/take", json={}, headers=headers).json
    assert taken["ok"] and taken["paused"]["ok"] and taken["call_back"]["ok"]
    kinds = [r["command"]["kind"] for r in telephony]
    assert kinds == ["pause", "originate"]
    pause, originate = (r["command"]["args"] for r in telephony)
    assert (pause["interface"], pause["reason"]) == ("PJSIP/8001", "alarm")
    # the agent's phone rings first, then the pendant's SIM
    assert originate["channel"] == "PJSIP/8001" and originate["exten"].startswith("1477")
    # a second agent cannot take it any more
    other, other_headers = _client(app, "sup_hhht")
    assert (
        other.post(f"/api/alarms/{alarm_id}/take", json={}, headers=other_headers).json["code"]
        == "alarm_taken"
    )

    steps = [
        {"step": "talk_to_elder", "result": "no_answer"},
        {"step": "call_landline", "result": "no_answer"},
    ]
    for step in steps:
        assert (
            client.post(f"/api/alarms/{alarm_id}/steps", json=step, headers=headers).status_code
            == 200
        )
    detail = client.get(f"/api/alarms/{alarm_id}").json["alarm"]
    assert detail["ladder"]["door_must_open"] and detail["ladder"]["current"] == "call_contact"
    contact_id = detail["ladder"]["contacts"][0]["id"]
    dialled = client.post(
        f"/api/alarms/{alarm_id}/dial",
        json={"step": "call_contact", "contact_id": contact_id},
        headers=headers,
    ).json
    assert dialled["ok"] and dialled["dialled"] == "138****1009"
    assert telephony[-1]["command"]["args"]["exten"] == world.phones["hhht_son"]
    reached = {
        "step": "call_contact",
        "result": "reached",
        "contact_id": contact_id,
        "note": "儿子十分钟内到",
    }
    assert (
        client.post(f"/api/alarms/{alarm_id}/steps", json=reached, headers=headers).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/alarms/{alarm_id}/notify-family", json={"note": ""}, headers=headers
        ).json["sent"]
        == 1
    )
    refused = client.post(
        f"/api/alarms/{alarm_id}/close", json={"outcome": "emergency_services"}, headers=headers
    )
    assert refused.status_code == 422 and refused.json["code"] == "outcome_without_evidence"
    closed = client.post(
        f"/api/alarms/{alarm_id}/close",
        json={"outcome": "family_handled", "note": "儿子已到"},
        headers=headers,
    )
    assert closed.json == {"ok": True, "outcome": "family_handled"}
    with world.runtime.session() as s:
        alarm = s.get(Alarm, alarm_id)
        assert [st.step for st in alarm.steps] == [
            "take",
            "talk_to_elder",
            "talk_to_elder",
            "call_landline",
            "call_contact",
            "call_contact",
            "notify_family",
        ]
        assert {st.actor_name for st in alarm.steps} == {"agent_hhht(坐席)"}
        assert alarm.steps[1].result == "dialled" and alarm.steps[1].detail["number"].startswith(
            "147"
        )
        refs = s.scalars(
            select(OutboxMessage.ref_id)
            .where(OutboxMessage.ref_type == "alarm")
            .order_by(OutboxMessage.id)
        ).all()
        assert refs == [str(alarm_id), f"{alarm_id}:family1", f"{alarm_id}:closed"]


def test_the_offer_reaches_the_ready_agent_of_the_region(live, alarm_world) -> None:
    world = alarm_world
    with world.runtime.session() as s:
        s.add_all(
            [
                Agent(
                    interface="PJSIP/8001",
                    member_name="agent_hhht",
                    state="ready",
                    region_code="150100000000",
                ),
                Agent(
                    interface="PJSIP/8002",
                    member_name="agent_bt",
                    state="ready",
                    region_code="150200000000",
                ),
                Agent(
                    interface="PJSIP/8101",
                    member_name="sup_hhht",
                    state="on_call",
                    region_code="150100000000",
                ),
            ]
        )
    sockets = {}
    try:
        for name in ("agent_hhht", "agent_bt", "sup_hhht"):
            session, _ = http_login(live.url, name)
            sockets[name] = Listener(live.url, "/agent", session.cookies.get("hotline_session"))
            sockets[name].wait_for("snapshot")
        alarm_id = _raise(world, "hhht")
        offered = sockets["agent_hhht"].wait_for("alarm_offered", timeout=5)
        assert offered["data"]["alarm_id"] == alarm_id and offered["data"]["alarm_type"] == "sos"
        assert offered["data"]["user_id"] == world.users["agent_hhht"]
        # the supervisor on a call sees the list change, without the offer; Baotou sees nothing
        changed = sockets["sup_hhht"].wait_for("alarm_changed", timeout=5)
        assert changed["type"] == "AlarmRaised"
        with pytest.raises(AssertionError):
            sockets["sup_hhht"].wait_for("alarm_offered", timeout=0.5)
        with pytest.raises(AssertionError):
            sockets["agent_bt"].wait_for("alarm_changed", timeout=0.5)
    finally:
        for sock in sockets.values():
            sock.close()


def test_every_alarm_endpoint_is_guarded(app) -> None:
    from agent_console.security import GUARD_ATTR

    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("alarms.")}
    assert len(endpoints) == 15
    for endpoint in endpoints:
        guard = getattr(app.view_functions[endpoint], GUARD_ATTR, None)
        assert guard is not None and not guard["public"] and guard["permission"], endpoint
