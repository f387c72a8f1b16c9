"""Alarm KPIs next to the call KPIs: on the supervisor's wallboard and in the reports with their
exports, scoped to the user's region; the wallboard names an agent paused for an alarm."""

from __future__ import annotations

import csv
import io
import json
import re

from openpyxl import load_workbook

from platform_core.alarms import service as alarms
from tests.agent_console.conftest import login
from tests.agent_console.test_alarms_panel import _raise, alarm_world  # noqa: F401
from tests.platform_core.alarms_support import AGENT


def _within(kpi: dict, seconds: int) -> dict:
    return next(w for w in kpi["answered_within"] if w["seconds"] == seconds)


def test_the_wallboard_and_the_reports_show_the_alarm_kpis(app, alarm_world) -> None:  # noqa: F811
    world = alarm_world
    taken = _raise(world, "hhht")
    with world.runtime.session() as s:
        alarms.take_alarm(s, alarm_id=taken, actor=AGENT)
    _raise(world, "bt")  # Baotou's, still waiting: neither counted yet nor Hohhot's

    sup = app.test_client()
    login(sup, "sup_hhht")
    board = sup.get("/api/wallboard").json["alarm_kpi"]
    assert board["counted"] == 1 and board["waiting_now"] == 0
    assert _within(board, 60)["share"] == 1.0 and _within(board, 60)["target"] == 0.975
    assert _within(board, 180)["met"] is True

    report = sup.get("/api/reports/kpi").json["alarm_kpi"]
    assert report["counted"] == 1 and _within(report, 180)["target"] == 0.99

    rows = list(csv.reader(io.StringIO(sup.get("/reports/export.csv").data.decode("utf-8-sig"))))
    assert ["60 秒内接警", "1.0", "0.975"] in rows
    assert ["需人工处置", "1", ""] in rows
    book = load_workbook(io.BytesIO(sup.get("/reports/export.xlsx").data))
    sheet = book["告警指标"]
    assert ["180 秒内接警", 1, 0.99] in [list(r) for r in sheet.iter_rows(values_only=True)]

    baotou = app.test_client()
    login(baotou, "sup_bt")
    theirs = baotou.get("/api/wallboard").json["alarm_kpi"]
    assert theirs["counted"] == 0 and theirs["waiting_now"] == 1

    page = sup.get("/wallboard").get_data(as_text=True)
    catalogue = json.loads(re.search(r'id="i18n">(.*?)</script>', page, re.S).group(1))
    assert catalogue["pause.alarm"] == "处理告警"
    assert 'data-testid="akpi-60"' in page
