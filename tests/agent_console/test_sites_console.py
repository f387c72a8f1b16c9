"""Service sites on the console, region by region: an officer lists and registers only their
盟市's sites; a site manager runs only the sites they work at; another region's site is refused
(and audited) on every route; the /site socket sends a snapshot of one's own sites only."""

from __future__ import annotations

import pytest
import socketio

from platform_core.audit import service as audit
from tests.agent_console.conftest import http_login, login
from tests.agent_console.site_support import ID_NUMBERS, day_care_centres
from tests.agent_console.test_socket import Listener, _cookie


def _post(client, token, path, body):
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def test_an_officer_sees_and_registers_in_their_league_only(app, world) -> None:
    centres = day_care_centres(world)
    client = app.test_client()
    token = login(client, "officer_hhht")
    listed = client.get("/api/sites").get_json()["sites"]
    assert [s["id"] for s in listed] == [centres.hhht]
    assert client.get(f"/api/sites/{centres.bt}").status_code == 403
    refused = _post(
        client,
        token,
        "/api/sites",
        {"kind": "day_care", "name": "越界", "region_code": "150202000000", "address": "某处"},
    )
    assert refused.status_code == 403 and refused.get_json()["code"] == "out_of_region"
    made = _post(
        client,
        token,
        "/api/sites",
        {
            "kind": "meal_point",
            "name": "锡林路社区助餐点",
            "region_code": "150102000000",
            "address": "锡林路 8 号",
            "meal_times": {"lunch": "11:30"},
            "opening_hours": {"1": ["10:00", "13:00"]},
        },
    )
    assert made.status_code == 201 and made.get_json()["site"]["kind_label"] == "助餐点"
    assert (
        _post(
            client, token, f"/api/sites/{centres.bt}/status", {"status": "closed", "reason": "x"}
        ).status_code
        == 403
    )
    with world.runtime.session() as s:
        assert audit.list_records(
            s, action="http.out_of_region", actor_user_id=world.users["officer_hhht"]
        )


def test_a_site_manager_runs_their_own_site_only(app, world) -> None:
    centres = day_care_centres(world)
    client = app.test_client()
    token = login(client, "site_hhht")
    assert client.get("/", follow_redirects=False).headers["Location"].endswith("/site")
    desk = client.get("/api/site-desk").get_json()
    assert [entry["site"]["id"] for entry in desk["sites"]] == [centres.hhht]
    for path in (f"/api/site-desk/{centres.bt}/roster", f"/api/site-desk/{centres.bt}/statistics"):
        resp = client.get(path)
        assert resp.status_code == 403 and resp.get_json()["code"] == "out_of_region", path
    other = _post(
        client, token, f"/api/site-desk/{centres.bt}/check-in", {"id_number": ID_NUMBERS["bt"]}
    )
    assert other.status_code == 403
    # the elder of another league is not found from this desk (no oracle of who exists there)
    stranger = _post(
        client, token, f"/api/site-desk/{centres.hhht}/check-in", {"id_number": ID_NUMBERS["bt"]}
    )
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "elder_not_found"
    done = _post(
        client, token, f"/api/site-desk/{centres.hhht}/check-in", {"id_number": ID_NUMBERS["hhht"]}
    )
    assert done.status_code == 200 and done.get_json()["roster"]["present"] == 1
    # an agent's role has no desk; a manager has no registry keeping
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get(f"/api/site-desk/{centres.hhht}/roster").status_code == 403
    assert (
        _post(
            client, token, f"/api/sites/{centres.hhht}/status", {"status": "closed", "reason": "x"}
        ).status_code
        == 403
    )
    with world.runtime.session() as s:
        reasons = {
            r.detail.get("reason")
            for r in audit.list_records(s, action="daycare.check_in")
            if r.result == "denied"
        }
        assert "elder_not_found" in reasons


def test_the_site_socket_sends_only_ones_own_sites(live, world) -> None:
    centres = day_care_centres(world)
    session, _ = http_login(live.url, "site_bt")
    sock = Listener(live.url, "/site", _cookie(session))
    try:
        snap = sock.wait_for("snapshot")
        assert [entry["site"]["id"] for entry in snap["sites"]] == [centres.bt]
        assert snap["sites"][0]["roster"]["capacity"] == 2
    finally:
        sock.close()
    agent_session, _ = http_login(live.url, "agent_hhht")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/site", _cookie(agent_session))
