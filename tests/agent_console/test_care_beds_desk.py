"""The family care bed desk: in Chromium, the community worker takes a referral to its contract
(printed), the plan, this month's orders and a withdrawal; the officer settles the provider's
month and exports it. Over HTTP: the export is masked and watermarked, another region's officer
is refused."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_console.views.care_office import care_beds as view
from platform_core import clock
from platform_core.audit.models import AuditRecord
from platform_core.care_beds import service as beds
from platform_core.care_beds.models import CareBed
from platform_core.elders.models import Elder
from platform_core.providers.service import get_provider
from platform_core.runtime import cipher_of
from tests.agent_console.care_office_support import CareWorld, care_world, qualify  # noqa: F401
from tests.agent_console.conftest import _elder, login
from tests.agent_console.test_browser import _login, browser  # noqa: F401
from tests.platform_core.care_support import add_provider, agent, officer, provider_staff
from tests.platform_core.test_care_beds import PLAN, complete_order


def _last_month() -> date:
    return (clock.today().replace(day=1) - timedelta(days=1)).replace(day=1)


def bed_in_service(
    cw: CareWorld, key: str = "hhht", provider_id: int | None = None
) -> tuple[int, int]:
    """A bed of the elder in service since last month, with last month's plan delivered (by a
    new provider unless ``provider_id`` names one)."""
    month = _last_month()
    with cw.runtime.session() as s:
        provider = (
            add_provider(s) if provider_id is None else get_provider(s, provider_id=provider_id)
        )
        bed = beds.apply_for_bed(s, actor=agent(), elder_id=cw.world.elders[key], on=month)
        beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
        beds.sign_contract(
            s,
            actor=officer(),
            care_bed_id=bed.id,
            provider_id=provider.id,
            contract_no="JTCW-2026-9",
            starts_on=month,
            ends_on=month + timedelta(days=365),
            on=month,
        )
        beds.complete_home_adaptation(s, actor=officer(), care_bed_id=bed.id, waived_reason="无需")
        beds.install_devices(s, actor=provider_staff(), care_bed_id=bed.id, devices=["一键呼叫器"])
        beds.set_service_plan(s, actor=officer(), care_bed_id=bed.id, items=PLAN)
        beds.start_service(s, actor=officer(), care_bed_id=bed.id)
        beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=month, today=month)
        for row, _ in beds.month_services(s, care_bed_id=bed.id, month=month):
            complete_order(s, row.order_id)
        return bed.id, provider.id


pytestmark = pytest.mark.browser


def test_from_referral_to_withdrawal_and_the_providers_month(browser, live, care_world) -> None:  # noqa: F811
    cw = care_world
    _, provider_id = bed_in_service(cw, "hhht")  # another bed of the same provider, last month
    # the elder of the walk: a second Hohhot elder, 中度失能, 低保
    cw.world.elders["hhht2"] = _elder(
        cw.runtime,
        name="乌兰",
        region="150102000000",
        area="150102",
        seq=33,
        phone="13900471033",
        contact_phone="13800471034",
    )
    qualify(cw.world, "hhht2")
    with cw.runtime.session() as s:
        number = cipher_of(s).open(s.get(Elder, cw.world.elders["hhht2"]).id_number_sealed)
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, "community_hhht")
    page.wait_for_url("**/care/gov-purchase")
    page.get_by_role("link", name="家庭养老床位").click()
    page.get_by_test_id("beds-new").click()
    page.fill("input[name=id_number]", number)
    page.get_by_test_id("beds-apply").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("已申请")
    page.get_by_test_id("bed-do-assess").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("已评估")
    report = page.request.get(
        live.url + page.get_by_test_id("bed-assessment-pdf").get_attribute("href")
    )
    assert report.headers["content-type"] == "application/pdf" and report.body()[:4] == b"%PDF"
    start = clock.today().replace(day=1)
    page.get_by_test_id("bed-contract-no").fill("JTCW-2026-10")
    page.get_by_test_id("bed-starts").fill(start.isoformat())
    page.get_by_test_id("bed-ends").fill((start + timedelta(days=364)).isoformat())
    page.get_by_test_id("bed-do-contract").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("已签约")
    contract = page.request.get(
        live.url + page.get_by_test_id("bed-contract-pdf").get_attribute("href")
    )
    assert contract.headers["content-type"] == "application/pdf" and contract.body()[:4] == b"%PDF"
    page.get_by_test_id("bed-waiver").fill("新装修, 已无障碍")
    page.get_by_test_id("bed-do-adapt_home").click()
    page.get_by_test_id("bed-devices").fill("一键呼叫器 SN100\n智能床垫 SN101")
    page.get_by_test_id("bed-do-install_devices").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("已安装设备")
    # a plan under the league's minimum is refused with its reason, then a good one
    page.get_by_test_id("plan-service-0").select_option("care_bathing")
    page.get_by_test_id("plan-times-0").fill("2")
    page.get_by_test_id("bed-do-plan").click()
    expect(page.get_by_test_id("care-error")).to_contain_text("服务计划每月至少")
    page.goto(page.url.rsplit("/", 1)[0])
    page.get_by_test_id("plan-service-0").select_option("care_bathing")
    page.get_by_test_id("plan-times-0").fill("3")
    page.get_by_test_id("plan-service-1").select_option("visit_home")
    page.get_by_test_id("plan-times-1").fill("1")
    page.get_by_test_id("bed-do-plan").click()
    expect(page.get_by_test_id("bed-plan")).to_contain_text("探访")
    page.get_by_test_id("bed-do-start_service").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("服务中")
    page.get_by_test_id("bed-do-open_orders").click()
    services = page.get_by_test_id("bed-services")
    expect(services.locator("tbody tr")).to_have_count(4)
    expect(services).to_contain_text("已派单")
    expect(services).to_contain_text("(探访)")
    page.get_by_test_id("bed-withdraw-reason").select_option("institution")
    page.get_by_test_id("bed-do-withdraw").click()
    expect(page.get_by_test_id("bed-status")).to_have_text("已退出")
    expect(page.get_by_test_id("bed-withdrawal")).to_contain_text("入住养老机构")
    expect(services).to_contain_text("已取消")

    officer_page = browser.new_page()
    officer_page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(officer_page, live.url, "officer_hhht")
    officer_page.wait_for_url("**/reports")
    officer_page.goto(f"{live.url}/care/beds/settlement")
    officer_page.get_by_test_id("settle-provider").select_option(str(provider_id))
    officer_page.get_by_test_id("settle-month").fill(_last_month().strftime("%Y-%m"))
    officer_page.get_by_test_id("settle-show").click()
    rows = officer_page.get_by_test_id("settle-rows")
    expect(rows).to_contain_text("未结算")
    officer_page.get_by_test_id("settle-run").click()
    expect(officer_page.get_by_test_id("settle-outcomes")).to_contain_text("已结算 300.00 元")
    expect(officer_page.get_by_test_id("settle-rows")).to_contain_text("300.00 元")
    exported = officer_page.request.get(
        live.url + officer_page.get_by_test_id("settle-xlsx").get_attribute("href")
    )
    assert exported.status == 200 and exported.body()[:2] == b"PK"
    assert errors == []


def test_the_export_is_masked_watermarked_and_another_region_is_refused(app, care_world) -> None:  # noqa: F811
    cw = care_world
    bed_id, provider_id = bed_in_service(cw, "hhht")
    month = _last_month().strftime("%Y-%m")
    client = app.test_client()
    token = login(client, "officer_hhht")
    resp = client.post(
        "/care/beds/settlement",
        data={
            "csrf_token": token,
            "provider": provider_id,
            "month": month,
        },
    )
    assert resp.status_code == 200 and "已结算 300.00 元" in resp.get_data(as_text=True)
    exported = client.get(f"/care/beds/settlement.csv?provider={provider_id}&month={month}")
    text = exported.data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][0].startswith("导出人 officer_hhht")
    assert lines[3][:2] == [str(bed_id), "巴**"] and "巴特尔" not in text
    worker = app.test_client()
    login(worker, "community_hhht")  # the settlement is the officer's
    assert (
        worker.get(f"/care/beds/settlement.csv?provider={provider_id}&month={month}").status_code
        == 403
    )

    baotou = app.test_client()
    btoken = login(baotou, "officer_bt")
    assert baotou.get(f"/care/beds/{bed_id}").status_code == 403
    assert baotou.get(f"/care/beds/{bed_id}/contract.pdf").status_code == 403
    assert baotou.get(f"/care/beds/{bed_id}/assessment.pdf").status_code == 403
    report = client.get(f"/care/beds/{bed_id}/assessment.pdf")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    assert (
        baotou.post(
            f"/care/beds/{bed_id}/withdraw", data={"csrf_token": btoken, "reason": "request"}
        ).status_code
        == 403
    )
    assert (
        baotou.get(f"/care/beds/settlement?region=150100000000&provider={provider_id}").status_code
        == 403
    )
    with cw.runtime.session() as s:
        assert s.get(CareBed, bed_id).status == "in_service"
        exports = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "care_bed.export_settlement")
        ).all()
        assert [e.detail["format"] for e in exports] == ["csv"]


def test_a_providers_month_is_read_a_page_at_a_time(app, care_world, monkeypatch) -> None:  # noqa: F811
    cw = care_world
    first, provider_id = bed_in_service(cw, "hhht")
    cw.world.elders["hhht2"] = _elder(
        cw.runtime,
        name="乌兰",
        region="150102000000",
        area="150102",
        seq=33,
        phone="13900471033",
        contact_phone="13800471034",
    )
    qualify(cw.world, "hhht2")
    second, _ = bed_in_service(cw, "hhht2", provider_id=provider_id)
    monkeypatch.setattr(view, "PAGE_SIZE", 1)
    client = app.test_client()
    login(client, "officer_hhht")
    month = _last_month().strftime("%Y-%m")
    url = f"/care/beds/settlement?provider={provider_id}&month={month}"
    one = client.get(url).get_data(as_text=True)
    assert f'data-bed="{first}"' in one and f'data-bed="{second}"' not in one
    assert "共 2 条, 第 1 / 2 页" in one
    two = client.get(f"{url}&page=2").get_data(as_text=True)
    assert f'data-bed="{second}"' in two and f'data-bed="{first}"' not in two
    # the export is the whole month, whatever the screen's page
    exported = client.get(f"/care/beds/settlement.csv?provider={provider_id}&month={month}")
    lines = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert {line[0] for line in lines[3:5]} == {str(first), str(second)}
