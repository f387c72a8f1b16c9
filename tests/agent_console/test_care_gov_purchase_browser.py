"""In headless Chromium, the government-purchase programme from the counter to the month's
allowance: the community worker registers the application and takes it to publicity, the
officer is refused approval during publicity and approves after it, prints the decision, runs
the month's allowances and watches the run's progress live, and sees the order that drew on it;
another region's officer is refused the application."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from platform_core.flows import care_orders
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.agent_console.test_care_gov_purchase import _past_publicity
from tests.platform_core.care_support import agent

pytestmark = pytest.mark.browser


def test_from_the_counter_to_the_months_allowance(browser, live, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    worker = browser.new_page()
    errors: list[str] = []
    worker.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(worker, live.url, "community_hhht")
    worker.wait_for_url("**/care/gov-purchase")
    worker.get_by_test_id("gp-new").click()
    worker.fill("input[name=id_number]", cw.id_numbers["hhht"])
    worker.fill("input[name=applicant]", "王小明")
    worker.select_option("select[name=relation]", "子女")
    worker.get_by_test_id("gp-apply").click()
    expect(worker.get_by_test_id("gp-status")).to_have_text("已申请")
    expect(worker.get_by_test_id("elder-id-number")).to_contain_text("********")
    worker.get_by_test_id("reveal-id").click()  # a deliberate, audited reveal
    expect(worker.get_by_test_id("elder-id-number")).to_have_text(cw.id_numbers["hhht"])
    for action, status in (
        ("accept", "已受理"),
        ("pass_first_review", "初审通过"),
        ("record_assessment", "已评估"),
        ("start_publicity", "公示中"),
    ):
        worker.get_by_test_id(f"gp-do-{action}").click()
        expect(worker.get_by_test_id("gp-status")).to_have_text(status)
    expect(worker.get_by_test_id("gp-assessment")).to_contain_text("中度失能")
    report = worker.request.get(
        live.url + worker.get_by_test_id("gp-assessment-pdf").get_attribute("href")
    )
    assert report.headers["content-type"] == "application/pdf"
    assert report.body().startswith(b"%PDF")
    expect(worker.get_by_test_id("gp-publicity")).to_contain_text("期满后方可批准")
    expect(worker.get_by_test_id("gp-do-approve")).to_have_count(0)
    application_url = worker.url

    officer = browser.new_page()
    officer.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(officer, live.url, "officer_hhht")
    officer.wait_for_url("**/reports")
    officer.get_by_test_id("nav-care").click()
    officer.wait_for_url("**/care/gov-purchase")
    officer.goto(f"{live.url}/care/gov-purchase?status=in_publicity")
    officer.locator("[data-testid=gp-rows] a").first.click()
    officer.wait_for_url("**/care/gov-purchase/*")
    officer.get_by_test_id("gp-do-approve").click()
    expect(officer.get_by_test_id("care-error")).to_contain_text("期满后方可批准")
    _past_publicity(cw, int(application_url.rsplit("/", 1)[1]))
    officer.goto(application_url)
    officer.get_by_test_id("gp-do-approve").click()
    expect(officer.get_by_test_id("gp-status")).to_have_text("已批准")
    expect(officer.get_by_test_id("gp-allowance")).to_contain_text("200.00 元")
    link = officer.get_by_test_id("notice-pdf-approved")
    decision = officer.request.get(live.url + link.get_attribute("href"))
    assert decision.headers["content-type"] == "application/pdf"
    assert decision.body().startswith(b"%PDF")

    # the month's allowances: the run opens the elder's month, live
    officer.goto(f"{live.url}/care/gov-purchase/allowances")
    expect(officer.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    officer.get_by_test_id("run-start").click()
    run = officer.locator("[data-testid=runs] [data-run]").first
    expect(run).to_have_attribute("data-status", "done", timeout=15_000)
    expect(run).to_contain_text("1 / 1, 开立 1")
    expect(officer.get_by_test_id("allowance-remaining")).to_have_text("200.00")
    with cw.runtime.session() as s:
        order = care_orders.open_care_order(
            s,
            actor=agent(),
            elder_id=cw.world.elders["hhht"],
            service_type_code="care_bathing",
            source="call",
        )
        order_no, drawn = order.order_no, order.self_pay
    officer.reload()
    rows = officer.get_by_test_id("allowance-rows")
    expect(rows).to_contain_text(order_no)
    expect(officer.get_by_test_id("allowance-remaining")).to_have_text(f"{200 - drawn:.2f}")

    baotou = browser.new_page()
    _login(baotou, live.url, "officer_bt")
    baotou.wait_for_url("**/reports")
    response = baotou.goto(application_url)
    assert response is not None and response.status == 403
    expect(baotou.locator("main")).to_contain_text("无权访问其他地区的数据")
    assert errors == []
