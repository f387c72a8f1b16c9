"""The home-adaptation desk in Chromium: the community worker takes an application through the
home assessment, a plan refused over the household's cap and one within it, the signature, the
works with photos before and after, a rework and the acceptance; the officer pays it and the
worker records the return visit. Another region's officer is refused the case and its photos."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core.audit.models import AuditRecord
from platform_core.home_adaptation.models import AdaptationCase, AdaptationItem
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import add_provider

pytestmark = pytest.mark.browser

JPEG = b"\xff\xd8\xff\xe0" + b"before-the-works" * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"after-the-works" * 40


def _plan(page, items) -> None:  # noqa: ANN001
    for i, (name, cost, basic) in enumerate(items):
        page.get_by_test_id(f"item-name-{i}").fill(name)
        page.get_by_test_id(f"item-cost-{i}").fill(cost)
        if basic:
            page.get_by_test_id(f"item-basic-{i}").check()
    page.get_by_test_id("adapt-do-plan").click()


def _photos(page, which: str, data: bytes, kind: str) -> None:  # noqa: ANN001
    for i in range(2):
        page.get_by_test_id(f"photo-{which}-input-{i}").set_input_files(
            {"name": f"{which}-{i}.{kind}", "mimeType": f"image/{kind}", "buffer": data}
        )


def test_from_application_to_return_visit(browser, live, app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    with cw.runtime.session() as s:
        add_provider(s, name="青城适老化改造工程队")
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "community_hhht")
    page.wait_for_url("**/care/gov-purchase")
    page.get_by_role("link", name="适老化改造").click()
    page.get_by_test_id("adapt-new").click()
    page.fill("input[name=id_number]", cw.id_numbers["hhht"])
    page.get_by_test_id("adapt-apply").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("已申请")
    case_url = page.url
    page.get_by_test_id("adapt-do-find_eligible").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("符合条件")
    page.get_by_test_id("adapt-findings").fill("卫生间无扶手\n地面湿滑")
    page.get_by_test_id("adapt-do-assess_home").click()
    expect(page.get_by_test_id("adapt-cap")).to_contain_text("可用 3000.00 元")
    _plan(page, [("卫生间扶手", "1800", True), ("防滑地面", "1500", True)])
    expect(page.get_by_test_id("care-error")).to_contain_text("超过每户补贴上限 3000.00 元")
    page.goto(case_url)
    _plan(page, [("卫生间扶手", "1800", True), ("智能马桶", "2500", False)])
    expect(page.get_by_test_id("adapt-quote")).to_contain_text("基础项目 1800.00 元")
    expect(page.get_by_test_id("adapt-quote")).to_contain_text("自费项目 2500.00 元")
    page.get_by_test_id("adapt-signer").fill("巴特尔")
    page.get_by_test_id("adapt-do-sign").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("已签字确认")
    _photos(page, "before", JPEG, "jpeg")
    page.get_by_test_id("adapt-do-start_works").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("施工中")
    expect(page.get_by_test_id("photo-before-0")).to_be_visible()
    _photos(page, "after", PNG, "png")
    page.get_by_test_id("adapt-do-complete_works").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("施工完成")
    page.get_by_test_id("adapt-rework-note").fill("扶手高度不合适")
    page.get_by_test_id("adapt-do-require_rework").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("施工中")
    _photos(page, "after", PNG, "png")
    page.get_by_test_id("adapt-do-complete_works").click()
    page.get_by_test_id("adapt-do-accept").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("已验收")
    expect(page.get_by_test_id("adapt-do-settle")).to_have_count(0)  # payment is the officer's
    expect(page.get_by_test_id("photo-after-1")).to_be_attached()

    officer = browser.new_page()
    officer.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(officer, live.url, "officer_hhht")
    officer.wait_for_url("**/reports")
    officer.goto(case_url)
    officer.get_by_test_id("adapt-do-settle").click()
    expect(officer.get_by_test_id("adapt-paid")).to_contain_text("补贴 1800.00 元, 自费 2500.00 元")

    page.goto(case_url)
    page.get_by_test_id("adapt-satisfaction-input").select_option("5")
    page.get_by_test_id("adapt-visit-note").fill("扶手好用, 老人满意")
    page.get_by_test_id("adapt-do-return_visit").click()
    expect(page.get_by_test_id("adapt-status")).to_have_text("已回访")
    expect(page.get_by_test_id("adapt-satisfaction")).to_have_text("5 / 5")
    assert errors == []

    with cw.runtime.session() as s:
        case = s.scalar(select(AdaptationCase))
        item = s.scalar(select(AdaptationItem).where(AdaptationItem.case_id == case.id))
        actions = {r.action for r in s.scalars(select(AuditRecord))}
        case_id, item_id = case.id, item.id
    for step in (
        "find_eligible",
        "assess_home",
        "plan",
        "sign",
        "start_works",
        "complete_works",
        "require_rework",
        "accept",
        "settle",
        "return_visit",
    ):
        assert f"home_adaptation.{step}" in actions, step
    assert "home_adaptation.view_photo" in actions
    worker = app.test_client()
    login(worker, "community_hhht")
    photo = worker.get(f"/care/adaptation/photos/{item_id}/before")
    assert photo.status_code == 200 and photo.data == JPEG
    baotou = app.test_client()
    token = login(baotou, "officer_bt")
    assert baotou.get(f"/care/adaptation/{case_id}").status_code == 403
    assert baotou.get(f"/care/adaptation/photos/{item_id}/before").status_code == 403
    assert (
        baotou.post(
            f"/care/adaptation/{case_id}/cancel", data={"csrf_token": token, "reason": "x"}
        ).status_code
        == 403
    )
