"""Heartbeat and battery history: every beat of a batch folds into one row per device and hour,
batches merge into the hour's row (a late batch never overwrites a newer battery), silent hours
show as gaps, and the daily run forgets what is older than the history keeps. On PostgreSQL and
on the embedded SQLite default."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from platform_core import clock
from platform_core.devices import heartbeat_history
from platform_core.devices.heartbeats import Heartbeat, record_heartbeats
from platform_core.devices.models import HeartbeatHour
from platform_core.regions.service import load_dictionary
from tests.platform_core.alarms_support import new_device, new_elder


def _device(rt):
    with rt.session() as s:
        load_dictionary(s)
        d = new_device(s, elder_id=new_elder(s))
        return d.id, d.serial


def test_beats_fold_into_hours_and_batches_merge(any_runtime) -> None:
    rt = any_runtime
    device_id, serial = _device(rt)
    hour = heartbeat_history.hour_of(clock.now()) - timedelta(hours=2)
    # a beat a minute for the first hour and a half, the battery draining from 90
    beats = [
        Heartbeat(device_ref=serial, at=hour + timedelta(minutes=m), battery_pct=90 - m // 10)
        for m in range(90)
    ]
    with rt.session() as s:
        record_heartbeats(s, beats=beats[:50])
    with rt.session() as s:
        record_heartbeats(s, beats=beats[50:])
    # a batch held up somewhere arrives late with an old reading: the last battery stays
    with rt.session() as s:
        record_heartbeats(
            s, beats=[Heartbeat(device_ref=serial, at=hour + timedelta(minutes=30), battery_pct=99)]
        )
    with rt.session() as s:
        rows = list(
            s.scalars(
                select(HeartbeatHour)
                .where(HeartbeatHour.device_id == device_id)
                .order_by(HeartbeatHour.hour_start)
            )
        )
    assert [(r.beats, r.battery_min, r.battery_max, r.battery_last) for r in rows] == [
        (61, 85, 99, 85),  # minutes 0-59 and the late one; the last reading of that hour is 85
        (30, 82, 84, 82),
    ]
    assert rows[0].first_at == hour and rows[1].last_at == hour + timedelta(minutes=89)
    with rt.session() as s:
        recent = heartbeat_history.recent_hours(s, device_id=device_id, hours=3)
        days = heartbeat_history.daily(s, device_id=device_id, days=2)
    # newest first: the hour now is silent (a gap), then the two hours with beats
    assert [h["beats"] for h in recent] == [0, 30, 61]
    assert sum(d["beats"] for d in days) == 91
    assert min(d["battery_min"] for d in days if d["battery_min"] is not None) == 82


def test_the_history_keeps_its_days(any_runtime) -> None:
    rt = any_runtime
    device_id, serial = _device(rt)
    keep = rt.settings.device_heartbeat_history_days
    old = clock.now() - timedelta(days=keep + 1)
    with rt.session() as s:
        record_heartbeats(
            s,
            beats=[
                Heartbeat(device_ref=serial, at=old, battery_pct=50),
                Heartbeat(device_ref=serial, at=clock.now(), battery_pct=49),
            ],
        )
    with rt.session() as s:
        assert heartbeat_history.prune(s) == 1
    with rt.session() as s:
        assert [r.battery_last for r in s.scalars(select(HeartbeatHour))] == [49]


def test_unknown_devices_leave_no_history(any_runtime) -> None:
    rt = any_runtime
    _device(rt)
    with rt.session() as s:
        result = record_heartbeats(s, beats=[Heartbeat(device_ref="NOSUCH", at=clock.now())])
        assert result.unknown == ["NOSUCH"]
        assert s.scalars(select(HeartbeatHour)).first() is None
