"""Account administration, the audit review and one's own logins as pages: roles and regions
respected, every action audited, and the pages' main flow in Chromium."""

from __future__ import annotations

import re

import pytest

from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.audit import service as audit
from tests.agent_console.conftest import PASSWORD, login


@pytest.fixture
def staff(world):
    """A security administrator and an auditor of the autonomous region, an admin of Baotou."""
    with world.runtime.session() as s:
        for name, role, region in (
            ("sec_all", Role.SECURITY_ADMIN, "150000000000"),
            ("audit_all", Role.AUDITOR, "150000000000"),
            ("admin_bt", Role.ADMIN, "150200000000"),
        ):
            world.users[name] = accounts.create_user(
                s,
                actor=system_actor(),
                username=name,
                password=PASSWORD,
                role=role,
                region_code=region,
                display_name=name,
            ).id
    return world


def _post(client, path, token, **form):
    return client.post(path, data={"csrf_token": token, **form})


def test_the_administrator_unlocks_resets_and_disables_in_the_region(app, staff) -> None:
    w = staff
    client = app.test_client()
    token = login(client, "admin_all")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "agent_hhht" in page and "账号管理" in page
    uid = w.users["agent_hhht"]
    assert _post(client, f"/admin/users/{uid}/unlock", token).status_code == 302
    reset = _post(client, f"/admin/users/{uid}/reset_password", token)
    assert reset.headers["Cache-Control"] == "no-store"
    temporary = re.search(
        r'temporary-password">.*?<code>(.+?)</code>', reset.get_data(as_text=True), re.S
    )
    assert temporary
    # the system administrator does not assign roles (三员): refused and audited
    refused = _post(client, f"/admin/users/{uid}/role", token, role="supervisor")
    assert refused.status_code == 403
    assert _post(client, f"/admin/users/{uid}/disable", token).status_code == 302
    # Baotou's administrator cannot touch a Hohhot account
    other = app.test_client()
    bt = login(other, "admin_bt")
    assert "agent_hhht" not in other.get("/admin/users").get_data(as_text=True)
    assert _post(other, f"/admin/users/{uid}/enable", bt).status_code == 403
    with w.runtime.session() as s:
        actions = {(r.action, r.result) for r in audit.list_records(s, limit=200)}
    assert {
        ("user.unlock", "ok"),
        ("user.reset_password", "ok"),
        ("user.deactivate", "ok"),
        ("user.change_role", "denied"),
        ("user.enable", "denied"),
    } <= actions


def test_the_security_administrator_changes_roles_but_not_between_duties(app, staff) -> None:
    client = app.test_client()
    token = login(client, "sec_all")
    assert client.get("/").headers["Location"].endswith("/admin/users")
    uid = staff.users["agent_hhht"]
    assert _post(client, f"/admin/users/{uid}/role", token, role="supervisor").status_code == 302
    assert (
        _post(
            client, f"/admin/users/{staff.users['admin_all']}/role", token, role="auditor"
        ).status_code
        == 403
    )
    assert _post(client, f"/admin/users/{uid}/unlock", token).status_code == 403  # not its duty
    assert client.get("/audit").status_code == 403


def test_only_the_auditor_reads_the_audit_trail(app, staff) -> None:
    admin = app.test_client()
    login(admin, "admin_all")
    assert admin.get("/audit").status_code == 403
    client = app.test_client()
    token = login(client, "audit_all")
    page = client.get("/audit?action=auth.").get_data(as_text=True)
    assert "auth.login" in page and "共" in page
    csv = client.get("/audit/export.csv?action=auth.")
    assert csv.status_code == 200 and "导出人 audit_all" in csv.get_data(as_text=True)
    verified = _post(client, "/audit/verify", token).get_data(as_text=True)
    assert "哈希链完整" in verified
    assert client.get("/audit?from=yesterday").status_code == 422


def test_a_person_ends_their_other_logins(app, staff) -> None:
    first, second = app.test_client(), app.test_client()
    login(first, "agent_hhht")
    token = login(second, "agent_hhht")
    page = second.get("/account/sessions").get_data(as_text=True)
    ids = re.findall(r'data-testid="session-([0-9a-f]{16})"', page)
    assert len(ids) == 2
    other = next(i for i in ids if f"end-{i}" in page)
    assert _post(second, "/account/sessions/end", token, login=other).status_code == 302
    assert first.get("/api/agent/snapshot").status_code == 401
    assert second.get("/api/agent/snapshot").status_code == 200


@pytest.mark.browser
def test_admin_and_audit_pages_in_chromium(live, staff) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", "admin_all")
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.click("[data-testid=nav-users]")
            expect(page.get_by_test_id("user-agent_hhht")).to_be_visible()
            page.get_by_test_id("reset_password-agent_hhht").click()
            expect(page.get_by_test_id("temporary-password")).to_contain_text("临时密码")
            page.get_by_test_id("disable-agent_hhht").click()
            expect(page.get_by_test_id("state-agent_hhht")).to_contain_text("停用")
            page.click("#logout")
            page.fill("input[name=username]", "audit_all")
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            expect(page.get_by_test_id("audit-total")).to_be_visible()
            page.get_by_test_id("audit-action").fill("user.")
            page.get_by_test_id("audit-submit").click()
            expect(page.get_by_test_id("audit-rows")).to_contain_text("user.deactivate")
            page.get_by_test_id("audit-verify").click()
            expect(page.get_by_test_id("verify-result")).to_contain_text("哈希链完整")
        finally:
            browser.close()
