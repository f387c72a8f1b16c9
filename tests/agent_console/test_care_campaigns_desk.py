"""Care-call campaigns in Chromium: the supervisor previews who a filter reaches (living alone
and 80 or older), creates and schedules the campaign, and follows it live while the dialler
works: one elder answers well, another is tried until the attempts run out and the campaign
texts the family and opens a visit order. Another region's officer is refused the campaign."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core import clock
from platform_core.actors import Actor
from platform_core.care_calls import service as care_calls
from platform_core.care_calls.models import CareCall, CareCampaign
from platform_core.elders.models import Elder
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import _elder, login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import add_provider

pytestmark = pytest.mark.browser
DIALLER = Actor(kind="system", name="主动关怀", region_code="150100000000")


def _more_elders(cw: CareWorld) -> int:
    """Three more Hohhot elders: one alone and 86 (called), one 86 in an empty nest and one
    alone and 66 (neither called when both conditions must hold)."""
    called = _elder(
        cw.runtime,
        name="刘桂英",
        region="150102000000",
        area="150102",
        seq=44,
        phone="13900471044",
        contact_phone="13800471045",
    )
    nest = _elder(
        cw.runtime,
        name="张福",
        region="150102000000",
        area="150102",
        seq=55,
        phone="13900471055",
        contact_phone="13800471056",
    )
    young = _elder(
        cw.runtime,
        name="李强",
        region="150102000000",
        area="150102",
        seq=66,
        phone="13900471066",
        contact_phone="13800471067",
    )
    with cw.runtime.session() as s:
        s.get(Elder, nest).living_arrangement = "empty_nest"
        s.get(Elder, young).birth_date = date(1960, 5, 1)
    return called


def _dial(cw: CareWorld, elder_id: int, outcome: str) -> None:
    """What the dialling job does for one attempt, with the outcome Asterisk reported."""
    with cw.runtime.session() as s:
        call = s.scalar(select(CareCall).where(CareCall.elder_id == elder_id))
        attempt = care_calls.begin_attempt(
            s, actor=DIALLER, care_call_id=call.id, attempt_no=call.attempts + 1
        )
        if outcome == "well":
            care_calls.record_response(s, actor=DIALLER, attempt_id=attempt.id, response="well")
        else:
            care_calls.record_no_answer(s, actor=DIALLER, attempt_id=attempt.id, result=outcome)


def test_a_campaign_from_its_filter_to_its_escalations(browser, live, app, care_world) -> None:  # noqa: F811
    cw = care_world
    second = _more_elders(cw)
    with cw.runtime.session() as s:
        add_provider(s, name="锡林路居家养老服务中心")  # who visits
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "sup_hhht")
    page.wait_for_url("**/wallboard")
    page.get_by_test_id("nav-campaigns").click()
    page.get_by_test_id("campaign-name").fill("寒潮关怀")
    page.get_by_test_id("campaign-min-age").fill("80")
    page.get_by_test_id("campaign-living-alone").check()
    page.get_by_test_id("campaign-match-all").check()
    page.get_by_test_id("campaign-preview-button").click()
    expect(page.get_by_test_id("campaign-preview")).to_have_text("符合条件的老人: 2 人")
    later = clock.local_now() + timedelta(hours=2)  # the dialler starts then
    page.get_by_test_id("campaign-at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=max_attempts]", "2")
    page.get_by_test_id("campaign-create").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("待开始")
    expect(page.get_by_test_id("count-pending")).to_have_text("2")
    expect(page.get_by_test_id("campaign-at")).to_have_text(later.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)

    _dial(cw, cw.world.elders["hhht"], "well")
    expect(page.get_by_test_id("count-well")).to_have_text("1", timeout=10_000)
    _dial(cw, second, "no_answer")
    expect(page.get_by_test_id("count-retry")).to_have_text("1", timeout=10_000)
    _dial(cw, second, "busy")
    expect(page.get_by_test_id("count-unreachable")).to_have_text("1", timeout=10_000)
    expect(page.get_by_test_id("campaign-status")).to_have_text("已结束", timeout=10_000)
    row = page.locator("[data-testid=call-rows] tr", has_text="刘**")
    expect(row).to_contain_text("未接通")
    expect(row).to_contain_text("短信待发给 王** 138****1045")
    expect(row).to_contain_text("探访工单")
    page.reload()  # what the events showed is what the campaign holds
    expect(page.locator("[data-testid=call-rows] tr", has_text="巴**")).to_contain_text("平安")
    assert errors == []

    with cw.runtime.session() as s:
        campaign_id = s.scalar(select(CareCampaign.id))
    baotou = app.test_client()
    login(baotou, "officer_bt")
    assert baotou.get(f"/care/campaigns/{campaign_id}").status_code == 403
    listed = baotou.get("/care/campaigns").get_data(as_text=True)
    assert f'data-campaign="{campaign_id}"' not in listed


def test_another_regions_socket_is_refused_the_campaigns_events(app, care_world) -> None:  # noqa: F811
    cw = care_world
    with cw.runtime.session() as s:
        campaign = care_calls.create_campaign(
            s,
            actor=DIALLER,
            name="例行关怀",
            region_code="150102000000",
            criteria=care_calls.CareCriteria(min_age=80),
        )
        campaign_id = campaign.id
    socketio = app.extensions["hotline_realtime"].socketio
    for username, ok in (("officer_bt", False), ("officer_hhht", True)):
        client = app.test_client()
        login(client, username)
        sock = socketio.test_client(app, namespace="/care", flask_test_client=client)
        try:
            ack = sock.emit(
                "follow_campaign", {"campaign_id": campaign_id}, namespace="/care", callback=True
            )
            assert ack["ok"] is ok, (username, ack)
            if ok:
                assert ack["summary"]["pending"] == 1
            else:
                assert ack["code"] == "out_of_region"
        finally:
            sock.disconnect(namespace="/care")
