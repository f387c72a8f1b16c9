"""The elder registry's pages: a keeper's region only, paginated lists, the import's dry run,
progress and problems, the audited export, edits with provenance, and the officer's daily work
in Chromium."""

from __future__ import annotations

import io
import time

import pytest
from openpyxl import load_workbook

from platform_core.audit import service as audit
from platform_core.elders.models import Elder, FieldProvenance
from tests.agent_console.conftest import PASSWORD, login
from tests.platform_core.test_registry_import import elder_row, xlsx


def _wait_finished(client, batch_id: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/registry/imports/{batch_id}").json
        if body["finished"]:
            return body
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def _upload(client, token: str, content: bytes) -> int:
    resp = client.post(
        "/registry/imports/elders",
        data={
            "csrf_token": token,
            "source": "新城区民政局",
            "file": (io.BytesIO(content), "名单.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_lists_show_only_the_keepers_region_a_page_at_a_time(app, world) -> None:
    client = app.test_client()
    login(client, "officer_hhht")
    page = client.get("/registry/elders").get_data(as_text=True)
    assert f'data-testid="elder-row-{world.elders["hhht"]}"' in page
    assert f'data-testid="elder-row-{world.elders["bt"]}"' not in page
    assert "共 0 人" in client.get("/registry/elders?q=其其格").get_data(as_text=True)
    # another region as a filter is refused, and so is another region's elder
    assert client.get("/registry/elders?region=150200000000").status_code == 403
    assert client.get(f"/registry/elders/{world.elders['bt']}").status_code == 403
    # by phone and by ID number (through its keyed hash)
    assert "巴特尔" in client.get(f"/registry/elders?q={world.phones['hhht']}").get_data(
        as_text=True
    )
    with world.runtime.session() as s:
        number = world.runtime.cipher.open(s.get(Elder, world.elders["hhht"]).id_number_sealed)
    assert "巴特尔" in client.get(f"/registry/elders?q={number}").get_data(as_text=True)


def test_an_agent_has_no_registry_and_a_baotou_officer_sees_no_hohhot(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    assert client.get("/registry/elders").status_code == 403
    with world.runtime.session() as s:
        assert audit.list_records(
            s, action="http.forbidden", actor_user_id=world.users["agent_hhht"]
        )


def test_import_dry_run_progress_problems_then_import(app, world) -> None:
    client = app.test_client()
    token = login(client, "officer_hhht")
    bad = xlsx([elder_row(31), elder_row(32, region="150202000000"), elder_row(33)])
    batch = _upload(client, token, bad)
    done = _wait_finished(client, batch)
    assert (done["status"], done["bad_rows"]) == ("rejected", 1)
    page = client.get(f"/registry/imports/batch/{batch}").get_data(as_text=True)
    assert 'data-testid="problem-3"' in page and "不在您的管辖范围内" in page
    assert "/ region outside yours" not in page  # one language per screen
    good = xlsx([elder_row(31), elder_row(33)])
    batch = _upload(client, token, good)
    assert _wait_finished(client, batch)["status"] == "checked"
    resp = client.post(f"/registry/imports/batch/{batch}/import", data={"csrf_token": token})
    assert resp.status_code == 302
    done = _wait_finished(client, batch)
    assert (done["status"], done["new"], done["percent"]) == ("imported", 2, 100)
    # a Baotou keeper cannot see the Hohhot batch
    other = app.test_client()
    login(other, "sup_bt")
    assert other.get(f"/api/registry/imports/{batch}").status_code == 404


def test_an_oversized_upload_is_refused_with_the_limit(app, world) -> None:
    client = app.test_client()
    token = login(client, "officer_hhht")
    limit = world.runtime.settings.registry_import_max_mb * 1024 * 1024
    resp = client.post(
        "/registry/imports/elders",
        data={
            "csrf_token": token,
            "source": "民政局",
            "file": (io.BytesIO(b"PK" + b"\0" * (limit + 10)), "big.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413
    assert "文件过大" in resp.get_data(as_text=True)


def test_export_is_watermarked_masked_and_audited(app, world) -> None:
    client = app.test_client()
    login(client, "officer_hhht")
    resp = client.get("/registry/elders/export.xlsx?living=alone")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert "导出人 officer_hhht" in rows[0][0] and "导出人 officer_hhht" in rows[-1][0]
    assert [r[1] for r in rows[2:-1]] == ["巴特尔"]
    assert "*" in rows[2][2] and "*" in rows[2][6]  # ID number and phone masked
    with world.runtime.session() as s:
        record = audit.list_records(s, action="elder.export")[0]
    assert record.detail["rows"] == 1 and record.actor_user_id == world.users["officer_hhht"]


def test_an_edit_records_who_changed_each_field(app, world) -> None:
    client = app.test_client()
    token = login(client, "officer_hhht")
    elder_id = world.elders["hhht"]
    resp = client.post(
        f"/registry/elders/{elder_id}/edit",
        data={"csrf_token": token, "address": "新城区新地址 8 号"},
    )
    assert resp.status_code == 302
    with world.runtime.session() as s:
        assert s.get(Elder, elder_id).address == "新城区新地址 8 号"
        prov = {p.field: p for p in s.query(FieldProvenance).filter_by(elder_id=elder_id)}
        assert prov["address"].source_department == "手工维护 officer_hhht"
        assert audit.list_records(s, action="elder.update", target_id=str(elder_id))


@pytest.mark.browser
def test_the_officer_keeps_the_registry_in_chromium(live, world, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    good = tmp_path / "名单.xlsx"
    good.write_bytes(xlsx([elder_row(41, name="乌云")]))
    bad = tmp_path / "有错.xlsx"
    bad.write_bytes(xlsx([elder_row(42, name="乌云其其格", address="")]))
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
            page.get_by_test_id("elder-q").fill("巴特")
            page.get_by_test_id("elder-search-submit").click()
            expect(page.get_by_test_id("elder-total")).to_contain_text("共 1 人")
            page.get_by_test_id("elder-link").first.click()
            expect(page.get_by_test_id("elder-name")).to_contain_text("巴特尔")
            page.get_by_test_id("edit-address").fill("新城区新地址 9 号")
            page.get_by_test_id("edit-submit").click()
            expect(page.get_by_test_id("elder-address")).to_have_text("新城区新地址 9 号")
            expect(page.get_by_test_id("prov-address")).to_contain_text("手工维护 officer_hhht")
            page.get_by_test_id("contact-name").fill("巴特尔之女")
            page.get_by_test_id("contact-relation").fill("女儿")
            page.get_by_test_id("contact-phone").fill("13800471777")
            page.get_by_test_id("contact-key").check()
            page.get_by_test_id("contact-submit").click()
            expect(page.get_by_test_id("contacts")).to_contain_text("巴特尔之女")
            expect(page.get_by_test_id("contacts")).to_contain_text("持有钥匙")
            # import: a file with a bad row is refused row by row, a clean one goes in
            page.get_by_test_id("nav-elder-imports").click()
            page.get_by_test_id("import-source").fill("新城区民政局")
            page.get_by_test_id("import-file").set_input_files(str(bad))
            page.get_by_test_id("import-submit").click()
            expect(page.get_by_test_id("batch-status")).to_have_text(
                "有错误行, 未写入", timeout=20_000
            )
            expect(page.get_by_test_id("problem-2")).to_contain_text("居住地址为必填项")
            page.get_by_test_id("nav-elder-imports").click()
            page.get_by_test_id("import-source").fill("新城区民政局")
            page.get_by_test_id("import-file").set_input_files(str(good))
            page.get_by_test_id("import-submit").click()
            expect(page.get_by_test_id("batch-status")).to_have_text(
                "检查通过, 可正式导入", timeout=20_000
            )
            page.get_by_test_id("batch-import").click()
            expect(page.get_by_test_id("batch-status")).to_have_text("已导入", timeout=20_000)
            expect(page.get_by_test_id("batch-counts")).to_contain_text("新增 1")
            page.click("[data-testid=nav-registry]")
            page.get_by_test_id("elder-q").fill("乌云")
            page.get_by_test_id("elder-search-submit").click()
            expect(page.get_by_test_id("elder-total")).to_contain_text("共 1 人")
            assert not errors, errors
        finally:
            browser.close()
