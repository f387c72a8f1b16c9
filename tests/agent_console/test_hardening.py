"""What a probe of the running console found, each over a real server: the idle timeout on
Socket.IO, malformed and oversized input (never a 500), the default namespace, existence
oracles, a login over a stale cookie, and the Content Security Policy."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
import socketio
from sqlalchemy import update

from agent_console.views.provider_api import PREFIX
from platform_core.accounts.models import LoginSession
from platform_core.accounts.service import session_id_of
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.provider_api import wire
from tests.agent_console.conftest import PASSWORD, csrf_of, http_login, login
from tests.agent_console.test_socket import Listener, _cookie


def _go_idle(world, session) -> None:
    """The login's last activity was longer ago than the idle timeout."""
    token = _cookie(session)
    idle = timedelta(minutes=world.runtime.settings.session_idle_timeout_min + 1)
    with world.runtime.session() as s:
        s.execute(
            update(LoginSession)
            .where(LoginSession.id == session_id_of(token))
            .values(last_seen_at=utcnow() - idle)
        )


# ---------------------------------------------------------------- 2: idle timeout on Socket.IO


def test_an_unattended_socket_is_closed_when_its_login_goes_idle(app, live, world) -> None:
    realtime = app.extensions["hotline_realtime"]
    realtime.stop_relay()
    realtime.idle_sweep_s = 0.3
    realtime.start_relay()
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    try:
        sock.wait_for("snapshot")
        _go_idle(world, agent)
        # nobody touches the console: the sweep ends the login and closes the socket
        assert sock.wait_for("session_ended", timeout=5) == {"code": "logged_out"}
        deadline = time.monotonic() + 5
        while sock.client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sock.client.connected
    finally:
        sock.close()
    with world.runtime.session() as s:
        (ended,) = audit.list_records(
            s, action="auth.session_expired", actor_user_id=world.users["agent_hhht"]
        )
        assert ended.detail == {"reason": "idle"}
    assert agent.get(f"{live.url}/api/agent/snapshot").status_code == 401


def test_an_event_on_an_idle_login_is_refused_before_the_sweep(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    acks: list = []
    try:
        sock.wait_for("snapshot")
        _go_idle(world, agent)
        sock.client.emit(
            "screen_pop",
            {"elder_id": world.elders["hhht"]},
            namespace="/agent",
            callback=acks.append,
        )
        # the event ends the idle login at once (long before the next sweep) and no profile
        # goes out: the client is told and closed
        assert sock.wait_for("session_ended", timeout=3) == {"code": "logged_out"}
        time.sleep(0.3)
        assert all(a.get("ok") is False and "profile" not in a for a in acks), acks
    finally:
        sock.close()
    with world.runtime.session() as s:
        (ended,) = audit.list_records(s, action="auth.session_expired")
        assert ended.detail == {"reason": "idle"}


# ---------------------------------------------------------------- 6: malformed input, never a 500


def test_deep_or_large_json_is_a_clear_400_on_http(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    deep = "[" * 50_000 + "]" * 50_000  # 100 KB of nesting: RecursionError in the parser
    for body, code in (
        (deep, "json_too_deep"),
        ('{"reason": ' + deep + "}", "json_too_deep"),
        ("{not json", "malformed_json"),
        ('{"reason": "' + "x" * 300_000 + '"}', "body_too_large"),
    ):
        resp = client.post(
            "/api/agent/pause",
            data=body,
            content_type="application/json",
            headers={"X-CSRF-Token": token},
        )
        assert resp.status_code == 400, (code, resp.status_code)
        assert resp.is_json and resp.json["message"]
        if code:
            assert resp.json["code"] == code


def test_only_ascii_digits_where_numbers_are_expected(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    elder = world.elders["hhht"]
    assert client.get(f"/api/elders/{elder}/profile").status_code == 200
    arabic = str(elder).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for path in (f"/api/elders/{arabic}/profile", "/api/elders/" + "9" * 40 + "/profile"):
        resp = client.get(path)
        assert resp.status_code == 404, path
    resp = client.post(
        "/api/elders",
        json={
            "name": "乌云",
            "id_number": "150102194103090226",
            "phone": "13900471999",
            "address": "呼和浩特某处",
            "region_code": "١٥٠١٠٢٠٠٠٠٠٠",
        },
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 422 and resp.json["code"] == "malformed_payload"


def test_provider_api_timestamps_and_bodies_without_credentials_are_400(live, world) -> None:
    # the two that answered 500 first: 5,000 digits, and "²" as one latin-1 byte (what an HTTP
    # client puts on the wire for a str header); then the same sign in UTF-8 and other non-numbers
    stamps = ("9" * 5000, "²".encode("latin-1"), "²".encode(), "١٧٠٠٠٠٠٠٠٠", "-5", "1e9")
    for raw in stamps:
        stamp = raw if isinstance(raw, bytes) else raw.encode()
        resp = requests.post(
            f"{live.url}{PREFIX}/events",
            data=b"{}",
            headers={
                wire.H_KEY: "pk_1_x",
                wire.H_TIMESTAMP: stamp,  # raw bytes, as an attacker sends them
                wire.H_NONCE: "n" * 20,
                wire.H_SIGNATURE: "x",
            },
            timeout=10,
        )
        assert resp.status_code == 400, (stamp[:10], resp.status_code)
        assert resp.json()["code"] == "invalid_timestamp"
    resp = requests.post(
        f"{live.url}{PREFIX}/events",
        data=("[" * 60_000 + "]" * 60_000).encode(),
        headers={
            wire.H_KEY: "pk_1_x",
            wire.H_TIMESTAMP: "1",
            wire.H_NONCE: "n" * 20,
            wire.H_SIGNATURE: "x",
        },
        timeout=10,
    )
    assert (resp.status_code, resp.json()["code"]) == (400, "json_too_deep")


def test_deep_json_on_a_socket_is_refused_in_the_ack_and_the_socket_carries_on(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    try:
        sock.wait_for("snapshot")
        deep: object = []
        for _ in range(100):  # past the limit of 32 levels
            deep = [deep]
        ack = sock.call("screen_pop", {"elder_id": deep})
        assert ack["ok"] is False and ack["code"] == "json_too_deep" and "层" in ack["message"]
        ok = sock.call("screen_pop", {"elder_id": world.elders["hhht"]})
        assert ok["ok"] is True and ok["profile"]["id"] == world.elders["hhht"]
    finally:
        sock.close()


# ---------------------------------------------------------------- 7: smaller findings


def test_the_default_namespace_refuses_anonymous_clients(live, world) -> None:
    for cookie in (None, "forged-token"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Listener(live.url, "/", cookie)
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/", _cookie(agent))
    try:
        assert sock.client.connected
    finally:
        sock.close()
    with world.runtime.session() as s:
        refused = [r for r in audit.list_records(s, action="socket.connect") if r.target_id == "/"]
        assert len(refused) == 2


def test_a_login_over_a_stale_cookie_sets_one_cookie_and_lands_on_the_desk(app, world) -> None:
    client = app.test_client()
    client.set_cookie("hotline_session", "stale-token-from-yesterday")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.set_cookie("hotline_session", "stale-token-from-yesterday")
    resp = client.post(
        "/login", data={"username": "agent_hhht", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/agent")
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("hotline_session=")]
    assert len(cookies) == 1, cookies
    assert "stale" not in cookies[0] and "Expires=Thu, 01 Jan 1970" not in cookies[0]
    desk = client.get("/agent")
    assert desk.status_code == 200 and "agent.js" in desk.get_data(as_text=True)


def test_the_content_security_policy_connects_to_the_console_only(app) -> None:
    resp = app.test_client().get("/login")
    csp = dict(
        part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";")
    )
    assert csp["connect-src"] == "'self'"
    assert "ws:" not in resp.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'" and csp["script-src"] == "'self'"
