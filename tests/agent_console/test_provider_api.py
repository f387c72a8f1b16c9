"""The provider reporting interface over a real HTTP server, driven by the client in the repo:
signed, encrypted (AES-GCM and SM4-GCM), idempotent by order number and sequence; forged,
replayed, stale and misdirected reports refused, audited, and nothing changed."""

from __future__ import annotations

import json
import time

import pytest
import requests
import yaml
from sqlalchemy import select

from agent_console.views.provider_api import OPENAPI, PREFIX
from platform_core.audit import service as audit
from platform_core.orders import service as orders
from platform_core.provider_api import service as api
from platform_core.provider_api import wire
from platform_core.provider_api.client import ProviderApiClient, ProviderApiError
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import http_login
from tests.agent_console.provider_support import ADMIN, HOME, dispatched_order, order
from tests.order_steps import time_at_home

provider_world = support.provider_world  # the shared fixture


def issue(w, provider_id: int, cipher: str = wire.AES_GCM) -> api.IssuedKey:
    with w.rt.session() as s:
        return api.issue_key(s, actor=ADMIN, provider_id=provider_id, cipher=cipher)


def client_for(live, key: api.IssuedKey) -> ProviderApiClient:
    return ProviderApiClient(live.url, key.key_id, key.secret, cipher=key.cipher)


def refusals(w, reason: str) -> list:
    with w.rt.session() as s:
        rows = audit.list_records(
            s, action="provider_api.request", limit=1000
        ) + audit.list_records(s, action="provider_api.report", limit=1000)
        rows += [r for r in audit.list_records(s, limit=1000) if r.action.startswith("order.")]
    return [r for r in rows if r.result == "denied" and r.detail.get("reason") == reason]


@pytest.mark.parametrize("cipher", [wire.AES_GCM, wire.SM4_GCM])
def test_a_provider_reports_its_order_to_completion(provider_world, live, cipher) -> None:
    w = provider_world
    c = client_for(live, issue(w, w.first.id, cipher))
    no = order(w, w.order_id).order_no
    steps = [
        ("accepted", {"staff_id": w.first.staff_id}, "accepted"),
        ("en_route", {}, "en_route"),
        ("checked_in", {"latitude": HOME[0], "longitude": HOME[1]}, "in_service"),
        (
            "checked_out",
            {"latitude": HOME[0], "longitude": HOME[1], "report": "打扫完毕, 老人满意"},
            "completed",
        ),
    ]
    for seq, (event, fields, status) in enumerate(steps, 1):
        if event == "checked_out":
            with w.rt.session() as s:
                time_at_home(s, w.order_id)
        result = c.report(no, seq, event, **fields)
        assert (result["status"], result["seq"], result["duplicate"]) == (status, seq, False)
    done = order(w, w.order_id)
    assert done.status == "completed" and done.staff_id == w.first.staff_id
    assert done.completion_report == "打扫完毕, 老人满意"
    with w.rt.session() as s:
        history = orders.order_history(s, order_id=w.order_id)
    assert [h.actor_kind for h in history[-4:]] == ["provider_api"] * 4
    assert history[-2].latitude == HOME[0]
    open_ = c.orders()
    assert open_ == []  # completed: nothing under way


def test_the_body_on_the_wire_is_encrypted(provider_world, live) -> None:
    w = provider_world
    key = issue(w, w.first.id)
    no = order(w, w.order_id).order_no
    sent: list[bytes] = []
    session = requests.Session()
    original = session.request

    def spy(method, url, data=None, **kw):
        sent.append(data or b"")
        resp = original(method, url, data=data, **kw)
        sent.append(resp.content)
        return resp

    session.request = spy  # type: ignore[method-assign]
    ProviderApiClient(live.url, key.key_id, key.secret, session=session).report(
        no, 1, "rejected", reason="本周人手不足"
    )
    request_body, response_body = sent
    assert no.encode() not in request_body and "人手不足".encode() not in request_body
    assert json.loads(request_body)["cipher"] == "aes-256-gcm"
    assert no.encode() not in response_body and set(json.loads(response_body)) == {
        "cipher",
        "iv",
        "ciphertext",
    }
    assert order(w, w.order_id).status in ("rejected", "dispatched")  # then re-dispatched


def test_a_resent_event_is_applied_once(provider_world, live) -> None:
    w = provider_world
    c = client_for(live, issue(w, w.first.id))
    no = order(w, w.order_id).order_no
    first = c.report(no, 1, "accepted", staff_id=w.first.staff_id)
    again = c.report(no, 1, "accepted", staff_id=w.first.staff_id)  # a retry after a timeout
    assert again == {**first, "duplicate": True}
    with w.rt.session() as s:
        assert [h.command for h in orders.order_history(s, order_id=w.order_id)].count(
            "accept"
        ) == 1
    with pytest.raises(ProviderApiError) as err:
        c.report(no, 1, "en_route")
    assert (err.value.status, err.value.code) == (409, "sequence_reused")
    assert order(w, w.order_id).status == "accepted"


def signed(
    live,
    key: api.IssuedKey,
    payload,
    *,
    ts: int | None = None,
    nonce: str | None = None,
    secret: str | None = None,
    aad_nonce: str | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """A hand-built request, so tests can break one part of it at a time."""
    ts_s = str(int(time.time()) if ts is None else ts)
    nonce = nonce or wire.new_nonce()
    body = wire.seal(
        key.secret, key.cipher, payload, wire.additional_data(key.key_id, ts_s, aad_nonce or nonce)
    )
    path = PREFIX + "/events"
    headers = {
        wire.H_KEY: key.key_id,
        wire.H_TIMESTAMP: ts_s,
        wire.H_NONCE: nonce,
        wire.H_SIGNATURE: wire.sign(secret or key.secret, "POST", path, ts_s, nonce, body),
        "Content-Type": "application/json",
    }
    return live.url + path, body, headers


def test_forged_stale_replayed_and_tampered_requests_are_refused(provider_world, live) -> None:
    w = provider_world
    key = issue(w, w.first.id)
    payload = {"order_no": order(w, w.order_id).order_no, "seq": 1, "event": "accepted"}
    before = order(w, w.order_id).transition_count

    url, body, headers = signed(live, key, payload, secret=wire.new_secret())
    resp = requests.post(url, data=body, headers=headers)
    assert (resp.status_code, resp.json()["code"]) == (401, "bad_signature")

    url, body, headers = signed(live, key, payload, ts=int(time.time()) - 400)
    resp = requests.post(url, data=body, headers=headers)
    assert (resp.status_code, resp.json()["code"]) == (401, "stale_timestamp")

    url, body, headers = signed(live, key, payload, aad_nonce=wire.new_nonce())
    resp = requests.post(url, data=body, headers=headers)
    assert (resp.status_code, resp.json()["code"]) == (422, "undecryptable")

    url, body, headers = signed(live, key, payload)
    resp = requests.post(
        url, data=body, headers={k: v for k, v in headers.items() if k != wire.H_SIGNATURE}
    )
    assert (resp.status_code, resp.json()["code"]) == (401, "signature_missing")
    bogus = dict(headers, **{wire.H_KEY: "pk_0_nosuchkey"})
    resp = requests.post(url, data=body, headers=bogus)
    assert (resp.status_code, resp.json()["code"]) == (401, "unknown_key")

    url, body, headers = signed(live, key, {**payload, "event": "accepted", "seq": 7})
    assert requests.post(url, data=body, headers=headers).status_code == 200
    replay = requests.post(url, data=body, headers=headers)  # captured and sent again
    assert (replay.status_code, replay.json()["code"]) == (409, "replayed_request")

    assert order(w, w.order_id).transition_count == before + 1  # only the genuine one
    for reason in (
        "bad_signature",
        "stale_timestamp",
        "undecryptable",
        "signature_missing",
        "unknown_key",
        "replayed_request",
    ):
        assert refusals(w, reason), reason
    (replayed,) = refusals(w, "replayed_request")
    assert replayed.actor_kind == "provider_api" and replayed.target_id == str(w.first.id)


def test_another_providers_order_and_forbidden_steps_are_refused(provider_world, live) -> None:
    w = provider_world
    other = client_for(live, issue(w, w.second.id))
    mine = client_for(live, issue(w, w.first.id))
    no = order(w, w.order_id).order_no
    with pytest.raises(ProviderApiError) as err:
        other.report(no, 1, "accepted")
    # another provider's order answers as an unknown one does: no existence oracle
    assert (err.value.status, err.value.code) == (404, "order_not_found")
    mine.report(no, 1, "accepted")
    with pytest.raises(ProviderApiError) as err:
        mine.report(no, 2, "checked_out", latitude=HOME[0], longitude=HOME[1])  # never checked in
    assert (err.value.status, err.value.code) == (409, "illegal_transition")
    assert "不能签退" in err.value.message and "allowed next" in err.value.message
    mine.report(no, 2, "en_route")
    with pytest.raises(ProviderApiError) as err:
        mine.report(no, 3, "checked_in")  # no coordinates
    assert (err.value.status, err.value.code) == (422, "coordinates_required")
    with pytest.raises(ProviderApiError) as err:
        mine.report("GD19990101-00001", 1, "accepted")
    assert (err.value.status, err.value.code) == (404, "order_not_found")
    with pytest.raises(ProviderApiError) as err:
        mine.report(no, 2, "teleported")
    assert (err.value.status, err.value.code) == (422, "malformed_payload")
    assert order(w, w.order_id).status == "en_route"
    assert refusals(w, "not_your_order") and refusals(w, "illegal_transition")
    # the refused sequence number is still free: the provider sends the right event under it
    mine.report(no, 3, "checked_in", latitude=HOME[0], longitude=HOME[1])
    assert order(w, w.order_id).status == "in_service"


def test_orders_list_shows_only_the_providers_own(provider_world, live) -> None:
    w = provider_world
    theirs = dispatched_order(w, w.second.id)
    mine = client_for(live, issue(w, w.first.id))
    rows = mine.orders()
    assert [r["order_no"] for r in rows] == [order(w, w.order_id).order_no]
    assert rows[0]["elder_name"] == "巴特尔" and rows[0]["next_seq"] == 1
    assert mine.orders(status="accepted") == []
    other_rows = client_for(live, issue(w, w.second.id)).orders()
    assert [r["order_no"] for r in other_rows] == [order(w, theirs).order_no]


def test_keys_are_rotated_with_a_grace_period_and_revoked(provider_world, live) -> None:
    w = provider_world
    old = issue(w, w.first.id)
    with w.rt.session() as s:
        new = api.rotate_key(s, actor=ADMIN, provider_id=w.first.id)
    assert new.key_id != old.key_id and new.secret != old.secret
    assert client_for(live, old).orders() and client_for(live, new).orders()
    with w.rt.session() as s:
        api.revoke_key(s, actor=ADMIN, key_id=old.key_id, reason="泄露")
    with pytest.raises(ProviderApiError) as err:
        client_for(live, old).orders()
    assert (err.value.status, err.value.code) == (401, "unknown_key")
    with w.rt.session() as s:
        states = {k["key_id"]: k["status"] for k in api.list_keys(s, provider_id=w.first.id)}
    assert states == {old.key_id: "revoked", new.key_id: "active"}
    with w.rt.session() as s:
        secret_at_rest = (
            s.scalars(select(api.ProviderApiKey).where(api.ProviderApiKey.key_id == new.key_id))
            .one()
            .secret_sealed
        )
    assert new.secret not in secret_at_rest


def test_administrators_issue_keys_over_http_and_others_cannot(provider_world, live) -> None:
    w = provider_world
    admin, token = http_login(live.url, "admin_all")
    resp = admin.post(
        f"{live.url}/api/providers/{w.first.id}/api-keys",
        json={"cipher": "sm4-gcm"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    issued = resp.json()
    c = ProviderApiClient(live.url, issued["key_id"], issued["secret"], cipher="sm4-gcm")
    assert c.orders()[0]["order_no"] == order(w, w.order_id).order_no
    again = admin.post(
        f"{live.url}/api/providers/{w.first.id}/api-keys", json={}, headers={"X-CSRF-Token": token}
    )
    assert (again.status_code, again.json()["code"]) == (409, "key_exists")
    listed = admin.get(f"{live.url}/api/providers/{w.first.id}/api-keys").json()["keys"]
    assert [k["key_id"] for k in listed] == [issued["key_id"]] and "secret" not in listed[0]
    agent, token = http_login(live.url, "agent_hhht")
    resp = agent.post(
        f"{live.url}/api/providers/{w.first.id}/api-keys", json={}, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 403
    officer_bt, token = http_login(live.url, "sup_bt")
    assert officer_bt.get(f"{live.url}/api/providers/{w.first.id}/api-keys").status_code == 403
    provider, token = http_login(live.url, w.first.username)
    resp = provider.post(
        f"{live.url}/api/providers/{w.first.id}/api-keys",
        json={"rotate": True},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 403


def test_the_openapi_description_is_served_and_covers_every_route(
    provider_world, live, app
) -> None:
    served = requests.get(f"{live.url}{PREFIX}/openapi.yaml")
    assert served.status_code == 200 and served.text == OPENAPI.read_text(encoding="utf-8")
    spec = requests.get(f"{live.url}{PREFIX}/openapi.json").json()
    assert spec == yaml.safe_load(served.text) and spec["openapi"].startswith("3.1")
    routes = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes == documented
    events = spec["components"]["schemas"]["ReportEvent"]["properties"]["event"]["enum"]
    from platform_core.provider_api.schemas import EVENTS

    assert tuple(events) == EVENTS
