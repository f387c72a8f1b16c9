"""How the intake's MQTT sessions read the broker's socket: a burst already waiting on the socket
is taken in a few reads, every message whole and in order, packets split across reads included."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from callcenter.alarm_intake.mqtt import READ_CHUNK, _SupervisedClient
from tests.callcenter import alarm_intake_support as support

broker_url, topic_prefix = support.broker_url, support.topic_prefix

BURST = 200
# larger than a read in all, so some packets straddle two reads
PAYLOAD_BYTES = 1000


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("mqtt://").split(":")
    return host, int(port)


def test_a_burst_waiting_on_the_socket_is_read_whole_in_a_few_reads(
    broker_url, topic_prefix, monkeypatch
) -> None:
    assert BURST * PAYLOAD_BYTES > 2 * READ_CHUNK
    reads = 0
    socket_recv = mqtt.Client._sock_recv

    def counted(self: mqtt.Client, bufsize: int) -> bytes:
        nonlocal reads
        reads += 1
        return socket_recv(self, bufsize)

    monkeypatch.setattr(mqtt.Client, "_sock_recv", counted)
    host, port = _host_port(broker_url)
    topic = f"{topic_prefix}/reads"
    got: list[bytes] = []
    subscribed, all_in = threading.Event(), threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        if len(got) == BURST:
            all_in.set()

    reader = _SupervisedClient(
        CallbackAPIVersion.VERSION2,
        client_id=f"reads-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
        on_failure=lambda _e: None,
    )
    reader.on_message = on_message
    reader.on_subscribe = lambda *_a: subscribed.set()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    try:
        reader.connect(host, port)
        reader.subscribe(topic, qos=0)
        reader.loop_start()
        assert subscribed.wait(5)
        reader.loop_stop()  # the burst waits on the reader's socket

        publisher.connect(host, port)
        publisher.loop_start()
        sent = [f"{n:05d}".encode().ljust(PAYLOAD_BYTES, b".") for n in range(BURST)]
        for body in sent:
            publisher.publish(topic, body, qos=0)
        time.sleep(0.5)

        reads = 0
        reader.loop_start()
        assert all_in.wait(10), f"{len(got)} of {BURST} messages read"
        assert got == sent
        # paho alone reads each packet in three or more pieces: 600 and more here
        assert reads <= 4 * (BURST * PAYLOAD_BYTES // READ_CHUNK + 1), reads
    finally:
        for client in (reader, publisher):
            client.disconnect()
            client.loop_stop()
