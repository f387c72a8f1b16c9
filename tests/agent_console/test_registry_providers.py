"""The provider registry as the officer keeps it: onboarding (licence, service area, services with
agreed prices, capacity, agreement) in one step or not at all, the checklist with expired
licences flagged, status changes with reasons and their history, credit events and the credit
score, an evaluation and its report; another region's providers neither listed nor touched."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.providers.credit_code import make_credit_code
from platform_core.providers.models import Provider, ProviderStatusChange
from tests.agent_console.conftest import PASSWORD, login

CODE = make_credit_code("52", "150102", "RG000001")


def _today():
    return clock.today()


def _onboarding_form(token: str, **overrides: str) -> dict:
    today = _today()
    form = {
        "csrf_token": token,
        "name": "新城区康宁居家养老服务中心",
        "credit_code": CODE,
        "kind": "居家养老服务中心",
        "region_code": "150102",
        "address": "新城区海东路 8 号",
        "contact_name": "李主任",
        "contact_phone": "13947101234",
        "licence_kind": "民办非企业单位登记证书",
        "licence_number": "民证字第 0042 号",
        "licence_valid_until": (today + timedelta(days=700)).isoformat(),
        "coverage": "150102 150105",
        "capacity": "12",
        "services": ["care_cleaning", "care_bathing"],
        "price_care_cleaning": "45",
        "agreement_number": "XC-2026-007",
        "agreement_signed_on": today.isoformat(),
        "agreement_valid_from": today.isoformat(),
        "agreement_valid_until": (today + timedelta(days=365)).isoformat(),
    }
    form.update(overrides)
    return form


@pytest.fixture
def officer(app, world):
    with world.runtime.session() as s:
        catalogue.install_defaults(s, actor=system_actor())
        accounts.create_user(
            s,
            actor=system_actor(),
            username="officer_bt",
            password=PASSWORD,
            role=Role.OFFICER,
            region_code="150200000000",
        )
    client = app.test_client()
    return client, login(client, "officer_hhht")


def _onboard(client, token: str, **overrides: str) -> int:
    resp = client.post("/registry/providers", data=_onboarding_form(token, **overrides))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_the_officer_onboards_and_keeps_a_provider(officer, world) -> None:
    client, token = officer
    pid = _onboard(client, token)
    page = client.get(f"/registry/providers/{pid}").get_data(as_text=True)
    assert "民证字第 0042 号" in page and "XC-2026-007" in page
    prices = page.split('data-testid="provider-prices"')[1].split("</table>")[0]
    assert 'value="45.00"' in prices  # the agreed price beside the catalogue's
    checklist = page.split('data-testid="provider-checklist"')[1].split("</table>")[0]
    assert checklist.count('class="ok"') == 6 and "在岗 0 人" in checklist  # staff still missing
    # a licence that lapsed is flagged on the page and in the list
    client.post(
        f"/registry/providers/{pid}/licence",
        data={
            "csrf_token": token,
            "kind": "食品经营许可证",
            "number": "JY115010200042",
            "valid_until": (_today() - timedelta(days=2)).isoformat(),
        },
    )
    page = client.get(f"/registry/providers/{pid}").get_data(as_text=True)
    assert "已过期: 食品经营许可证" in page
    listing = client.get("/registry/providers").get_data(as_text=True)
    assert re.search(rf'data-testid="provider-{pid}".*?1 项已过期', listing, re.S)
    # status changes with reasons, kept as history
    client.post(
        f"/registry/providers/{pid}/status",
        data={"csrf_token": token, "status": "warning", "reason": "证照过期未更新"},
    )
    client.post(
        f"/registry/providers/{pid}/status",
        data={"csrf_token": token, "status": "suspended", "reason": "逾期未整改"},
    )
    assert (
        client.post(
            f"/registry/providers/{pid}/status",
            data={"csrf_token": token, "status": "normal", "reason": " "},
        ).status_code
        == 422
    )
    # a credit event, and the score that follows from it
    client.post(
        f"/registry/providers/{pid}/credit",
        data={
            "csrf_token": token,
            "kind": "service_violation",
            "points": "-6",
            "reason": "上门未出示证件",
        },
    )
    # an evaluation of last month, and its report
    month = (clock.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    client.post(f"/registry/providers/{pid}/evaluate", data={"csrf_token": token, "month": month})
    page = client.get(f"/registry/providers/{pid}").get_data(as_text=True)
    assert 'data-testid="provider-status">暂停派单' in page
    history = page.split('data-testid="status-history"')[1].split("</table>")[0]
    assert history.index("逾期未整改") < history.index("证照过期未更新")  # newest first
    assert 'data-testid="provider-credit-score">74.0' in page and "服务违规" in page
    evaluation_id = re.search(r'data-testid="evaluation-pdf-(\d+)"', page).group(1)
    pdf = client.get(f"/evaluations/{evaluation_id}.pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    with world.runtime.session() as s:
        assert s.query(ProviderStatusChange).filter_by(provider_id=pid).count() == 2
        for action in (
            "provider.register",
            "provider.add_licence",
            "provider.add_agreement",
            "provider.set_prices",
            "provider.set_status",
            "evaluation.credit_event",
            "evaluation.evaluate",
            "provider.view",
        ):
            assert audit.list_records(s, action=action, target_id=str(pid)), action


def test_a_refused_onboarding_keeps_nothing_and_returns_the_form(officer, world) -> None:
    client, token = officer
    # the agreement ends before it starts: the provider is not registered either
    bad = _onboarding_form(token, agreement_valid_until=(_today() - timedelta(days=9)).isoformat())
    resp = client.post("/registry/providers", data=bad)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "协议截止日期早于开始日期" in page
    assert 'value="新城区康宁居家养老服务中心"' in page  # as typed
    for field, value, words in (
        ("credit_code", "52150102RG0000019X", "统一社会信用代码"),
        ("price_care_cleaning", "四十五", "价格须为金额"),
        ("licence_kind", "驾驶证", "证照类型须为"),
        ("capacity", "many", "接单容量须为整数"),
    ):
        resp = client.post("/registry/providers", data=_onboarding_form(token, **{field: value}))
        assert resp.status_code in (400, 422) and words in resp.get_data(as_text=True), field
    with world.runtime.session() as s:
        assert s.query(Provider).count() == 0


def test_another_regions_officer_neither_sees_nor_touches_it(officer, app, world) -> None:
    client, token = officer
    pid = _onboard(client, token)
    bt = app.test_client()
    bt_token = login(bt, "officer_bt")
    assert f'data-testid="provider-{pid}"' not in bt.get("/registry/providers").get_data(
        as_text=True
    )
    assert bt.get(f"/registry/providers/{pid}").status_code == 403
    for action, form in (
        ("status", {"status": "terminated", "reason": "x"}),
        ("credit", {"kind": "other", "points": "-50", "reason": "x"}),
        ("licence", {"kind": "其他", "number": "1"}),
        ("capacity", {"capacity": "1"}),
    ):
        assert (
            bt.post(
                f"/registry/providers/{pid}/{action}", data={"csrf_token": bt_token, **form}
            ).status_code
            == 403
        ), action
    # nor onboards into a region not theirs
    resp = bt.post(
        "/registry/providers",
        data=_onboarding_form(bt_token, credit_code=make_credit_code("52", "150102", "RG000002")),
    )
    assert resp.status_code == 403
    with world.runtime.session() as s:
        p = s.get(Provider, pid)
        assert (p.status, p.capacity, len(p.licences)) == ("normal", 12, 1)
    # a supervisor has no provider registry at all
    sup = app.test_client()
    login(sup, "sup_hhht")
    assert sup.get("/registry/providers").status_code == 403


@pytest.mark.browser
def test_the_officer_onboards_in_chromium(live, officer, world) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.agent_console.test_browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", "officer_hhht")
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.goto(f"{live.url}/registry/providers")
            page.get_by_test_id("provider-new").click()
            page.get_by_test_id("onboard-name").fill("新城区安康助洁服务社")
            page.get_by_test_id("onboard-credit-code").fill(CODE)
            page.get_by_test_id("onboard-region").fill("150102")
            page.get_by_test_id("onboard-phone").fill("13947105678")
            page.get_by_test_id("onboard-licence-number").fill("91150102MA0000001")
            page.get_by_test_id("onboard-coverage").fill("150102")
            page.get_by_test_id("onboard-service-care_cleaning").check()
            page.get_by_test_id("onboard-price-care_cleaning").fill("40")
            page.get_by_test_id("onboard-agreement-number").fill("XC-2026-011")
            page.get_by_test_id("onboard-agreement-until").fill(
                (_today() + timedelta(days=365)).isoformat()
            )
            page.get_by_test_id("onboard-submit").click()
            expect(page.get_by_test_id("provider-name")).to_contain_text("新城区安康助洁服务社")
            expect(page.get_by_test_id("provider-status")).to_have_text("正常")
            page.get_by_test_id("capacity").fill("6")
            page.get_by_test_id("capacity-save").click()
            expect(page.get_by_test_id("provider-capacity")).to_have_text("6")
            page.get_by_test_id("credit-kind").select_option("complaint_upheld")
            page.get_by_test_id("credit-points").fill("-3")
            page.get_by_test_id("credit-reason").fill("老人投诉服务态度, 核实属实")
            page.get_by_test_id("credit-add").click()
            expect(page.get_by_test_id("credit-events")).to_contain_text("有效投诉")
            expect(page.get_by_test_id("provider-credit-score")).to_have_text("77.0")
            page.get_by_test_id("status-to").select_option("reduced")
            page.get_by_test_id("status-reason").fill("月度评估连续两月C级")
            page.get_by_test_id("status-submit").click()
            expect(page.get_by_test_id("provider-status")).to_have_text("减少派单")
            expect(page.get_by_test_id("status-history")).to_contain_text("月度评估连续两月C级")
            page.get_by_test_id("nav-providers").click()
            expect(page.get_by_test_id("provider-rows")).to_contain_text("减少派单")
            assert not errors, errors
        finally:
            browser.close()
