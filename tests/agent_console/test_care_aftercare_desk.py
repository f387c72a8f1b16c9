"""Orders after service in Chromium: the agent records the family's rating on a return-visit
call and asks for the IVR's survey call of another order; a complaint is taken, handled and
closed with a reply by the supervisor, and the order closed; the provider's evaluation counts
the rating and the complaint. Another region's officer is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from platform_core.db import utcnow
from platform_core.evaluation.service import compute_metrics
from platform_core.orders import service as orders
from platform_core.orders.models import OrderComplaint, ServiceOrder
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.order_steps import confirm_by_elder
from tests.platform_core.care_support import add_provider, agent, provider_staff
from tests.platform_core.test_care_beds import complete_order


def _confirmed_orders(cw: CareWorld, n: int) -> tuple[int, list[tuple[int, str]]]:
    """``n`` cleaning orders of the Hohhot elder, done and confirmed by the elder a day ago."""
    out = []
    with cw.runtime.session() as s:
        provider = add_provider(s)
        for _ in range(n):
            order = orders.open_order(
                s,
                actor=agent(),
                elder_id=cw.world.elders["hhht"],
                service_type_code="care_cleaning",
                source="call",
            )
            orders.submit_for_dispatch(s, actor=agent(), order_id=order.id)
            orders.dispatch_to(s, actor=agent(), order_id=order.id, provider_id=provider.id)
            complete_order(s, order.id)
            confirm_by_elder(s, actor=provider_staff(provider_id=provider.id), order_id=order.id)
            row = s.get(ServiceOrder, order.id)
            row.completed_at -= timedelta(hours=25)  # due for its return visit
            out.append((order.id, order.order_no))
        return provider.id, out


pytestmark = pytest.mark.browser


def test_ratings_complaints_and_closing(browser, live, app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    provider_id, [(rated_id, rated_no), (complained_id, complained_no), (surveyed_id, _)] = (
        _confirmed_orders(cw, 3)
    )
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "agent_hhht")
    page.wait_for_url("**/agent")
    page.get_by_test_id("nav-aftercare").click()
    rows = page.get_by_test_id("after-rows")
    expect(rows).to_contain_text(rated_no)
    rows.get_by_role("link", name=rated_no).click()
    page.get_by_test_id("visit-result").select_option("satisfied")
    page.get_by_test_id("visit-rater").select_option("家属")
    page.get_by_test_id("visit-satisfaction").select_option("4")
    page.get_by_test_id("visit-note").fill("儿子代老人评价, 打扫干净")
    page.get_by_test_id("visit-save").click()
    expect(page.get_by_test_id("order-status")).to_have_text("已回访")
    expect(page.get_by_test_id("order-rating")).to_contain_text("4 分")
    expect(page.get_by_test_id("visit-rows")).to_contain_text("满意")

    page.goto(f"{live.url}/care/orders/{surveyed_id}")
    page.get_by_test_id("survey-call").click()
    expect(page.get_by_test_id("survey-calls")).to_be_visible()

    page.goto(f"{live.url}/care/orders/{complained_id}")
    page.get_by_test_id("complaint-text").fill("服务人员迟到一个小时, 态度也不好")
    page.get_by_test_id("complaint-open").click()
    expect(page.get_by_test_id("order-status")).to_have_text("投诉中")
    expect(page.get_by_test_id("complaint-close")).to_have_count(0)  # handling is the supervisor's

    sup = browser.new_page()
    sup.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(sup, live.url, "sup_hhht")
    sup.wait_for_url("**/wallboard")
    sup.get_by_test_id("nav-aftercare").click()
    sup.get_by_test_id("after-tab-complaints").click()
    sup.get_by_test_id("after-rows").get_by_role("link", name=complained_no).click()
    sup.get_by_test_id("complaint-note").fill("已联系服务商, 护理员承认迟到")
    sup.get_by_test_id("complaint-handle").click()
    expect(sup.get_by_test_id("complaint-handling")).to_contain_text("护理员承认迟到")
    sup.get_by_test_id("complaint-reply-text").fill("服务商已向您道歉, 并对护理员作出处理")
    sup.get_by_test_id("complaint-upheld").check()
    sup.get_by_test_id("complaint-close").click()
    expect(sup.get_by_test_id("complaint-reply")).to_contain_text("属实, 已短信告知")
    sup.get_by_test_id("order-close-reason").fill("投诉办结")
    sup.get_by_test_id("order-close").click()
    expect(sup.get_by_test_id("order-status")).to_have_text("已关闭")
    assert errors == []

    with cw.runtime.session() as s:
        metrics = compute_metrics(
            s,
            provider_id=provider_id,
            start=utcnow() - timedelta(days=2),
            end=utcnow() + timedelta(days=1),
        )
        assert (metrics.complaints, metrics.ratings, metrics.avg_rating) == (1, 1, 4.0)
        step = orders.order_history(s, order_id=rated_id)
        assert any(t.command == "rate" and t.detail["rated_by"] == "家属" for t in step)
        complaint_id = s.scalar(select(OrderComplaint.id))
    baotou = app.test_client()
    token = login(baotou, "officer_bt")
    assert baotou.get(f"/care/orders/{rated_id}").status_code == 403
    assert (
        baotou.post(
            f"/care/complaints/{complaint_id}/handle", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 403
    )
    assert f'data-order="{rated_id}"' not in baotou.get("/care/aftercare?tab=closing").get_data(
        as_text=True
    )
