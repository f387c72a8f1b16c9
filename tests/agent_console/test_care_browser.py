"""In headless Chromium, from the agent's desk: the phone rings, the screen pop shows where each
care process stands, the agent applies for a family care bed in two clicks (the call is its
source), sees why dispatch chose the provider of an open order, keys in an assessment form from
the keyboard, and takes an SOS offered to the desk with F4."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core.assessment.standard import ITEMS_BY_CODE
from platform_core.calls.events import CallRinging
from platform_core.care_beds.models import CareBed
from platform_core.dispatch.service import dispatch_history
from platform_core.elders.models import Elder
from platform_core.events import publish_on_commit
from platform_core.flows import care_orders
from tests.agent_console.conftest import answered_at_desk
from tests.agent_console.test_alarms_panel import (  # noqa: F401
    _raise,
    alarm_world,
    ready_desk,
    telephony,
)
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import MODERATE_46, add_provider, agent, install_catalogue

pytestmark = pytest.mark.browser

CALL = "1741600000.31"


def _dispatched_order(world) -> tuple[int, str]:
    """A cleaning order opened as the console opens one, which dispatch sent to the one provider
    covering the elder."""
    with world.runtime.session() as s:
        install_catalogue(s)
        provider = add_provider(s, services=("care_cleaning",))
        order = care_orders.open_call_order(
            s,
            actor=agent(),
            elder_id=world.elders["hhht"],
            service_type_code="care_cleaning",
            address="新城区锡林路 1 号",
        ).order
        order_id = order.id
    world.runtime.jobs.wait_idle(15)  # the dispatch job the opening set off
    with world.runtime.session() as s:
        [sent] = dispatch_history(s, order_id=order_id)
        assert sent["provider_id"] == provider.id
        return order_id, sent["provider_name"]


def test_two_clicks_start_a_care_process_from_the_screen_pop(
    browser,  # noqa: F811
    alarm_world,  # noqa: F811
    live,
    telephony,  # noqa: F811
) -> None:
    world = alarm_world
    order_id, provider_name = _dispatched_order(world)
    ready_desk(world)
    answered_at_desk(world.runtime, CALL)  # the care process names the agent's own call
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "agent_hhht")
    page.wait_for_url("**/agent")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)

    with world.runtime.session() as s:
        publish_on_commit(
            s,
            CallRinging(
                linkedid=CALL,
                uniqueid=CALL,
                queue="hotline-general",
                agent_interface="PJSIP/8001",
                member_name="agent_hhht",
                caller_number=world.phones["hhht"],
                caller_name="",
                elder_id=world.elders["hhht"],
                intent="daily_care",
                priority=0,
                region_code="150102000000",
                ring_uniqueid=f"{CALL}.8001",
            ),
        )
    expect(page.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)
    care = page.get_by_test_id("care-status")
    expect(care.get_by_test_id("care-state-care_bed")).to_have_text("未申请")
    # meal aid cannot start (no meal point nearby): its reason stands where the button would
    expect(care.locator("[data-process=meal_aid]")).to_contain_text("附近助餐点暂无可预订的餐次")

    page.get_by_test_id("care-start-care_bed").click()  # first click: asks
    expect(care).to_contain_text("确认为 巴特尔 申请家庭养老床位？")
    with world.runtime.session() as s:
        assert s.scalar(select(CareBed)) is None  # nothing started before the confirmation
    page.get_by_test_id("care-confirm-care_bed").click()  # second click: started
    expect(care.get_by_test_id("care-state-care_bed")).to_have_text("已申请", timeout=10_000)
    expect(care.get_by_test_id("care-start-care_bed")).to_have_count(0)
    with world.runtime.session() as s:
        bed = s.scalar(select(CareBed))
        assert (bed.elder_id, bed.call_id, bed.source) == (world.elders["hhht"], CALL, "referral")

    order = page.locator(f"[data-testid=screen-pop] li[data-order='{order_id}']")
    order.get_by_role("button", name="派单说明").click()
    expect(order).to_contain_text(f"派给 {provider_name} (第 1 名")
    expect(order).to_contain_text("评分构成")

    # the assessment form from the care row, keyed in from a paper form: a digit per item
    care.get_by_role("link", name="录入评估表").click()
    page.wait_for_url(f"**/elders/{world.elders['hhht']}/assessment")
    page.focus("input[name='B.1.1']")
    page.keyboard.type("".join(str(MODERATE_46[code]) for code in ITEMS_BY_CODE))
    for dimension, total in (("B.1", "0"), ("B.2", "3"), ("B.3", "28"), ("B.4", "15")):
        expect(page.get_by_test_id(f"dim-{dimension}")).to_have_text(total)
    expect(page.get_by_test_id("assess-final")).to_have_text("中度失能")
    page.fill("input[name=assessor_1]", "王敏")
    page.fill("input[name=assessor_2]", "赵云")
    expect(page.get_by_test_id("assess-pdf")).to_be_hidden()
    page.get_by_test_id("assess-submit").click()
    expect(page.get_by_test_id("assess-pdf")).to_be_visible(timeout=10_000)
    with world.runtime.session() as s:
        assert s.get(Elder, world.elders["hhht"]).ability_grade == "moderate"

    page.goto(f"{live.url}/agent")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    offer = page.get_by_test_id("alarm-offer")
    expect(offer).to_be_hidden()
    alarm_id = _raise(world, "hhht")
    expect(offer).to_be_visible(timeout=10_000)
    expect(offer).to_contain_text("一键呼叫")
    page.keyboard.press("F4")
    page.wait_for_url(f"**/alarms?alarm={alarm_id}")
    expect(page.get_by_test_id("alarm-elder")).to_have_text("巴特尔", timeout=10_000)
    assert [r["command"]["kind"] for r in telephony][:1] == ["pause"]
    assert errors == []
