"""The officers' page of exchange batches: their region's batches only, each row's result,
a file uploaded, and an officer's daily task in Chromium (a deaths file from public security in,
the rows' results read, the elder found deceased through the death flow)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.audit import service as audit
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.flows import department_batches as batches
from platform_core.imports.workbook import template
from tests.agent_console.conftest import BAOTOU, PASSWORD, login
from tests.platform_core.test_registry_import import xlsx

BATER = make_id_number("150102", date(1941, 3, 9), 11)
QIQIGE = make_id_number("150202", date(1941, 3, 9), 22)
HEADER = [c.printed for c in batches.KINDS["deaths"].columns]


def deaths_file() -> bytes:
    day = (clock.today() - timedelta(days=2)).isoformat()
    return xlsx(
        [
            ["SW20261205001", BATER, "巴特尔", day],
            ["SW20261205002", "150102194103090118", "某某", day],  # check digit wrong
            ["SW20261205003", make_id_number("150102", date(1940, 1, 1), 5), "张三", day],
            ["SW20261205004", BATER, "巴特尔", "12/45/2026"],  # the same person again
        ],
        header=HEADER,
    )


def _upload(client, token: str, content: bytes, name: str = "死亡信息.xlsx") -> int:
    resp = client.post(
        "/registry/exchange/upload",
        data={"csrf_token": token, "kind": "deaths", "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_the_page_is_the_officers_and_shows_their_region_only(app, world) -> None:
    with world.runtime.session() as s:
        accounts.create_user(
            s,
            actor=system_actor(),
            username="officer_bt",
            password=PASSWORD,
            role=Role.OFFICER,
            region_code=BAOTOU,
            display_name="包头民政",
        )
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get("/registry/exchange").status_code == 403
    hohhot = app.test_client()
    token = login(hohhot, "officer_hhht")
    batch_id = _upload(hohhot, token, deaths_file())
    page = hohhot.get(f"/registry/exchange/batches/{batch_id}").get_data(as_text=True)
    assert "已接收 1" in page and "查无此老人 1" in page and "拒收 2" in page
    assert "身份证号不正确" in page and "与本批第 2 行重复" in page
    assert BATER not in page  # masked
    assert f"batch-link-{batch_id}" in hohhot.get("/registry/exchange").get_data(as_text=True)
    # the platform's export upward is kept by those whose region covers the whole platform
    assert 'id="exports"' not in hohhot.get("/registry/exchange").get_data(as_text=True)
    admin = app.test_client()
    login(admin, "admin_all")
    assert 'id="exports"' in admin.get("/registry/exchange").get_data(as_text=True)
    elder_page = hohhot.get(f"/registry/elders/{world.elders['hhht']}").get_data(as_text=True)
    assert "公安部门 死亡信息" in elder_page
    baotou = app.test_client()
    bt_token = login(baotou, "officer_bt")
    assert baotou.get(f"/registry/exchange/batches/{batch_id}").status_code == 404
    insurance = (
        "参保记录号,身份证号,姓名,险种,参保状态,状态日期\n"
        f"YB-1,{QIQIGE},其其格,居民医保,参保,2026-11-30\n"
    ).encode()
    resp = baotou.post(
        "/registry/exchange/upload",
        data={
            "csrf_token": bt_token,
            "kind": "insurance",
            "file": (io.BytesIO(insurance), "医保.csv"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    bt_page = baotou.get(f"/registry/elders/{world.elders['bt']}").get_data(as_text=True)
    assert "居民医保 参保 (2026-11-30)" in bt_page and "医疗保障部门 医保参保状态" in bt_page
    assert f"batch-link-{batch_id}" not in baotou.get("/registry/exchange").get_data(as_text=True)
    # the template's header row is what the upload expects
    template_bytes = hohhot.get("/registry/exchange/template/deaths.xlsx").data
    assert template_bytes[:2] == b"PK" and template(batches.KINDS["deaths"].columns, title="x")
    with world.runtime.session() as s:
        assert audit.list_records(s, action="exchange.view_batch", limit=5)
        assert elders.get_elder(s, elder_id=world.elders["hhht"]).status == "deceased"


def test_an_officer_takes_a_deaths_file_in_chromium(live, world, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    upload = tmp_path / "公安死亡信息.xlsx"
    upload.write_bytes(deaths_file())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", "officer_hhht")
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.click("[data-testid=nav-registry]")
            page.get_by_test_id("nav-exchange").click()
            page.get_by_test_id("exchange-kind").select_option("deaths")
            page.get_by_test_id("exchange-file").set_input_files(str(upload))
            page.get_by_test_id("exchange-submit").click()
            expect(page.get_by_test_id("batch-counts")).to_contain_text(
                "共 4 行: 已接收 1, 重复报送 0, 拒收 2, 查无此老人 1"
            )
            expect(page.get_by_test_id("row-2")).to_contain_text("已接收")
            expect(page.get_by_test_id("row-3")).to_contain_text("身份证号不正确")
            expect(page.get_by_test_id("row-4")).to_contain_text("查无此老人")
            expect(page.get_by_test_id("row-5")).to_contain_text("与本批第 2 行重复")
            page.get_by_test_id("elder-link-2").click()
            expect(page.get_by_test_id("elder-name")).to_contain_text("巴特尔")
            expect(page.get_by_test_id("elder-status")).to_contain_text("已故")
            # the same file again is the same batch: nothing done twice
            page.get_by_test_id("nav-exchange").click()
            page.get_by_test_id("exchange-file").set_input_files(str(upload))
            page.get_by_test_id("exchange-submit").click()
            expect(page.get_by_test_id("batch-counts")).to_contain_text("已接收 1")
            assert not errors, errors
        finally:
            browser.close()
    with world.runtime.session() as s:
        assert len(audit.list_records(s, action="elder.record_death", limit=10)) == 1
        assert len(audit.list_records(s, action="exchange.receive", limit=10)) == 1
