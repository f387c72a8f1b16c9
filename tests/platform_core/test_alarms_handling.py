"""Handling an alarm: take it, work down the ladder, dispatch, tell the family, close it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from platform_core.actors import system_actor
from platform_core.alarms import service
from platform_core.alarms.intake import record_signals
from platform_core.alarms.jobs import fire_due_timers
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import AlarmType, Outcome, Step, StepResult
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.errors import OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.flows.device_reports import receive_signals
from platform_core.notifications.models import OutboxMessage
from platform_core.orders.models import ServiceOrder
from platform_core.providers import service as providers
from platform_core.providers.credit_code import make_credit_code
from tests.conftest import _runtime
from tests.platform_core.alarms_support import (
    AGENT,
    AGENT_2,
    AGENT_BAOTOU,
    OFFICER,
    STAFF,
    SUPERVISOR,
    new_device,
    new_elder,
    signal,
)


def _raise(rt, serial, alarm_type=AlarmType.SOS) -> int:
    with rt.session() as s:
        [out] = receive_signals(s, signals=[signal(serial, alarm_type)])
    return out.alarm_id


def _messages(s, alarm_id: int) -> list[OutboxMessage]:
    return s.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.ref_type == "alarm", OutboxMessage.ref_id.startswith(str(alarm_id)))
        .order_by(OutboxMessage.id)
    ).all()


@pytest.fixture
def world(regions):
    with regions.session() as s:
        elder_id = new_elder(s)
        pendant = new_device(s, elder_id=elder_id)
        smoke = new_device(s, elder_id=elder_id, kind="smoke", sim=False)
        serials = (pendant.serial, smoke.serial)
    return regions, elder_id, serials


def test_the_first_agent_takes_it_others_are_refused_a_supervisor_may_take_over(world) -> None:
    rt, _elder, (pendant, _smoke) = world
    alarm_id = _raise(rt, pendant)
    with rt.session() as s:
        alarm = service.take_alarm(s, alarm_id=alarm_id, actor=AGENT)
        assert alarm.status == "handling" and alarm.taken_by.startswith("坐席甲")
        assert alarm.taken_at >= alarm.received_at
    with rt.session() as s:  # taking it again is harmless
        service.take_alarm(s, alarm_id=alarm_id, actor=AGENT)
    with pytest.raises(service.AlarmTakenByOther) as err, rt.session() as s:
        service.take_alarm(s, alarm_id=alarm_id, actor=AGENT_2)
    assert "坐席甲" in err.value.message
    with pytest.raises(service.AlarmTakenByOther), rt.session() as s:
        service.record_step(s, alarm_id=alarm_id, step=Step.TALK_TO_ELDER, actor=AGENT_2)
    with rt.session() as s:
        service.take_alarm(s, alarm_id=alarm_id, actor=SUPERVISOR, take_over=True)
    with rt.session() as s:
        alarm = service.get_alarm(s, alarm_id=alarm_id)
        assert alarm.handler_name.startswith("班长") and alarm.taken_by.startswith("坐席甲")
        assert [st.step for st in alarm.steps] == ["take", "transfer"]
        assert alarm.steps[1].detail["from"].startswith("坐席甲")
    for actor, error in ((AGENT_BAOTOU, OutOfRegion), (OFFICER, PermissionDenied)):
        with pytest.raises(error), rt.session() as s:
            service.take_alarm(s, alarm_id=alarm_id, actor=actor)
    with rt.session() as s:
        refused = audit.list_records(s, target_type="alarm", target_id=str(alarm_id))
        assert {r.actor_name for r in refused if r.result == "denied"} >= {
            "包头坐席",
            "民政",
            "坐席乙",
        }


def test_the_ladder_goes_to_the_key_holder_when_nobody_answers_at_home(world) -> None:
    rt, elder_id, (pendant, _smoke) = world
    alarm_id = _raise(rt, pendant)
    with rt.session() as s:
        service.take_alarm(s, alarm_id=alarm_id, actor=AGENT)
        ladder = service.ladder_of(s, alarm=service.get_alarm(s, alarm_id=alarm_id))
    assert ladder["current"] == "talk_to_elder" and ladder["device_can_speak"]
    assert not ladder["door_must_open"]
    # by priority while the elder may still open the door: 李强 (1, key) then 李梅 (2)
    assert [c["name"] for c in ladder["contacts"]] == ["李强", "李梅"]
    with rt.session() as s:
        target = service.dial_target(s, alarm_id=alarm_id, step=Step.TALK_TO_ELDER, actor=AGENT)
        assert target.number.startswith("1477") and "****" in target.label
        service.record_step(
            s, alarm_id=alarm_id, step=Step.TALK_TO_ELDER, result=StepResult.NO_ANSWER, actor=AGENT
        )
        service.record_step(
            s, alarm_id=alarm_id, step=Step.CALL_LANDLINE, result=StepResult.NO_ANSWER, actor=AGENT
        )
        ladder = service.ladder_of(s, alarm=service.get_alarm(s, alarm_id=alarm_id))
    assert ladder["current"] == "call_contact" and ladder["door_must_open"]
    contacts = ladder["contacts"]
    assert contacts[0]["holds_key"] and contacts[0]["name"] == "李强"
    with pytest.raises(ValidationFailed) as bad, rt.session() as s:
        service.record_step(
            s, alarm_id=alarm_id, step=Step.CALL_CONTACT, actor=AGENT, contact_id=999
        )
    assert bad.value.code == "invalid_contact"
    with rt.session() as s:
        for c in contacts:
            service.record_step(
                s,
                alarm_id=alarm_id,
                step=Step.CALL_CONTACT,
                contact_id=c["id"],
                result=StepResult.NO_ANSWER,
                actor=AGENT,
            )
        ladder = service.ladder_of(s, alarm=service.get_alarm(s, alarm_id=alarm_id))
    # everyone tried: on to the emergency services, 120 first for an SOS
    assert ladder["current"] == "call_emergency" and ladder["emergency"][0] == "call_120"
    with rt.session() as s:
        alarm = service.get_alarm(s, alarm_id=alarm_id)
        assert alarm.first_action_at is not None
        assert alarm.timer_rung == "call_emergency"
        assert [r["state"] for r in ladder["rungs"][:3]] == ["tried", "tried", "tried"]


def test_smoke_calls_the_fire_brigade_first(world) -> None:
    rt, _elder, (_pendant, smoke) = world
    alarm_id = _raise(rt, smoke, AlarmType.SMOKE)
    with rt.session() as s:
        ladder = service.ladder_of(s, alarm=service.get_alarm(s, alarm_id=alarm_id))
        # a smoke detector cannot speak, but the elder has a mobile
        assert ladder["emergency"] == ["call_119", "call_120", "call_110"]
        assert (
            service.dial_target(s, alarm_id=alarm_id, step=Step.CALL_119, actor=AGENT).number
            == "119"
        )


def test_an_alarm_closes_only_with_an_outcome_that_its_steps_bear_out(world) -> None:
    rt, elder_id, (pendant, _smoke) = world
    alarm_id = _raise(rt, pendant)
    with rt.session() as s:
        service.take_alarm(s, alarm_id=alarm_id, actor=AGENT)
    with pytest.raises(ValidationFailed) as err, rt.session() as s:
        service.close_alarm(s, alarm_id=alarm_id, outcome=Outcome.ELDER_SAFE, actor=AGENT)
    assert err.value.code == "outcome_without_evidence"
    for outcome in (Outcome.RESTORED, Outcome.ELDER_DECEASED):
        with pytest.raises(ValidationFailed), rt.session() as s:
            service.close_alarm(s, alarm_id=alarm_id, outcome=outcome, actor=AGENT)
    with pytest.raises(ValidationFailed) as note, rt.session() as s:
        service.close_alarm(s, alarm_id=alarm_id, outcome=Outcome.FALSE_ALARM, actor=AGENT)
    assert note.value.code == "note_required"
    with rt.session() as s:
        service.record_step(
            s,
            alarm_id=alarm_id,
            step=Step.TALK_TO_ELDER,
            result=StepResult.REACHED,
            actor=AGENT,
            note="老人说误按, 身体无恙",
        )
        service.close_alarm(s, alarm_id=alarm_id, outcome=Outcome.ELDER_SAFE, actor=AGENT)
    with rt.session() as s:
        alarm = service.get_alarm(s, alarm_id=alarm_id)
        assert (alarm.status, alarm.outcome, alarm.open_key, alarm.timer_due_at) == (
            "closed",
            "elder_safe",
            None,
            None,
        )
        # the family was told at the raise, and now how it ended
        told = [(m.ref_id, m.to_name) for m in _messages(s, alarm_id)]
        assert told == [(str(alarm_id), "李强"), (f"{alarm_id}:closed", "李强")]
    with pytest.raises(service.AlarmClosedError), rt.session() as s:
        service.record_step(s, alarm_id=alarm_id, step=Step.NOTE, actor=AGENT, note="补记")
    # the next press is a new alarm
    assert _raise(rt, pendant) != alarm_id


def test_acting_on_a_waiting_alarm_takes_it(world) -> None:
    rt, _elder, (pendant, _smoke) = world
    alarm_id = _raise(rt, pendant)
    with rt.session() as s:
        service.notify_family(s, alarm_id=alarm_id, actor=AGENT_2, note="请家属尽快回电")
    with rt.session() as s:
        alarm = service.get_alarm(s, alarm_id=alarm_id)
        assert alarm.status == "handling" and alarm.handler_user_id == AGENT_2.user_id
        assert [st.step for st in alarm.steps] == ["take", "notify_family"]
        family = [m for m in _messages(s, alarm_id) if m.ref_id == f"{alarm_id}:family1"]
        assert [n.to_name for n in family] == ["李强", "李梅"]
        assert all("请家属尽快回电" in rt.cipher.open(n.body_sealed) for n in family)


def test_the_nearest_provider_gets_an_emergency_order(world) -> None:
    rt, elder_id, (pendant, _smoke) = world
    with rt.session() as s:
        catalogue.install_defaults(s, actor=STAFF)
        for n, (lat, lon) in enumerate(((40.90, 111.80), (40.8421, 111.7530)), start=1):
            providers.register_provider(
                s,
                actor=STAFF,
                name=f"新城区应急服务站{n}",
                credit_code=make_credit_code("52", "150102", f"AL{n:06d}"),
                region_code="150102",
                contact_phone="04716912345",
                service_types=["emergency_sos"],
                coverage=["150102"],
                latitude=lat,
                longitude=lon,
            )
    with rt.session() as s:
        [out] = record_signals(
            s, signals=[signal(pendant, latitude=40.8414, longitude=111.7519, accuracy_m=15.0)]
        )
        service.take_alarm(s, alarm_id=out.alarm_id, actor=AGENT)
        step = service.dispatch_provider(
            s, alarm_id=out.alarm_id, actor=AGENT, notes="老人跌倒在卫生间"
        )
        assert step.detail["provider"] == "新城区应急服务站2" and step.detail["distance_km"] < 0.2
    with rt.session() as s:
        alarm = service.get_alarm(s, alarm_id=out.alarm_id)
        order = s.get(ServiceOrder, alarm.order_id)
        assert (order.source, order.urgency, order.status) == (
            "sos_alarm",
            "emergency",
            "dispatched",
        )
        assert order.source_ref == f"alarm:{alarm.id}" and "老人跌倒在卫生间" in order.notes
        assert alarm.timer_rung == "on_site"
    with pytest.raises(Exception) as again, rt.session() as s:
        service.dispatch_provider(s, alarm_id=out.alarm_id, actor=AGENT)
    assert getattr(again.value, "code", "") == "order_exists"


@pytest.fixture
def quick(base_settings, pg_engine, pg_url):
    """Timers of one second, so the prompts can be watched."""
    settings = base_settings.with_overrides(
        database_url=pg_url,
        alarm_take_timeout_s=1,
        alarm_step_timeouts="talk_to_elder=1,call_landline=1,call_contact=1",
    )
    for rt in _runtime(settings, pg_engine):
        from platform_core.regions.service import load_dictionary

        with rt.session() as s:
            load_dictionary(s)
        yield rt


def test_a_burst_of_alarms_writes_no_job_per_alarm_and_their_take_timers_fire(quick) -> None:
    """A raised alarm's take timer is data on the alarm, fired by the sweep: the burst's
    transaction writes one outbox row (its events), not one more per alarm."""
    from platform_core.outbox.models import OutboxEntry

    rt = quick
    with rt.session() as s:
        serials = [new_device(s, elder_id=new_elder(s)).serial for _ in range(20)]
    with rt.session() as s:
        before = s.scalar(select(func.max(OutboxEntry.id))) or 0
        outcomes = receive_signals(s, signals=[signal(serial) for serial in serials])
    ids = [o.alarm_id for o in outcomes]
    assert all(o.result == "raised" for o in outcomes)
    with rt.session() as s:
        kinds = s.scalars(select(OutboxEntry.kind).where(OutboxEntry.id > before)).all()
        assert list(kinds).count("job") == 0, kinds
    time.sleep(1.1)  # the take timeout of this runtime: one second
    assert fire_due_timers() >= len(ids)
    with rt.session() as s:
        for alarm_id in ids:
            alarm = service.get_alarm(s, alarm_id=alarm_id)
            assert (alarm.timer_rung, alarm.timer_level) == ("take", "supervisor"), alarm_id


def test_timers_prompt_the_agent_then_a_supervisor_and_stop_when_overtaken(quick) -> None:
    rt = quick
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    with rt.session() as s:
        serial = new_device(s, elder_id=new_elder(s)).serial
    waiting = _raise(rt, serial)
    taken = _raise(rt, new_device_serial(rt))

    def prompts(alarm_id):
        rt.event_bus.drain()
        return [
            (e["data"]["rung"], e["data"]["level"])
            for e in seen
            if e["type"] == "AlarmTimerExpired" and e["data"]["alarm_id"] == alarm_id
        ]

    with rt.session() as s:
        service.take_alarm(s, alarm_id=taken, actor=AGENT)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and (len(prompts(waiting)) < 2 or len(prompts(taken)) < 2):
        fire_due_timers()  # as the intake does every second: a take timer has no job of its own
        time.sleep(0.2)
    # nobody took it: the supervisor is prompted, and again while nobody does
    assert prompts(waiting)[:2] == [("take", "supervisor"), ("take", "supervisor")]
    # taken but nothing done: first the agent, then the supervisor
    assert prompts(taken)[:2] == [("talk_to_elder", "agent"), ("talk_to_elder", "supervisor")]
    with rt.session() as s:
        service.close_alarm(s, alarm_id=taken, outcome=Outcome.DUPLICATE, actor=AGENT)
        seq = service.get_alarm(s, alarm_id=taken).timer_seq
    before = len(prompts(taken))
    time.sleep(1.5)
    assert len(prompts(taken)) == before  # closed: its pending timer found itself overtaken
    with rt.session() as s:
        assert service.timer_expired(s, alarm_id=taken, seq=seq) == "stale"
        assert service.timer_expired(s, alarm_id=taken, seq=seq - 1) == "stale"


def new_device_serial(rt) -> str:
    with rt.session() as s:
        return new_device(s, elder_id=new_elder(s)).serial


def test_closing_for_a_death_is_the_systems_alone(world) -> None:
    rt, elder_id, (pendant, smoke) = world
    ids = [_raise(rt, pendant), _raise(rt, smoke, AlarmType.SMOKE)]
    with rt.session() as s:
        closed = service.close_alarms_of_elder(s, elder_id=elder_id, actor=system_actor())
        assert sorted(a.id for a in closed) == sorted(ids)
    with rt.session() as s:
        assert {a.outcome for a in s.scalars(select(Alarm))} == {"elder_deceased"}
