"""Reports in the console are the numbers of ``hotline report kpi``, scoped to the user's region."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core import clock
from platform_core.audit import service as audit
from platform_core.calls.recalls import open_recall_request
from platform_core.db import utcnow
from tests.agent_console.conftest import login
from tests.clock_support import clear_of_midnight

ROOT = Path(__file__).resolve().parents[2]
SECRET = "reports-ami-secret"


@pytest.fixture
def traffic(world):
    """Three calls through the simulator and callcenter: two answered, then the son of the same
    elder gives up while the desk is busy (a recall stays open)."""
    config = default_config(secret=SECRET, agents=1)
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.time_scale = 40.0
    # a desk no console user owns: the console's enforced wrap-up does not pause it between calls
    config.agents[0].interface = "PJSIP/8050"
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        world.runtime,
        host="127.0.0.1",
        port=sim.port,
        username="hotline",
        secret=SECRET,
        ping_interval=0,
    )
    center.start()
    # the simulator's calls are timed as they happen: they and the day asked about are one day
    clear_of_midnight()
    try:
        first = sim.place_call(CallerConfig(number=world.phones["hhht"], talk=10))
        sim.wait(first)
        second = sim.place_call(CallerConfig(number=world.phones["hhht"], talk=20))
        lost = sim.place_call(
            CallerConfig(number=world.phones["hhht_son"], patience=8)
        )  # desk busy: abandons
        sim.wait(second)
        sim.wait(lost)
        assert [first.outcome, second.outcome, lost.outcome] == [
            "answered",
            "answered",
            "abandoned",
        ]
        assert center.center.pipeline.wait_idle(10)
    finally:
        center.stop()
        sim.stop()
    return world


def _cli_report(world, pg_url: str, day: str, by: str, region: str) -> dict:
    settings = world.runtime.settings
    env = {
        "PATH": "/usr/bin:/bin",
        # the tree under test, also when the virtualenv's editable install points elsewhere
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(settings.data_dir),
        "HOTLINE_SECRET_KEY": settings.secret_key,
        "HOTLINE_DATA_KEY": settings.data_key,
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("hotline")),
            "report",
            "kpi",
            "--from",
            day,
            "--to",
            day,
            "--by",
            by,
            "--region",
            region,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_console_report_equals_the_cli_and_exports_agree(app, traffic, pg_url) -> None:
    world = traffic
    day = clock.today().isoformat()
    client = app.test_client()
    login(client, "sup_hhht")
    for by in ("queue", "hour", "agent"):
        console = client.get(f"/api/reports/kpi?start={day}&end={day}&by={by}").json["report"]
        cli = _cli_report(world, pg_url, day, by, "150100000000")
        assert console["total"]["offered"] == cli["total"]["offered"] == 3
        assert console["total"]["answered"] == 2 and console["total"]["abandoned"] == 1
        assert (
            console["total"]["answer_rate"]
            == cli["total"]["answer_rate"]
            == pytest.approx(2 / 3, abs=1e-4)
        )
        fields = ("key", "label", "offered", "answered", "rings", "rings_not_answered", "talk_s")
        assert [tuple(r[f] for f in fields) for r in console["rows"]] == [
            tuple(r[f] for f in fields) for r in cli["rows"]
        ]
        if by == "agent":  # named by the agent, with rings instead of calls "offered" to it
            assert [
                (r["label"], r["offered"], r["answered"], r["rings"]) for r in console["rows"]
            ] == [("王芳", None, 2, 2)]
        if by == "queue":
            assert [r["label"] for r in console["rows"]] == ["综合服务队列"]

    resp = client.get(f"/reports/export.csv?start={day}&end={day}&by=queue")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    # the call KPIs, then (after a blank row) the alarm KPIs of the same days
    header, total = rows[0], rows[rows.index([]) - 1]
    assert header[:3] == ["队列", "进线量", "接通量"]
    assert rows[1][0] == "综合服务队列"
    assert total[0] == "合计" and total[1:4] == ["3", "2", "1"]

    resp = client.get(f"/reports/export.xlsx?start={day}&end={day}&by=queue")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][:3] == ["队列", "进线量", "接通量"] and values[-1][1:4] == [3, 2, 1]
    with world.runtime.session() as s:
        exports = audit.list_records(
            s, action="report.export", actor_user_id=world.users["sup_hhht"]
        )
    assert sorted(r.target_id for r in exports) == ["csv", "xlsx"]


def test_reports_and_wallboard_are_scoped_to_the_users_region(app, traffic) -> None:
    world = traffic
    day = clock.today().isoformat()
    other = app.test_client()
    login(other, "sup_bt")
    assert (
        other.get(f"/api/reports/kpi?start={day}&end={day}").json["report"]["total"]["offered"] == 0
    )
    assert other.get("/api/wallboard").json["kpis"]["offered"] == 0
    own = app.test_client()
    login(own, "officer_hhht")
    assert own.get("/api/wallboard").json["kpis"]["offered"] == 3
    with world.runtime.session() as s:
        for key, region in (("bt", "150202000000"), ("hhht", "150102000000")):
            open_recall_request(
                s,
                linkedid=f"recall-{key}",
                number=world.phones[key],
                elder_id=world.elders[key],
                queue="hotline-general",
                at=utcnow(),
                region_code=region,
            )
    for username, key in (("agent_bt", "bt"), ("agent_hhht", "hhht")):
        client = app.test_client()
        login(client, username)
        assert [r["number"] for r in client.get("/api/recalls").json["recalls"]] == [
            world.phones[key]
        ]


def test_bad_report_parameters_are_refused(app, world) -> None:
    client = app.test_client()
    login(client, "sup_hhht")
    for query in (
        "start=2026-13-01",
        "start=2026-02-01&end=2026-01-01",
        "by=minute",
        "start=2020-01-01&end=2026-01-01",
    ):
        resp = client.get(f"/api/reports/kpi?{query}")
        assert resp.status_code == 422, query


def test_the_report_day_is_beijings_at_midnight(app) -> None:
    import time_machine

    client = app.test_client()
    login(client, "sup_hhht")
    # 16:00 UTC on 9 March is 00:00 on 10 March in Beijing: the default day is the 10th
    with time_machine.travel(datetime(2026, 3, 9, 16, 0, 0, tzinfo=UTC), tick=False):
        data = client.get("/api/reports/kpi").get_json()
    assert (data["start"], data["end"]) == ("2026-03-10", "2026-03-10")
    with time_machine.travel(datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC), tick=False):
        data = client.get("/api/reports/kpi").get_json()
    assert data["start"] == "2026-03-09"


def test_excel_cells_are_typed(app, traffic) -> None:
    """Rates are numbers formatted as percentages, days are dates, durations are numbers."""
    day = clock.today()
    client = app.test_client()
    login(client, "sup_hhht")
    resp = client.get(f"/reports/export.xlsx?start={day}&end={day}&by=day")
    book = load_workbook(io.BytesIO(resp.data))
    sheet = book.active
    period = [c for c in sheet[1]]
    assert [c.value.date() for c in period[1:3]] == [day, day]
    assert all(c.is_date for c in period[1:3])
    header = [c.value for c in sheet[2]]
    row = {h: c for h, c in zip(header, sheet[3], strict=True)}
    assert row["日期"].is_date and row["日期"].value.date() == day
    rate = row["接通率"]
    assert isinstance(rate.value, float) and rate.value == pytest.approx(2 / 3, abs=1e-4)
    assert rate.number_format == "0.0%"
    asa = row["平均应答(秒)"]
    assert (
        isinstance(asa.value, int | float) and asa.data_type == "n" and asa.number_format == "0.0"
    )
    assert isinstance(row["进线量"].value, int)
    total = [c for c in sheet[sheet.max_row]]
    assert total[0].value == "合计" and total[header.index("接通率")].number_format == "0.0%"
    alarms = book.worksheets[1]
    within = [r for r in alarms.iter_rows(min_row=3) if r[2].value is not None]
    assert within and all(r[2].number_format == "0.0%" for r in within)


def test_an_end_before_the_start_says_so(app, world) -> None:
    client = app.test_client()
    login(client, "sup_hhht")
    resp = client.get("/api/reports/kpi?start=2026-02-01&end=2026-01-01")
    assert resp.status_code == 422 and "早于" in resp.json["message"]
    assert "366" not in resp.json["message"]
    resp = client.get("/api/reports/kpi?start=2020-01-01&end=2026-01-01")
    assert resp.status_code == 422 and "366" in resp.json["message"]


def test_the_wallboard_holds_every_tile_to_its_target(app, traffic) -> None:
    """Service level, ASA and abandonment have targets and levels like the answer rate; the
    queues are named."""
    client = app.test_client()
    login(client, "sup_hhht")
    board = client.get("/api/wallboard").json
    th, levels, kpis = board["thresholds"], board["levels"], board["kpis"]
    assert (th["service_level_target"], th["asa_target_s"], th["abandon_rate_target"]) == (
        0.8,
        20.0,
        0.05,
    )
    assert set(levels) == {"answer_rate", "service_level", "asa", "abandon_rate"}
    # one abandon in three calls: a third abandoned, far above the 5 % target
    assert (
        kpis["abandon_rate"] == pytest.approx(1 / 3, abs=1e-4) and levels["abandon_rate"] == "red"
    )
    assert levels["answer_rate"] == "red"
    assert levels["asa"] == (
        "green" if kpis["asa_s"] <= 20 else "amber" if kpis["asa_s"] <= 30 else "red"
    )
    assert {q["queue"]: q["label"] for q in board["queues"]}["hotline-general"] == "综合服务队列"


def test_levels_where_lower_is_better() -> None:
    from agent_console.views.supervisor import _level

    assert _level(12.0, green_at=20, amber_at=30, higher_is_better=False) == "green"
    assert _level(25.0, green_at=20, amber_at=30, higher_is_better=False) == "amber"
    assert _level(31.0, green_at=20, amber_at=30, higher_is_better=False) == "red"
    assert _level(0.97, green_at=0.95, amber_at=0.9) == "green"
    assert _level(None, green_at=0.95, amber_at=0.9) == "none"
