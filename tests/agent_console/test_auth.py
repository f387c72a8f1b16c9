from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from platform_core.accounts.models import LoginSession, User
from platform_core.audit import service as audit
from platform_core.db import utcnow
from tests.agent_console.conftest import PASSWORD, csrf_of, login


def _actions(world, **kw) -> list[tuple[str, str]]:
    with world.runtime.session() as s:
        return [(r.action, r.result) for r in audit.list_records(s, **kw)]


def test_login_page_is_chinese_first_and_english_on_request(app) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    token = csrf_of(page)
    resp = client.post("/lang", data={"lang": "en", "csrf_token": token, "next": "/login"})
    assert resp.status_code == 302
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page and 'lang="en"' in page


def test_agent_logs_in_lands_on_console_and_logs_out(app, world) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"username": "agent_hhht", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/agent")
    page = client.get("/agent").get_data(as_text=True)
    assert "坐席工作台" in page and "PJSIP/8001" in page
    resp = client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 302
    assert client.get("/agent").status_code == 302  # back to the login page
    assert ("auth.logout", "ok") in _actions(world, actor_user_id=world.users["agent_hhht"])


def test_wrong_password_is_refused_with_a_clear_message(app, world) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"username": "agent_hhht", "password": "nope", "csrf_token": token}
    )
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)


def test_lockout_through_the_form(app, world) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(world.runtime.settings.login_max_failures):
        client.post(
            "/login",
            data={"username": "agent_bt", "password": "Wrong-Pass-123", "csrf_token": token},
        )
    resp = client.post(
        "/login", data={"username": "agent_bt", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 401 and "锁定" in resp.get_data(as_text=True)


def test_login_without_or_with_a_forged_csrf_token_is_refused_and_audited(app, world) -> None:
    client = app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"username": "agent_hhht", "password": PASSWORD})
    assert resp.status_code == 400 and "请求校验失败" in resp.get_data(as_text=True)
    resp = client.post(
        "/login", data={"username": "agent_hhht", "password": PASSWORD, "csrf_token": "0" * 64}
    )
    assert resp.status_code == 400
    with world.runtime.session() as s:
        user = s.get(User, world.users["agent_hhht"])
        assert user.last_login_at is None  # nobody logged in
    assert _actions(world, action="http.csrf").count(("http.csrf", "denied")) == 2


def test_state_changing_api_needs_the_session_bound_token(app, world) -> None:
    client = app.test_client()
    good = login(client, "agent_hhht")
    other = app.test_client()
    foreign = login(other, "agent_bt")  # a valid token, but bound to another login
    for headers in ({}, {"X-CSRF-Token": foreign}, {"X-CSRF-Token": good[:-2] + "00"}):
        resp = client.post(
            "/api/agent/disposition", json={"disposition": "resolved"}, headers=headers
        )
        assert resp.status_code == 400 and resp.json["code"] == "csrf_failed"
    resp = client.post(
        "/api/agent/disposition", json={"disposition": "resolved"}, headers={"X-CSRF-Token": good}
    )
    assert resp.json["code"] == "no_wrapup"  # passed CSRF, reached the rule


def test_idle_session_times_out(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    idle = timedelta(minutes=world.runtime.settings.session_idle_timeout_min + 1)
    with world.runtime.session() as s:
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - idle))
    app.extensions["hotline_realtime"].forget_cached_logins()  # as after minutes of silence
    resp = client.get("/agent")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    page = client.get("/login").get_data(as_text=True)
    assert client.get("/api/agent/snapshot").status_code == 401
    assert "登录" in page
    assert ("auth.session_expired", "ok") in _actions(
        world, actor_user_id=world.users["agent_hhht"]
    )


def test_landing_page_follows_the_role(app) -> None:
    for username, target in (
        ("sup_hhht", "/wallboard"),
        ("officer_hhht", "/reports"),
        ("admin_all", "/wallboard"),
    ):
        client = app.test_client()
        login(client, username)
        assert client.get("/").headers["Location"].endswith(target)


def test_open_redirect_after_login_is_ignored(app) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login",
        data={
            "username": "agent_hhht",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert resp.headers["Location"].endswith("/agent")
