"""Pages show the hotline's dates and times (Beijing's), not the browser's zone or UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.agent_console.test_browser import _login, browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

# 16:30 UTC on 9 March: already 10 March in Beijing, still 9 March in UTC and in Pago Pago.
INSTANT = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)


def test_the_reports_page_defaults_to_beijings_day_in_any_browser_zone(
    browser,  # noqa: F811
    live,
) -> None:
    context = browser.new_context(timezone_id="Pacific/Pago_Pago", locale="zh-CN")
    page = context.new_page()
    page.clock.set_fixed_time(INSTANT)
    _login(page, live.url, "sup_hhht")
    page.wait_for_url("**/wallboard")
    page.goto(f"{live.url}/reports")
    page.wait_for_function("document.querySelector('#report-form [name=start]').value !== ''")
    assert page.input_value("#report-form [name=start]") == "2026-03-10"
    assert page.input_value("#report-form [name=end]") == "2026-03-10"
    shown = page.evaluate(
        "async () => (await import('/static/js/common.js')).monthDayTime('2026-03-09T16:30:00Z')"
    )
    assert shown == "3月10日 00:30"
    context.close()
