"""A provider queries, downloads and prints its own records (orders of a month, settlements,
evaluation reports, credit record); another provider's are refused; downloads are watermarked
and audited."""

from __future__ import annotations

import pytest

from platform_core import clock
from platform_core.actors import system_actor
from platform_core.audit import service as audit
from platform_core.evaluation import service as evaluation
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import PASSWORD, login

provider_world = support.provider_world  # the shared fixture
OFFICER = system_actor("民政局")


def test_a_provider_reads_and_downloads_its_own_records(app, provider_world) -> None:
    w = provider_world
    with w.rt.session() as s:
        evaluation.record_credit_event(
            s,
            actor=OFFICER,
            provider_id=w.first.id,
            kind="complaint",
            points=-5,
            reason="上门迟到被投诉",
        )
        evaluation.record_credit_event(
            s,
            actor=OFFICER,
            provider_id=w.second.id,
            kind="commendation",
            points=3,
            reason="另一家的表扬",
        )
    client = app.test_client()
    login(client, w.first.username)
    page = client.get("/provider/records").get_data(as_text=True)
    assert "上门迟到被投诉" in page and "另一家的表扬" not in page
    assert 'data-testid="credit-score">75.0' in page
    order_no = support.order(w, w.order_id).order_no
    assert order_no in page  # this month's orders
    orders_csv = client.get(f"/provider/records/orders.csv?month={clock.local_now():%Y-%m}")
    text = orders_csv.data.decode("utf-8-sig")
    assert f"导出人 {w.first.username}" in text.splitlines()[0] and order_no in text
    credit = client.get("/provider/records/credit.csv").data.decode("utf-8-sig")
    assert "上门迟到被投诉" in credit and "另一家的表扬" not in credit
    with w.rt.session() as s:
        assert audit.list_records(s, action="provider.export_orders")
        assert audit.list_records(s, action="provider.export_credit")


def test_another_providers_evaluation_is_refused(app, provider_world) -> None:
    w = provider_world
    with w.rt.session() as s:
        start = clock.start_of_day(clock.today().replace(day=1))
        row = evaluation.evaluate_provider(
            s,
            actor=OFFICER,
            provider_id=w.second.id,
            start=start,
            end=clock.now(),
            label="本月",
            apply=False,
        )
        theirs = row.id
    client = app.test_client()
    login(client, w.first.username)
    assert client.get(f"/provider/records/evaluations/{theirs}.pdf").status_code == 403
    other = app.test_client()
    login(other, w.second.username)
    resp = other.get(f"/provider/records/evaluations/{theirs}.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    # an agent has no provider records at all
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get("/provider/records").status_code == 403


@pytest.mark.browser
def test_the_provider_finds_and_prints_its_records_in_chromium(live, provider_world) -> None:
    from playwright.sync_api import expect, sync_playwright

    w = provider_world
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(
                locale="zh-CN", viewport={"width": 390, "height": 844}
            ).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", w.first.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.get_by_test_id("nav-records").click()
            expect(page.get_by_test_id("records-title")).to_have_text(w.first.name)
            expect(page.get_by_test_id("records-orders")).to_contain_text(
                support.order(w, w.order_id).order_no
            )
            page.evaluate("window.print = () => { document.body.dataset.printed = '1'; }")
            page.get_by_test_id("print").click()
            expect(page.locator("body")).to_have_attribute("data-printed", "1")
            with page.expect_download() as download:
                page.get_by_test_id("orders-csv").click()
            assert download.value.suggested_filename.startswith("orders-")
            assert not errors, errors
        finally:
            browser.close()
