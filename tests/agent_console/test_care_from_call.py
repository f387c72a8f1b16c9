"""From a call: the screen pop's care processes (where each stands, what can start), starting one
with the call as its source, and service orders that draw on and give back a
government-purchase allowance, all guarded by role and region and audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from platform_core.actors import system_actor
from platform_core.assessment.models import AssessmentRequest
from platform_core.audit import service as audit
from platform_core.care_beds.models import CareBed
from platform_core.flows.care_overview import PROCESSES
from platform_core.gov_purchase import service as gp
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from tests.agent_console.conftest import answered_at_desk, login
from tests.platform_core.care_support import approved_elder, install_catalogue, jobs_settled

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

CALL = "1741500000.77"


@pytest.fixture(autouse=True)
def _the_call(world) -> None:
    """CALL was answered at agent_hhht's desk: it is the agent's own to attach to."""
    answered_at_desk(world.runtime, CALL, interface="PJSIP/8001")


def _client(app, username: str):
    client = app.test_client()
    token = login(client, username)
    return client, {"X-CSRF-Token": token}


def _modules(resp) -> dict[str, dict]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {m["process"]: m for m in resp.json["modules"]}


def test_the_agent_sees_each_process_and_starts_one_for_the_caller(app, world) -> None:
    elder = world.elders["hhht"]
    client, headers = _client(app, "agent_hhht")
    before = _modules(client.get(f"/api/elders/{elder}/care"))
    assert list(before) == list(PROCESSES)
    assert before["care_bed"]["state"] == "none" and before["care_bed"]["can_start"] is True
    # no meal point serves this elder: the button is replaced by the reason
    assert before["meal_aid"]["can_start"] is False and before["meal_aid"]["why_not"]

    resp = client.post(
        f"/api/elders/{elder}/care/care_bed", json={"linkedid": CALL}, headers=headers
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.json["status"]["state"] == "applied"
    assert resp.json["status"]["can_start"] is False
    resp = client.post(
        f"/api/elders/{elder}/care/assessment", json={"linkedid": CALL}, headers=headers
    )
    assert resp.status_code == 201 and resp.json["status"]["state"] == "requested"

    with world.runtime.session() as s:
        bed = s.scalar(select(CareBed).where(CareBed.elder_id == elder))
        request = s.scalar(select(AssessmentRequest).where(AssessmentRequest.elder_id == elder))
        assert (bed.status, bed.source, bed.call_id) == ("applied", "referral", CALL)
        assert (request.source, request.source_ref) == ("call", CALL)
        views = audit.list_records(s, action="elder.view_care_status", target_id=str(elder))
        assert [v.actor_user_id for v in views] == [world.users["agent_hhht"]]
        assert audit.list_records(s, action="care_bed.apply", target_id=str(bed.id))

    after = _modules(client.get(f"/api/elders/{elder}/care"))
    assert after["care_bed"]["state"] == "applied" and after["care_bed"]["can_start"] is False
    # a second application is refused by the module, naming its rule; nothing more is written
    again = client.post(f"/api/elders/{elder}/care/care_bed", json={}, headers=headers)
    assert again.status_code == 409 and again.json["code"] == "care_bed_already_open"
    unknown = client.post(f"/api/elders/{elder}/care/funeral", json={}, headers=headers)
    assert unknown.status_code == 422 and unknown.json["code"] == "unknown_care_process"
    with world.runtime.session() as s:
        assert len(list(s.scalars(select(CareBed).where(CareBed.elder_id == elder)))) == 1


def test_refused_without_the_role_the_region_or_the_token(app, world) -> None:
    officer, officer_headers = _client(app, "officer_hhht")
    refused = officer.post(
        f"/api/elders/{world.elders['hhht']}/care/care_bed", json={}, headers=officer_headers
    )
    assert refused.status_code == 403
    agent, headers = _client(app, "agent_hhht")
    other = agent.post(f"/api/elders/{world.elders['bt']}/care/care_bed", json={}, headers=headers)
    assert other.status_code == 403 and other.json["code"] == "out_of_region"
    forged = agent.post(
        f"/api/elders/{world.elders['hhht']}/care/care_bed",
        json={},
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 400 and forged.json["code"] == "csrf_failed"
    odd = agent.post(
        f"/api/elders/{world.elders['hhht']}/care/care_bed",
        json={"options": {"pay_with": "gold"}},
        headers=headers,
    )
    assert odd.status_code == 422 and odd.json["code"] == "malformed_payload"
    with world.runtime.session() as s:
        assert s.scalar(select(CareBed)) is None
    # nor another region's order cancelled
    with world.runtime.session() as s:
        install_catalogue(s)
        theirs = orders.open_order(
            s,
            actor=system_actor(),
            elder_id=world.elders["bt"],
            service_type_code="care_cleaning",
            source="call",
        ).id
    resp = agent.post(f"/api/orders/{theirs}/cancel", json={"reason": "误建"}, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == "out_of_region"
    with world.runtime.session() as s:
        assert s.get(ServiceOrder, theirs).status != "cancelled"
        refused = audit.list_records(
            s, action="http.out_of_region", actor_user_id=world.users["agent_hhht"]
        )
        assert sorted((r.target_type, r.target_id) for r in refused) == [
            ("elder", str(world.elders["bt"])),
            ("service_order", str(theirs)),
        ]


def test_an_order_from_the_call_draws_the_allowance_and_cancelling_gives_it_back(
    app, world
) -> None:
    with world.runtime.session() as s:
        install_catalogue(s)
        elder = approved_elder(s).id  # 低保边缘, 中度失能: an allowance this month
        granted = gp.allowance_remaining(s, elder_id=elder)
    client, headers = _client(app, "agent_hhht")
    resp = client.post(
        f"/api/elders/{elder}/orders",
        json={"service_type_code": "care_bathing", "linkedid": CALL},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    order = resp.json["order"]
    assert order["status"] == "pending_dispatch"  # handed to dispatch with the opening
    with world.runtime.session() as s:
        row = s.get(ServiceOrder, order["id"])
        assert Decimal(order["allowance"]) == row.self_pay > 0
        assert gp.allowance_remaining(s, elder_id=elder) == granted - row.self_pay

    empty = client.post(f"/api/orders/{order['id']}/cancel", json={"reason": ""}, headers=headers)
    assert empty.status_code == 422
    resp = client.post(
        f"/api/orders/{order['id']}/cancel", json={"reason": "老人住院"}, headers=headers
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json["order"]["status"] == "cancelled"
    assert resp.json["order"]["status_label"] == "已取消"
    with world.runtime.session() as s:
        assert gp.allowance_remaining(s, elder_id=elder) == granted
        assert s.get(ServiceOrder, order["id"]).cancel_reason == "老人住院"


def test_order_openings_beyond_the_processs_slots_wait_then_are_refused(
    app, world, monkeypatch
) -> None:
    """A burst of openings queues in the console (not on pooled connections); one that waits too
    long is refused with a clear message and nothing opened."""
    from agent_console.views import common

    with world.runtime.session() as s:
        install_catalogue(s)
    monkeypatch.setattr(common, "ORDER_SLOT_WAIT_S", 0.2)
    slots = app.extensions["hotline_order_slots"]
    client, headers = _client(app, "agent_hhht")
    order = {"service_type_code": "care_cleaning", "linkedid": CALL}
    held = [slots.acquire(timeout=1) for _ in range(world.runtime.settings.console_order_slots)]
    try:
        assert all(held)
        busy = client.post(
            f"/api/elders/{world.elders['hhht']}/orders", json=order, headers=headers
        )
        assert busy.status_code == 503 and busy.json["code"] == "console_busy"
    finally:
        for _ in held:
            slots.release()
    with world.runtime.session() as s:
        assert s.scalar(select(ServiceOrder)) is None
    done = client.post(f"/api/elders/{world.elders['hhht']}/orders", json=order, headers=headers)
    assert done.status_code == 201


def test_opening_the_calls_service_again_names_its_order_and_opens_no_second(app, world) -> None:
    """The caller chose bathing in the IVR's menu (a draft); the agent opens bathing from the
    call, then clicks again: one order, the draft, handed to dispatch."""
    elder = world.elders["hhht"]
    with world.runtime.session() as s:
        install_catalogue(s)
        draft = orders.open_order(
            s,
            actor=system_actor(),
            elder_id=elder,
            service_type_code="care_bathing",
            source="ivr",
            source_ref=CALL,
        ).id
    client, headers = _client(app, "agent_hhht")
    order = {"service_type_code": "care_bathing", "linkedid": CALL, "notes": "请带洗浴椅"}
    first = client.post(f"/api/elders/{elder}/orders", json=order, headers=headers)
    assert first.status_code == 201, first.get_data(as_text=True)
    assert (first.json["order"]["id"], first.json["order"]["already_open"]) == (draft, False)
    assert first.json["order"]["status"] == "pending_dispatch"
    again = client.post(f"/api/elders/{elder}/orders", json=order, headers=headers)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert (again.json["order"]["id"], again.json["order"]["already_open"]) == (draft, True)
    with world.runtime.session() as s:
        rows = s.scalars(select(ServiceOrder)).all()
        assert [(o.id, o.notes) for o in rows] == [(draft, "请带洗浴椅")]
