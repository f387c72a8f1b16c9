"""End to end in headless Chromium: a simulated elder's call rings through the PBX simulator and
callcenter over real AMI TCP; the agent sees the screen pop and opens an order; the supervisor's
wallboard shows the call answered and the answer rate move."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.accounts import service as accounts
from platform_core.accounts.models import WrapUp
from platform_core.actors import system_actor
from platform_core.catalogue.service import install_defaults
from tests.agent_console.conftest import PASSWORD
from tests.clock_support import clear_of_midnight

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "browser-ami-secret"


@pytest.fixture
def browser():

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def telephony(world, live):
    """The simulator with two desks (8001 is agent_hhht's, paused until ready) and callcenter."""
    with world.runtime.session() as s:
        install_defaults(s, actor=system_actor())
    config = default_config(secret=SECRET, agents=2)
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.agents[0].paused, config.agents[0].paused_reason, config.agents[0].answer_after = (
        True,
        "not_ready",
        1.5,
    )
    config.agents[1].logged_in = False
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        world.runtime,
        host="127.0.0.1",
        port=sim.port,
        username="hotline",
        secret=SECRET,
        ping_interval=0,
    )
    center.start()
    yield sim
    center.stop()
    sim.stop()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")


def test_call_rings_screen_pops_order_opened_and_wallboard_moves(
    browser, world, live, telephony
) -> None:
    base = live.url
    sup = browser.new_page()
    _login(sup, base, "sup_hhht")
    sup.wait_for_url("**/wallboard")
    sup.wait_for_selector("#conn.ok")
    expect(sup.locator("[data-testid=counts]")).to_have_text("0 / 0 / 0")

    agent = browser.new_page()
    _login(agent, base, "agent_hhht")
    agent.wait_for_url("**/agent")
    agent.wait_for_selector("#conn.ok")
    expect(agent.locator("[data-testid=agent-state]")).to_have_text("暂停")
    agent.click("[data-testid=ready]")  # QueuePause off; the badge changes when Asterisk confirms
    expect(agent.locator("[data-testid=agent-state]")).to_have_text("就绪")

    clear_of_midnight()  # the call and the wallboard's today are one day
    call = telephony.place_call(CallerConfig(number=world.phones["hhht"], talk=4.0, digits=["1"]))
    agent.wait_for_selector("[data-testid=elder-name]", timeout=15000)
    shown_at = int(agent.get_attribute("[data-testid=screen-pop]", "data-shown-at")) / 1000
    assert agent.inner_text("[data-testid=elder-name]") == "巴特尔"
    assert call.agent_called_at, "the simulator never rang an agent"
    rang_at = next(at for interface, at in call.agent_called_at if interface == "PJSIP/8001")
    assert shown_at - rang_at < 1.0, "screen pop took a second or more"
    assert "*" in agent.inner_text("[data-testid=screen-pop]")  # ID number masked

    # the order belongs to the agent's own call: it opens once the agent has answered
    expect(agent.locator("#call-status")).to_have_text("通话中", timeout=10000)
    agent.select_option("#order-type", "care_cleaning")
    agent.fill("#order-form textarea[name=notes]", "老人需要打扫卫生")
    agent.click("[data-testid=open-order]")
    agent.wait_for_selector("[data-testid=orders-opened] li")
    assert "已建工单" in agent.inner_text("[data-testid=orders-opened]")

    expect(sup.locator("[data-testid=counts]")).to_have_text("1 / 1 / 0", timeout=10000)
    expect(sup.locator("#answer-rate")).to_have_text("100.0%")

    telephony.wait(call, timeout=30)
    agent.wait_for_selector(
        "#wrapup:not([hidden])", timeout=10000
    )  # disposition before the next call
    agent.select_option("#wrapup-form select[name=disposition]", "order_opened")
    agent.click("#wrapup-form button[type=submit]")
    agent.wait_for_selector("#wrapup[hidden]", state="attached", timeout=5000)
    expect(agent.locator("[data-testid=ready]")).to_be_enabled()
    # the desk still rests after the call: the page says how to go on
    expect(agent.get_by_test_id("next-hint")).to_be_visible(timeout=10000)
    expect(agent.get_by_test_id("next-hint")).to_contain_text("就绪")
    agent.click("[data-testid=ready]")
    expect(agent.get_by_test_id("next-hint")).to_be_hidden(timeout=20000)


def test_a_wrap_up_the_screen_missed_is_shown_when_ready_is_refused(
    browser, world, app, live
) -> None:
    """A wrap-up open that this screen was never told of (its announcement lost on the way):
    pressing ready is refused, and the screen reads its state again and asks for the
    disposition instead of leaving the desk paused with no form to fill."""
    agent = browser.new_page()
    _login(agent, live.url, "agent_hhht")
    agent.wait_for_url("**/agent")
    agent.wait_for_selector("#conn.ok")
    expect(agent.locator("#wrapup")).to_be_hidden()

    # the row as callcenter writes it, its announcement lost on the way
    with world.runtime.session() as s:
        s.add(WrapUp(user_id=world.users["agent_hhht"], linkedid="1796600000.42", notes=""))
    expect(agent.locator("#wrapup")).to_be_hidden()  # nothing told this screen

    agent.click("[data-testid=ready]")
    expect(agent.locator("#wrapup")).to_be_visible(timeout=10000)
    expect(agent.locator("[data-testid=ready]")).to_be_disabled()
    agent.select_option("#wrapup-form select[name=disposition]", "resolved")
    agent.click("#wrapup-form button[type=submit]")
    expect(agent.locator("#wrapup")).to_be_hidden(timeout=5000)
    with world.runtime.session() as s:
        assert accounts.pending_wrapup(s, user_id=world.users["agent_hhht"]) is None
