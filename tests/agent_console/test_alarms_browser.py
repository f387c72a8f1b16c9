"""The alarm panel in headless Chromium: an SOS arrives while the agent is ready, the offer pops
up with its clock, the agent takes it, reveals the medical notes, works the ladder and closes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.agent_console.test_alarms_panel import (  # noqa: F401
    _raise,
    alarm_world,
    ready_desk,
    telephony,
)
from tests.agent_console.test_browser import _login, browser  # noqa: F401

pytestmark = pytest.mark.browser


def test_an_sos_offered_taken_worked_and_closed(browser, alarm_world, live, telephony) -> None:  # noqa: F811
    world = alarm_world
    ready_desk(world)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, live.url, "agent_hhht")
    page.goto(f"{live.url}/alarms")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)

    alarm_id = _raise(world, "hhht", latitude=40.8414, longitude=111.7519, accuracy_m=15.0)
    expect(page.get_by_test_id("alarm-offer")).to_be_visible(timeout=10_000)
    expect(page.locator("#offer-type")).to_have_text("一键呼叫")
    row = page.locator(f"tr[data-alarm='{alarm_id}']")
    expect(row).to_contain_text("巴**")

    page.click("#offer-take")
    expect(page.get_by_test_id("alarm-elder")).to_have_text("巴特尔", timeout=10_000)
    expect(page.get_by_test_id("alarm-offer")).to_be_hidden()
    expect(page.locator("#d-position")).to_contain_text("40.84140, 111.75190")
    # the pendant was called back through telephony, recorded as the first rung
    expect(page.get_by_test_id("alarm-steps")).to_contain_text("与老人通话 · 已拨出")
    # paused for voice when offered (and again, harmlessly, when taken); the pendant rung once
    assert sorted(r["command"]["kind"] for r in telephony) == ["originate", "pause", "pause"]

    health = page.locator("#d-health")
    expect(health).not_to_contain_text("冠心病")
    # every alarm event re-draws the panel: a click that lands on a button just replaced is
    # lost, as it would be for a person, who clicks again
    for attempt in range(3):
        health.get_by_role("button").click()
        try:
            expect(health).to_contain_text("冠心病", timeout=3_000)
            break
        except AssertionError:
            if attempt == 2:
                raise

    page.select_option("#step-form select[name=step]", "talk_to_elder")
    page.select_option("#step-form select[name=result]", "reached")
    page.fill("#step-form textarea[name=note]", "老人说误按")
    page.click("#step-form button[type=submit]")
    expect(page.get_by_test_id("alarm-steps")).to_contain_text("老人说误按")

    page.select_option("#close-form select[name=outcome]", "elder_safe")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#d-status")).to_contain_text("已结案", timeout=10_000)
    expect(page.get_by_test_id("alarm-rows")).not_to_contain_text("巴**")
    assert errors == []


def test_a_list_asked_for_before_the_alarm_does_not_withdraw_its_offer(
    browser,  # noqa: F811
    alarm_world,  # noqa: F811
    live,
    telephony,  # noqa: F811
) -> None:
    """The page's first lists were read before the alarm was raised; their answers arrive late,
    after the offer. The offer stays, and the agent takes the alarm."""
    world = alarm_world
    ready_desk(world)
    page = browser.new_page()
    held: list = []

    def hold_the_first_lists(route) -> None:
        if len(held) < 2:  # the page's own load and the snapshot's: read now, answered later
            held.append((route, route.fetch()))
        else:
            route.continue_()

    page.route("**/api/alarms", hold_the_first_lists)
    _login(page, live.url, "agent_hhht")
    page.goto(f"{live.url}/alarms")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    page.wait_for_timeout(300)
    assert len(held) == 2

    alarm_id = _raise(world, "hhht")
    expect(page.get_by_test_id("alarm-offer")).to_be_visible(timeout=10_000)
    expect(page.locator(f"tr[data-alarm='{alarm_id}']")).to_be_visible(timeout=10_000)
    for route, stale in held:
        route.fulfill(response=stale)  # lists without the alarm
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("alarm-offer")).to_be_visible()
    expect(page.locator(f"tr[data-alarm='{alarm_id}']")).to_be_visible()
    page.click("#offer-take")
    expect(page.get_by_test_id("alarm-elder")).to_have_text("巴特尔", timeout=10_000)
