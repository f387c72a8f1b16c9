"""Poison on the device topics over a real Mosquitto: whatever a device sends is refused,
counted, kept and acknowledged, and every valid SOS sent after it is recorded, on each alarm
session alone and on both, after an intake restart and after a broker restart."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, select

from platform_core.alarms.models import RejectedDeviceMessage
from tests.callcenter import alarm_intake_support as support
from tests.callcenter.alarm_intake_support import (
    POISON,
    Publisher,
    count_alarms,
    sos_message,
    wait_until,
)
from tests.platform_core.alarms_support import new_device

# fixtures
home, broker_url, private_broker, topic_prefix, start_intake = (
    support.home,
    support.broker_url,
    support.private_broker,
    support.topic_prefix,
    support.start_intake,
)


def _devices(home, n: int) -> list[str]:
    with home.runtime.session() as s:
        return [new_device(s, elder_id=home.elder_id).imei for _ in range(n)]


def _stored_rejects(rt, reason: str) -> int:
    with rt.session() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(RejectedDeviceMessage.count), 0)).where(
                    RejectedDeviceMessage.reason == reason
                )
            )
        )


def _nothing_left_unacknowledged(start_intake, rt, url: str, prefix: str, client: str) -> None:
    """A message a session never acknowledged is delivered again when the session reconnects:
    an intake on the same sessions receives nothing."""
    again = start_intake(rt, url, prefix, client)
    try:
        time.sleep(1.0)
        stats = again.stats()
        assert not any(k.endswith(".received") and v for k, v in stats.items()), stats
    finally:
        again.stop()


@pytest.mark.parametrize(
    "lanes",
    [None, ("alarm", "heartbeat"), ("alarm-safe", "heartbeat")],
    ids=["both-sessions", "mqtt5-session", "durable-session"],
)
def test_poison_on_an_alarm_topic_costs_no_alarm(
    home, broker_url, topic_prefix, start_intake, lanes
) -> None:
    rt = home.runtime
    devices = _devices(home, 5)
    client = f"intake-{uuid.uuid4().hex[:8]}"
    options = {} if lanes is None else {"mqtt_lanes": lanes}
    intake = start_intake(rt, broker_url, topic_prefix, client, **options)
    pub = Publisher(broker_url, topic_prefix)
    try:
        imei = home.pendant.imei
        for _ in range(25):
            pub.publish("ankang", imei, "alarm", POISON)
        pub.publish("ankang", imei, "heartbeat", POISON)
        for n, device in enumerate(devices):
            pub.publish("ankang", device, "alarm", sos_message(device, f"after-poison-{n}"))
        pub.flush()
        assert wait_until(lambda: count_alarms(rt, alarm_type="sos") == 5, timeout=15), (
            intake.stats()
        )
        assert intake.pipeline.wait_idle(5)
        assert wait_until(lambda: intake.rejects.counts["too_deep"] >= 26)
        stats = intake.stats()
        for lane in {"alarm", "alarm-safe"} & set(lanes or ("alarm", "alarm-safe")):
            assert (
                stats[f"mqtt.{lane}.received"] >= 30 and stats.get(f"mqtt.{lane}.restarts", 0) == 0
            )
    finally:
        pub.close()
        intake.stop()
    # each poison message is counted once and kept (sampled), however many sessions took it
    assert intake.rejects.counts["too_deep"] == 26
    assert _stored_rejects(rt, "too_deep") == 26
    _nothing_left_unacknowledged(start_intake, rt, broker_url, topic_prefix, client)


def test_poison_kept_by_the_broker_is_refused_again_after_restarts(
    home, private_broker, topic_prefix, start_intake
) -> None:
    rt = home.runtime
    devices = _devices(home, 10)
    client = f"intake-{uuid.uuid4().hex[:8]}"
    start_intake(rt, private_broker.url, topic_prefix, client).stop()  # its sessions stay
    pub = Publisher(private_broker.url, topic_prefix)
    imei = home.pendant.imei
    try:
        # queued on the broker for the stopped intake; the broker restarts (and keeps them)
        for _ in range(25):
            pub.publish("ankang", imei, "alarm", POISON)
        for n, device in enumerate(devices[:5]):
            pub.publish("ankang", device, "alarm", sos_message(device, f"queued-{n}"))
        pub.flush()
        private_broker.stop()
        private_broker.start()
        intake = start_intake(rt, private_broker.url, topic_prefix, client)
        assert wait_until(lambda: count_alarms(rt, alarm_type="sos") == 5, timeout=20), (
            intake.stats()
        )
        assert wait_until(lambda: intake.rejects.counts["too_deep"] >= 25)
        # the broker restarts under the running intake; poison and alarms sent meanwhile
        private_broker.stop()
        for _ in range(25):
            pub.publish("ankang", imei, "alarm", POISON)
        for n, device in enumerate(devices[5:]):
            pub.publish("ankang", device, "alarm", sos_message(device, f"restart-{n}"))
        time.sleep(0.5)
        private_broker.start()
        assert wait_until(lambda: count_alarms(rt, alarm_type="sos") == 10, timeout=30), (
            intake.stats()
        )
        assert wait_until(lambda: intake.rejects.counts["too_deep"] >= 50)
        # the second copies of the last messages are read too before the intake stops
        assert wait_until(
            lambda: (
                intake.stats().get("mqtt.alarm-safe.received", 0) >= 60
                and intake.pipeline.wait_idle(0.1)
            )
        ), intake.stats()
        stats = intake.stats()
        assert stats["mqtt.alarm.connects"] >= 2 and stats["mqtt.alarm-safe.connects"] >= 2
        intake.stop()
    finally:
        pub.close()
    _nothing_left_unacknowledged(start_intake, rt, private_broker.url, topic_prefix, client)


def test_a_failed_network_thread_is_restarted_and_its_message_delivered_again(
    home, broker_url, topic_prefix, start_intake
) -> None:
    """Whatever escapes the MQTT library's network thread, the lane restarts it, reconnects,
    and the broker delivers the unacknowledged message again."""
    rt = home.runtime
    intake = start_intake(rt, broker_url, topic_prefix, mqtt_lanes=("alarm",))
    [lane] = intake.mqtt.clients
    handle = lane.client._handle_on_message
    failed: list[int] = []

    def fail_once(message) -> None:
        if not failed:
            failed.append(message.mid)
            raise RuntimeError("network thread failure")
        handle(message)

    lane.client._handle_on_message = fail_once
    pub = Publisher(broker_url, topic_prefix)
    try:
        imei = home.pendant.imei
        pub.publish("ankang", imei, "alarm", sos_message(imei, "first"))
        pub.flush()
        assert wait_until(lambda: count_alarms(rt, alarm_type="sos") == 1, timeout=15)
        assert failed and intake.stats()["mqtt.alarm.restarts"] == 1
        pub.publish("ankang", home.smoke.serial, "alarm", sos_message(home.smoke.serial, "next"))
        pub.flush()
        assert wait_until(lambda: count_alarms(rt, alarm_type="sos") == 2, timeout=10)
    finally:
        pub.close()
        intake.stop()
