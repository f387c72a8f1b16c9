"""In headless Chromium, a day care centre's morning as its manager runs it: the day's roster,
an elder checked in with the ID card, a colleague's check-in arriving live, the centre full and
one more taken with a reason, a new elder enrolled (the family's code shown once) and checked
out with that code at pick-up. The manager's desk shows their own centre only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder
from platform_core.sites import daycare
from tests.agent_console.browser_support import logged_in_page
from tests.agent_console.site_support import ID_NUMBERS, day_care_centres
from tests.agent_console.test_browser import browser  # noqa: F401
from tests.platform_core.care_support import make_elder

pytestmark = pytest.mark.browser


def test_a_site_manager_runs_the_day_care_morning(browser, world, live) -> None:  # noqa: F811
    centres = day_care_centres(world, capacity=2)
    with world.runtime.session() as s:
        daycare.enrol(
            s,
            actor=centres.hhht_manager,
            site_id=centres.hhht,
            elder_id=world.elders["hhht"],
            weekdays=list("1234567"),
        )
        second = make_elder(s, name="阿拉坦", region_code="150102000000")
        third_number = make_id_number("150102", second.birth_date.replace(year=1938), 77)
        third = make_elder(s, name="宝音", region_code="150102000000", id_number=third_number)
        second_id, third_id = second.id, third.id
    page, errors = logged_in_page(browser, live.url, "site_hhht", "/site")
    expect(page.locator("[data-testid=site-choice] option")).to_have_count(1)
    expect(page.locator("[data-testid=site-choice]")).to_contain_text("新城区锡林路日间照料中心")
    roster = page.locator("[data-testid=roster]")
    expect(roster).to_contain_text("巴特尔")
    expect(page.locator(f"[data-testid=state-{world.elders['hhht']}]")).to_have_text("未到")

    # the ID card is read into the box (a reader types the number) and 签到 pressed
    page.fill("[data-testid=identity]", ID_NUMBERS["hhht"])
    page.click("[data-testid=check-in]")
    expect(page.locator(f"[data-testid=state-{world.elders['hhht']}]")).to_have_text("在托")
    expect(page.locator("[data-testid=present-count]")).to_have_text("1")
    expect(page.locator("[data-testid=capacity-band]")).to_contain_text("接近容纳上限")

    # a colleague checks an elder in at the other door: the roster moves by itself
    with world.runtime.session() as s:
        elder = s.get(Elder, second_id)
        number = world.runtime.cipher.open(elder.id_number_sealed)
        daycare.check_in(s, actor=centres.hhht_manager, site_id=centres.hhht, id_number=number)
    expect(page.locator("[data-testid=present-count]")).to_have_text("2")
    expect(page.locator("[data-testid=capacity-band]")).to_contain_text("已满员")
    expect(roster).to_contain_text("阿拉坦")

    # full: one more only with a reason
    page.fill("[data-testid=identity]", third_number)
    page.click("[data-testid=check-in]")
    expect(page.locator("#toast")).to_contain_text("已满")
    page.fill("[data-testid=over-reason]", "家属临时住院, 站长同意")
    page.click("[data-testid=over-confirm]")
    expect(page.locator(f"[data-testid=state-{third_id}]")).to_have_text("在托")
    expect(page.locator("[data-testid=present-count]")).to_have_text("3")

    # a new elder's family gets a code; it checks the elder out at pick-up
    page.fill("[data-testid=enrol-id]", third_number)
    page.click("[data-testid=enrol-submit]")
    code = page.locator("[data-testid=family-code]")
    expect(code).to_be_visible()
    family_code = code.inner_text().strip()
    assert len(family_code) == 8 and family_code.isdigit()
    page.fill("[data-testid=identity]", family_code)
    page.click("[data-testid=check-out]")
    expect(page.locator(f"[data-testid=state-{third_id}]")).to_have_text("已离开")
    expect(page.locator("[data-testid=present-count]")).to_have_text("2")

    # the month so far, per elder
    expect(page.locator("[data-testid=stats-elders]")).to_contain_text("巴特尔")
    assert errors == []
    # a manager's own site only: another league's roster is refused
    resp = page.request.get(f"{live.url}/api/site-desk/{centres.bt}/roster")
    assert resp.status == 403
