"""The family (用户端) over HTTP and in Chromium on a phone: an agent invites the elder's son from
the hotline, the text's link opens his own login, he sees his father's device, alarm and orders
(and no other elder), rates a service, and the hotline ends his access."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from platform_core.actors import Actor, Role
from platform_core.alarms import intake
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.devices.heartbeats import Heartbeat, record_heartbeats
from platform_core.elders.idcard import make_id_number
from platform_core.notifications import service as sms
from platform_core.notifications.models import OutboxMessage
from platform_core.orders import service as orders
from platform_core.orders.models import OrderTransition
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import csrf_of, login
from tests.agent_console.provider_support import HOME
from tests.order_steps import confirm_by_elder, time_at_home
from tests.platform_core.alarms_support import new_device, signal

provider_world = support.provider_world  # the shared fixture
SON = "13800471009"
FAMILY_PASSWORD = "Grassland-Sky-2026"


def _invite(client, token: str, elder_id: int, phone: str = SON):
    return client.post(
        f"/elders/{elder_id}/family",
        data={"csrf_token": token, "name": "王小明", "relation": "儿子", "phone": phone},
    )


def _texted_code(rt) -> str:
    with rt.session() as s:
        msg = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "family_invitation")
            .order_by(OutboxMessage.id.desc())
        ).first()
        text = sms.read_message(s, actor=support.ADMIN, message_id=msg.id)
    return re.search(r"邀请码([0-9A-Z]{10})", text).group(1)


def _confirmed_order(w) -> int:
    """A service of the Hohhot elder done and confirmed by him, waiting for its rating."""
    order_id = support.dispatched_order(w, w.first.id)
    p = Actor(
        kind="user",
        name="p",
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=99,
        provider_id=w.first.id,
    )
    with w.rt.session() as s:
        orders.accept(s, actor=p, order_id=order_id, staff_id=w.first.staff_id)
        orders.start_travel(s, actor=p, order_id=order_id)
        orders.check_in(s, actor=p, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
        time_at_home(s, order_id)
        orders.check_out(s, actor=p, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
        confirm_by_elder(s, actor=p, order_id=order_id)
    return order_id


def _pendant_that_raised_an_alarm(rt, elder_id: int) -> str:
    with rt.session() as s:
        device = new_device(s, elder_id=elder_id)
        serial = device.serial
        record_heartbeats(s, beats=[Heartbeat(device_ref=serial, at=utcnow(), battery_pct=76)])
        intake.record_signals(s, signals=[signal(serial)])
    return serial


def _join(client, code: str, password: str = FAMILY_PASSWORD):
    page = client.get(f"/family/join?code={code}")
    return client.post(
        "/family/join",
        data={
            "csrf_token": csrf_of(page.get_data(as_text=True)),
            "code": code,
            "password": password,
            "confirm": password,
        },
    )


def test_an_invitation_opens_the_sons_own_login_to_his_father_only(app, provider_world) -> None:
    w = provider_world
    father, other = w.console.elders["hhht"], w.console.elders["bt"]
    order_id = _confirmed_order(w)
    _pendant_that_raised_an_alarm(w.rt, father)
    agent = app.test_client()
    token = login(agent, "agent_hhht")
    resp = _invite(agent, token, father)
    assert resp.status_code == 302 and "sent=138****1009" in resp.headers["Location"]
    code = _texted_code(w.rt)
    son = app.test_client()
    page = son.get(f"/family/join?code={code}").get_data(as_text=True)
    assert "巴**" in page and "巴特尔" not in page  # the surname only, before he logs in
    assert _join(son, code).headers["Location"].endswith("/family")
    home = son.get("/family").get_data(as_text=True)
    assert f'data-testid="family-elder-{father}"' in home
    assert f'data-testid="family-elder-{other}"' not in home
    elder_page = son.get(f"/family/elders/{father}").get_data(as_text=True)
    assert "一键呼叫" in elder_page and "76%" in elder_page  # the alarm and the pendant
    assert f'data-testid="rate-submit-{order_id}"' in elder_page
    number = make_id_number("150102", date(1941, 3, 9), 11)  # the world's Hohhot elder
    assert number not in elder_page and number[-4:] not in elder_page  # no ID number at all
    assert "13900471001" not in elder_page  # nor his phone
    # another elder reads as unknown, and the look is audited as refused
    assert son.get(f"/family/elders/{other}").status_code == 404
    # rate the service
    resp = son.post(
        f"/family/orders/{order_id}/rate",
        data={"csrf_token": csrf_of(elder_page), "score": "4", "comment": "很细心"},
    )
    assert resp.status_code == 302
    with w.rt.session() as s:
        done = orders.get_order(s, order_id=order_id)
        assert (done.status, done.rating) == ("rated", 4)
        step = s.scalar(
            select(OrderTransition).where(
                OrderTransition.order_id == order_id, OrderTransition.command == "rate"
            )
        )
        assert step.actor_kind == "family" and step.detail["rated_by"] == "家属 (用户端)"
        assert audit.list_records(s, action="family.view_elder", target_id=str(father))
        assert [
            r.result
            for r in audit.list_records(s, action="family.view_elder", target_id=str(other))
        ] == ["denied"]
    # the spent link does nothing more
    assert "邀请码无效" in app.test_client().get(f"/family/join?code={code}").get_data(as_text=True)
    # the hotline ends his access: the page is gone at once, the login stays
    listing = agent.get(f"/elders/{father}/family").get_data(as_text=True)
    link_id = re.search(r'data-testid="family-link-(\d+)"', listing).group(1)
    agent.post(f"/family-links/{link_id}/revoke", data={"csrf_token": token, "reason": "老人要求"})
    assert son.get(f"/family/elders/{father}").status_code == 404
    assert f'data-testid="family-elder-{father}"' not in son.get("/family").get_data(as_text=True)


def test_family_login_and_rating_guards(app, provider_world) -> None:
    w = provider_world
    father = w.console.elders["hhht"]
    agent = app.test_client()
    token = login(agent, "agent_hhht")
    _invite(agent, token, father)
    son = app.test_client()
    _join(son, _texted_code(w.rt))
    son.post("/logout", data={"csrf_token": csrf_of(son.get("/family").get_data(as_text=True))})
    # he logs in again with his mobile
    page = son.get("/family/login").get_data(as_text=True)
    resp = son.post(
        "/family/login",
        data={"csrf_token": csrf_of(page), "phone": SON, "password": FAMILY_PASSWORD},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/family")
    token_son = csrf_of(son.get("/family").get_data(as_text=True))
    # a family login opens nothing of the hotline's
    assert son.get("/agent").status_code == 403
    assert son.get(f"/elders/{father}/family").status_code == 403
    assert son.get("/registry/elders").status_code == 403
    # nor rates an order that is not yet confirmed, nor another elder's
    open_order = support.dispatched_order(w, w.first.id)
    resp = son.post(
        f"/family/orders/{open_order}/rate", data={"csrf_token": token_son, "score": "5"}
    )
    assert resp.status_code == 409
    # a Baotou agent may not invite for a Hohhot elder; a landline is refused
    bt = app.test_client()
    assert _invite(bt, login(bt, "agent_bt"), father).status_code == 403
    assert _invite(agent, token, father, phone="04716961234").status_code == 422


@pytest.mark.browser
def test_the_son_on_his_phone_in_chromium(app, live, provider_world) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.agent_console.test_browser import CHROMIUM_ARGS

    w = provider_world
    father = w.console.elders["hhht"]
    order_id = _confirmed_order(w)
    _pendant_that_raised_an_alarm(w.rt, father)
    agent = app.test_client()
    _invite(agent, login(agent, "agent_hhht"), father)
    code = _texted_code(w.rt)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # the text's link
            page.goto(f"{live.url}/family/join?code={code}")
            expect(page.get_by_test_id("family-invitation")).to_contain_text("巴**")
            page.get_by_test_id("family-join-password").fill(FAMILY_PASSWORD)
            page.get_by_test_id("family-join-confirm").fill(FAMILY_PASSWORD)
            page.get_by_test_id("family-join-submit").click()
            page.get_by_test_id(f"family-elder-{father}").click()
            expect(page.get_by_test_id("family-elder-name")).to_contain_text("巴特尔")
            expect(page.get_by_test_id("family-devices")).to_contain_text("一键呼叫挂件")
            expect(page.get_by_test_id("family-alarms")).to_contain_text("一键呼叫")
            page.locator(f"[data-testid=rate-{order_id}-5] + span").click()
            page.get_by_test_id(f"rate-comment-{order_id}").fill("服务很好")
            page.get_by_test_id(f"rate-submit-{order_id}").click()
            expect(page.get_by_test_id("family-rated")).to_be_visible()
            expect(page.get_by_test_id(f"family-order-{order_id}")).to_contain_text("已评价: 5星")
            # large type on a phone, and no sideways scrolling
            size = page.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('.family')).fontSize)"
            )
            assert size >= 20
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # log out and in again with his mobile
            page.click("#logout")
            page.wait_for_url("**/family/login")
            page.get_by_test_id("family-phone").fill(SON)
            page.get_by_test_id("family-password").fill(FAMILY_PASSWORD)
            page.get_by_test_id("family-login-submit").click()
            expect(page.get_by_test_id(f"family-elder-{father}")).to_be_visible()
            assert not errors, errors
        finally:
            browser.close()
    with w.rt.session() as s:
        assert orders.get_order(s, order_id=order_id).rating == 5
