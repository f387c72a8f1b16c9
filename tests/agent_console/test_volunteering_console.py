"""Volunteering on the console, region by region: a site's staff run their own site's
volunteers and activities only; a volunteer sees and joins activities of their 盟市 only and
gives hours to their own family only; the /volunteer socket is the volunteers' only."""

from __future__ import annotations

from datetime import timedelta

import pytest
import socketio

from platform_core import clock
from platform_core.volunteers import service as volunteers
from tests.agent_console.conftest import http_login, login
from tests.agent_console.site_support import day_care_centres
from tests.agent_console.test_socket import Listener, _cookie
from tests.platform_core.time_bank_support import register


def _post(client, token, path, body):
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def test_staff_and_volunteers_stay_in_their_region(app, world) -> None:
    centres = day_care_centres(world)
    start = clock.now() + timedelta(days=1)
    with world.runtime.session() as s:
        _, vol = register(
            s,
            staff=centres.hhht_manager,
            site_id=centres.hhht,
            name="王小明",
            seq=9,
            phone="13900471555",
            region_code="150102000000",
        )
        far = volunteers.publish_activity(
            s,
            actor=centres.bt_manager,
            site_id=centres.bt,
            title="包头活动",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            places=2,
        )
        near = volunteers.publish_activity(
            s,
            actor=centres.hhht_manager,
            site_id=centres.hhht,
            title="呼市活动",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            places=2,
        )
        far_id, near_id = far.id, near.id
    staff = app.test_client()
    token = login(staff, "site_hhht")
    for path in (
        f"/api/site-desk/{centres.bt}/activities",
        f"/api/site-desk/{centres.bt}/volunteers",
    ):
        resp = staff.get(path)
        assert resp.status_code == 403 and resp.get_json()["code"] == "out_of_region", path
    assert (
        _post(
            staff, token, f"/api/site-desk/{centres.bt}/volunteers/code", {"phone": "13900471556"}
        ).status_code
        == 403
    )
    listed = staff.get(f"/api/site-desk/{centres.hhht}/activities").get_json()["activities"]
    assert [a["id"] for a in listed] == [near_id]

    client = app.test_client()
    vtoken = login(client, vol.name)
    assert client.get("/", follow_redirects=False).headers["Location"].endswith("/volunteer")
    page = client.get("/api/volunteer").get_json()
    assert [a["id"] for a in page["activities"]] == [near_id]
    assert (
        _post(client, vtoken, f"/api/volunteer/activities/{far_id}/sign-up", {}).status_code == 404
    )
    assert (
        _post(client, vtoken, f"/api/volunteer/activities/{near_id}/sign-up", {}).status_code == 200
    )
    refused = _post(
        client,
        vtoken,
        "/api/volunteer/transfer",
        {"elder_id": world.elders["hhht"], "hours": "1", "key": "k1"},
    )
    assert refused.status_code == 403 and refused.get_json()["code"] == "not_family"
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get("/api/volunteer").status_code == 403


def test_the_volunteer_socket_is_for_volunteers(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/volunteer", _cookie(agent))
