"""MQTT intake: persistent sessions on the broker, QoS 1, acknowledged after commit.

Devices (or their vendor's cloud) publish on ``{prefix}/{vendor}/{device}/alarm`` and
``{prefix}/{vendor}/{device}/heartbeat``. Messages are acknowledged by hand once their batch has
committed, so a message is never lost between the broker and the database; each client
reconnects by itself after a broker restart and resubscribes.

Alarms arrive on two sessions at once, and the alarm service records each message once:

- ``alarm``: MQTT 5 with a large Receive Maximum, so a burst of alarms is in flight together and
  written in a few batches (MQTT 3.1.1 leaves the window to the broker: 20 on Mosquitto).
- ``alarm-safe``: MQTT 3.1.1 with ``clean_session=False``, whose session and queue Mosquitto
  writes to its persistence store and restores after a restart (2.0.11 does not restore MQTT 5
  sessions). It usually brings copies already recorded, recognised by their message key; after a
  broker restart, or an intake restart across one, it brings what the other session lost.

Heartbeats have one MQTT 5 session of their own, so a heartbeat flood never holds alarms back in
the broker's in-flight window; a heartbeat lost in a broker restart is replaced by the next one.

Nothing a device sends can stop a session: every message is acknowledged once it is recorded or
refused (a refusal is counted and kept, see rejects.py), whatever goes wrong reading it. An
unacknowledged message would stay in the broker's in-flight window (20 messages on Mosquitto for
the MQTT 3.1.1 session) until the session stalled. And should anything still escape into the
MQTT library's network thread, the session restarts that thread on a fresh connection.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from callcenter.alarm_intake.pipeline import Delivery, IntakePipeline, send_with_batch
from callcenter.alarm_intake.protocols import ProtocolError, read_payload
from callcenter.alarm_intake.vendors import Vendor
from platform_core.db import utcnow

log = logging.getLogger(__name__)

# (client suffix, topic channel, MQTT protocol)
SESSIONS = (
    ("alarm", "alarm", mqtt.MQTTv5),
    ("alarm-safe", "alarm", mqtt.MQTTv311),
    ("heartbeat", "heartbeat", mqtt.MQTTv5),
)
# How many unacknowledged messages the broker may have in flight to one MQTT 5 session.
RECEIVE_MAXIMUM = 2000
# Pause before a failed network thread runs again on a fresh connection.
RESTART_PAUSE_S = 1.0
# What one read from the broker's socket may take (bytes).
READ_CHUNK = 65536


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> Broker:
        parts = urlparse(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT 地址须为 mqtt:// 或 mqtts:// / unsupported MQTT URL: {url}")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=parts.username,
            password=parts.password,
            tls=tls,
        )


# the most PUBACKs written with one send() (4 bytes each)
_ACKS_PER_WRITE = 4096


def _whole_ack(packet: Any) -> bool:
    return bool((packet["command"] & 0xF0) == mqtt.PUBACK and packet["pos"] == 0)


class _SupervisedClient(mqtt.Client):
    """paho's client, whose network thread outlives whatever escapes it.

    paho ends its network thread (``loop_start``) on an exception from a callback or from its
    own handling of a packet, and the client then sits silent, holding the message it was
    reading unacknowledged. Here the loop runs again after a pause, on a fresh connection, so
    the broker sends that message again."""

    def __init__(self, *args: Any, on_failure: Callable[[Exception], None], **kwargs: Any) -> None:
        self._read_buf, self._read_pos = b"", 0
        super().__init__(*args, **kwargs)
        self._on_failure = on_failure

    # paho reads a packet with a recv() for its first byte, one per byte of its length and one
    # for the rest, and returns to select() after each packet: four system calls a message, each
    # giving the interpreter lock away and waiting to have it back while the alarm writer runs.
    # A 500-alarm burst took 110-130 ms to read that way. Here one recv() takes whatever the
    # socket holds and paho's reads are served from it; the loop reads on while bytes are left.

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_pos >= len(self._read_buf):
            chunk = super()._sock_recv(READ_CHUNK)
            if not chunk:
                return chunk  # the broker closed the connection
            self._read_buf, self._read_pos = chunk, 0
        out = self._read_buf[self._read_pos : self._read_pos + bufsize]
        self._read_pos += len(out)
        return out

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        # select() would not wake for bytes already taken off the socket
        while (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._sock is not None
            and self._read_pos < len(self._read_buf)
        ):
            rc = super().loop_read(max_packets)
        return rc

    def _sock_close(self) -> None:
        self._read_buf, self._read_pos = b"", 0  # a new connection starts a new stream
        super()._sock_close()

    # paho queues each PUBACK with a byte to its own socket pair to wake the network thread,
    # which then writes each PUBACK with a send() of its own: for a burst's batch of 500, 500
    # system calls on the writer's side and 500 on the reader's, each giving the interpreter
    # lock away. A batch's acks are queued quietly, the thread woken once, and the PUBACKs at
    # the head of the queue written with one send().

    def ack_quietly(self, mid: int) -> None:
        """Queue a QoS 1 message's PUBACK without waking the network thread (``wake`` does)."""
        packet = struct.pack("!BBH", mqtt.PUBACK, 2, mid)
        self._out_packet.append(
            {
                "command": mqtt.PUBACK,
                "mid": mid,
                "qos": 1,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": None,
            }
        )

    def wake(self) -> None:
        """Have the network thread write what is queued (as paho does after each packet)."""
        if self._sockpairW is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                self._sockpairW.send(b"0")

    def _packet_write(self) -> mqtt.MQTTErrorCode:
        out = self._out_packet
        # only this thread takes from the head; others append at the tail meanwhile
        if len(out) > 1 and _whole_ack(out[0]) and _whole_ack(out[1]):
            acks = [out.popleft()]
            while out and _whole_ack(out[0]) and len(acks) < _ACKS_PER_WRITE:
                acks.append(out.popleft())
            joined = b"".join(a["packet"] for a in acks)
            out.appendleft({**acks[0], "mid": 0, "to_process": len(joined), "packet": joined})
        return super()._packet_write()

    def _thread_main(self) -> None:  # paho's entry point of the loop_start() thread
        try:
            while not self._thread_terminate:
                try:
                    self.loop_forever(retry_first_connection=True)
                    return  # disconnect() or loop_stop()
                except Exception as error:
                    self._on_failure(error)
                deadline = time.monotonic() + RESTART_PAUSE_S
                while not self._thread_terminate and time.monotonic() < deadline:
                    time.sleep(0.05)
                if self._thread_terminate:
                    return
                with contextlib.suppress(OSError):  # the loop keeps trying, with back-off
                    self.reconnect()
        finally:
            self._thread = None


@dataclass(frozen=True)
class Feed:
    """What every MQTT session of the intake shares: the broker, the client id and the topic
    prefix each session derives its own from, how long the broker keeps a session, the
    vendors' codecs and the pipeline they feed."""

    broker: Broker
    client_id: str
    topic_prefix: str
    session_expiry_s: int
    vendors: dict[str, Vendor]
    pipeline: IntakePipeline


class LaneClient:
    """One MQTT client (one session) feeding the pipeline."""

    def __init__(
        self, feed: Feed, *, lane: str, channel: str, protocol: int, copy: bool = False
    ) -> None:
        self.lane = lane
        self.protocol = protocol
        # second copies of what another session reads and reports refusals of
        self.copy = copy
        self.broker = broker = feed.broker
        self.topic = f"{feed.topic_prefix}/+/+/{channel}"
        self.prefix_parts = len(feed.topic_prefix.split("/"))
        self.vendors = feed.vendors
        self.pipeline = feed.pipeline
        self.session_expiry_s = feed.session_expiry_s
        self.connected = threading.Event()
        self.connects = 0
        self.client = _SupervisedClient(
            CallbackAPIVersion.VERSION2,
            client_id=f"{feed.client_id}-{lane}",
            protocol=protocol,
            clean_session=False if protocol != mqtt.MQTTv5 else None,
            manual_ack=True,
            on_failure=self._on_loop_failure,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        if self.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            self.client.connect_async(
                self.broker.host,
                self.broker.port,
                keepalive=30,
                clean_start=False,
                properties=props,
            )
        else:
            self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_loop_failure(self, error: Exception) -> None:
        self.connected.clear()
        self.pipeline.count(f"mqtt.{self.lane}.restarts")
        log.error(
            "MQTT 网络线程出错 (%s), 重新连接 / network thread failed, reconnecting: %s",
            self.lane,
            type(error).__name__,
            exc_info=error,
        )

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT 连接被拒 (%s): %s / broker refused the connection", self.lane, reason)
            return
        self.connects += 1
        self.pipeline.count(f"mqtt.{self.lane}.connects")
        # the persistent session keeps the subscription; subscribing again is harmless and
        # covers a session the broker had to drop
        client.subscribe(self.topic, qos=1)
        log.info("MQTT 已连接 (%s), 订阅 %s / connected, subscribed", self.lane, self.topic)
        self.connected.set()

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        self.pipeline.count(f"mqtt.{self.lane}.disconnects")
        log.warning("MQTT 断开 (%s): %s, 自动重连 / disconnected, reconnecting", self.lane, reason)

    def _ack(self, mid: int, qos: int) -> Callable[[bool], None]:
        def ack(_ok: bool) -> None:
            if qos == 1 and send_with_batch(id(self.client), self.client.wake):
                self.client.ack_quietly(mid)  # written with the rest of its batch's
            elif qos > 0:
                self.client.ack(mid, qos)

        return ack

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        received = utcnow()
        self.pipeline.count(f"mqtt.{self.lane}.received")
        if self.copy or self.lane == "heartbeat":
            # second copies and heartbeats are read once the alarms in flight are written
            self.pipeline.yield_to_alarms()
            self.pipeline.later(lambda: self._receive(msg, received))
            return
        self._receive(msg, received)

    def _receive(self, msg: Any, received: Any) -> None:
        """Read one message; whatever happens, it is recorded, or refused and acknowledged."""
        ack = self._ack(msg.mid, msg.qos)
        try:
            delivery = self._read(msg, received, ack)
        except ProtocolError as err:
            self._refuse(err, msg)
            ack(False)
            return
        except Exception as error:  # never into paho's thread: refused like any bad message
            log.exception("设备消息处理出错 (%s) / reading a message failed", self.lane)
            self._refuse(ProtocolError("unreadable", type(error).__name__), msg)
            ack(False)
            return
        self.pipeline.count(f"mqtt.{self.lane}.messages")
        self.pipeline.submit(delivery)

    def _refuse(self, err: ProtocolError, msg: Any) -> None:
        if self.copy:
            return  # the first session reports it
        self.pipeline.refuse(
            err,
            transport="mqtt",
            vendor=self._vendor_code(msg)[:20],
            source=str(msg.topic)[:200],
            raw=msg.payload[:2000],
        )

    def _vendor_code(self, msg: Any) -> str:
        parts = str(msg.topic).split("/")[self.prefix_parts :]
        return parts[0] if len(parts) == 3 else ""

    def _read(self, msg: Any, received: Any, ack: Callable[[bool], None]) -> Delivery:
        vendor_code = self._vendor_code(msg)
        vendor = self.vendors.get(vendor_code)
        if vendor is None:
            raise ProtocolError("unknown_vendor", str(msg.topic)[:120])
        parsed = read_payload(
            vendor.protocol,
            msg.payload,
            vendor=vendor.code,
            secret=vendor.secret,
            transport="mqtt",
            received_at=received,
        )
        for err, raw in [] if self.copy else parsed.refused:
            self.pipeline.refuse(
                err, transport="mqtt", vendor=vendor.code, source=msg.topic, raw=raw
            )
        # routed by content: an alarm sent on the heartbeat topic still takes the alarm lane
        return Delivery(
            parsed.reports,
            ack,
            transport="mqtt",
            vendor=vendor.code,
            source=msg.topic,
            copy=self.copy,
        )


class MqttIntake:
    def __init__(self, feed: Feed, *, lanes: Sequence[str] | None = None) -> None:
        """``lanes``: the sessions to open (all of SESSIONS by default; tests open one)."""
        chosen = [s for s in SESSIONS if lanes is None or s[0] in lanes]
        both = {"alarm", "alarm-safe"} <= {lane for lane, _c, _p in chosen}
        self.clients = [
            LaneClient(
                feed,
                lane=lane,
                channel=channel,
                protocol=protocol,
                copy=lane == "alarm-safe" and both,
            )
            for lane, channel, protocol in chosen
        ]

    def start(self) -> MqttIntake:
        for c in self.clients:
            c.start()
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return all(c.connected.wait(timeout) for c in self.clients)

    def stop(self) -> None:
        for c in self.clients:
            c.stop()


def forget_sessions(broker: Broker, client_id: str) -> None:
    """End the intake's persistent sessions on the broker (a retired intake, tests, benchmarks):
    connecting once with a clean start discards each session and whatever it had queued."""
    for lane, _channel, protocol in SESSIONS:
        if protocol == mqtt.MQTTv5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"{client_id}-{lane}", protocol=protocol
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"{client_id}-{lane}",
                protocol=protocol,
                clean_session=True,
            )
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        try:
            if protocol == mqtt.MQTTv5:
                client.connect(broker.host, broker.port, clean_start=True)
            else:
                client.connect(broker.host, broker.port)
            client.loop_start()
            client.disconnect()
            client.loop_stop()
        except OSError:
            log.warning("无法清理 MQTT 会话 / could not reach the broker to end %s", client_id)
