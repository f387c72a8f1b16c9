"""In headless Chromium: the centre's manager registers a volunteer (the real-name check with
the code texted to the volunteer's phone) and publishes an activity; the volunteer, on a phone
with its position, joins it, checks in at the centre, sees the hours the manager confirms
arrive by themselves, and gives an hour to their father."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.elders.idcard import make_id_number
from platform_core.verification.models import PhoneVerification
from platform_core.volunteers.models import Activity, ActivitySignup, Volunteer
from tests.agent_console.browser_support import logged_in_page
from tests.agent_console.conftest import PASSWORD
from tests.agent_console.site_support import POSITION, day_care_centres
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.time_bank_support import code_sent

pytestmark = pytest.mark.browser
SON = "13800471009"  # 巴特尔's son, his emergency contact in conftest's world


def test_a_volunteer_joins_checks_in_earns_and_gives_hours(browser, world, live) -> None:  # noqa: F811
    centres = day_care_centres(world)
    with world.runtime.session() as s:
        accounts.create_user(
            s,
            actor=system_actor(),
            username="vol_hhht",
            password=PASSWORD,
            role=Role.VOLUNTEER,
            region_code="150102000000",
            display_name="王小明",
        )
    desk, desk_errors = logged_in_page(browser, live.url, "site_hhht", "/site")
    desk.goto(f"{live.url}/site/volunteers")
    expect(desk.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    desk.get_by_test_id("vol-name").fill("王小明")
    desk.get_by_test_id("vol-id").fill(
        make_id_number("150102", clock.today().replace(year=1975), 321)
    )
    desk.get_by_test_id("vol-phone").fill(SON)
    desk.get_by_test_id("vol-username").fill("vol_hhht")
    desk.get_by_test_id("vol-send-code").click()
    expect(desk.locator("#code-sent")).to_contain_text("138****1009")
    with world.runtime.session() as s:
        verification_id = s.scalar(select(PhoneVerification.id))
        code = code_sent(s, verification_id)
    desk.get_by_test_id("vol-code").fill(code)
    desk.get_by_test_id("vol-card-seen").check()
    desk.get_by_test_id("vol-register").click()
    expect(desk.get_by_test_id("volunteers")).to_contain_text("王小明")

    start = clock.local_now() + timedelta(minutes=10)
    desk.get_by_test_id("act-title").fill("重阳节敬老陪伴")
    desk.get_by_test_id("act-places").fill("3")
    desk.get_by_test_id("act-starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    desk.get_by_test_id("act-ends").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    desk.get_by_test_id("act-publish").click()
    expect(desk.get_by_test_id("activities")).to_contain_text("重阳节敬老陪伴")

    # the volunteer's phone, at the centre's door
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        geolocation={"latitude": POSITION[0] + 0.0004, "longitude": POSITION[1]},
        permissions=["geolocation"],
    )
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "vol_hhht")
    page.wait_for_url("**/volunteer")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    expect(page.get_by_test_id("balance")).to_have_text("0.00")
    with world.runtime.session() as s:
        activity_id = s.scalar(select(Activity.id))
    page.get_by_test_id(f"join-{activity_id}").click()
    expect(page.get_by_test_id(f"activity-state-{activity_id}")).to_have_text("已报名")
    page.get_by_test_id(f"check-in-{activity_id}").click()
    expect(page.get_by_test_id(f"activity-state-{activity_id}")).to_have_text("已签到")

    # the manager confirms the hours; the volunteer's page shows them without a reload
    with world.runtime.session() as s:
        signup_id = s.scalar(select(ActivitySignup.id))
        assert s.get(ActivitySignup, signup_id).check_in_distance_m < 100
    confirm = desk.get_by_test_id(f"confirm-{signup_id}")
    expect(confirm).to_be_visible(timeout=10_000)
    confirm.click()
    expect(page.get_by_test_id("balance")).to_have_text("2.00", timeout=10_000)
    expect(page.get_by_test_id("statement")).to_contain_text("志愿服务存入")

    # his father lists his phone: an hour for him
    expect(page.get_by_test_id("family")).to_contain_text("儿子")
    page.get_by_test_id("give-hours").fill("1")
    page.get_by_test_id("give").click()
    expect(page.get_by_test_id("balance")).to_have_text("1.00")
    expect(page.get_by_test_id("family")).to_contain_text("1.00")
    with world.runtime.session() as s:
        volunteer = s.scalar(select(Volunteer))
        assert volunteer.phone == SON and volunteer.home_site_id == centres.hhht
    assert errors == [] and desk_errors == []
    phone.close()
