"""A device's SOS call answered by an agent takes the device's open emergency alarm."""

from __future__ import annotations

from platform_core.accounts import service as accounts
from platform_core.actors import Role
from platform_core.alarms import service as alarms
from platform_core.alarms.intake import record_signals
from platform_core.alarms.vocabulary import AlarmType
from platform_core.flows.device_calls import link_device_call
from tests.platform_core.alarms_support import STAFF, new_device, new_elder, signal


def _world(rt):
    with rt.session() as s:
        user = accounts.create_user(
            s,
            actor=STAFF,
            username="agent_sos",
            password="Steppe-Wind-2026",
            role=Role.AGENT,
            region_code="150100000000",
            display_name="坐席丙",
            sip_interface="PJSIP/8003",
        )
        device = new_device(s, elder_id=new_elder(s))
        outs = record_signals(
            s,
            signals=[
                signal(device.serial, AlarmType.SOS),
                signal(device.serial, AlarmType.LOW_BATTERY),
            ],
        )
    return user.id, device.sim_number, [o.alarm_id for o in outs]


def test_the_answered_device_call_takes_its_sos(regions) -> None:
    user_id, sim, (sos, battery) = _world(regions)
    with regions.session() as s:
        # the trunk may present the SIM with a country prefix
        taken = link_device_call(
            s, caller_number=f"+86{sim}", agent_interface="PJSIP/8003", linkedid="1700000001.5"
        )
        assert taken == [sos]
    with regions.session() as s:
        alarm = alarms.get_alarm(s, alarm_id=sos)
        assert alarm.status == "handling" and alarm.taken_by_user_id == user_id
        assert [(st.step, st.result) for st in alarm.steps] == [
            ("take", "done"),
            ("talk_to_elder", "reached"),
        ]
        assert alarm.steps[1].detail["linkedid"] == "1700000001.5"
        # the technical alarm is not a person's to take
        assert alarms.get_alarm(s, alarm_id=battery).status == "waiting"
        # a call from a number that is no device's changes nothing
        assert (
            link_device_call(
                s, caller_number="13900000000", agent_interface="PJSIP/8003", linkedid="x"
            )
            == []
        )
