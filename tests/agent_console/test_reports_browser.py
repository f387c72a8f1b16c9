"""In headless Chromium, the reports page: agents by name with rings instead of calls offered to
them, queues by name, no command line cited, and a wrong period refused in Chinese only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.agent_console.test_reports import traffic  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_reports_page_names_agents_and_queues(browser, traffic, live) -> None:  # noqa: F811
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "sup_hhht")
    page.goto(f"{live.url}/reports")
    table = page.get_by_test_id("report-table")
    expect(table.locator("tbody tr")).not_to_have_count(0, timeout=10_000)
    assert "hotline report" not in page.content()

    page.select_option("select[name=by]", "agent")
    page.click("#report-form button[type=submit]")
    expect(table.locator("thead")).to_contain_text("振铃次数")
    expect(table.locator("thead")).not_to_contain_text("进线量")  # no calls "offered" to an agent
    expect(table.locator("tbody tr[data-key='PJSIP/8050'] th")).to_have_text("王芳")

    page.select_option("select[name=by]", "queue")
    page.click("#report-form button[type=submit]")
    expect(table.locator("tbody tr[data-key='hotline-general'] th")).to_have_text("综合服务队列")
    expect(table).not_to_contain_text("hotline-general")

    page.fill("input[name=start]", "2026-02-01")
    page.fill("input[name=end]", "2026-01-01")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#toast")).to_have_text("结束日期早于开始日期")
    assert errors == []
