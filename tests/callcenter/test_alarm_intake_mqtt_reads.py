"""How the intake's MQTT sessions use the broker's socket: a burst already waiting on the socket
is taken in a few reads, every message whole and in order, packets split across reads included;
a committed batch's acknowledgements go back in a few writes, every one counted by the broker."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from callcenter.alarm_intake.mqtt import READ_CHUNK, _SupervisedClient
from callcenter.alarm_intake.pipeline import acks_together, send_with_batch
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


ACKED = 200


def _persistent_reader(client_id: str) -> tuple[_SupervisedClient, Properties]:
    reader = _SupervisedClient(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
        on_failure=lambda _e: None,
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 60
    props.ReceiveMaximum = 2 * ACKED
    return reader, props


def test_a_batchs_acks_go_out_in_one_write_and_the_broker_takes_them_all(
    broker_url, topic_prefix, monkeypatch
) -> None:
    """Acks given inside ``acks_together`` are queued quietly and written together when it ends;
    the broker counts every one: the persistent session, resumed, brings none of them again."""
    host, port = _host_port(broker_url)
    topic = f"{topic_prefix}/acks"
    client_id = f"acks-{uuid.uuid4().hex[:8]}"
    held: list[mqtt.MQTTMessage] = []
    subscribed, all_in = threading.Event(), threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        held.append(msg)  # not acknowledged: in flight until the batch is
        if len(held) == ACKED:
            all_in.set()

    reader, props = _persistent_reader(client_id)
    reader.on_message = on_message
    reader.on_subscribe = lambda *_a: subscribed.set()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    again: _SupervisedClient | None = None
    try:
        reader.connect(host, port, clean_start=False, properties=props)
        reader.subscribe(topic, qos=1)
        reader.loop_start()
        assert subscribed.wait(5)
        publisher.connect(host, port)
        publisher.loop_start()
        for n in range(ACKED):
            publisher.publish(topic, f"{n}".encode(), qos=1)
        assert all_in.wait(10), f"{len(held)} of {ACKED} messages in"

        sends: list[int] = []
        socket_send = mqtt.Client._sock_send

        def counted(self: mqtt.Client, buf: bytes) -> int:
            sends.append(len(buf))
            return socket_send(self, buf)

        monkeypatch.setattr(mqtt.Client, "_sock_send", counted)
        with acks_together():
            for msg in held:
                assert send_with_batch(id(reader), reader.wake)
                reader.ack_quietly(msg.mid)
            time.sleep(0.2)
            assert sends == [], "acks written before the batch ended"
        deadline = time.monotonic() + 5
        while sum(sends) < 4 * ACKED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(sends) == 4 * ACKED  # a PUBACK is 4 bytes
        assert len(sends) <= 3, sends  # paho alone: one send() per PUBACK
        assert not send_with_batch(id(reader), reader.wake)  # outside a batch: ack at once
        monkeypatch.undo()
        reader.disconnect()
        reader.loop_stop()

        # the same session resumed: anything unacknowledged would be delivered again now
        redelivered: list[bytes] = []
        again, props = _persistent_reader(client_id)
        again.on_message = lambda _c, _u, msg: redelivered.append(msg.payload)
        again.connect(host, port, clean_start=False, properties=props)
        again.loop_start()
        time.sleep(1.0)
        assert redelivered == []
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for client in (reader, again):
            if client is not None:
                client.disconnect()
                client.loop_stop()
        forget = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        forget.connect(host, port, clean_start=True)
        forget.disconnect()
