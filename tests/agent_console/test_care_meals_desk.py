"""Meal aid in Chromium: the community worker opens a meal point and publishes today's menus
(prices, places, the booking window shown); the hotline books two elders; the point's operator
serves them at its tablet counter, one found by the ID card, one by the booking code and its
card checked (a wrong card refused); the day's statistics move; when the month is over the
officer settles it and exports it. Another region's officer and another provider are refused."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.meal_aid import service as meals
from platform_core.meal_aid.models import MealBooking, MealPoint
from platform_core.runtime import cipher_of
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import PASSWORD, login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import add_provider, agent, make_elder

pytestmark = pytest.mark.browser


def _operator(cw: CareWorld, username: str, provider_id: int) -> None:
    with cw.runtime.session() as s:
        cw.world.users[username] = accounts.create_user(
            s,
            actor=system_actor(),
            username=username,
            password=PASSWORD,
            role=Role.PROVIDER,
            region_code="150100000000",
            display_name=username,
            provider_id=provider_id,
        ).id


def test_a_day_at_the_meal_point_and_its_month(browser, live, app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    today = clock.today()
    morning = datetime.combine(today, time(8, 0), tzinfo=clock.zone())
    with cw.runtime.session() as s:
        provider = add_provider(s, name="锡林路长者食堂")
        other = add_provider(s, name="别家食堂")
        second = make_elder(
            s, name="王淑珍", region_code="150102003001", categories=("subsistence",)
        )
        second_id, second_number = second.id, cipher_of(s).open(second.id_number_sealed)
    _operator(cw, "canteen_hhht", provider.id)
    _operator(cw, "canteen_other", other.id)
    errors: list[str] = []
    with time_machine.travel(morning, tick=True):
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(page, live.url, "community_hhht")
        page.wait_for_url("**/care/gov-purchase")
        page.get_by_role("link", name="助餐").click()
        page.get_by_test_id("meal-point-name").fill("锡林路社区助餐点")
        page.fill("input[name=address]", "锡林路 8 号")
        page.get_by_test_id("meal-time-lunch").fill("11:30")
        page.get_by_test_id("meal-time-dinner").fill("17:30")
        page.get_by_test_id("meal-point-provider").select_option(str(provider.id))
        page.get_by_test_id("meal-point-open").click()
        expect(page.get_by_test_id("meal-window")).to_contain_text("供餐前 120 分钟截止")
        for meal, dishes, price in (("lunch", "米饭、番茄炒蛋", "15"), ("dinner", "面条", "12")):
            page.get_by_test_id("menu-meal").select_option(meal)
            page.get_by_test_id("menu-dishes").fill(dishes)
            page.get_by_test_id("menu-price").fill(price)
            page.get_by_test_id("menu-publish").click()
        menus = page.get_by_test_id("menu-rows")
        expect(menus).to_contain_text("番茄炒蛋")
        expect(menus).to_contain_text(f"{today:%m-%d} 09:30")  # lunch booking closes 2 h before
        with cw.runtime.session() as s:
            point_id = s.scalar(select(MealPoint.id))
            first = meals.book_meal(
                s,
                actor=agent(),
                elder_id=cw.world.elders["hhht"],
                meal_point_id=point_id,
                served_on=today,
                meal="lunch",
            )
            by_code = meals.book_meal(
                s,
                actor=agent(),
                elder_id=second_id,
                meal_point_id=point_id,
                served_on=today,
                meal="lunch",
            )
            code = by_code.code
            assert first.code and code and first.code != code

        counter = browser.new_page()
        counter.set_viewport_size({"width": 1024, "height": 768})  # a tablet
        counter.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(counter, live.url, "canteen_hhht")
        counter.wait_for_url("**/provider")
        counter.get_by_test_id("nav-meal-point").click()
        expect(counter.get_by_test_id("counter-point")).to_contain_text("锡林路社区助餐点")
        counter.get_by_test_id("counter-query").fill(cw.id_numbers["hhht"])
        counter.get_by_test_id("counter-look-up").click()
        booking = counter.get_by_test_id("counter-booking")
        expect(booking).to_contain_text("巴**")
        expect(booking).to_contain_text("午餐")
        counter.get_by_test_id("counter-redeem").click()
        expect(counter.get_by_test_id("counter-answer")).to_contain_text("核销成功: 午餐")
        counter.get_by_test_id("counter-query").fill(cw.id_numbers["hhht"])
        counter.get_by_test_id("counter-look-up").click()
        expect(counter.get_by_test_id("counter-status")).to_have_text("已就餐")
        expect(counter.get_by_test_id("counter-redeem")).to_have_count(0)

        counter.get_by_test_id("counter-query").fill(code)
        counter.get_by_test_id("counter-look-up").click()
        expect(counter.get_by_test_id("counter-booking")).to_contain_text("王**")
        counter.get_by_test_id("counter-id-number").fill(cw.id_numbers["hhht"])  # not her card
        counter.get_by_test_id("counter-redeem").click()
        expect(counter.get_by_test_id("counter-refusal")).to_contain_text("身份核验未通过")
        counter.get_by_test_id("counter-query").fill(code)
        counter.get_by_test_id("counter-look-up").click()
        counter.get_by_test_id("counter-id-number").fill(second_number)
        counter.get_by_test_id("counter-redeem").click()
        expect(counter.get_by_test_id("counter-answer")).to_contain_text("补贴 6.00 元")
        cells = counter.get_by_test_id("day-total").locator("td")
        expect(cells.nth(1)).to_have_text("2")  # booked
        expect(cells.nth(2)).to_have_text("2")  # served

        # another provider's staff may not serve at this point
        other_client = app.test_client()
        login(other_client, "canteen_other")
        assert other_client.get(f"/meal-points/{point_id}").status_code == 403

    first_of_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    with time_machine.travel(
        datetime.combine(first_of_next, time(9, 0), tzinfo=clock.zone()), tick=True
    ):
        officer = browser.new_page()
        officer.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(officer, live.url, "officer_hhht")
        officer.wait_for_url("**/reports")
        officer.goto(f"{live.url}/care/meals/{point_id}?month={today:%Y-%m}")
        expect(officer.get_by_test_id("month-stats")).to_contain_text("就餐 2 餐 (2 位老人)")
        officer.get_by_test_id("meal-settle").click()
        expect(officer.get_by_test_id("meal-settlement")).to_contain_text(
            "已结算: 2 餐, 补贴 12.00 元"
        )
        exported = officer.request.get(
            live.url + officer.get_by_test_id("meal-export-csv").get_attribute("href")
        )
        rows = list(csv.reader(io.StringIO(exported.body().decode("utf-8-sig"))))
        assert rows[0][0].startswith("导出人 officer_hhht")
        assert {r[4] for r in rows[3:5]} == {"巴**", "王**"}
    assert errors == []

    baotou = app.test_client()
    token = login(baotou, "officer_bt")
    assert baotou.get(f"/care/meals/{point_id}").status_code == 403
    assert baotou.get(f"/meal-points/{point_id}").status_code == 403
    assert (
        baotou.post(
            f"/meal-points/{point_id}/look-up", data={"csrf_token": token, "query": code}
        ).status_code
        == 403
    )
    with cw.runtime.session() as s:
        assert s.scalar(select(MealBooking.status).where(MealBooking.id == first.id)) == "redeemed"
