"""Alarm intake over a real Mosquitto: alarms recorded once, bad messages counted and kept, and
nothing lost across an intake restart or a broker restart."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select

from callcenter.alarm_intake.protocols import dc09, hxjson
from platform_core.alarms.models import Alarm, AlarmSignal, RejectedDeviceMessage
from platform_core.db import utcnow
from platform_core.devices.models import Device
from platform_core.notifications.models import OutboxMessage
from tests.callcenter import alarm_intake_support as support
from tests.callcenter.alarm_intake_support import VENDORS, Publisher, count_alarms, wait_until

# fixtures
home, broker_url, private_broker, topic_prefix, start_intake = (
    support.home,
    support.broker_url,
    support.private_broker,
    support.topic_prefix,
    support.start_intake,
)

ANKANG = VENDORS["ankang"].secret


_sos = support.sos_message


def _beat(device: str, battery: int) -> bytes:
    return hxjson.encode({"ver": 1, "type": "heartbeat", "dev": device, "bat": battery}, ANKANG)


def test_alarms_heartbeats_and_bad_messages_over_mqtt(
    home, broker_url, topic_prefix, start_intake
) -> None:
    rt = home.runtime
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    intake = start_intake(rt, broker_url, topic_prefix)
    pub = Publisher(broker_url, topic_prefix)
    try:
        imei = home.pendant.imei
        pub.publish("ankang", imei, "heartbeat", _beat(imei, 81), qos=0)
        pub.publish("ankang", imei, "alarm", _sos(imei, "m-1"))
        pub.publish("ankang", imei, "alarm", _sos(imei, "m-1"))  # the device's retransmission
        pub.publish("ankang", imei, "alarm", _sos(imei, "m-2"))
        smoke = dc09.encode_event(
            account=home.smoke.serial, seq=1, qualifier="1", event="111", at=utcnow()
        )
        pub.publish("yijia", home.smoke.serial, "alarm", smoke)
        # bad input of every kind
        pub.publish("ankang", imei, "alarm", b"{garbage")
        unsigned = (
            b'{"ver":1,"type":"alarm","event":"sos","dev":"%s","msgId":"x","ts":1}' % imei.encode()
        )
        pub.publish("ankang", imei, "alarm", unsigned)
        pub.publish("ankang", "GHOST", "alarm", _sos("GHOST-0001", "g-1"))
        pub.publish("nobody", imei, "alarm", _sos(imei, "n-1"))
        pub.publish("yijia", home.smoke.serial, "alarm", smoke.replace("111", "112", 1))
        pub.flush()
        assert wait_until(lambda: count_alarms(rt) == 2 and intake.pipeline.wait_idle(0.1))
        assert wait_until(lambda: sum(intake.rejects.counts.values()) >= 5, timeout=5), (
            intake.rejects.counts
        )
    finally:
        pub.close()
        intake.stop()
    with rt.session() as s:
        alarms = {a.alarm_type: a for a in s.scalars(select(Alarm))}
        assert alarms["sos"].signal_count == 2 and alarms["sos"].elder_id == home.elder_id
        assert alarms["smoke"].vendor == "yijia" and alarms["smoke"].event_code == "1111"
        assert s.scalar(select(func.count()).select_from(AlarmSignal)) == 3
        # the family heard of the SOS (after its commit), and of the smoke alarm
        told = s.scalars(
            select(OutboxMessage.ref_id).where(OutboxMessage.ref_type == "alarm")
        ).all()
        assert sorted(told) == sorted([str(alarms["sos"].id), str(alarms["smoke"].id)])
        device = s.get(Device, home.pendant.id)
        assert (device.status, device.battery_pct) == ("online", 81)
        stored = dict(
            s.execute(
                select(
                    RejectedDeviceMessage.reason, func.sum(RejectedDeviceMessage.count)
                ).group_by(RejectedDeviceMessage.reason)
            ).all()
        )
    assert stored == {
        "malformed": 1,
        "unsigned": 1,
        "unknown_device": 1,
        "unknown_vendor": 1,
        "bad_crc": 1,
    }
    stats = intake.stats()
    # each message arrives on two sessions; the second copy is recognised, like the device's
    # own retransmission of m-1
    assert (stats["signals.raised"], stats["signals.folded"]) == (2, 1)
    assert stats["signals.redelivered"] >= 1
    assert [e["data"]["alarm_type"] for e in seen if e["type"] == "AlarmRaised"].count("sos") == 1


def test_nothing_is_lost_while_the_intake_is_down(
    home, broker_url, topic_prefix, start_intake
) -> None:
    rt = home.runtime
    client = f"intake-{uuid.uuid4().hex[:8]}"
    first = start_intake(rt, broker_url, topic_prefix, client)
    first.stop()  # its session, and subscriptions, stay on the broker
    pub = Publisher(broker_url, topic_prefix)
    with rt.session() as s:
        from tests.platform_core.alarms_support import new_device

        devices = [new_device(s, elder_id=home.elder_id).imei for _ in range(20)]
    try:
        for n, imei in enumerate(devices):
            pub.publish("ankang", imei, "alarm", _sos(imei, f"down-{n}"))
        pub.flush()
        second = start_intake(rt, broker_url, topic_prefix, client)
        try:
            assert wait_until(lambda: count_alarms(rt) == 20, timeout=15)
            assert second.pipeline.wait_idle(5)
        finally:
            second.stop()
    finally:
        pub.close()
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(AlarmSignal)) == 20


def test_a_broker_restart_loses_nothing(home, private_broker, topic_prefix, start_intake) -> None:
    rt = home.runtime
    with rt.session() as s:
        from tests.platform_core.alarms_support import new_device

        devices = [new_device(s, elder_id=home.elder_id).imei for _ in range(30)]
    client = f"intake-{uuid.uuid4().hex[:8]}"
    intake = start_intake(rt, private_broker.url, topic_prefix, client)
    intake.stop()
    pub = Publisher(private_broker.url, topic_prefix)
    try:
        # queued at the broker for the stopped intake, then the broker restarts
        for n, imei in enumerate(devices[:10]):
            pub.publish("ankang", imei, "alarm", _sos(imei, f"q-{n}"))
        pub.flush()
        private_broker.stop()
        private_broker.start()
        intake = start_intake(rt, private_broker.url, topic_prefix, client)
        assert wait_until(lambda: count_alarms(rt) == 10, timeout=15)
        # the broker restarts under a running intake; devices publish while it is down
        private_broker.stop()
        for n, imei in enumerate(devices[10:]):
            pub.publish("ankang", imei, "alarm", _sos(imei, f"r-{n}"))
        time.sleep(0.5)
        private_broker.start()
        assert wait_until(lambda: count_alarms(rt) == 30, timeout=30), count_alarms(rt)
        assert intake.pipeline.wait_idle(5)
        stats = intake.stats()
        assert stats["mqtt.alarm.connects"] >= 2 and stats["mqtt.alarm.disconnects"] >= 1
    finally:
        pub.close()
        intake.stop()
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(AlarmSignal)) == 30
