"""监管大数据 in the console, on chDB: who may see it (agents not; an officer or supervisor of one
盟市 only theirs, refused and audited elsewhere; the region's administrator everything), the
Excel export (audited), the staffing plan and the wallboard's tile, and in headless Chromium the
drill-down on the map and the 大屏 refreshing by itself."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit.models import AuditRecord
from platform_core.budgets import service as budgets
from platform_core.calls.models import Call
from platform_core.flows.care_money import budget_lines
from tests.agent_console.conftest import HOHHOT, PASSWORD, login
from tests.agent_console.test_browser import CHROMIUM_ARGS
from tests.clock_support import clear_of_midnight
from tests.warehouse_support import sync_now

XINCHENG, SAIHAN, DONGHE = "150102001001", "150105001001", "150202001001"
_n = itertools.count(1)


def seed_calls(rt, *, outcomes=None, region_mix=(XINCHENG, SAIHAN, DONGHE)) -> None:
    now = clock.now()
    # within the last twelve minutes and within Beijing's today, even a minute after midnight
    since_midnight = now - clock.start_of_day(clock.today())
    outcomes = outcomes or ["answered"] * 6 + ["abandoned"] * 2 + ["answered"]
    step = min(since_midnight, timedelta(minutes=12)) / (len(outcomes) + 1)
    with rt.session() as s:
        for i, outcome in enumerate(outcomes):
            linkedid = f"1790001000.{next(_n)}"
            at = now - step * (i + 1)
            s.add(
                Call(
                    linkedid=linkedid,
                    uniqueid=linkedid,
                    caller_number="13947100000",
                    caller_name="张三",
                    region_code=region_mix[i % len(region_mix)],
                    started_at=at - step / 2,
                    queued_at=at,
                    first_queue="hotline-general",
                    outcome=outcome,
                    wait_s=float(5 + i),
                )
            )


@pytest.fixture
def synced(world, app, pg_warehouse):
    # the tests ask about today some seconds after the calls are placed in it
    clear_of_midnight()
    seed_calls(world.runtime)
    sync_now(pg_warehouse, world.runtime)
    return pg_warehouse


def _refusals(rt, action: str) -> int:
    with rt.session() as s:
        return len(list(s.scalars(select(AuditRecord).where(AuditRecord.action == action))))


def test_agents_may_not_open_supervision(app, synced) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    assert client.get("/supervision").status_code == 403
    assert client.get("/api/supervision/figures/calls").status_code == 403
    assert client.get("/supervision/export.xlsx?figure=calls").status_code == 403


def test_an_officer_sees_their_league_only(world, app, synced) -> None:
    client = app.test_client()
    login(client, "officer_hhht")
    data = client.get("/api/supervision/figures/calls").get_json()
    assert data["region"]["code"] == "150100000000"
    assert {r["name"] for r in data["regions"]} == {"新城区", "赛罕区"}
    assert data["total"][0]["offered"] == 6  # 呼和浩特's two thirds of nine
    county = client.get("/api/supervision/figures/calls?region=150105000000").get_json()
    assert [r["name"] for r in county["regions"]] == ["赛罕区"]
    before = _refusals(world.runtime, "http.out_of_region")
    for other in ("150200000000", "150000000000", "150202000000"):
        resp = client.get(f"/api/supervision/figures/calls?region={other}")
        assert resp.status_code == 403 and resp.get_json()["code"] == "out_of_region"
    assert _refusals(world.runtime, "http.out_of_region") == before + 3


def test_a_supervisor_of_baotou_and_the_regions_administrator(app, synced) -> None:
    bt = app.test_client()
    login(bt, "sup_bt")
    data = bt.get("/api/supervision/figures/calls").get_json()
    assert [r["name"] for r in data["regions"]] == ["东河区"]
    assert data["total"][0]["offered"] == 3
    everyone = app.test_client()
    login(everyone, "admin_all")
    data = everyone.get("/api/supervision/figures/calls").get_json()
    assert {r["name"] for r in data["regions"]} == {"呼和浩特市", "包头市"}
    assert data["total"][0]["offered"] == 9
    assert {c["name"] for c in data["region"]["children"]} >= {"呼和浩特市", "阿拉善盟"}
    for name in ("alarms", "orders", "subsidies", "providers", "coverage", "devices"):
        resp = everyone.get(f"/api/supervision/figures/{name}")
        assert resp.status_code == 200, (name, resp.get_json())
    assert everyone.get("/api/supervision/figures/nothing").status_code == 422


def test_every_figure_exports_to_excel_and_the_export_is_audited(world, app, synced) -> None:
    client = app.test_client()
    login(client, "officer_hhht")
    before = _refusals(world.runtime, "report.export")
    resp = client.get("/supervision/export.xlsx?figure=calls&region=150100000000")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert {"按时间", "按地区", "合计"} <= set(wb.sheetnames)
    regions = wb["按地区"]
    assert regions["A2"].value == "地区" and regions["B2"].value == "呼入"
    names = {regions.cell(row=r, column=1).value for r in range(3, regions.max_row + 1)}
    assert names == {"新城区", "赛罕区"}
    assert _refusals(world.runtime, "report.export") == before + 1
    assert (
        client.get("/supervision/export.xlsx?figure=calls&region=150200000000").status_code == 403
    )


def test_every_figure_drills_to_a_county_and_exports_it(world, app, synced) -> None:
    """Each figure asked of a 盟市 lists its 旗县区, of a 旗县区 that county alone; each
    exports at every level, its sheets titled with the region asked for."""
    client = app.test_client()
    login(client, "officer_hhht")
    from platform_core.warehouse.dashboards import FIGURES

    for name in FIGURES:
        for region, level, children in (
            ("150100000000", 2, {"150102000000", "150105000000"}),
            ("150105000000", 3, {"150105000000"}),
        ):
            data = client.get(f"/api/supervision/figures/{name}?region={region}").get_json()
            assert (data["region"]["code"], data["region"]["level"]) == (region, level), name
            assert data["region"]["drills"] is (level < 3)
            keys = {r["key"] for r in data.get("regions", [])}
            assert keys <= children, (name, keys)
            resp = client.get(f"/supervision/export.xlsx?figure={name}&region={region}")
            assert resp.status_code == 200, (name, region)
            wb = load_workbook(io.BytesIO(resp.data))
            titles = {wb[sheet]["B1"].value for sheet in wb.sheetnames}
            assert titles == {"赛罕区" if level == 3 else "呼和浩特市"}, (name, titles)
    calls = client.get("/api/supervision/figures/calls?region=150105000000").get_json()
    assert [(r["name"], r["offered"]) for r in calls["regions"]] == [("赛罕区", 3)]


def test_the_staffing_plan_and_the_wallboard_tile(app, synced) -> None:
    client = app.test_client()
    login(client, "sup_hhht")
    plan = client.get("/api/supervision/staffing?days=1").get_json()
    assert len(plan["intervals"]) == 48 and plan["targets"]["answer_rate"] == 0.95
    now = client.get("/api/supervision/staffing/now").get_json()
    assert "logged_in" in now and "erlang_a" in now


def test_the_staffing_plan_is_of_the_users_region(world, app, synced) -> None:
    """A 盟市's officer plans their league's calls; another league is refused and audited."""
    # a minute into the next half hour, a week ago: inside the plan's first day however near
    # a half hour's edge the test runs (a call a week ago to the second would fall into the
    # half hour before the plan's first when the test runs in a half hour's first seconds)
    now = clock.now()
    week_ago = now.replace(minute=30 * (now.minute // 30), second=0, microsecond=0) + timedelta(
        minutes=31, weeks=-1
    )
    with world.runtime.session() as s:
        for i, region in enumerate([XINCHENG] * 3 + [DONGHE] * 7):
            linkedid = f"1790002000.{next(_n)}"
            s.add(
                Call(
                    linkedid=linkedid,
                    uniqueid=linkedid,
                    region_code=region,
                    started_at=week_ago + timedelta(seconds=i),
                    queued_at=week_ago + timedelta(seconds=10 + i),
                    first_queue="hotline-general",
                    outcome="answered",
                    wait_s=2.0,
                )
            )
    sync_now(synced, world.runtime)

    def offered(client, query: str = "") -> float:
        resp = client.get(f"/api/supervision/staffing?days=1{query}")
        assert resp.status_code == 200, resp.get_json()
        return sum(r["offered"] for r in resp.get_json()["intervals"])

    officer = app.test_client()
    login(officer, "officer_hhht")
    everyone = app.test_client()
    login(everyone, "admin_all")
    hohhot, whole = offered(officer), offered(everyone)
    assert 0 < hohhot < whole
    assert offered(everyone, "&region=150100000000") == hohhot
    assert offered(everyone, "&region=150200000000") > hohhot  # 包头's seven beside three
    before = _refusals(world.runtime, "http.out_of_region")
    for url in (
        "/api/supervision/staffing?region=150200000000",
        "/api/supervision/staffing/now?region=150000000000",
    ):
        resp = officer.get(url)
        assert resp.status_code == 403 and resp.get_json()["code"] == "out_of_region"
    assert _refusals(world.runtime, "http.out_of_region") == before + 2
    tile = officer.get("/api/supervision/staffing/now").get_json()
    assert tile["region_code"] == "150100000000"


@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
def test_drill_down_on_the_map_and_the_big_screen_refreshes(browser, world, live, synced) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live.url, "admin_all")
    page.goto(f"{live.url}/supervision")
    tiles = page.locator("[data-testid=tilemap] .tile-cell")
    expect(tiles).to_have_count(12)  # the 12 盟市
    expect(page.get_by_test_id("tile-150100000000")).to_contain_text("呼和浩特市")
    expect(page.get_by_test_id("tile-150100000000")).to_contain_text("6")
    expect(page.get_by_test_id("lag")).to_contain_text("秒")
    page.get_by_test_id("tile-150100000000").click()  # region -> 盟市
    expect(page.get_by_test_id("crumbs")).to_contain_text("呼和浩特市")
    expect(page.get_by_test_id("tile-150105000000")).to_contain_text("赛罕区")
    expect(page.locator("#fig-calls table.regions tbody tr").first).to_be_visible()
    page.get_by_test_id("tile-150105000000").click()  # 盟市 -> 旗县区
    expect(page.get_by_test_id("crumbs")).to_contain_text("赛罕区")
    expect(page.locator("#fig-calls table.regions tbody")).to_contain_text("赛罕区")
    expect(page.locator("#fig-calls canvas").first).to_be_attached()  # ECharts drew
    with page.expect_download() as download:
        page.get_by_test_id("export-calls").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.get_by_role("link", name="内蒙古自治区").click()  # back up
    expect(tiles).to_have_count(12)

    # the 大屏: today's figures, refreshed by itself when new calls arrive
    page.goto(f"{live.url}/supervision/screen")
    expect(page.get_by_test_id("bs-answer-rate")).to_have_text("77.8%")  # 7 of 9
    expect(page.locator("[data-testid=tilemap] .tile-cell")).to_have_count(12)
    seed_calls(world.runtime, outcomes=["answered"] * 9)
    sync_now(synced, world.runtime)
    expect(page.get_by_test_id("bs-answer-rate")).to_have_text("88.9%", timeout=15000)  # 16 of 18
    font = page.get_by_test_id("bs-answer-rate").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert font >= 48  # readable across the room
    assert errors == []


def test_subsidies_stand_against_each_programmes_budget(world, app, synced) -> None:
    year = clock.today().year
    officer = Actor(kind="user", name="民政", region_code=HOHHOT, role=Role.OFFICER, user_id=9)
    with world.runtime.session() as s:
        budgets.set_budget(
            s, actor=officer, programme="care_beds", league_code=HOHHOT, year=year, amount="500000"
        )
    client = app.test_client()
    login(client, "officer_hhht")
    data = client.get("/api/supervision/figures/subsidies").get_json()
    with world.runtime.session() as s:
        expected = budget_lines(s, region_code=HOHHOT, year=year)
    assert [(b["programme"], b["budget"], b["spent"]) for b in data["budgets"]] == [
        (x.programme, None if x.budget is None else float(x.budget), float(x.spent))
        for x in expected
    ]
    assert any(b["programme"] == "care_beds" and b["budget"] == 500000.0 for b in data["budgets"])
    wb = load_workbook(io.BytesIO(client.get("/supervision/export.xlsx?figure=subsidies").data))
    assert "项目预算执行" in wb.sheetnames
