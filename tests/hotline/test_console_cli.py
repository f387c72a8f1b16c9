from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from platform_core.accounts.models import User
from platform_core.accounts.passwords import verify_password

ROOT = Path(__file__).resolve().parents[2]


def _run(args, env, stdin=""):
    return subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_users_add_with_password_stdin(regions, pg_url, base_settings, tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_KEY": base_settings.data_key,
    }
    ok = _run(
        [
            "users",
            "add",
            "--username",
            "zhang_agent",
            "--role",
            "agent",
            "--region",
            "150102000000",
            "--interface",
            "PJSIP/8009",
            "--password-stdin",
        ],
        env,
        "Horse-Milk-Tea-42\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "已创建账号 zhang_agent" in ok.stdout
    weak = _run(
        [
            "users",
            "add",
            "--username",
            "li_agent",
            "--role",
            "agent",
            "--region",
            "150102000000",
            "--password-stdin",
        ],
        env,
        "password\n",
    )
    assert weak.returncode != 0 and "密码强度不足" in weak.stderr
    with regions.session() as s:
        users = {u.username: u for u in s.query(User)}
    assert set(users) == {"zhang_agent"}
    assert users["zhang_agent"].sip_interface == "PJSIP/8009"
    assert verify_password("Horse-Milk-Tea-42", users["zhang_agent"].password_hash)


def test_console_workers_share_the_port_and_a_logout_closes_sockets_on_every_worker(
    regions, pg_url, redis_url, base_settings, tmp_path
) -> None:
    import socket
    import time

    import requests
    import socketio

    from platform_core.accounts.service import create_user
    from platform_core.actors import system_actor
    from tests.agent_console.conftest import csrf_of

    with regions.session() as s:
        create_user(
            s,
            actor=system_actor(),
            username="wang_agent",
            password="Horse-Milk-Tea-42",
            role="agent",
            region_code="150102000000",
            sip_interface="PJSIP/8011",
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_KEY": base_settings.data_key,
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_REDIS_NAMESPACE": base_settings.redis_namespace + "-workers",
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hotline")),
            "console",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    clients: list[socketio.Client] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/login", timeout=5)
                break
            # gunicorn listens before its worker has built the app: a first request may wait
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, "console did not start"
                time.sleep(0.2)
        web = requests.Session()
        token = csrf_of(web.get(f"{base}/login").text)
        web.post(
            f"{base}/login",
            data={"username": "wang_agent", "password": "Horse-Milk-Tea-42", "csrf_token": token},
            allow_redirects=False,
        )
        csrf = csrf_of(web.get(f"{base}/no-console").text)
        cookie = {"Cookie": f"hotline_session={web.cookies.get('hotline_session')}"}
        for _ in range(8):  # new connections are spread over both workers
            c = socketio.Client(reconnection=False)
            c.connect(
                base,
                namespaces=["/agent"],
                transports=["websocket"],
                headers=cookie,
                wait_timeout=5,
            )
            clients.append(c)
        web.post(f"{base}/logout", data={"csrf_token": csrf}, allow_redirects=False)
        deadline = time.monotonic() + 5
        while any(c.connected for c in clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(c.connected for c in clients)
    finally:
        proc.send_signal(2)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
