"""Device lifecycle: installation, heartbeats and link faults, fault reports with their 48-hour
deadline, repair or free replacement, recovery, and return visits about device use."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from platform_core import clock
from platform_core.alarms.models import Alarm
from platform_core.db import utcnow
from platform_core.devices import heartbeats, maintenance, return_visits
from platform_core.devices import service as devices
from platform_core.devices.heartbeats import Heartbeat
from platform_core.devices.models import Device, DeviceReturnVisit
from platform_core.errors import Conflict, IllegalTransition, OutOfRegion, ValidationFailed
from platform_core.flows.device_reports import raise_link_faults, receive_heartbeats
from tests.platform_core.alarms_support import AGENT, AGENT_BAOTOU, new_device, new_elder


@pytest.fixture
def rt(regions):
    regions.seen = []
    regions.event_bus.subscribe(regions.seen.append)
    return regions


def _events(rt, kind):
    rt.event_bus.drain()
    return [e["data"] for e in rt.seen if e["type"] == kind]


def test_installation_starts_the_service_period(rt) -> None:
    with rt.session() as s:
        device = new_device(s, elder_id=new_elder(s))
        assert device.status == "installed" and device.installed_at is not None
        local = device.installed_at.astimezone(ZoneInfo(rt.settings.timezone)).date()
        assert device.service_until == maintenance.add_months(
            local, rt.settings.device_service_months
        )
        assert device.service_until > local + timedelta(days=365)
    assert maintenance.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert maintenance.add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)


def test_heartbeats_bring_devices_online_and_silence_raises_one_link_fault(rt) -> None:
    with rt.session() as s:
        elder_id = new_elder(s)
        pendant = new_device(s, elder_id=elder_id)  # type default: 3600 s
        watch = new_device(s, elder_id=elder_id, kind="smart_watch", interval=120)
        ids = (pendant.id, watch.id)
        refs = (pendant.serial, watch.imei)  # a device may report by serial or IMEI
    rt.event_bus.drain()
    rt.seen.clear()
    t0 = utcnow()
    with rt.session() as s:
        out = receive_heartbeats(
            s,
            beats=[
                Heartbeat(refs[0], t0, battery_pct=80),
                Heartbeat(refs[1], t0 - timedelta(seconds=5), battery_pct=64),
                Heartbeat(refs[1], t0),  # the later beat wins; no battery: keeps the last known
                Heartbeat("GHOST-1", t0),
            ],
        )
        assert out.heartbeats.recorded == 2 and out.heartbeats.unknown == ["GHOST-1"]
        assert sorted(d.id for d in out.heartbeats.came_online) == sorted(ids)
        assert out.heartbeats.back_online == [] and out.restores == []
    with rt.session() as s:
        rows = {d.id: d for d in s.scalars(select(Device).where(Device.id.in_(ids)))}
        assert {d.status for d in rows.values()} == {"online"}
        assert rows[watch.id].battery_pct == 64 and rows[pendant.id].battery_pct == 80
    assert {(e["from_status"], e["to_status"]) for e in _events(rt, "DeviceStatusChanged")} == {
        ("installed", "online")
    }

    # five minutes later the watch (120 s x 2.5) is silent, the pendant (3600 s) is not
    later = t0 + timedelta(seconds=301)
    with rt.session() as s:
        [fault] = raise_link_faults(s, now=later)
        assert fault.result == "raised" and fault.device_id == watch.id
    with rt.session() as s:  # checking again changes nothing
        assert raise_link_faults(s, now=later + timedelta(seconds=60)) == []
        assert s.get(Device, watch.id).status == "offline"
        [alarm] = s.scalars(select(Alarm)).all()
        assert (alarm.alarm_type, alarm.status, alarm.alarm_class) == (
            "link_fault",
            "waiting",
            "technical",
        )

    # the watch beats again: online, and its link fault closes itself
    with rt.session() as s:
        out = receive_heartbeats(s, beats=[Heartbeat(refs[1], later + timedelta(seconds=90))])
        assert [d.id for d in out.heartbeats.back_online] == [watch.id]
        assert [r.result for r in out.restores] == ["closed_by_restore"]
    with rt.session() as s:
        alarm = s.get(Alarm, alarm.id)
        assert (alarm.status, alarm.outcome) == ("closed", "restored")
        assert s.get(Device, watch.id).status == "online"


def test_a_fault_report_opens_one_ticket_with_a_deadline_escalated_when_missed(rt) -> None:
    with rt.session() as s:
        device = new_device(s, elder_id=new_elder(s))
        device_id = device.id
    with pytest.raises(OutOfRegion), rt.session() as s:
        maintenance.report_fault(s, device_id=device_id, fault="按键失灵", actor=AGENT_BAOTOU)
    with pytest.raises(ValidationFailed), rt.session() as s:
        maintenance.report_fault(s, device_id=device_id, fault=" ", actor=AGENT)
    with rt.session() as s:
        ticket = maintenance.report_fault(s, device_id=device_id, fault="按键失灵", actor=AGENT)
        again = maintenance.report_fault(s, device_id=device_id, fault="无法充电", actor=AGENT)
        assert again.id == ticket.id and again.reports == 2
        assert "按键失灵" in again.fault and "无法充电" in again.fault
        hours = rt.settings.maintenance_onsite_hours
        assert abs((ticket.on_site_due_at - ticket.opened_at) - timedelta(hours=hours)) < timedelta(
            seconds=1
        )
        assert s.get(Device, device_id).status == "fault"
        due, ticket_id = ticket.on_site_due_at, ticket.id
    [opened] = _events(rt, "MaintenanceTicketOpened")
    assert opened["ticket_id"] == ticket_id and opened["kind"] == "repair"
    with rt.session() as s:
        assert maintenance.escalate_overdue(s, now=due - timedelta(minutes=1)) == []
        assert [t.id for t in maintenance.escalate_overdue(s, now=due + timedelta(minutes=1))] == [
            ticket_id
        ]
        # not again within the next deadline-length, then again
        assert maintenance.escalate_overdue(s, now=due + timedelta(hours=1)) == []
        later = due + timedelta(hours=hours, minutes=2)
        assert [t.escalations for t in maintenance.escalate_overdue(s, now=later)] == [2]
    assert [e["escalations"] for e in _events(rt, "MaintenanceTicketOverdue")] == [1, 2]
    with rt.session() as s:
        maintenance.assign(s, ticket_id=ticket_id, technician="维修员老赵", actor=AGENT)
        maintenance.record_on_site(s, ticket_id=ticket_id, actor=AGENT)
        assert s.get(Device, device_id).status == "under_repair"
        # on site: no more escalation
        assert maintenance.escalate_overdue(s, now=later + timedelta(days=5)) == []
        done = maintenance.record_repair(s, ticket_id=ticket_id, actor=AGENT, note="更换按键")
        assert (done.resolution, done.within_service_period, done.free_of_charge) == (
            "repaired",
            True,
            True,
        )
        assert s.get(Device, device_id).status == "online"
    with pytest.raises(IllegalTransition), rt.session() as s:
        maintenance.record_on_site(s, ticket_id=ticket_id, actor=AGENT)


def test_replacement_within_the_service_period_is_free_and_keeps_the_period(rt) -> None:
    with rt.session() as s:
        elder_id = new_elder(s)
        old = new_device(s, elder_id=elder_id)
        spare = new_device(s, elder_id=None)
        wrong_kind = new_device(s, elder_id=None, kind="smoke", sim=False)
        period = old.service_until
        ticket = maintenance.report_fault(s, device_id=old.id, fault="进水", actor=AGENT)
        ids = (old.id, spare.id, wrong_kind.id, ticket.id)
    with pytest.raises(Conflict) as err, rt.session() as s:
        maintenance.replace_device(s, ticket_id=ids[3], new_device_id=ids[2], actor=AGENT)
    assert err.value.code == "replacement_type_mismatch"
    with rt.session() as s:
        new = maintenance.replace_device(s, ticket_id=ids[3], new_device_id=ids[1], actor=AGENT)
        assert (new.elder_id, new.status, new.service_until) == (elder_id, "installed", period)
    with rt.session() as s:
        old_row, ticket = s.get(Device, ids[0]), maintenance.get_ticket(s, ticket_id=ids[3])
        assert (old_row.status, old_row.elder_id) == ("replaced", None)
        assert (ticket.resolution, ticket.free_of_charge, ticket.replacement_device_id) == (
            "replaced",
            True,
            ids[1],
        )
        assert [d.id for d in devices.list_devices_for_elder(s, elder_id=elder_id)] == [ids[1]]


def test_a_repair_after_the_service_period_is_charged(rt) -> None:
    with rt.session() as s:
        device = new_device(s, elder_id=new_elder(s))
        device.service_until = date(2020, 1, 1)
        ticket = maintenance.report_fault(s, device_id=device.id, fault="屏幕损坏", actor=AGENT)
        done = maintenance.record_repair(s, ticket_id=ticket.id, actor=AGENT, charged=True)
        assert (done.within_service_period, done.free_of_charge) == (False, False)


def test_return_visits_are_scheduled_once_and_recorded(rt) -> None:
    every = rt.settings.device_return_visit_days
    with rt.session() as s:
        elder_id = new_elder(s)
        device = new_device(s, elder_id=elder_id)
        new_device(s, elder_id=new_elder(s), installed=False)  # bound, not installed: no visit
        today = clock.today()
        first = return_visits.schedule_due(s, today=today)
        assert [(v.elder_id, v.due_on) for v in first] == [
            (elder_id, today + timedelta(days=every))
        ]
        assert return_visits.schedule_due(s, today=today) == []
        assert return_visits.list_due(s, region_code="150100000000", on_or_before=today) == []
        [due] = return_visits.list_due(
            s, region_code="150100000000", on_or_before=today + timedelta(days=every)
        )
        with pytest.raises(ValidationFailed):
            return_visits.record_visit(
                s, visit_id=due.id, result="using_well", actor=AGENT, devices={999999: "working"}
            )
        visit = return_visits.record_visit(
            s,
            visit_id=due.id,
            result="needs_training",
            actor=AGENT,
            devices={device.id: "not_used"},
            note="老人不记得如何按键, 已电话指导",
        )
        assert (visit.status, visit.devices) == ("done", {str(device.id): "not_used"})
        [following] = return_visits.schedule_due(s, today=today)
        assert following.due_on == due.due_on + timedelta(days=every)
        assert s.scalar(select(DeviceReturnVisit).where(DeviceReturnVisit.id == due.id)).result == (
            "needs_training"
        )


def test_silence_of_a_device_never_installed_is_not_a_link_fault(rt) -> None:
    with rt.session() as s:
        new_device(s, elder_id=new_elder(s), installed=False)
        new_device(s, elder_id=None)
        assert heartbeats.find_silent(s, now=utcnow() + timedelta(days=30)) == []
