"""Socket.IO through a real server and python-socketio's client."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest
import socketio

from platform_core.audit import service as audit
from platform_core.events import DomainEvent, publish_on_commit
from tests.agent_console.conftest import http_login, recorded_call
from tests.agent_console.test_screen_pop_cost import statements


class Listener:
    """A socket.io client that records every event it receives."""

    def __init__(self, url: str, namespace: str, cookie: str | None) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.namespace = namespace
        self.client.on("*", self._any, namespace=namespace)
        headers = {"Cookie": f"hotline_session={cookie}"} if cookie else {}
        self.client.connect(
            url, namespaces=[namespace], headers=headers, transports=["websocket"], wait_timeout=5
        )

    def _any(self, event: str, data: Any = None) -> None:
        self.events.put((event, data))

    def wait_for(self, name: str, timeout: float = 3.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event == name:
                return data
        raise AssertionError(f"no {name} within {timeout}s")

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, namespace=self.namespace, timeout=5)

    def close(self) -> None:
        # the client's disconnect waits for the socket's close handshake; nothing here depends on it
        threading.Thread(target=self.client.disconnect, daemon=True).start()


def _cookie(session) -> str:
    return session.cookies.get("hotline_session")


def test_connection_without_a_session_is_refused_and_audited(live, world) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/agent", None)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/agent", "forged-token")
    with world.runtime.session() as s:
        assert len(audit.list_records(s, action="socket.connect")) == 2


def test_role_without_the_namespace_is_refused(live, world) -> None:
    officer, _ = http_login(live.url, "officer_hhht")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/agent", _cookie(officer))
    agent, _ = http_login(live.url, "agent_hhht")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/supervisor", _cookie(agent))


def test_snapshot_on_connect_then_the_screen_pop(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    try:
        snap = sock.wait_for("snapshot")
        assert snap["user"]["username"] == "agent_hhht" and snap["wrapup"] is None
        ack = sock.call("screen_pop", {"elder_id": world.elders["hhht"], "linkedid": "1.1"})
        assert ack["ok"] and ack["profile"]["name"] == "巴特尔"
        family = sock.call("screen_pop", {"caller_number": world.phones["hhht_son"]})
        assert family["ok"] and family["caller"] == {
            "kind": "family",
            "name": "王小明",
            "relation": "儿子",
        }
        assert family["profile"]["id"] == world.elders["hhht"]
        unknown = sock.call("screen_pop", {"caller_number": "13711112222"})
        assert unknown == {"ok": True, "unknown": True, "caller_number": "13711112222"}
    finally:
        sock.close()


def test_other_region_and_malformed_payloads_are_refused_and_audited(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    try:
        sock.wait_for("snapshot")
        other = sock.call("screen_pop", {"elder_id": world.elders["bt"]})
        assert other["ok"] is False and other["code"] == "out_of_region" and "profile" not in other
        by_phone = sock.call("screen_pop", {"caller_number": world.phones["bt"]})
        # another region's number answers exactly as an unknown one (no existence oracle)
        unknown = sock.call("screen_pop", {"caller_number": "13711112222"})
        assert {k: v for k, v in by_phone.items() if k != "caller_number"} == {
            k: v for k, v in unknown.items() if k != "caller_number"
        }
        assert by_phone == {"ok": True, "unknown": True, "caller_number": world.phones["bt"]}
        for bad in ({"elder_id": "one"}, {"elder_id": -4}, {"nope": 1}, "text", [1, 2]):
            ack = sock.call("screen_pop", bad)
            assert ack["ok"] is False and ack["code"] == "malformed_payload", bad
    finally:
        sock.close()
    with world.runtime.session() as s:
        rows = audit.list_records(
            s, action="socket.screen_pop", actor_user_id=world.users["agent_hhht"]
        )
        assert len(rows) == 7 and all(r.result == "denied" for r in rows)
        views = audit.list_records(
            s, action="elder.view_profile", target_id=str(world.elders["bt"])
        )
        assert views and all(r.result == "denied" for r in views)


def test_http_logout_closes_the_users_sockets(live, world) -> None:
    agent, token = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    other, _ = http_login(live.url, "agent_bt")
    bystander = Listener(live.url, "/agent", _cookie(other))
    try:
        sock.wait_for("snapshot")
        bystander.wait_for("snapshot")
        agent.post(f"{live.url}/logout", data={"csrf_token": token}, allow_redirects=False)
        deadline = time.monotonic() + 3
        while sock.client.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not sock.client.connected
        assert bystander.client.connected
    finally:
        bystander.close()


@pytest.mark.parametrize("interface, receiver, silent", [("PJSIP/8001", "agent_hhht", "agent_bt")])
def test_call_ringing_reaches_that_agent_only_within_a_second(
    live, world, interface, receiver, silent
) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class CallRinging(DomainEvent):
        linkedid: str
        queue: str
        agent_interface: str
        caller_number: str
        elder_id: int | None
        intent: str
        region_code: str | None

    a, _ = http_login(live.url, receiver)
    b, _ = http_login(live.url, silent)
    target, other = (
        Listener(live.url, "/agent", _cookie(a)),
        Listener(live.url, "/agent", _cookie(b)),
    )
    try:
        target.wait_for("snapshot")
        other.wait_for("snapshot")
        started = time.monotonic()
        with world.runtime.session() as s:
            publish_on_commit(
                s,
                CallRinging(
                    linkedid="1700000001.7",
                    queue="hotline-general",
                    agent_interface=interface,
                    caller_number=world.phones["hhht"],
                    elder_id=world.elders["hhht"],
                    intent="daily_care",
                    region_code="150102000000",
                ),
            )
        data = target.wait_for("call_ringing", timeout=1.0)
        pop = target.call(
            "screen_pop", {"elder_id": data["elder_id"], "caller_number": data["caller_number"]}
        )
        assert time.monotonic() - started < 1.0
        assert pop["profile"]["name"] == "巴特尔" and data["intent"] == "daily_care"
        with pytest.raises(AssertionError):
            other.wait_for("call_ringing", timeout=0.3)
    finally:
        target.close()
        other.close()


def test_cross_site_websocket_is_refused(live, world) -> None:
    agent, _ = http_login(live.url, "agent_hhht")
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live.url,
            namespaces=["/agent"],
            transports=["websocket"],
            wait_timeout=3,
            headers={
                "Cookie": f"hotline_session={_cookie(agent)}",
                "Origin": "http://evil.example",
            },
        )


def test_idle_expiry_closes_the_socket(live, world) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from platform_core.accounts.models import LoginSession
    from platform_core.db import utcnow

    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    sock.wait_for("snapshot")
    idle = timedelta(minutes=world.runtime.settings.session_idle_timeout_min + 1)
    with world.runtime.session() as s:
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - idle))
    live.app.extensions["hotline_realtime"].forget_cached_logins()  # as after minutes of silence
    # the next request notices the expiry
    assert agent.get(f"{live.url}/agent", allow_redirects=False).status_code == 302
    deadline = time.monotonic() + 3
    while sock.client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not sock.client.connected


def test_the_pop_of_a_ringing_call_shows_whom_the_ivr_recorded(live, world) -> None:
    """The IVR identified the caller before the call rang: the pop shows its verdict (a son
    calling about his father, a number it found nowhere) without identifying the number again."""
    recorded_call(
        world.runtime,
        "1700000009.1",
        number=world.phones["hhht_son"],
        elder_id=world.elders["hhht"],
        kind="family",
    )
    recorded_call(
        world.runtime, "1700000009.2", number=world.phones["hhht"], elder_id=None, kind="unknown"
    )
    recorded_call(
        world.runtime,
        "1700000009.3",
        number=world.phones["bt"],
        elder_id=world.elders["bt"],
        kind="elder",
        region="150202000000",
    )
    agent, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(agent))
    try:
        sock.wait_for("snapshot")
        with statements(world.runtime.engine) as seen:
            family = sock.call("screen_pop", {"linkedid": "1700000009.1"})
            unknown = sock.call("screen_pop", {"linkedid": "1700000009.2"})
        assert family["ok"] and family["profile"]["id"] == world.elders["hhht"]
        assert family["caller"] == {"kind": "family", "name": "王小明", "relation": "儿子"}
        # the IVR found nobody behind this number: the pop does not look it up again
        assert unknown == {"ok": True, "unknown": True, "caller_number": world.phones["hhht"]}
        assert not [q for q in seen if "UNION ALL" in q], "the caller was identified again"
        # another region's elder on a call: answered as an unknown caller, and audited
        other = sock.call("screen_pop", {"linkedid": "1700000009.3"})
        assert other == {"ok": True, "unknown": True, "caller_number": world.phones["bt"]}
    finally:
        sock.close()
    with world.runtime.session() as s:
        [refusal] = audit.list_records(
            s, action="socket.screen_pop", target_id=str(world.elders["bt"])
        )
        assert refusal.result == "denied" and refusal.detail["by"] == "call"
