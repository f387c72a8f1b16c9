"""In headless Chromium: an unknown caller rings, the agent registers them from the screen pop:
the 盟市 is fixed to the agent's, the ID number fills the birth date, the sex and the county,
the agent picks the township and village, and the new elder's pop follows."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder
from platform_core.regions.service import ensure_region
from tests.agent_console.browser_support import logged_in_page, ring_desk
from tests.agent_console.test_browser import browser  # noqa: F401

pytestmark = pytest.mark.browser
CALLER = "13704719876"


def test_an_unknown_caller_is_registered_from_the_pop(browser, world, live) -> None:  # noqa: F811
    with world.runtime.session() as s:
        ensure_region(s, "150102001000", "锡林路街道")
        ensure_region(s, "150102001001", "光明社区")
    page, errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    ring_desk(world, "1741900000.1", caller_number=CALLER, elder_id=None, intent="person")
    form = page.locator("#register-form")
    expect(form).to_be_visible(timeout=10_000)
    expect(form.locator("input[name=phone]")).to_have_value(CALLER)
    league, county = page.get_by_test_id("region-2"), page.get_by_test_id("region-3")
    town, village = page.get_by_test_id("region-4"), page.get_by_test_id("region-5")
    expect(league).to_have_value("150100000000")  # the agent's 盟市, nothing else to choose
    expect(league).to_be_disabled()
    expect(county).to_be_enabled()

    page.get_by_test_id("register-id").fill(make_id_number("150105", date(1944, 5, 17), 27))
    expect(page.get_by_test_id("register-birth")).to_contain_text("1944-05-17")
    expect(page.get_by_test_id("register-sex")).to_have_text("男")
    expect(county).to_have_value("150105000000")  # 赛罕区, from the number's area code

    # she lives in 新城区 now: the agent picks the county, the township and the village
    number = make_id_number("150105", date(1944, 5, 18), 28)
    page.get_by_test_id("register-id").fill(number)
    expect(page.get_by_test_id("register-sex")).to_have_text("女")
    county.select_option("150102000000")
    expect(town).to_be_enabled()
    town.select_option("150102001000")
    expect(village).to_be_enabled()
    village.select_option("150102001001")
    form.locator("input[name=name]").fill("那仁花")
    form.locator("input[name=address]").fill("光明社区 8 号楼 2 单元 101")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("elder-name")).to_have_text("那仁花", timeout=10_000)
    expect(form).to_be_hidden()
    with world.runtime.session() as s:
        elder = s.query(Elder).filter_by(name="那仁花").one()
        assert (elder.region_code, elder.sex, elder.birth_date) == (
            "150102001001",
            "female",
            date(1944, 5, 18),
        )
    assert errors == []
