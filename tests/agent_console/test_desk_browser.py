"""In headless Chromium, the desk tells the truth: a call that rings at two desks of a ring-all
queue pops on the agent's screen, and the moment a colleague answers it the card, the pop and the
order form leave the agent's screen (nothing can be opened on the colleague's call); the
supervisor's wallboard offers listen, whisper and barge only for an agent on a call."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, PhoneConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.actors import system_actor
from platform_core.catalogue.service import install_defaults
from tests.agent_console.browser_support import logged_in_page
from tests.agent_console.test_browser import browser  # noqa: F401

pytestmark = pytest.mark.browser
SECRET = "desk-browser-ami-secret"


def _telephony(world, config):
    """The simulator with ``config`` and callcenter connected to it over AMI."""
    config.users = {"hotline": AmiUser(secret=SECRET)}
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
    try:
        yield sim
    finally:
        center.stop()
        sim.stop()


@pytest.fixture
def two_desks(world, live):
    """agent_hhht's desk PJSIP/8001 (paused until ready; the agent is slow to pick up) and a
    colleague's desk PJSIP/8003 that answers after two seconds, both in the ring-all queue."""
    with world.runtime.session() as s:
        install_defaults(s, actor=system_actor())
    config = default_config(secret=SECRET, agents=3)
    mine, _, colleague = config.agents
    mine.paused, mine.paused_reason, mine.answer_after = True, "not_ready", None
    config.agents[1].logged_in = False
    colleague.answer_after = 2.0
    yield from _telephony(world, config)


def test_a_card_clears_when_a_colleague_answers(browser, world, live, two_desks) -> None:  # noqa: F811
    page, errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    page.get_by_test_id("ready").click()
    expect(page.get_by_test_id("agent-state")).to_have_text("就绪", timeout=10_000)

    call = two_desks.place_call(
        CallerConfig(number=world.phones["hhht"], queue="hotline-emergency", talk=3.0)
    )
    expect(page.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)
    expect(page.get_by_test_id("call-info")).to_be_visible()
    expect(page.locator("#call-queue")).to_have_text("紧急求助队列")
    expect(page.locator("#order-card")).to_be_visible()

    deadline = time.monotonic() + 10
    while call.outcome != "answered" and time.monotonic() < deadline:
        time.sleep(0.02)
    answered_at = time.monotonic()
    assert (call.outcome, call.agent_interface) == ("answered", "PJSIP/8003")

    page.get_by_test_id("call-info").wait_for(state="hidden", timeout=5_000)
    cleared_in = time.monotonic() - answered_at
    assert cleared_in < 1.0, f"the card stayed {cleared_in:.2f} s after the colleague answered"
    expect(page.locator("#call-none")).to_contain_text("已由其他坐席接听")
    expect(page.get_by_test_id("elder-name")).to_have_count(0)
    expect(page.locator("#order-card")).to_be_hidden()
    expect(page.get_by_test_id("screen-pop")).to_be_hidden()

    # a reload finds no call at this desk either
    page.reload()
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    expect(page.get_by_test_id("call-info")).to_be_hidden()
    two_desks.wait(call, timeout=30)
    assert errors == []


@pytest.fixture
def one_desk(world, live):
    """agent_hhht's desk PJSIP/8001, ready, picking up after a second; the supervisor's phone
    PJSIP/8101 answers at once to listen."""
    config = default_config(secret=SECRET, agents=1)
    config.agents[0].answer_after = 1.0
    config.phones["8101"] = PhoneConfig(answer_after=0.5)
    yield from _telephony(world, config)


def test_monitoring_is_offered_only_for_an_agent_on_a_call(browser, world, live, one_desk) -> None:  # noqa: F811
    page, errors = logged_in_page(browser, live.url, "sup_hhht", "/wallboard")
    row = page.locator("#agent-rows tr[data-interface='PJSIP/8001']")
    expect(row).to_have_attribute("data-state", "ready", timeout=10_000)
    expect(row.locator("td.monitor button")).to_have_count(0)  # idle: nothing to listen to
    # every tile names its target, not the answer rate only
    expect(page.locator("#service-level-target")).to_have_text("目标 80.0% (20 秒内接通)")
    expect(page.locator("#asa-target")).to_have_text("目标 不超过 20.0 秒")
    expect(page.locator("#abandon-rate-target")).to_have_text("目标 不超过 5.0%")

    call = one_desk.place_call(CallerConfig(number=world.phones["hhht"], talk=30.0))
    expect(row).to_have_attribute("data-state", "on_call", timeout=10_000)
    expect(row.locator("td.monitor button")).to_have_count(3)
    row.locator("button[data-mode=listen]").click()
    expect(page.locator("#toast")).to_contain_text("指令已发送", timeout=10_000)
    assert call.outcome == "answered"
    assert errors == []
