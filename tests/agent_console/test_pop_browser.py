"""In headless Chromium, the screen pop's order form starts from what the caller asked for (the
IVR's intent, or the service chosen in its menu) and its open orders move live as an order is
opened and dispatched."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from platform_core.calls.events import CallAnswered
from platform_core.events import publish_on_commit
from platform_core.orders import service as orders
from tests.agent_console.browser_support import logged_in_page, ring_desk
from tests.agent_console.conftest import answered_at_desk
from tests.agent_console.test_browser import browser  # noqa: F401
from tests.platform_core.care_support import add_provider, agent, install_catalogue, jobs_settled

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures(jobs_settled.__name__)]


def _ring(world, linkedid: str, intent: str | None) -> None:
    ring_desk(
        world,
        linkedid,
        caller_number=world.phones["hhht"],
        elder_id=world.elders["hhht"],
        intent=intent,
        priority=10 if intent == "sos" else 0,
    )


def test_the_order_form_starts_from_the_callers_choice_and_the_orders_move_live(
    browser,  # noqa: F811
    world,
    live,
) -> None:
    with world.runtime.session() as s:
        install_catalogue(s)
        add_provider(s, services=("care_cleaning",))
        draft = orders.open_order(  # the caller pressed 2 (保洁) in the IVR's service menu
            s,
            actor=agent(),
            elder_id=world.elders["hhht"],
            service_type_code="care_cleaning",
            source="ivr",
            source_ref="1741800000.3",
        )
        draft_no, draft_id = draft.order_no, draft.id
    page, errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    kind = page.get_by_test_id("order-type")
    urgency = page.locator("#order-form select[name=urgency]")
    preset = page.get_by_test_id("order-preset")

    _ring(world, "1741800000.1", "sos")  # a pendant's SIM: the IVR sent it straight through
    expect(page.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)
    expect(kind).to_have_value("emergency_sos")
    expect(urgency).to_have_value("emergency")
    expect(preset).to_contain_text("一键呼叫")
    expect(page.locator("#call-priority")).to_have_text("优先 (紧急)")

    _ring(world, "1741800000.2", "person")  # pressed 0: the agent chooses
    expect(preset).to_be_hidden()
    expect(kind).to_have_value("")
    expect(urgency).to_have_value("normal")

    _ring(world, "1741800000.3", "service")
    expect(kind).to_have_value("care_cleaning", timeout=10_000)
    expect(preset).to_contain_text(draft_no)
    expect(page.locator("#call-intent")).to_have_text("生活服务")
    pop_orders = page.get_by_test_id("pop-orders")
    expect(pop_orders).to_contain_text(f"{draft_no} 助洁")
    expect(pop_orders).not_to_contain_text("care_cleaning")

    answered_at_desk(world.runtime, "1741800000.3")
    with world.runtime.session() as s:
        publish_on_commit(
            s,
            CallAnswered(
                linkedid="1741800000.3",
                queue="hotline-general",
                agent_interface="PJSIP/8001",
                member_name="agent_hhht",
                caller_number=world.phones["hhht"],
                elder_id=world.elders["hhht"],
                wait_s=3.0,
                region_code="150102000000",
            ),
        )
    expect(page.locator("#call-status")).to_have_text("通话中")
    page.get_by_test_id("open-order").click()
    page.wait_for_selector("[data-testid=orders-opened] li")
    opened_no = page.locator("[data-testid=orders-opened] li").get_attribute("data-order")
    # opened, handed to dispatch and dispatched: the pop's list says so without a reload
    row = pop_orders.locator(f"li[data-order='{opened_no}']")
    expect(row).to_contain_text("已派单", timeout=15_000)
    expect(page.locator("[data-testid=orders-opened]")).to_contain_text("已派单")
    # the caller's choice was the IVR's draft: the agent's order is that draft, not a second one
    assert opened_no == str(draft_id)
    # a second click for the same service on the same call names the order and opens nothing
    kind.select_option("care_cleaning")
    page.get_by_test_id("open-order").click()
    expect(page.locator("#toast")).to_contain_text(f"本次来电已有该服务的工单 {draft_no}")
    expect(page.locator("[data-testid=orders-opened] li")).to_have_count(1)
    expect(pop_orders.locator("li")).to_have_count(1)
    assert errors == []
