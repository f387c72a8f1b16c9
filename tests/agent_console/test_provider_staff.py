"""A provider's practitioners (从业人员) over HTTP and in Chromium: the provider's administrator
registers a person with qualifications and training, opens their own login (a temporary password
shown once), the person logs in on their phone, sees and works only the orders they are sent
on, and deactivating them ends their login at once; expired qualifications refuse the
assignment; another provider's staff and the administrator's pages are refused."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from platform_core.accounts import service as accounts
from platform_core.audit import service as audit
from platform_core.clock import today
from platform_core.elders.idcard import make_id_number
from platform_core.orders import service as orders
from platform_core.providers.models import ProviderStaff
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import csrf_of, login
from tests.agent_console.provider_support import HOME

provider_world = support.provider_world  # the shared fixture
NEW_PASSWORD = "Camel-Caravan-2026"


def _admin_actor(s, w):
    """The provider's administrator as the portal knows them (from their login)."""
    return accounts.actor_for(accounts.find_user_by_username(s, w.first.username))


def _admin(app, w):
    client = app.test_client()
    return client, login(client, w.first.username)


def _add_person(client, token: str, n: int, until: str = "2099-12-31") -> int:
    resp = client.post(
        "/provider/staff",
        data={
            "csrf_token": token,
            "name": f"护理员乙{n}",
            "phone": f"1370471100{n}",
            "id_number": make_id_number("150102", date(1985, 6, 6), 800 + n),
            "skills": ["care_cleaning"],
            "q_name": "养老护理员",
            "q_level": "四级",
            "q_valid_until": until,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def _open_login(client, token: str, staff_id: int, username: str) -> str:
    page = client.post(
        f"/provider/staff/{staff_id}/login", data={"csrf_token": token, "username": username}
    ).get_data(as_text=True)
    return re.search(r'data-testid="staff-temporary-password">([^<]+)<', page).group(1)


def _first_login(client, username: str, temporary: str) -> str:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"username": username, "password": temporary, "csrf_token": token}
    )
    assert resp.headers["Location"].endswith("/login/step")
    step = client.get("/login/step").get_data(as_text=True)
    client.post(
        "/login/step",
        data={"csrf_token": csrf_of(step), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    return csrf_of(client.get("/provider").get_data(as_text=True))


def test_a_practitioner_logs_in_and_works_only_their_own_orders(app, provider_world) -> None:
    w = provider_world
    admin, token = _admin(app, w)
    person = _add_person(admin, token, 1)
    temporary = _open_login(admin, token, person, "nurse_yi1")
    # the password is shown once: the card does not show it again
    assert temporary not in admin.get(f"/provider/staff/{person}").get_data(as_text=True)
    # the administrator sends the person on one order; another order goes to a colleague
    mine, other = w.order_id, support.dispatched_order(w, w.first.id)
    with w.rt.session() as s:
        admin_actor = _admin_actor(s, w)
        orders.accept(s, actor=admin_actor, order_id=mine, staff_id=person)
        orders.accept(s, actor=admin_actor, order_id=other, staff_id=w.first.staff_id)
    nurse = app.test_client()
    nurse_token = _first_login(nurse, "nurse_yi1", temporary)
    active = nurse.get("/api/provider/orders?view=active").get_json()
    assert [o["id"] for o in active["orders"]] == [mine]
    assert nurse.get("/api/provider/orders?view=new").get_json()["orders"] == []
    assert nurse.get(f"/api/provider/orders/{other}").status_code == 403
    assert nurse.get(f"/api/provider/orders/{mine}").get_json()["staff"] == []
    headers = {"X-CSRF-Token": nurse_token}
    # the steps at the home are theirs; taking orders and choosing who goes are not
    assert (
        nurse.post(
            f"/api/provider/orders/{mine}/start-travel", json={}, headers=headers
        ).status_code
        == 200
    )
    assert (
        nurse.post(
            f"/api/provider/orders/{other}/start-travel", json={}, headers=headers
        ).status_code
        == 403
    )
    assert (
        nurse.post(
            f"/api/provider/orders/{mine}/assign-staff",
            json={"staff_id": w.first.staff_id},
            headers=headers,
        ).status_code
        == 403
    )
    assert (
        nurse.post(
            f"/api/provider/orders/{mine}/check-in",
            json={"latitude": HOME[0], "longitude": HOME[1]},
            headers=headers,
        ).status_code
        == 200
    )
    # nor the provider's own administration
    for path in ("/provider/staff", f"/provider/staff/{person}", "/provider/records"):
        assert nurse.get(path).status_code == 403, path
    # deactivation ends the login at once
    admin.post(f"/provider/staff/{person}/deactivate", data={"csrf_token": token, "reason": "离职"})
    assert nurse.get("/api/provider/orders?view=active").status_code == 401
    again = app.test_client()
    page = again.get("/login").get_data(as_text=True)
    resp = again.post(
        "/login",
        data={"username": "nurse_yi1", "password": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert resp.status_code == 401
    with w.rt.session() as s:
        staff = s.get(ProviderStaff, person)
        assert not staff.active and staff.deactivation_reason == "离职"
        assert audit.list_records(s, action="provider.deactivate_staff", target_id=str(person))
        assert audit.list_records(s, action="provider.open_staff_login", target_id=str(person))


def test_expired_qualifications_are_flagged_and_refuse_the_assignment(app, provider_world) -> None:
    w = provider_world
    admin, token = _admin(app, w)
    lapsed = _add_person(admin, token, 2, until=(today() - timedelta(days=3)).isoformat())
    roster = admin.get("/provider/staff").get_data(as_text=True)
    row = re.search(rf'data-testid="staff-{lapsed}">(.*?)</tr>', roster, re.S).group(1)
    assert "已过期" in row and "不能派出" in row
    resp = admin.post(
        f"/api/provider/orders/{w.order_id}/accept",
        json={"staff_id": lapsed},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 422 and resp.get_json()["code"] == "staff_not_qualified"
    # a new certificate and a training: sent again
    admin.post(
        f"/provider/staff/{lapsed}/qualifications",
        data={
            "csrf_token": token,
            "q_name": "养老护理员",
            "q_level": "三级",
            "q_valid_until": "2030-01-01",
        },
    )
    admin.post(
        f"/provider/staff/{lapsed}/trainings",
        data={
            "csrf_token": token,
            "course": "失能老人照护",
            "hours": "16",
            "completed_on": (today() - timedelta(days=1)).isoformat(),
        },
    )
    card = admin.get(f"/provider/staff/{lapsed}").get_data(as_text=True)
    assert "失能老人照护" in card and 'data-testid="staff-state">可派出' in card
    resp = admin.post(
        f"/api/provider/orders/{w.order_id}/accept",
        json={"staff_id": lapsed},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 200


def test_another_providers_staff_are_refused(app, provider_world) -> None:
    w = provider_world
    admin, token = _admin(app, w)
    other = app.test_client()
    other_token = login(other, w.second.username)
    for path in (f"/provider/staff/{w.first.staff_id}",):
        assert other.get(path).status_code == 403
    for action in ("login", "deactivate", "reveal", "qualifications"):
        resp = other.post(
            f"/provider/staff/{w.first.staff_id}/{action}",
            data={
                "csrf_token": other_token,
                "username": "x_y_z",
                "reason": "x",
                "q_name": "健康证",
            },
        )
        assert resp.status_code == 403, action
    with w.rt.session() as s:
        assert s.get(ProviderStaff, w.first.staff_id).active
        assert s.get(ProviderStaff, w.first.staff_id).user_id is None
    # hotline roles do not reach a provider's own pages
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get("/provider/staff").status_code == 403


@pytest.mark.browser
def test_the_administrator_and_the_practitioner_in_chromium(live, provider_world) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.agent_console.conftest import PASSWORD
    from tests.agent_console.test_browser import CHROMIUM_ARGS

    w = provider_world
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            phone = {
                "viewport": {"width": 390, "height": 844},
                "is_mobile": True,
                "has_touch": True,
                "locale": "zh-CN",
            }
            page = browser.new_context(**phone).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # the administrator registers a person and opens their login
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", w.first.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.get_by_test_id("nav-staff").click()
            page.get_by_test_id("staff-name").fill("护理员丙")
            page.get_by_test_id("staff-phone").fill("13704711099")
            page.get_by_test_id("staff-id-number").fill(
                make_id_number("150102", date(1988, 8, 8), 901)
            )
            page.get_by_test_id("staff-skill-care_cleaning").check()
            page.get_by_test_id("staff-q-name").fill("养老护理员")
            page.get_by_test_id("staff-q-until").fill("2031-05-31")
            page.get_by_test_id("staff-add").click()
            expect(page.get_by_test_id("staff-state")).to_have_text("可派出")
            page.get_by_test_id("t-course").fill("岗前培训")
            page.get_by_test_id("t-hours").fill("40")
            page.get_by_test_id("t-date").fill((today() - timedelta(days=30)).isoformat())
            page.get_by_test_id("t-add").click()
            expect(page.get_by_test_id("staff-trainings")).to_contain_text("岗前培训")
            page.get_by_test_id("staff-username").fill("nurse_bing")
            page.get_by_test_id("staff-open-login").click()
            temporary = page.get_by_test_id("staff-temporary-password").inner_text()
            with w.rt.session() as s:
                person = s.query(ProviderStaff).filter_by(name="护理员丙").one().id
                orders.accept(s, actor=_admin_actor(s, w), order_id=w.order_id, staff_id=person)
            # the practitioner on their own phone
            nurse = browser.new_context(
                **phone,
                geolocation={"latitude": HOME[0], "longitude": HOME[1]},
                permissions=["geolocation"],
            ).new_page()
            nurse.on("pageerror", lambda exc: errors.append(str(exc)))
            nurse.goto(f"{live.url}/login")
            nurse.fill("input[name=username]", "nurse_bing")
            nurse.fill("input[name=password]", temporary)
            nurse.click("[data-testid=login-submit]")
            nurse.get_by_test_id("new-password").fill(NEW_PASSWORD)
            nurse.get_by_test_id("new-password-again").fill(NEW_PASSWORD)
            nurse.get_by_test_id("step-submit").click()
            expect(nurse.get_by_test_id("tab-active")).to_be_visible()
            expect(nurse.get_by_test_id("tab-new")).to_have_count(0)
            expect(nurse.get_by_test_id("nav-staff")).to_have_count(0)
            no = support.order(w, w.order_id).order_no
            nurse.click(f"[data-testid=order-{no}]")
            nurse.get_by_test_id("start-travel").click()
            expect(nurse.get_by_test_id("status")).to_have_text("出发中")
            nurse.get_by_test_id("check-in").click()
            expect(nurse.get_by_test_id("status")).to_have_text("服务中")
            # the administrator deactivates the person: their next step finds the login gone
            page.get_by_test_id("staff-deactivate-reason").fill("合同到期")
            page.get_by_test_id("staff-deactivate").click()
            expect(page.get_by_test_id("staff-state")).to_have_text("已停用")
            nurse.reload()
            nurse.wait_for_url("**/login**")
            assert not errors, errors
        finally:
            browser.close()
