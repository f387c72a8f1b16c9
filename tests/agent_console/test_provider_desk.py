"""The hotline's side over HTTP: why dispatch chose and the audited override, return visits,
evaluations printed to PDF and Excel, settlements exported to CSV and Excel; each refused outside
the user's region or role."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.orders import service as orders
from platform_core.orders.periods import month_of
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import login
from tests.agent_console.provider_support import AGENT, HOME, order
from tests.order_steps import confirm_by_elder, time_at_home

provider_world = support.provider_world  # the shared fixture


def client_of(app, username: str):
    c = app.test_client()
    return c, login(c, username)


def finish(w, order_id: int, provider) -> None:
    """Take a dispatched order to the elder's rating, as the provider and the hotline would."""
    p = Actor(
        kind="user",
        name="p",
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=99,
        provider_id=provider.id,
    )
    with w.rt.session() as s:
        orders.accept(s, actor=p, order_id=order_id, staff_id=provider.staff_id)
        orders.start_travel(s, actor=p, order_id=order_id)
        orders.check_in(s, actor=p, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
        time_at_home(s, order_id)
        orders.check_out(s, actor=p, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
        confirm_by_elder(s, actor=p, order_id=order_id)
        orders.rate(s, actor=AGENT, order_id=order_id, score=5)


def test_agents_see_why_and_override_in_their_region_only(app, provider_world) -> None:
    w = provider_world
    agent, token = client_of(app, "agent_hhht")
    data = agent.get(f"/api/orders/{w.order_id}/dispatch").get_json()
    assert data["history"][0]["provider_id"] == w.first.id
    assert {c["provider_id"] for c in data["ranking"]} == {w.first.id, w.second.id}
    resp = agent.post(
        f"/api/orders/{w.order_id}/dispatch",
        json={"provider_id": w.second.id, "reason": "老人要求换人"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 200 and resp.get_json()["provider_id"] == w.second.id
    assert order(w, w.order_id).provider_id == w.second.id
    other, token_bt = client_of(app, "agent_bt")
    resp = other.get(f"/api/orders/{w.order_id}/dispatch")
    assert (resp.status_code, resp.get_json()["code"]) == (403, "out_of_region")
    resp = other.post(
        f"/api/orders/{w.order_id}/dispatch",
        json={"provider_id": w.first.id, "reason": "x"},
        headers={"X-CSRF-Token": token_bt},
    )
    assert resp.status_code == 403 and order(w, w.order_id).provider_id == w.second.id
    with w.rt.session() as s:
        assert [r.result for r in audit.list_records(s, action="dispatch.override")] == ["ok"]
        assert audit.list_records(
            s, action="http.out_of_region", actor_user_id=w.console.users["agent_bt"]
        )


def test_return_visits_over_http(app, provider_world) -> None:
    w = provider_world
    finish(w, w.order_id, w.first)
    agent, token = client_of(app, "agent_hhht")
    resp = agent.post(
        f"/api/orders/{w.order_id}/return-visits",
        json={
            "result": "satisfied",
            "satisfaction": 5,
            "answers": {"on_time": True, "attitude": 5},
        },
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 201 and resp.get_json()["status"] == "return_visited"
    bad = agent.post(
        f"/api/orders/{w.order_id}/return-visits",
        json={"result": "satisfied", "satisfaction": 5},
        headers={"X-CSRF-Token": token},
    )
    assert (bad.status_code, bad.get_json()["code"]) == (409, "illegal_transition")
    assert "due" in agent.get("/api/return-visits/due").get_json()


def test_officers_evaluate_and_settle_with_exports(app, provider_world) -> None:
    w = provider_world
    finish(w, w.order_id, w.first)
    with w.rt.session() as s:
        orders.record_return_visit(s, actor=AGENT, order_id=w.order_id, result="satisfied")
    officer, token = client_of(app, "officer_hhht")
    month = month_of(utcnow(), w.rt.settings.timezone)
    resp = officer.post("/api/evaluations", json={"month": month}, headers={"X-CSRF-Token": token})
    assert resp.status_code == 201
    rows = resp.get_json()["evaluations"]
    assert {r["provider_id"] for r in rows} == {w.first.id, w.second.id}
    first = next(r for r in rows if r["provider_id"] == w.first.id)
    assert first["metrics"]["service_count"] == 1 and not first["applied"]  # too few to move it
    pdf = officer.get(f"/evaluations/{first['id']}.pdf")
    assert (
        pdf.status_code == 200
        and pdf.data.startswith(b"%PDF")
        and pdf.mimetype == "application/pdf"
    )
    xlsx = officer.get(f"/evaluations/export.xlsx?period={month}")
    assert len(list(load_workbook(io.BytesIO(xlsx.data))["评估汇总"].iter_rows())) == 3
    preview = officer.get(f"/api/providers/{w.first.id}/settlements?month={month}").get_json()[
        "preview"
    ]
    assert preview["settleable"] == [order(w, w.order_id).order_no]
    resp = officer.post(
        f"/api/providers/{w.first.id}/settlements",
        json={"month": month},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 201
    settled = resp.get_json()
    csv = officer.get(f"/settlements/{settled['id']}.csv")
    assert csv.status_code == 200 and order(w, w.order_id).order_no in csv.data.decode("utf-8-sig")
    assert officer.get(f"/settlements/{settled['id']}.xlsx").status_code == 200
    assert order(w, w.order_id).status == "settled"
    agent, token = client_of(app, "agent_hhht")
    assert agent.get(f"/evaluations/{first['id']}.pdf").status_code == 403
    assert (
        agent.post(
            f"/api/providers/{w.first.id}/settlements",
            json={"month": month},
            headers={"X-CSRF-Token": token},
        ).status_code
        == 403
    )
    sup_bt, _ = client_of(app, "sup_bt")
    assert sup_bt.get("/api/sla/breaches").get_json() == {"breaches": []}


def test_a_missed_sla_alerts_the_regions_supervisors_live(app, live, provider_world) -> None:
    from platform_core.sla import jobs as sla_jobs
    from tests.agent_console.conftest import http_login
    from tests.agent_console.test_socket import Listener

    w = provider_world
    with w.rt.session() as s:
        o = orders.get_order(s, order_id=w.order_id)
        o.response_due_at = utcnow()  # the deadline passes now, nobody accepted
    hhht, _ = http_login(live.url, "sup_hhht")
    baotou, _ = http_login(live.url, "sup_bt")
    ours = Listener(live.url, "/supervisor", hhht.cookies.get("hotline_session"))
    theirs = Listener(live.url, "/supervisor", baotou.cookies.get("hotline_session"))
    try:
        assert sla_jobs.sla_due(w.order_id, "response") == "breached"
        deadline = utcnow().timestamp() + 5
        alert = None
        while alert is None and utcnow().timestamp() < deadline:
            data = ours.wait_for("event", timeout=5)
            if data and data.get("type") == "SlaBreached":
                alert = data
        assert alert is not None and alert["data"]["order_id"] == w.order_id
        assert alert["data"]["provider_id"] == w.first.id and alert["data"]["escalated"]
        seen = []
        while not theirs.events.empty():
            seen.append(theirs.events.get_nowait())
        assert not [
            e for e in seen if e[0] == "event" and (e[1] or {}).get("type") == "SlaBreached"
        ]
    finally:
        ours.close()
        theirs.close()
