"""The alarm queue on the agent's desk in headless Chromium: an alarm raised while nobody is ready
goes to the first desk that becomes ready, the desk keeps it over a reload, and taking it keeps
the alarm's own clock; the wallboard lists it with its age for the supervisor."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from platform_core.calls.events import AgentStateChanged
from platform_core.calls.models import Agent
from platform_core.db import utcnow
from platform_core.events import publish_on_commit
from tests.agent_console.test_alarms_panel import (  # noqa: F401
    _client,
    _raise,
    alarm_world,
    telephony,
)
from tests.agent_console.test_browser import _login, browser  # noqa: F401

pytestmark = pytest.mark.browser


def _desk(world, state: str, reason: str | None = None) -> None:
    """The Hohhot desk as callcenter records it, with the event callcenter publishes."""
    with world.runtime.session() as s:
        agent = s.get(Agent, "PJSIP/8001")
        previous = agent.state if agent else None
        if agent is None:
            agent = Agent(interface="PJSIP/8001", member_name="agent_hhht")
            s.add(agent)
        agent.state, agent.reason, agent.since = state, reason, utcnow()
        agent.region_code = "150100000000"
        publish_on_commit(
            s,
            AgentStateChanged(
                interface="PJSIP/8001",
                member_name="agent_hhht",
                state=state,
                reason=reason,
                since=agent.since.isoformat(),
                previous=previous,
                linkedid=None,
                queues=["hotline-general"],
                region_code="150100000000",
            ),
        )


def _seconds(clock: str) -> int:
    minutes, seconds = clock.strip().split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


def test_an_alarm_waiting_for_a_ready_desk_survives_a_reload_and_keeps_its_clock(
    browser,  # noqa: F811
    alarm_world,  # noqa: F811
    live,
    telephony,  # noqa: F811
) -> None:
    world = alarm_world
    _desk(world, "paused", "break")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "agent_hhht")
    page.goto(f"{live.url}/agent")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)

    alarm_id = _raise(world, "hhht")
    page.wait_for_timeout(1500)  # routed at least once: nobody is ready, nothing is offered
    expect(page.get_by_test_id("alarm-offer")).to_be_hidden()

    _desk(world, "ready")  # back from the break: the waiting alarm is offered at once
    expect(page.get_by_test_id("alarm-offer")).to_be_visible(timeout=5_000)
    expect(page.locator("#alarm-offer-type")).to_have_text("一键呼叫")
    expect(page.get_by_test_id("alarm-offer-left")).to_contain_text("秒内未接")
    # the offer paused the desk for voice calls through telephony
    pauses = [r["command"]["args"] for r in telephony if r["command"]["kind"] == "pause"]
    assert {"interface": "PJSIP/8001", "reason": "alarm", "queue": None} in pauses

    page.reload()  # the desk still holds it
    expect(page.get_by_test_id("alarm-offer")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1100)
    assert _seconds(page.get_by_test_id("alarm-offer-clock").inner_text()) >= 2

    page.keyboard.press("F4")
    page.wait_for_url(re.compile(rf"/alarms\?alarm={alarm_id}"), timeout=10_000)
    expect(page.get_by_test_id("alarm-elder")).to_have_text("巴特尔", timeout=10_000)
    # taking it never resets the alarm's clock to 0:00
    page.wait_for_timeout(1100)
    assert _seconds(page.locator("#d-clock").inner_text()) >= 3
    # the pendant was rung once; the ladder asks for that call's result, not another dial
    assert [r["command"]["kind"] for r in telephony].count("originate") == 1
    talk = page.locator("li[data-rung='talk_to_elder']")
    expect(talk).to_have_attribute("data-state", "dialling")
    expect(talk.locator("button[data-result='reached']")).to_be_visible()

    page.goto(f"{live.url}/agent")  # back on the desk: the alarm in hand is listed
    expect(page.get_by_test_id("alarm-handling")).to_contain_text(f"#{alarm_id}", timeout=10_000)
    assert errors == []


def test_the_wallboard_lists_the_waiting_alarm_and_the_supervisor_assigns_it(
    browser,  # noqa: F811
    alarm_world,  # noqa: F811
    live,
    telephony,  # noqa: F811
) -> None:
    world = alarm_world
    _desk(world, "on_call")
    alarm_id = _raise(world, "hhht")
    page = browser.new_page()
    _login(page, live.url, "sup_hhht")
    page.goto(f"{live.url}/wallboard")
    row = page.locator(f"#alarm-queue-rows tr[data-alarm='{alarm_id}']")
    expect(row).to_contain_text("一键呼叫", timeout=10_000)
    expect(row).to_contain_text("暂无就绪坐席")
    row.locator("select").select_option(str(world.users["agent_hhht"]))
    row.get_by_role("button", name="指派").click()
    expect(row).to_contain_text("agent_hhht", timeout=10_000)
    with world.runtime.session() as s:
        assert s.get(Agent, "PJSIP/8001").state == "on_call"
    # the alarm's age on the board runs from the moment it was raised
    assert _seconds(row.locator("td.dur").inner_text()) < 60 + 5


def test_taking_twice_rings_the_elder_once(app, alarm_world, telephony) -> None:  # noqa: F811
    """A second press of the take button (or F4 after the button) dials nothing more."""
    world = alarm_world
    alarm_id = _raise(world, "hhht")
    client, headers = _client(app, "agent_hhht")
    for _ in range(2):
        assert (
            client.post(f"/api/alarms/{alarm_id}/take", json={}, headers=headers).status_code == 200
        )
    assert [r["command"]["kind"] for r in telephony].count("originate") == 1


def test_an_emergency_order_nobody_near_takes_asks_the_agent_to_decide(
    browser,  # noqa: F811
    alarm_world,  # noqa: F811
    live,
    telephony,  # noqa: F811
) -> None:
    """The only provider is 46.9 km away: nobody is sent; the alarm shows the choices (that
    provider beyond the radius, 120, the key holder) and the wallboard's dispatch board lists it."""
    from platform_core.catalogue import service as catalogue
    from platform_core.orders.models import ServiceOrder
    from platform_core.providers import service as providers
    from platform_core.providers.credit_code import make_credit_code
    from tests.platform_core.alarms_support import STAFF

    world = alarm_world
    with world.runtime.session() as s:
        catalogue.install_defaults(s, actor=STAFF)
        far = providers.register_provider(
            s,
            actor=STAFF,
            name="远郊应急站",
            credit_code=make_credit_code("52", "150102", "FAR00001"),
            region_code="150102",
            contact_phone="04716912345",
            service_types=["emergency_sos"],
            coverage=["150102"],
            latitude=40.8414 + 0.4218,
            longitude=111.7519,
        ).id
    alarm_id = _raise(world, "hhht", latitude=40.8414, longitude=111.7519, accuracy_m=10.0)
    page = browser.new_page()
    _login(page, live.url, "agent_hhht")
    page.goto(f"{live.url}/alarms?alarm={alarm_id}")
    page.locator("#d-take").click()
    expect(page.locator("#d-status")).to_contain_text("处置中", timeout=10_000)
    page.locator("#d-dispatch").click()
    decision = page.get_by_test_id("dispatch-decision")
    expect(decision).to_contain_text("紧急派单半径内无可派服务商", timeout=10_000)
    expect(decision).to_contain_text("呼叫 120")
    expect(decision).to_contain_text("王小明(儿子) 带钥匙上门")
    send = decision.get_by_role("button", name="派 远郊应急站", exact=False)
    expect(send).to_contain_text("46.9 公里")

    board = browser.new_page()
    _login(board, live.url, "sup_hhht")
    board.goto(f"{live.url}/wallboard")
    expect(board.get_by_test_id("dispatch-board")).to_contain_text(
        "紧急派单半径内无可派服务商", timeout=10_000
    )

    send.click()  # the agent widens the radius
    expect(decision).to_be_hidden(timeout=10_000)
    with world.runtime.session() as s:
        from platform_core.alarms.models import Alarm

        order = s.get(ServiceOrder, s.get(Alarm, alarm_id).order_id)
        assert (order.status, order.provider_id) == ("dispatched", far)
