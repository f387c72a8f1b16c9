"""An elder's death stops everything that served them, once, whichever way it was recorded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from platform_core.alarms import service as alarms
from platform_core.alarms.intake import record_signals
from platform_core.alarms.models import Alarm
from platform_core.calls import recalls
from platform_core.care_calls import service as care_calls
from platform_core.care_calls.models import CareCall
from platform_core.catalogue import service as catalogue
from platform_core.db import utcnow
from platform_core.devices import maintenance, return_visits
from platform_core.devices.models import Device, MaintenanceTicket
from platform_core.elders import service as elders
from platform_core.errors import Conflict
from platform_core.flows.death import apply_death, record_death_of_elder
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from tests.platform_core.alarms_support import AGENT, STAFF, new_device, new_elder, signal


@pytest.fixture
def home(regions):
    """An elder with a pendant (faulty, ticket open) and a smoke detector, an SOS waiting, an open
    order, a recall item, a scheduled return visit and a care call due."""
    rt = regions
    with rt.session() as s:
        catalogue.install_defaults(s, actor=STAFF)
        elder_id = new_elder(s)
        pendant = new_device(s, elder_id=elder_id)
        smoke = new_device(s, elder_id=elder_id, kind="smoke", sim=False)
        maintenance.report_fault(s, device_id=pendant.id, fault="按键失灵", actor=AGENT)
        [sos] = record_signals(s, signals=[signal(smoke.serial, "smoke")])
        order = orders.open_order(
            s, actor=AGENT, elder_id=elder_id, service_type_code="care_cleaning", source="call"
        )
        recall = recalls.open_recall_request(
            s,
            linkedid="1700000000.1",
            number="13904711234",
            elder_id=elder_id,
            queue=None,
            at=utcnow(),
            region_code="150102003201",
        )
        visit = return_visits.schedule_due(s)[0]
        campaign = care_calls.create_campaign(
            s,
            actor=STAFF,
            name="高温关怀",
            region_code="150100000000",
            criteria=care_calls.CareCriteria(min_age=60, categories=(), living_arrangements=()),
        )
        [care_call] = s.scalars(select(CareCall).where(CareCall.campaign_id == campaign.id)).all()
        ids = {
            "elder": elder_id,
            "pendant": pendant.id,
            "smoke": smoke.id,
            "alarm": sos.alarm_id,
            "order": order.id,
            "recall": recall.id,
            "visit": visit.id,
            "care_call": care_call.id,
        }
    return rt, ids


def test_the_death_flow_stops_devices_alarms_orders_recalls_visits_and_care_calls(home) -> None:
    rt, ids = home
    rt.event_bus.drain()  # the fixture's own events (the repair ticket) are not this flow's
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    died = utcnow().date() - timedelta(days=2)
    with rt.session() as s:
        report = record_death_of_elder(
            s, elder_id=ids["elder"], died_on=died, actor=AGENT, source="公安死亡注销"
        )
    assert sorted(report.devices_deactivated) == sorted([ids["pendant"], ids["smoke"]])
    assert report.alarms_closed == [ids["alarm"]]
    assert report.orders_cancelled == [ids["order"]] and report.recalls_cancelled == [ids["recall"]]
    assert report.visits_cancelled == 1
    with rt.session() as s:
        for key in ("pendant", "smoke"):
            device = s.get(Device, ids[key])
            assert (device.status, device.elder_id) == ("deactivated", None)
        tickets = s.scalars(select(MaintenanceTicket).order_by(MaintenanceTicket.id)).all()
        # the repair is moot; each device is to be collected from the home
        assert [(t.kind, t.status, t.resolution) for t in tickets] == [
            ("repair", "resolved", "cancelled"),
            ("recovery", "open", None),
            ("recovery", "open", None),
        ]
        assert {t.elder_id for t in tickets} == {ids["elder"]}
        alarm = s.get(Alarm, ids["alarm"])
        assert (alarm.status, alarm.outcome) == ("closed", "elder_deceased")
        assert s.get(ServiceOrder, ids["order"]).status == "cancelled"
        assert recalls.get_recall(s, recall_id=ids["recall"]).status == "closed"
        # the care call reaches its next attempt and skips the elder instead of dialling
        assert (
            care_calls.begin_attempt(s, actor=STAFF, care_call_id=ids["care_call"], attempt_no=1)
            is None
        )
        assert s.get(CareCall, ids["care_call"]).status == "skipped"
    rt.event_bus.drain()
    types = [e["type"] for e in seen]
    # maintenance staff hear of both recoveries
    assert types.count("MaintenanceTicketOpened") == 2 and "ElderDeceased" in types

    # a press of the (not yet collected) pendant raises nothing
    with rt.session() as s:
        pendant_serial = s.get(Device, ids["pendant"]).serial
        [out] = record_signals(s, signals=[signal(pendant_serial)])
        assert out.result == "suppressed"
        assert alarms.list_alarms_for_elder(s, elder_id=ids["elder"])[0].id == ids["alarm"]

    # recording it again changes nothing; another date is refused
    with rt.session() as s:
        again = record_death_of_elder(s, elder_id=ids["elder"], died_on=died, actor=AGENT)
        assert again.devices_deactivated == [] and again.recovery_tickets == []
    with pytest.raises(Conflict), rt.session() as s:
        record_death_of_elder(
            s, elder_id=ids["elder"], died_on=died - timedelta(days=1), actor=AGENT
        )


def test_a_death_recorded_elsewhere_is_completed_by_apply_death(regions) -> None:
    rt = regions
    with rt.session() as s:
        elder_id = new_elder(s)
        device_id = new_device(s, elder_id=elder_id).id
        # an import calls the elders service directly
        elders.record_death(s, elder_id=elder_id, died_on=date(2024, 6, 1), actor=STAFF)
    with rt.session() as s:
        assert s.get(Device, device_id).status == "installed"
        report = apply_death(s, elder_id=elder_id)
        assert report.devices_deactivated == [device_id] and len(report.recovery_tickets) == 1
    with rt.session() as s:
        assert apply_death(s, elder_id=elder_id).recovery_tickets == []
        ticket = maintenance.find_open_ticket(s, device_id=device_id, kind="recovery")
        maintenance.record_recovery(s, ticket_id=ticket.id, actor=AGENT)
        assert s.get(Device, device_id).status == "in_stock"
    # a living elder is left alone
    with rt.session() as s:
        living = new_elder(s)
        assert apply_death(s, elder_id=living).devices_deactivated == []
