"""In headless Chromium: the agent refers the caller to a social worker in two clicks from the
screen pop; the worker, whose page shows the area's waiting referral at once, takes the case
in, assesses the needs, plans the visits and records the first one; when a visit falls late
the worker's page and the supervising officer's caseloads say so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.social_work import service as social
from platform_core.social_work.models import SocialCase
from tests.agent_console.browser_support import logged_in_page, ring_desk
from tests.agent_console.conftest import PASSWORD, answered_at_desk
from tests.agent_console.test_browser import _login, browser  # noqa: F401

pytestmark = pytest.mark.browser
CALL = "1742000000.5"


def _social_worker(world) -> int:
    with world.runtime.session() as s:
        user = accounts.create_user(
            s,
            actor=system_actor(),
            username="sw_hhht",
            password=PASSWORD,
            role=Role.SOCIAL_WORKER,
            region_code="150102000000",
            display_name="社工娜仁",
        )
        officer = Actor(kind="user", name="民政", region_code="150100000000", role=Role.OFFICER)
        social.register_worker(s, actor=officer, user_id=user.id, organisation="青城社工站")
        return user.id


def test_a_referral_from_the_pop_worked_by_the_social_worker(browser, world, live) -> None:  # noqa: F811
    _social_worker(world)
    worker, worker_errors = logged_in_page(browser, live.url, "sw_hhht", "/casework")
    expect(worker.get_by_test_id("queue")).to_contain_text("暂无待接案")

    # the agent: the caller's pop, 转介社工, 确认
    answered_at_desk(world.runtime, CALL)
    agent, agent_errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    ring_desk(
        world,
        CALL,
        caller_number=world.phones["hhht"],
        elder_id=world.elders["hhht"],
        intent="person",
    )
    expect(agent.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)
    agent.get_by_test_id("care-start-social_work").click()
    agent.get_by_test_id("care-confirm-social_work").click()
    expect(agent.get_by_test_id("care-state-social_work")).to_have_text("待接案")
    with world.runtime.session() as s:
        case = s.scalar(select(SocialCase))
        case_id, case_no = case.id, case.case_no
        assert (case.source, case.source_ref) == ("hotline", CALL)

    # the worker's page shows the area's new referral without a reload
    take = worker.get_by_test_id(f"take-{case_id}")
    expect(take).to_be_visible(timeout=10_000)
    take.click()
    expect(worker.get_by_test_id("case")).to_contain_text(case_no)
    expect(worker.get_by_test_id("case")).to_contain_text("已接案")
    worker.get_by_test_id("need-mental-high").check()
    worker.get_by_test_id("need-mental-note").fill("独居, 近来情绪低落")
    worker.get_by_test_id("need-social-medium").check()
    worker.get_by_test_id("assess").click()
    expect(worker.get_by_test_id("case")).to_contain_text("心理情绪: 高 (独居, 近来情绪低落)")
    worker.get_by_test_id("plan-goals").fill("情绪稳定\n每月参加社区活动")
    worker.get_by_test_id("plan-visiting").check()
    worker.get_by_test_id("plan-counselling").check()
    worker.get_by_test_id("plan-interval").fill("7")
    worker.get_by_test_id("plan").click()
    expect(worker.get_by_test_id("case")).to_contain_text("服务中")
    worker.get_by_test_id("visit-notes").fill("入户陪伴一小时, 老人愿意参加书法小组")
    worker.get_by_test_id("visit").click()
    expect(worker.get_by_test_id("visits")).to_contain_text("书法小组")
    due = (clock.today() + timedelta(days=7)).isoformat()
    expect(worker.get_by_test_id(f"due-{case_id}")).to_have_text(due)
    expect(worker.get_by_test_id("overdue-count")).to_have_text("0")

    # a week and a half on: the daily check finds the visit late, and the page says so live
    with world.runtime.session() as s:
        s.get(SocialCase, case_id).next_visit_due = clock.today() - timedelta(days=3)
    with world.runtime.session() as s:
        social.announce_overdue(s, region_code="150000000000")
    expect(worker.get_by_test_id("overdue-count")).to_have_text("1", timeout=10_000)
    expect(worker.get_by_test_id(f"due-{case_id}")).to_contain_text("逾期 3 天")

    officer = browser.new_page()
    officer_errors: list[str] = []
    officer.on("pageerror", lambda exc: officer_errors.append(str(exc)))
    _login(officer, live.url, "officer_hhht")
    officer.wait_for_url("**/reports")
    officer.goto(f"{live.url}/casework/supervision")
    expect(officer.get_by_test_id("caseloads")).to_contain_text("社工娜仁")
    expect(officer.get_by_test_id("caseloads")).to_contain_text("1 / 30")
    expect(officer.get_by_test_id("overdue")).to_contain_text(case_no)
    assert worker_errors == agent_errors == officer_errors == []
