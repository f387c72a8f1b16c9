"""The intake's scheduler: it completes deaths and links device calls it hears on the bus, and
fires due alarm timers from the database."""

from __future__ import annotations

import time
from datetime import date, timedelta

from sqlalchemy import update

from callcenter.alarm_intake.scheduler import Scheduler
from platform_core.alarms import service as alarms
from platform_core.alarms.models import Alarm
from platform_core.calls.events import CallAnswered
from platform_core.db import utcnow
from platform_core.devices.models import Device
from platform_core.elders import service as elders
from tests.platform_core.alarms_support import STAFF, new_device, new_elder
from tests.platform_core.test_flows_device_calls import _world


def _until(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _bus_only(rt) -> Scheduler:
    scheduler = Scheduler(rt)
    scheduler.tasks = [t for t in scheduler.tasks if t.name == "alarm_timers"]
    return scheduler.start()


def test_the_intake_links_calls_it_hears_on_the_bus(regions) -> None:
    _user_id, sim, (sos, _battery) = _world(regions)
    scheduler = _bus_only(regions)
    try:
        regions.event_bus.publish(
            CallAnswered(
                linkedid="1700000002.9",
                queue="hotline-emergency",
                agent_interface="PJSIP/8003",
                member_name="坐席丙",
                caller_number=sim,
                elder_id=None,
                wait_s=3.0,
                region_code="150102003201",
            ).envelope()
        )
        deadline = time.monotonic() + 5
        status = "waiting"
        while time.monotonic() < deadline and status == "waiting":
            time.sleep(0.05)
            with regions.session() as s:
                status = alarms.get_alarm(s, alarm_id=sos).status
        assert status == "handling"
    finally:
        scheduler.stop()


def test_a_death_recorded_elsewhere_is_completed(regions) -> None:
    with regions.session() as s:
        elder_id = new_elder(s)
        device_id = new_device(s, elder_id=elder_id).id
    scheduler = _bus_only(regions)
    try:
        with regions.session() as s:  # an import calling the elders service directly
            elders.record_death(s, elder_id=elder_id, died_on=date(2024, 6, 1), actor=STAFF)

        def deactivated() -> bool:
            with regions.session() as s:
                return s.get(Device, device_id).status == "deactivated"

        assert _until(deactivated)
    finally:
        scheduler.stop()


def test_due_timers_fire_from_the_database(regions) -> None:
    seen: list[dict] = []
    regions.event_bus.subscribe(seen.append)
    _user_id, _sim, (sos, _battery) = _world(regions)
    with regions.session() as s:
        # as if its take timer had run out a while ago and its job were lost
        s.execute(
            update(Alarm)
            .where(Alarm.id == sos)
            .values(timer_due_at=utcnow() - timedelta(seconds=5))
        )
    scheduler = _bus_only(regions)
    try:
        assert _until(lambda: any(e["type"] == "AlarmTimerExpired" for e in seen))
    finally:
        scheduler.stop()
    prompt = next(e["data"] for e in seen if e["type"] == "AlarmTimerExpired")
    assert (prompt["alarm_id"], prompt["rung"], prompt["level"]) == (sos, "take", "supervisor")
    with regions.session() as s:
        assert alarms.get_alarm(s, alarm_id=sos).timer_due_at > utcnow()
