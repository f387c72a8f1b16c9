"""Social work on the console, region by region: a worker reads and works only their own
cases; an officer refers, assigns and reads within their 盟市; another region's case is refused
and audited; the /casework socket is the workers' only."""

from __future__ import annotations

import pytest
import socketio

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.audit import service as audit
from platform_core.social_work import service as social
from tests.agent_console.conftest import PASSWORD, http_login, login
from tests.agent_console.site_support import ID_NUMBERS
from tests.agent_console.test_socket import Listener, _cookie


def _post(client, token, path, body):
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def _cases(world) -> dict[str, int]:
    """A social worker in each 盟市 and a referral of each 盟市's elder."""
    out = {}
    with world.runtime.session() as s:
        for key, league, region in (
            ("hhht", "150100000000", "150102000000"),
            ("bt", "150200000000", "150202000000"),
        ):
            officer = Actor(kind="user", name="民政", region_code=league, role=Role.OFFICER)
            user = accounts.create_user(
                s,
                actor=system_actor(),
                username=f"sw_{key}",
                password=PASSWORD,
                role=Role.SOCIAL_WORKER,
                region_code=region,
            )
            social.register_worker(s, actor=officer, user_id=user.id)
            case = social.refer_case(
                s, actor=officer, elder_id=world.elders[key], reason="独居", source="officer"
            )
            out[key] = case.id
    return out


def test_a_worker_works_only_their_own_cases(app, world) -> None:
    cases = _cases(world)
    client = app.test_client()
    token = login(client, "sw_hhht")
    assert client.get("/", follow_redirects=False).headers["Location"].endswith("/casework")
    desk = client.get("/api/casework").get_json()
    assert [c["id"] for c in desk["queue"]] == [cases["hhht"]]
    assert _post(client, token, f"/api/casework/cases/{cases['bt']}/accept", {}).status_code == 403
    assert client.get(f"/api/casework/cases/{cases['bt']}").status_code == 403
    taken = _post(client, token, f"/api/casework/cases/{cases['hhht']}/accept", {"note": "接案"})
    assert taken.status_code == 200 and taken.get_json()["case"]["status"] == "intake"
    other = app.test_client()
    other_token = login(other, "sw_bt")
    refused = _post(
        other,
        other_token,
        f"/api/casework/cases/{cases['hhht']}/visits",
        {"kind": "phone", "notes": "越权"},
    )
    assert refused.status_code == 403
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get(f"/api/casework/cases/{cases['hhht']}").status_code == 403
    with world.runtime.session() as s:
        views = audit.list_records(
            s, action="social_case.view", target_id=str(world.elders["hhht"])
        )
        # the worker's own reading after taking the case in (the agent's was refused)
        assert [(v.target_type, v.result) for v in views if v.target_type == "elder"] == [
            ("elder", "ok")
        ]


def test_an_officer_refers_assigns_and_reads_within_the_league(app, world) -> None:
    cases = _cases(world)
    client = app.test_client()
    token = login(client, "officer_hhht")
    board = client.get("/api/casework/supervision").get_json()
    assert [c["id"] for c in board["queue"]] == [cases["hhht"]]
    assert [w["name"] for w in board["caseloads"]] == ["sw_hhht"]
    assert client.get(f"/api/casework/cases/{cases['bt']}").status_code == 403
    refused = _post(
        client, token, "/api/casework/referrals", {"id_number": ID_NUMBERS["bt"], "reason": "x"}
    )
    assert refused.status_code == 403 and refused.get_json()["code"] == "out_of_region"
    worker_id = board["caseloads"][0]["worker_id"]
    assert (
        _post(
            client, token, f"/api/casework/cases/{cases['bt']}/assign", {"worker_id": worker_id}
        ).status_code
        == 403
    )
    assigned = _post(
        client, token, f"/api/casework/cases/{cases['hhht']}/assign", {"worker_id": worker_id}
    )
    assert assigned.status_code == 200 and assigned.get_json()["case"]["worker_name"] == "sw_hhht"
    again = _post(
        client, token, "/api/casework/referrals", {"id_number": ID_NUMBERS["hhht"], "reason": "x"}
    )
    assert again.status_code == 409 and again.get_json()["code"] == "social_case_open"


def test_the_casework_socket_is_for_workers(live, world) -> None:
    cases = _cases(world)
    session, _ = http_login(live.url, "sw_bt")
    sock = Listener(live.url, "/casework", _cookie(session))
    try:
        snap = sock.wait_for("snapshot")
        assert [c["id"] for c in snap["queue"]] == [cases["bt"]]
    finally:
        sock.close()
    officer, _ = http_login(live.url, "officer_hhht")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/casework", _cookie(officer))
