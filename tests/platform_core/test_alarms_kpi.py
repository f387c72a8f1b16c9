"""Alarm KPIs: answered within 60 s and 180 s, times to first action and to on-site arrival."""

from __future__ import annotations

from datetime import timedelta

from platform_core.alarms import kpi, service
from platform_core.alarms.intake import record_signals
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import AlarmType, Step
from platform_core.db import utcnow
from tests.platform_core.alarms_support import AGENT, new_device, new_elder, signal


def test_answered_within_targets_and_durations(regions) -> None:
    rt = regions
    now = utcnow()
    t0 = now - timedelta(seconds=1000)
    with rt.session() as s:
        hohhot = new_elder(s)
        baotou = new_elder(s, region_code="150202000000", address="包头市昆都仑区")
        serials = [new_device(s, elder_id=hohhot).serial for _ in range(6)]
        other = new_device(s, elder_id=baotou).serial
        outs = record_signals(
            s,
            signals=[
                signal(serials[0], AlarmType.SOS, at=t0),
                signal(serials[1], AlarmType.FALL, at=t0),
                signal(serials[2], AlarmType.SOS, at=t0),
                signal(serials[3], AlarmType.SMOKE, at=t0),  # nobody takes it
                signal(serials[4], AlarmType.SOS, at=now - timedelta(seconds=10)),  # still fresh
                signal(serials[5], AlarmType.LOW_BATTERY, at=t0),  # technical
                signal(other, AlarmType.SOS, at=t0),  # another league
            ],
        )
        ids = [o.alarm_id for o in outs]
    # the stored facts of how each was handled (taken 30 s, 100 s and 400 s after receipt)
    with rt.session() as s:
        for alarm_id, answer_s in zip(ids[:3], (30, 100, 400), strict=True):
            service.take_alarm(s, alarm_id=alarm_id, actor=AGENT)
            s.get(Alarm, alarm_id).taken_at = t0 + timedelta(seconds=answer_s)
        service.record_step(s, alarm_id=ids[0], step=Step.TALK_TO_ELDER, actor=AGENT)
        service.record_step(
            s, alarm_id=ids[0], step=Step.ON_SITE, actor=AGENT, note="家属来电确认已到场"
        )
        first = s.get(Alarm, ids[0])
        first.first_action_at = t0 + timedelta(seconds=40)
        first.on_site_at = t0 + timedelta(seconds=900)
    with rt.session() as s:
        report = kpi.kpi(
            s,
            start=now - timedelta(hours=1),
            end=now + timedelta(minutes=1),
            region_code="150100000000",
            now=now,
        )
    assert (report["raised"], report["counted"], report["pending"], report["technical"]) == (
        6,
        4,
        1,
        1,
    )
    assert report["waiting_now"] == 2
    [sixty, three_min] = report["answered_within"]
    assert (sixty["seconds"], sixty["answered"], sixty["share"], sixty["target"]) == (
        60,
        1,
        0.25,
        0.975,
    )
    assert (three_min["answered"], three_min["share"], three_min["met"]) == (2, 0.5, False)
    assert report["time_to_answer"]["count"] == 3
    assert report["time_to_answer"]["mean_s"] == round((30 + 100 + 400) / 3, 1)
    assert report["time_to_answer"]["median_s"] == 100
    assert report["time_to_first_action"] == {
        "count": 1,
        "mean_s": 40.0,
        "median_s": 40.0,
        "p90_s": 40.0,
    }
    assert report["time_to_on_site"]["mean_s"] == 900.0
    assert report["by_type"] == {"fall": 1, "low_battery": 1, "smoke": 1, "sos": 3}
    # the whole autonomous region sees Baotou's alarm too
    with rt.session() as s:
        wide = kpi.kpi(
            s, start=now - timedelta(hours=1), end=now, region_code="150000000000", now=now
        )
    assert wide["counted"] == 5


def test_no_alarms_no_shares(regions) -> None:
    now = utcnow()
    with regions.session() as s:
        report = kpi.kpi(s, start=now - timedelta(days=1), end=now, region_code="150100000000")
    assert report["counted"] == 0
    assert [w["share"] for w in report["answered_within"]] == [None, None]
    assert [w["met"] for w in report["answered_within"]] == [None, None]
