"""The second factor (TOTP) for supervisors, officers and administrators, recovery codes, and
the password change an administrator's reset forces at the next login: a login that still
owes a step opens nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
import time_machine
from flask import Flask

from agent_console import create_app
from platform_core import clock
from platform_core.accounts import administration
from platform_core.actors import system_actor
from platform_core.audit import service as audit
from platform_core.runtime import Runtime
from tests.agent_console.conftest import PASSWORD, World, csrf_of
from tests.agent_console.test_guards import ENDPOINTS, _path
from tests.conftest import _runtime

TOTP_ROLES = "supervisor,officer,admin,security_admin,auditor"


@pytest.fixture
def runtime(base_settings, pg_engine, pg_url) -> Iterator[Runtime]:
    """The production default: supervisors, officers and administrators need a second factor."""
    yield from _runtime(
        base_settings.with_overrides(database_url=pg_url, totp_roles=TOTP_ROLES), pg_engine
    )


@pytest.fixture
def app(world: World) -> Iterator[Flask]:
    app = create_app(world.runtime)
    app.testing = True
    yield app
    app.extensions["hotline_realtime"].stop_relay()


def _password(client, username: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _step(client, **fields):
    page = client.get("/login/step").get_data(as_text=True)
    return client.post("/login/step", data={"csrf_token": csrf_of(page), **fields})


def _secret(client) -> str:
    page = client.get("/login/step").get_data(as_text=True)
    match = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert match, "no secret on the enrolment page"
    return match.group(1).replace(" ", "")


def test_a_supervisor_enrols_then_needs_a_code_and_nothing_opens_before(app, world) -> None:
    client = app.test_client()
    resp = _password(client, "sup_hhht")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/step")
    token = csrf_of(client.get("/login/step").get_data(as_text=True))
    # every guarded endpoint refuses a login that owes its second factor
    for endpoint, case in ENDPOINTS.items():
        if case.public:
            continue
        r = client.open(
            _path(case, world), method=case.method, json=case.body, headers={"X-CSRF-Token": token}
        )
        assert r.status_code in (302, 401), endpoint
        if r.status_code == 401:
            assert r.json["code"] == "login_incomplete", endpoint
    secret = _secret(client)
    assert 'data-testid="totp-qr"' in client.get("/login/step").get_data(as_text=True)
    bad = _step(client, code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert bad.status_code == 422 and "动态口令不正确" in bad.get_data(as_text=True)
    done = _step(client, code=pyotp.TOTP(secret).now())
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/login/done").headers["Location"].endswith("/wallboard")
    assert client.get("/wallboard").status_code == 200
    # the next login asks for a code; the one already used is refused (replay)
    other = app.test_client()
    _password(other, "sup_hhht")
    used = pyotp.TOTP(secret).now()
    assert _step(other, code=used).status_code == 422
    with time_machine.travel(clock.now() + timedelta(seconds=31), tick=True):
        assert _step(other, code=pyotp.TOTP(secret).now()).status_code == 302
        assert other.get("/wallboard").status_code == 200
    # a recovery code works once
    third = app.test_client()
    _password(third, "sup_hhht")
    assert _step(third, code=codes[0]).status_code == 302
    fourth = app.test_client()
    _password(fourth, "sup_hhht")
    assert _step(fourth, code=codes[0]).status_code == 422
    with world.runtime.session() as s:
        methods = [
            r.detail.get("method")
            for r in audit.list_records(s, action="auth.second_factor")
            if r.result == "ok"
        ]
    assert sorted(methods) == ["recovery_code", "totp"]


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, world) -> None:
    client = app.test_client()
    _password(client, "officer_hhht")
    secret = _secret(client)
    _step(client, code=pyotp.TOTP(secret).now())
    late = app.test_client()
    _password(late, "officer_hhht")
    for _ in range(world.runtime.settings.login_max_failures):
        assert _step(late, code="12345x").status_code == 422
    with time_machine.travel(clock.now() + timedelta(seconds=61), tick=True):
        # locked: even the right code is refused now
        assert _step(late, code=pyotp.TOTP(secret).now()).status_code == 422
    with world.runtime.session() as s:
        assert audit.list_records(s, action="auth.lock", actor_user_id=world.users["officer_hhht"])


def test_an_agent_needs_no_second_factor_and_a_reset_forces_a_new_password(app, world) -> None:
    client = app.test_client()
    resp = _password(client, "agent_hhht")
    assert resp.headers["Location"].endswith("/agent")
    with world.runtime.session() as s:
        reset = administration.reset_password(
            s, actor=system_actor(), user_id=world.users["agent_hhht"]
        )
    assert client.get("/agent").status_code == 302  # the reset ended the login
    fresh = app.test_client()
    resp = _password(fresh, "agent_hhht", reset.temporary_password)
    assert resp.headers["Location"].endswith("/login/step")
    assert fresh.get("/api/agent/snapshot").json["code"] == "login_incomplete"
    weak = _step(fresh, password="Password1234", confirm="Password1234")
    assert weak.status_code == 422 and "常见密码" in weak.get_data(as_text=True)
    same = _step(fresh, password=reset.temporary_password, confirm=reset.temporary_password)
    assert same.status_code == 422
    ok = _step(fresh, password="Steppe-Horse-Wind-88", confirm="Steppe-Horse-Wind-88")
    assert ok.status_code == 302
    assert fresh.get("/login/done").headers["Location"].endswith("/agent")
    assert fresh.get("/api/agent/snapshot").status_code == 200
    assert _password(app.test_client(), "agent_hhht", "Steppe-Horse-Wind-88").status_code == 302


def test_password_expiry_is_off_by_default_and_forces_a_change_when_set(world) -> None:
    from platform_core.accounts import login_steps
    from platform_core.accounts.models import User

    settings = world.runtime.settings
    assert settings.password_max_age_days == 0
    with world.runtime.session() as s:
        user = s.get(User, world.users["agent_hhht"])
        user.password_changed_at -= timedelta(days=400)
        assert login_steps.first_step(settings, user) is None
        expiring = settings.with_overrides(password_max_age_days=90)
        assert login_steps.first_step(expiring, user) == login_steps.PASSWORD_CHANGE
        user.password_changed_at = clock.now() - timedelta(days=10)
        assert login_steps.first_step(expiring, user) is None
    assert PASSWORD
