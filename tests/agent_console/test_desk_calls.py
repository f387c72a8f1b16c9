"""The desk tells the truth about its call: an order or a care process names a call only if the
agent answered it (a call a colleague answered is the colleague's), and a reloaded desk gets the
call ringing at it, or none once it stopped ringing there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from platform_core.audit import service as audit
from platform_core.calls import service as calls
from platform_core.calls.schemas import ChannelRef
from platform_core.db import utcnow
from platform_core.orders.models import ServiceOrder
from tests.agent_console.conftest import login
from tests.platform_core.care_support import install_catalogue, jobs_settled

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

CALL = "1741700000.5"
CALLER = ChannelRef(
    channel="PJSIP/trunk-00000005",
    uniqueid=CALL,
    linkedid=CALL,
    caller_number="13900471001",
    context="hotline-inbound",
    exten="12349",
)


def _leg(interface: str) -> ChannelRef:
    return ChannelRef(channel=f"{interface}-5", uniqueid=f"{CALL}.{interface[-4:]}", linkedid=CALL)


def _ring(world, *desks: str) -> None:
    now = utcnow() - timedelta(seconds=10)
    with world.runtime.session() as s:
        calls.record_channel(s, chan=CALLER, at=now)
        calls.record_join(s, chan=CALLER, queue="hotline-emergency", position=1, at=now)
        for desk in desks:
            calls.record_agent_called(
                s,
                chan=CALLER,
                dest=_leg(desk),
                queue="hotline-emergency",
                interface=desk,
                member_name=desk,
                at=now,
            )


def _answer(world, desk: str, *others: str) -> None:
    now = utcnow() - timedelta(seconds=5)
    with world.runtime.session() as s:
        for other in others:  # app_queue hangs up the colleagues' legs
            calls.record_hangup(s, chan=_leg(other), cause=26, at=now)
        calls.record_leave(s, chan=CALLER, queue="hotline-emergency", position=1, at=now)
        calls.record_connect(
            s,
            chan=CALLER,
            dest=_leg(desk),
            queue="hotline-emergency",
            interface=desk,
            member_name=desk,
            hold_s=5,
            ring_s=3,
            at=now,
        )


def _client(app, username: str):
    client = app.test_client()
    token = login(client, username)
    return client, {"X-CSRF-Token": token}


def test_an_order_is_never_attached_to_a_call_a_colleague_answered(app, world) -> None:
    with world.runtime.session() as s:
        install_catalogue(s)
    elder = world.elders["hhht"]
    order = {"service_type_code": "care_cleaning", "linkedid": CALL}
    client, headers = _client(app, "agent_hhht")  # the desk PJSIP/8001
    _ring(world, "PJSIP/8001", "PJSIP/8003")

    ringing = client.get("/api/agent/snapshot").json["call"]
    assert (ringing["linkedid"], ringing["status"], ringing["elder_id"]) == (CALL, "ringing", elder)
    # still ringing: not the agent's call yet
    resp = client.post(f"/api/elders/{elder}/orders", json=order, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == "not_your_call"

    _answer(world, "PJSIP/8003", "PJSIP/8001")  # a colleague's desk answers
    assert client.get("/api/agent/snapshot").json["call"] is None
    resp = client.post(f"/api/elders/{elder}/orders", json=order, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == "not_your_call"
    assert "不是您接听的" in resp.json["message"]
    resp = client.post(
        f"/api/elders/{elder}/care/care_bed", json={"linkedid": CALL}, headers=headers
    )
    assert resp.status_code == 403 and resp.json["code"] == "not_your_call"
    unknown = dict(order, linkedid="1741700000.404")
    assert (
        client.post(f"/api/elders/{elder}/orders", json=unknown, headers=headers).status_code == 404
    )
    with world.runtime.session() as s:
        assert s.scalar(select(ServiceOrder)) is None
        refused = audit.list_records(
            s, action="http.not_your_call", actor_user_id=world.users["agent_hhht"]
        )
    assert len(refused) == 3 and {r.target_id for r in refused} == {CALL}

    # without a call (the elder looked up, no caller on the line) an order still opens
    resp = client.post(
        f"/api/elders/{elder}/orders", json={"service_type_code": "care_cleaning"}, headers=headers
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    # the supervisor of the region may attach to any call of the region
    sup, sup_headers = _client(app, "sup_hhht")
    resp = sup.post(f"/api/elders/{elder}/orders", json=order, headers=sup_headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)


def test_the_agent_who_answered_attaches_orders_to_the_call(app, world) -> None:
    with world.runtime.session() as s:
        install_catalogue(s)
    elder = world.elders["hhht"]
    client, headers = _client(app, "agent_hhht")
    _ring(world, "PJSIP/8001", "PJSIP/8003")
    _answer(world, "PJSIP/8001", "PJSIP/8003")
    on_line = client.get("/api/agent/snapshot").json["call"]
    assert (on_line["linkedid"], on_line["status"]) == (CALL, "on_call")
    resp = client.post(
        f"/api/elders/{elder}/orders",
        json={"service_type_code": "care_cleaning", "linkedid": CALL},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with world.runtime.session() as s:
        assert s.get(ServiceOrder, resp.json["order"]["id"]).source_ref == CALL
