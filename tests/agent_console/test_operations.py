"""The console behind a proxy and under watch: forwarded headers believed only from the proxy,
Secure cookies on HTTPS, no version banner, an idle socket closed, health and metrics."""

from __future__ import annotations

import socket
import time

import requests
import socketio

from agent_console import create_app
from agent_console.server import ConsoleServer
from tests.agent_console.conftest import PASSWORD, csrf_of, http_login, login

PROXY = "10.9.8.7"
FORGED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def _proxied_app(world, proxies: str):
    runtime = world.runtime
    runtime.settings = runtime.settings.with_overrides(console_trusted_proxies=proxies)
    app = create_app(runtime, relay=False)
    app.testing = True
    return app


def test_forwarded_headers_are_believed_only_from_the_proxy(world) -> None:
    app = _proxied_app(world, f"{PROXY}/32")
    seen: list[tuple[str | None, str]] = []

    @app.get("/__peer", endpoint="test.peer")
    def peer():  # test-only view: what the console believes about the request
        from flask import request

        seen.append((request.remote_addr, request.scheme))
        return "ok"

    client = app.test_client()
    client.get("/__peer", headers=FORGED, environ_base={"REMOTE_ADDR": PROXY})
    client.get("/__peer", headers=FORGED, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert seen == [("203.0.113.9", "https"), ("192.0.2.1", "http")]


def test_every_cookie_is_secure_on_https_and_only_there(world) -> None:
    app = _proxied_app(world, f"{PROXY}/32")
    client = app.test_client()
    via_tls = client.get("/login", headers=FORGED, environ_base={"REMOTE_ADDR": PROXY})
    cookies = via_tls.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in c for c in cookies), cookies
    # the login cookie itself, set through the proxy over HTTPS
    token = csrf_of(via_tls.get_data(as_text=True))
    resp = client.post(
        "/login",
        data={"username": "agent_hhht", "password": PASSWORD, "csrf_token": token},
        headers=FORGED,
        environ_base={"REMOTE_ADDR": PROXY},
    )
    assert resp.status_code == 302
    login_cookie = [c for c in resp.headers.getlist("Set-Cookie") if "hotline_session=" in c]
    assert login_cookie and "; Secure" in login_cookie[0] and "HttpOnly" in login_cookie[0]
    # a client that claims HTTPS without being the proxy gets no Secure cookie (it is plain HTTP)
    direct = app.test_client().get(
        "/login", headers=FORGED, environ_base={"REMOTE_ADDR": "192.0.2.1"}
    )
    assert all("Secure" not in c for c in direct.headers.getlist("Set-Cookie"))


def test_health_readiness_and_metrics(world) -> None:
    app = _proxied_app(world, "")
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503  # this app was built without its relay
    assert ready.get_json()["checks"] == {"database": "ok", "relay": "stopped"}
    login(client, "agent_hhht")
    metrics = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    text = metrics.get_data(as_text=True)
    assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain")
    assert (
        'hotline_http_request_duration_seconds_count{endpoint="auth.login_submit",method="POST",status="302"}'
        in text
    )
    assert "hotline_socketio_connections" in text and "hotline_calls_waiting" in text
    assert "hotline_alarms_open" in text
    # not for the world: an outside address does not learn the endpoint exists
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert outside.status_code == 404


def test_ready_when_relaying_and_unready_without_the_database(world) -> None:
    from platform_core.runtime import build_runtime

    app = create_app(world.runtime)
    try:
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        app.extensions["hotline_realtime"].stop_relay()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    settings = world.runtime.settings.with_overrides(
        database_url=f"postgresql://postgres@127.0.0.1:{dead_port}/nowhere"
    )
    dead = build_runtime(settings, start_jobs=False)
    app = create_app(dead)
    try:
        resp = app.test_client().get("/readyz")
        assert resp.status_code == 503
        assert resp.get_json()["checks"]["database"] == "OperationalError"
    finally:
        app.extensions["hotline_realtime"].stop_relay()
        dead.close()


def test_socket_events_are_timed_and_sockets_counted(live, world) -> None:
    web, _csrf = http_login(live.url, "agent_hhht")
    client = socketio.Client(reconnection=False)
    client.connect(
        live.url,
        namespaces=["/agent"],
        transports=["websocket"],
        headers={"Cookie": f"hotline_session={web.cookies.get('hotline_session')}"},
    )
    try:
        ack = client.call("snapshot", {}, namespace="/agent", timeout=10)
        assert ack["ok"]
        text = requests.get(f"{live.url}/metrics", timeout=5).text
        assert 'hotline_socketio_connections{namespace="/agent"} 1.0' in text
        assert (
            'hotline_socketio_event_duration_seconds_count{event="snapshot",namespace="/agent"}'
            in text
        )
        assert (
            'hotline_socketio_event_duration_seconds_count{event="connect",namespace="/agent"}'
            in text
        )
    finally:
        client.disconnect()


def test_no_version_banner_and_idle_connections_are_closed(live) -> None:
    resp = requests.get(f"{live.url}/healthz", timeout=5)
    assert "Werkzeug" not in resp.headers.get("Server", "") and "Python" not in resp.headers.get(
        "Server", ""
    )
    import agent_console.server as server_module

    handler = server_module._QuietHandler
    original = handler.timeout
    handler.timeout = 1
    try:
        with socket.create_connection((live.host, live.port), timeout=10) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # the server hung up on a client that sent nothing
            assert time.monotonic() - started < 5
    finally:
        handler.timeout = original


def test_the_console_command_serves_with_gunicorn_gevent_by_default() -> None:
    from hotline.console_serving import gunicorn_options
    from platform_core.settings import Settings

    options = gunicorn_options(Settings(), host="127.0.0.1", port=8000, reuse_port=False)
    assert Settings().console_server == "gunicorn-gevent"
    assert options["workers"] == 1 and options["worker_class"] == "gevent"
    gthread = gunicorn_options(
        Settings(console_server="gunicorn"), host="127.0.0.1", port=8000, reuse_port=False
    )
    assert gthread["worker_class"] == "gthread"
    assert options["keepalive"] == Settings().console_idle_timeout_s
    assert ConsoleServer  # the embedded demo keeps the Werkzeug server


def test_outbox_lag_is_the_age_of_the_oldest_queued_message(world) -> None:
    from datetime import timedelta

    from platform_core import clock
    from platform_core.notifications.models import OutboxMessage

    app = _proxied_app(world, "")
    with world.runtime.session() as s:
        for age_s, status in ((120, "queued"), (30, "queued"), (900, "sent")):
            s.add(
                OutboxMessage(
                    to_number="13900471001",
                    template="order_accepted",
                    body_sealed="x",
                    ref_type="order",
                    ref_id=str(age_s),
                    region_code="150102000000",
                    status=status,
                    created_at=clock.now() - timedelta(seconds=age_s),
                )
            )
    text = (
        app.test_client()
        .get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        .get_data(as_text=True)
    )
    assert 'hotline_outbox_pending{outbox="sms"} 2.0' in text
    lag = float(text.split('hotline_outbox_lag_seconds{outbox="sms"} ', 1)[1].split()[0])
    assert 120 <= lag < 180  # the oldest queued one; the sent one does not count
