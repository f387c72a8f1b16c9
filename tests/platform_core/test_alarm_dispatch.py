"""The alarm's emergency order follows the facts: nobody is sent from beyond the emergency radius
(a person decides at once: widen it, call 120, send the key holder), a refusal asks a person at
once, arrival is the provider's own check-in, and "handled by the provider" needs it."""

from __future__ import annotations

import time

import pytest

from platform_core.alarms import service
from platform_core.alarms.intake import record_signals
from platform_core.alarms.models import Alarm
from platform_core.catalogue import service as catalogue
from platform_core.errors import ValidationFailed
from platform_core.flows import alarm_orders
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.providers import service as providers
from platform_core.providers.credit_code import make_credit_code
from tests.platform_core.alarms_support import AGENT, STAFF, new_device, new_elder, signal
from tests.platform_core.test_orders_support import provider_actor

HOME = (40.8414, 111.7519)  # 呼和浩特 新城区


def _provider(s, n: int, lat: float, lon: float) -> int:
    return providers.register_provider(
        s,
        actor=STAFF,
        name=f"应急服务站{n}",
        credit_code=make_credit_code("52", "150102", f"AD{n:06d}"),
        region_code="150102",
        contact_phone="04716912345",
        service_types=["emergency_sos"],
        coverage=["150102"],
        latitude=lat,
        longitude=lon,
    ).id


@pytest.fixture
def world(regions):
    rt = regions
    rt.seen = []
    rt.event_bus.subscribe(rt.seen.append)
    with rt.session() as s:
        catalogue.install_defaults(s, actor=STAFF)
        elder_id = new_elder(s)
        pendant = new_device(s, elder_id=elder_id).serial
        # 0.42 degrees of latitude north: 46.9 km away, the "nearest" provider of the demo
        rt.far = _provider(s, 1, HOME[0] + 0.4218, HOME[1])
    with rt.session() as s:
        [out] = record_signals(s, signals=[signal(pendant, latitude=HOME[0], longitude=HOME[1])])
        service.take_alarm(s, alarm_id=out.alarm_id, actor=AGENT)
    rt.alarm_id = out.alarm_id
    return rt


def _events(rt, kind: str) -> list[dict]:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        found = [e["data"] for e in rt.seen if e["type"] == kind]
        if found:
            return found
        time.sleep(0.01)
    return []


def test_nobody_is_sent_from_beyond_the_emergency_radius(world) -> None:
    rt = world
    with rt.session() as s:
        step = service.dispatch_provider(s, alarm_id=rt.alarm_id, actor=AGENT)
        assert step.result == "failed" and step.detail["issue"] == "no_provider"
    with rt.session() as s:
        alarm = s.get(Alarm, rt.alarm_id)
        order = s.get(ServiceOrder, alarm.order_id)
        assert order.provider_id is None  # not sent 46.9 km
        assert alarm.dispatch_issue == "no_provider"
        [far] = alarm.dispatch_issue_detail["excluded"]
        assert far["reason"] == "too_far" and 46 < far["distance_km"] < 48
    [decision] = _events(rt, "AlarmDispatchNeedsDecision")
    assert decision["issue"] == "no_provider" and decision["alarm_id"] == rt.alarm_id

    # the person deciding widens the radius: that provider, with the distance on record
    with rt.session() as s:
        step = service.dispatch_wider(s, alarm_id=rt.alarm_id, provider_id=rt.far, actor=AGENT)
        assert step.detail["distance_km"] == pytest.approx(46.9, abs=0.2)
    with rt.session() as s:
        order = s.get(ServiceOrder, s.get(Alarm, rt.alarm_id).order_id)
        assert (order.status, order.provider_id) == ("dispatched", rt.far)


def _dispatched(rt) -> ServiceOrder:
    with rt.session() as s:
        _provider(s, 2, HOME[0] + 0.01, HOME[1])  # 1.1 km
    with rt.session() as s:
        step = service.dispatch_provider(s, alarm_id=rt.alarm_id, actor=AGENT)
        assert step.result == "done" and step.detail["provider"] == "应急服务站2"
        return s.get(ServiceOrder, s.get(Alarm, rt.alarm_id).order_id)


def _follow(rt, order_id: int, expected: str) -> None:
    """The order's last step reaches the alarm (the job after the commit, or this call: either
    way once)."""
    with rt.session() as s:
        seq = s.get(ServiceOrder, order_id).transition_count
        assert alarm_orders.follow(s, order_id=order_id, seq=seq) in (expected, "repeated")
    with rt.session() as s:
        assert alarm_orders.follow(s, order_id=order_id, seq=seq) == "repeated"


def test_a_refusal_asks_a_person_at_once(world) -> None:
    rt = world
    order = _dispatched(rt)
    with rt.session() as s:
        orders.reject(
            s, actor=provider_actor(order.provider_id), order_id=order.id, reason="人手不足"
        )
    _follow(rt, order.id, "not_accepted")
    with rt.session() as s:
        alarm = s.get(Alarm, rt.alarm_id)
        assert alarm.dispatch_issue == "not_accepted"
        assert "人手不足" in alarm.steps[-1].note


def test_arrival_is_the_providers_check_in_and_handled_needs_it(world) -> None:
    rt = world
    order = _dispatched(rt)
    who = provider_actor(order.provider_id)
    with rt.session() as s, pytest.raises(ValidationFailed) as refused:
        # only dispatched: nobody has been there
        service.close_alarm(s, alarm_id=rt.alarm_id, outcome="provider_handled", actor=AGENT)
    assert refused.value.code == "outcome_without_evidence"
    with rt.session() as s, pytest.raises(ValidationFailed) as bare:
        service.record_step(s, alarm_id=rt.alarm_id, step="on_site", actor=AGENT)
    assert bare.value.code == "note_required"

    with rt.session() as s:
        orders.accept(s, actor=who, order_id=order.id)
    _follow(rt, order.id, "accepted")
    with rt.session() as s:
        for command in ("start_travel",):
            getattr(orders, command)(s, actor=who, order_id=order.id)
    with rt.session() as s:
        orders.check_in(s, actor=who, order_id=order.id, latitude=HOME[0], longitude=HOME[1])
    _follow(rt, order.id, "on_site")
    with rt.session() as s:
        alarm = s.get(Alarm, rt.alarm_id)
        assert alarm.on_site_at is not None and alarm.steps[-1].step == "on_site"
        assert alarm.steps[-1].detail["source"] == "check_in"
    with rt.session() as s:
        service.close_alarm(s, alarm_id=rt.alarm_id, outcome="provider_handled", actor=AGENT)
