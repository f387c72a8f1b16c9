"""The money page in Chromium: the officer sets a programme's budget with its warning share and
sees the spent and committed money against it, flagged once past the share; another league's
officer is refused setting it."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core import clock
from platform_core.budgets.models import CareBudget
from platform_core.meal_aid import service as meals
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import agent, officer, provider_staff

pytestmark = pytest.mark.browser


def test_budgets_spent_committed_and_the_warning(browser, live, app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    tomorrow = clock.today().toordinal() + 1
    day = datetime.fromordinal(tomorrow).date()
    with cw.runtime.session() as s:
        point = meals.open_meal_point(
            s,
            actor=officer(),
            name="锡林路社区助餐点",
            region_code="150102003001",
            address="锡林路 8 号",
            meal_times={"lunch": "11:30"},
            provider_id=None,
        )
        meals.publish_menu(
            s,
            actor=provider_staff(),
            meal_point_id=point.id,
            served_on=day,
            meal="lunch",
            dishes="米饭",
            price=15,
        )
        meals.book_meal(
            s,
            actor=agent(),
            elder_id=cw.world.elders["hhht"],
            meal_point_id=point.id,
            served_on=day,
            meal="lunch",
            now=datetime.combine(clock.today(), time(8), tzinfo=clock.zone()),
        )
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "officer_hhht")
    page.wait_for_url("**/reports")
    page.goto(f"{live.url}/care/money?year={day.year}")
    row = page.locator("[data-programme=meal_aid][data-region='150100000000']")
    expect(row).to_contain_text("未设定")
    expect(row).to_contain_text("6.00")  # the booked meal's subsidy (低保) is committed
    page.get_by_test_id("budget-programme").select_option("meal_aid")
    page.get_by_test_id("budget-amount").fill("100")
    page.get_by_test_id("budget-set").click()
    expect(row).to_contain_text("100.00")
    expect(row.get_by_test_id("money-warning")).to_have_count(0)  # 6 % of it, under 80 %
    page.get_by_test_id("budget-programme").select_option("meal_aid")
    page.get_by_test_id("budget-amount").fill("10")
    page.get_by_test_id("budget-share").fill("0.5")
    page.get_by_test_id("budget-set").click()
    expect(row.get_by_test_id("money-warning")).to_have_text("超过预警线")
    expect(row).to_contain_text("60.0%")
    assert errors == []

    baotou = app.test_client()
    token = login(baotou, "officer_bt")
    resp = baotou.post(
        "/care/money/budgets",
        data={
            "csrf_token": token,
            "league_code": "150100000000",
            "programme": "meal_aid",
            "year": str(day.year),
            "amount": "1",
        },
    )
    assert resp.status_code == 403
    worker = app.test_client()
    login(worker, "community_hhht")
    assert worker.get("/care/money").status_code == 403  # the money is the officer's
    with cw.runtime.session() as s:
        assert s.scalar(select(CareBudget.amount)) == 10
