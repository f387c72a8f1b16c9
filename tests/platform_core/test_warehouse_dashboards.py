"""The dashboards on chDB answer as the platform's own reports do: the calls' answer rate and
service level equal ``kpi_report`` (what ``hotline report kpi`` prints) for the same period and
region, the alarms' 60 s / 180 s shares equal the alarm KPIs, and every figure drills from the
region to a 盟市 to a 旗县区."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from platform_core.alarms import kpi as alarm_kpi
from platform_core.alarms.config import answer_targets
from platform_core.alarms.models import Alarm
from platform_core.calls.kpi import kpi_report
from platform_core.calls.models import Call
from platform_core.devices.models import Device
from platform_core.flows import supervision
from platform_core.regions.service import load_dictionary
from platform_core.runtime import Runtime
from platform_core.warehouse import dashboards, rollups
from platform_core.warehouse.dashboards import Scope
from tests.warehouse_support import sync_now

DAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # 2026-03-02 00:00 Beijing
XINCHENG, SAIHAN, BAOTOU = "150102003001", "150105001001", "150203001001"
_n = itertools.count(1)


def call(
    s,
    region: str,
    at: datetime,
    outcome: str | None,
    wait: float | None,
    queue: str = "hotline-general",
    direction: str = "inbound",
) -> None:
    linkedid = f"1772400000.{next(_n)}"
    s.add(
        Call(
            linkedid=linkedid,
            uniqueid=linkedid,
            region_code=region,
            direction=direction,
            started_at=at - timedelta(seconds=5),
            queued_at=at,
            first_queue=queue,
            outcome=outcome,
            wait_s=wait,
        )
    )


def seed_calls(rt: Runtime) -> None:
    with rt.session() as s:
        for i in range(40):
            at = DAY + timedelta(minutes=37 * i)
            region = (XINCHENG, SAIHAN, BAOTOU)[i % 3]
            outcome = ("answered", "answered", "abandoned", "answered", "timeout")[i % 5]
            wait = None if i == 7 else float((i * 7) % 45)
            call(s, region, at, outcome, wait)
        call(s, XINCHENG, DAY + timedelta(hours=3), None, None)  # still waiting: not offered
        call(s, XINCHENG, DAY + timedelta(hours=4), "ivr_only", None)
        call(s, XINCHENG, DAY + timedelta(hours=4), "answered", 3, direction="outbound")
        call(s, XINCHENG, DAY - timedelta(seconds=1), "answered", 3)  # the day before
        call(s, XINCHENG, DAY + timedelta(days=1), "abandoned", 9)  # the day after


@pytest.mark.parametrize("path", ["daily rollup", "calls themselves"])
def test_the_answer_rate_equals_the_kpi_report(any_runtime: Runtime, warehouse, path: str) -> None:
    seed_calls(any_runtime)
    sync_now(warehouse, any_runtime)
    settings = any_runtime.settings
    assert rollups.calls_ready(
        warehouse, (settings.service_level_s, settings.short_abandon_s, settings.timezone)
    )
    if path == "calls themselves":
        warehouse.command(f"TRUNCATE TABLE {rollups.ROLLUP_STATE}")
    end = DAY + timedelta(days=1)
    for region in ("150000000000", "150100000000", "150105000000", "150200000000"):
        grain = "day" if path == "daily rollup" else "hour"
        scope = Scope(
            region, DAY - timedelta(days=1), end + timedelta(days=1), grain, settings.timezone
        )
        figure = dashboards.calls(
            warehouse,
            scope,
            service_level_s=settings.service_level_s,
            short_abandon_s=settings.short_abandon_s,
        )
        with any_runtime.session() as s:
            report = kpi_report(
                s,
                start=DAY - timedelta(days=1),
                end=end + timedelta(days=1),
                region_code=region,
                by=grain,
            )
        [total] = figure["total"]
        assert total["offered"] == report.total.offered > 0
        for key in ("answered", "abandoned", "timeout"):
            assert total[key] == getattr(report.total, key)
        assert total["answer_rate"] == report.total.answer_rate
        assert total["service_level"] == report.total.service_level
        assert total["abandon_rate"] == report.total.abandon_rate
        assert total["asa_s"] == report.total.asa_s
        by_hour = {r.key: r.figures.answer_rate for r in report.rows}
        assert {r["key"]: r["answer_rate"] for r in figure["series"]} == by_hour
        # the children add up to the region
        assert sum(r["offered"] for r in figure["regions"]) == total["offered"]


def test_the_figures_drill_from_the_region_to_a_league_to_a_county(
    any_runtime: Runtime, warehouse
) -> None:
    seed_calls(any_runtime)
    with any_runtime.session() as s:
        load_dictionary(s)
    sync_now(warehouse, any_runtime)
    end = DAY + timedelta(days=1)
    with any_runtime.session() as s:
        region = supervision.figure(
            s,
            warehouse,
            name="calls",
            scope_code="150000000000",
            region_code=None,
            start=DAY,
            end=end,
            grain="day",
        )
        assert {r["name"] for r in region["regions"]} == {"呼和浩特市", "包头市"}
        league = supervision.figure(
            s,
            warehouse,
            name="calls",
            scope_code="150000000000",
            region_code="150100000000",
            start=DAY,
            end=end,
            grain="day",
        )
        assert {r["name"] for r in league["regions"]} == {"新城区", "赛罕区"}
        assert [p["name"] for p in league["region"]["path"]] == ["内蒙古自治区", "呼和浩特市"]
        county = supervision.figure(
            s,
            warehouse,
            name="calls",
            scope_code="150000000000",
            region_code="150105000000",
            start=DAY,
            end=end,
            grain="day",
        )
        assert county["region"]["drills"] is False
        assert [r["name"] for r in county["regions"]] == ["赛罕区"]
        assert region["warehouse"]["lag_s"] is not None


def test_an_officer_of_one_league_sees_only_theirs(any_runtime: Runtime, warehouse) -> None:
    seed_calls(any_runtime)
    with any_runtime.session() as s:
        load_dictionary(s)
    sync_now(warehouse, any_runtime)
    end = DAY + timedelta(days=1)
    with any_runtime.session() as s:
        own = supervision.figure(
            s,
            warehouse,
            name="calls",
            scope_code="150100000000",
            region_code=None,
            start=DAY,
            end=end,
            grain="day",
        )
        assert own["region"]["code"] == "150100000000"
        assert {r["key"] for r in own["regions"]} <= {"150102000000", "150105000000"}
        for other in ("150200000000", "150000000000"):
            try:
                supervision.figure(
                    s,
                    warehouse,
                    name="calls",
                    scope_code="150100000000",
                    region_code=other,
                    start=DAY,
                    end=end,
                    grain="day",
                )
            except Exception as exc:  # noqa: BLE001
                assert getattr(exc, "code", "") == "out_of_region"
            else:
                raise AssertionError(f"{other} was shown to an officer of 呼和浩特")


def test_alarm_compliance_equals_the_alarm_kpis(any_runtime: Runtime, warehouse) -> None:
    now = DAY + timedelta(hours=20)
    with any_runtime.session() as s:
        device = Device(device_type="sos_pendant", serial="WH-1", region_code=XINCHENG)
        s.add(device)
        s.flush()
        waits = [10, 59, 60, 61, 120, 179, 181, 400, None]
        for i, wait in enumerate(waits * 2):
            received = DAY + timedelta(hours=1, minutes=11 * i)
            s.add(
                Alarm(
                    device_id=device.id,
                    region_code=(XINCHENG, BAOTOU)[i % 2],
                    alarm_type=("sos", "fall", "low_battery")[i % 3],
                    alarm_class="emergency",
                    priority=1,
                    status="closed" if wait is not None else "waiting",
                    occurred_at=received,
                    received_at=received,
                    last_signal_at=received,
                    taken_at=None if wait is None else received + timedelta(seconds=wait),
                )
            )
        # still waiting and young: not counted yet
        s.add(
            Alarm(
                device_id=device.id,
                region_code=XINCHENG,
                alarm_type="sos",
                alarm_class="emergency",
                priority=1,
                status="waiting",
                occurred_at=now,
                received_at=now - timedelta(seconds=30),
                last_signal_at=now,
            )
        )
    sync_now(warehouse, any_runtime)
    targets = answer_targets(any_runtime.settings)
    for region in ("150000000000", "150102000000", "150200000000"):
        scope = Scope(region, DAY, DAY + timedelta(days=1), "day", any_runtime.settings.timezone)
        fig = dashboards.alarms(warehouse, scope, targets=targets, now=now)
        with any_runtime.session() as s:
            expected = alarm_kpi.kpi(
                s, start=DAY, end=DAY + timedelta(days=1), region_code=region, now=now
            )
        [total] = fig["total"]
        assert total["counted"] == expected["counted"] > 0
        for within in expected["answered_within"]:
            assert total[f"within_{within['seconds']}"] == within["answered"]
            assert total[f"share_{within['seconds']}"] == within["share"]


def test_the_rollup_follows_changed_and_moved_calls(any_runtime: Runtime, warehouse) -> None:
    seed_calls(any_runtime)
    sync_now(warehouse, any_runtime)
    settings = any_runtime.settings
    end = DAY + timedelta(days=1)
    with any_runtime.session() as s:
        # every call of 新城区 moves to 包头 and is answered at once
        for c in s.query(Call).filter(Call.region_code == XINCHENG):
            c.region_code, c.outcome, c.wait_s = BAOTOU, "answered", 1.0
    sync_now(warehouse, any_runtime)
    for region in ("150102000000", "150200000000", "150000000000"):
        scope = Scope(region, DAY, end, "day", settings.timezone)
        figure = dashboards.calls(
            warehouse,
            scope,
            service_level_s=settings.service_level_s,
            short_abandon_s=settings.short_abandon_s,
        )
        with any_runtime.session() as s:
            report = kpi_report(s, start=DAY, end=end, region_code=region)
        offered = figure["total"][0]["offered"] if figure["total"] else 0
        assert offered == report.total.offered
        if offered:
            assert figure["total"][0]["answer_rate"] == report.total.answer_rate
