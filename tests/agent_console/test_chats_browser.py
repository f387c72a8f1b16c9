"""In headless Chromium, the online channel's daily task: the son, on his phone, writes to
12349 about his father with a photo and his position; the Hohhot agent's ready desk is offered
the conversation, takes it, sees the father's screen pop, the photo and the position, answers;
the son's page shows the answer by itself (and again after a reload); the agent opens an order
from the conversation. The Baotou agent's ready desk is never offered it and is refused when
it tries to take it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core.actors import system_actor
from platform_core.calls.events import AgentStateChanged
from platform_core.calls.models import Agent
from platform_core.catalogue import service as catalogue
from platform_core.chats.models import Chat
from platform_core.db import utcnow
from platform_core.events import publish_on_commit
from platform_core.orders.models import ServiceOrder
from tests.agent_console.browser_support import logged_in_page
from tests.agent_console.chat_support import FAMILY_PASSWORD, SON, png, son_of_hohhot_elder
from tests.agent_console.test_browser import browser  # noqa: F401

pytestmark = pytest.mark.browser
HOME = (40.8414, 111.7519)


def _ready(world, interface: str, name: str, region: str) -> None:
    """The desk as callcenter records it once Asterisk confirms it ready, with its event."""
    with world.runtime.session() as s:
        agent = s.get(Agent, interface) or Agent(interface=interface, member_name=name)
        s.add(agent)
        agent.state, agent.reason, agent.since, agent.region_code = "ready", None, utcnow(), region
        publish_on_commit(
            s,
            AgentStateChanged(
                interface=interface,
                member_name=name,
                state="ready",
                reason=None,
                since=agent.since.isoformat(),
                previous=None,
                linkedid=None,
                queues=["hotline-general"],
                region_code=region,
            ),
        )


def test_the_son_writes_with_a_photo_and_position_and_the_agent_answers_and_orders(
    browser,  # noqa: F811
    world,
    live,
) -> None:
    son_of_hohhot_elder(world)
    with world.runtime.session() as s:
        catalogue.install_defaults(s, actor=system_actor())
    desk, desk_errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    far, far_errors = logged_in_page(browser, live.url, "agent_bt", "/agent")
    board, board_errors = logged_in_page(browser, live.url, "sup_hhht", "/wallboard")
    _ready(world, "PJSIP/8001", "agent_hhht", "150100000000")
    _ready(world, "PJSIP/8002", "agent_bt", "150200000000")

    phone_ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        geolocation={"latitude": HOME[0], "longitude": HOME[1]},
        permissions=["geolocation"],
    )
    phone = phone_ctx.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda exc: phone_errors.append(str(exc)))
    phone.goto(f"{live.url}/family/login")
    phone.get_by_test_id("family-phone").fill(SON)
    phone.get_by_test_id("family-password").fill(FAMILY_PASSWORD)
    phone.get_by_test_id("family-login-submit").click()
    phone.get_by_test_id(f"family-elder-{world.elders['hhht']}").click()
    phone.get_by_test_id("family-chat-link").click()
    expect(phone.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    phone.get_by_test_id("chat-text").fill("父亲家里的水管漏水了, 请派人来修")
    phone.get_by_test_id("chat-photo").set_input_files(
        {"name": "leak.png", "mimeType": "image/png", "buffer": png()}
    )
    phone.get_by_test_id("chat-locate").click()
    expect(phone.get_by_test_id("chat-position")).to_contain_text("已获取位置")
    phone.get_by_test_id("chat-submit").click()
    expect(phone.get_by_test_id("chat-status")).to_contain_text("等待坐席接入", timeout=10_000)
    expect(phone.get_by_test_id("chat-thread")).to_contain_text("水管漏水")
    expect(phone.get_by_test_id("chat-thread").locator("img")).to_be_visible()
    with world.runtime.session() as s:
        chat_id = s.scalar(select(Chat.id))

    # the supervisor sees it wait, counted on its own
    expect(board.get_by_test_id("chat-queue")).to_contain_text("巴**", timeout=10_000)
    expect(board.get_by_test_id("ckpi-offered")).to_have_text("1 / 0")
    # the Hohhot desk is offered it (the masked elder and who writes); Baotou's never is
    expect(desk.get_by_test_id("chat-offer")).to_be_visible(timeout=10_000)
    expect(desk.get_by_test_id("chat-offer-who")).to_contain_text("巴**", timeout=5_000)
    expect(desk.get_by_test_id("chat-offer-who")).to_contain_text("儿子")
    expect(far.get_by_test_id("chat-offer")).to_be_hidden()
    refused = far.evaluate(
        """async (id) => {
          const csrf = JSON.parse(document.getElementById("page-config").textContent).csrf;
          const r = await fetch(`/api/chats/${id}/take`, {method: "POST", headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}, body: "{}"});
          return [r.status, (await r.json()).code];
        }""",
        chat_id,
    )
    assert refused == [403, "out_of_region"]

    desk.get_by_test_id("chat-take").click()
    expect(desk.get_by_test_id("chat-offer")).to_be_hidden()
    messages = desk.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("水管漏水", timeout=10_000)
    expect(messages.get_by_test_id("chat-photo")).to_be_visible()
    expect(messages.get_by_test_id("chat-position")).to_contain_text("纬度 40.8414")
    expect(desk.get_by_test_id("chat-head")).to_contain_text("138****1009")
    expect(desk.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)  # the pop

    expect(board.get_by_test_id("chat-queue")).to_contain_text("暂无等待的咨询", timeout=10_000)
    expect(board.get_by_test_id("ckpi-within")).to_contain_text("1 (100.0%)")
    desk.get_by_test_id("chat-reply").fill("您好, 已安排维修师傅, 一小时内到")
    desk.get_by_test_id("chat-send").click()
    expect(phone.get_by_test_id("chat-thread")).to_contain_text("一小时内到", timeout=10_000)
    expect(phone.get_by_test_id("chat-status")).to_contain_text("正在为您服务")
    phone.reload()  # the snapshot on reconnect shows the whole conversation again
    expect(phone.get_by_test_id("chat-thread")).to_contain_text("一小时内到", timeout=10_000)

    expect(desk.get_by_test_id("order-type").locator("option[value=care_cleaning]")).to_have_count(
        1
    )
    desk.get_by_test_id("order-type").select_option("care_cleaning")
    desk.get_by_test_id("open-order").click()
    expect(desk.get_by_test_id("orders-opened")).to_contain_text("已建工单 GD", timeout=10_000)
    with world.runtime.session() as s:
        order = s.scalar(select(ServiceOrder))
        assert (order.source, order.source_ref, order.elder_id) == (
            "online",
            f"chat-{chat_id}",
            world.elders["hhht"],
        )
    assert desk_errors == [] and far_errors == [] and phone_errors == [] and board_errors == []
    phone_ctx.close()
