"""deploy/mosquitto run by a private Mosquitto (TLS with a certificate made here, the accounts
compose creates, the ACL as shipped): the intake reads every vendor's topics, a vendor's
account publishes only under its own prefix, nobody gets in without a password or TLS."""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import _unavailable
from tests.deploy.support import ROOT, free_port, make_certificate

PASSWORDS = {
    "hotline-intake": "intake-pass",
    "ankang": "ankang-pass",
    "yijia": "yijia-pass",
    "hejiaqin": "hejiaqin-pass",
    "monitor": "monitor-pass",
}


@pytest.fixture
def broker():
    exe, passwd_tool = shutil.which("mosquitto"), shutil.which("mosquitto_passwd")
    if exe is None or passwd_tool is None:
        _unavailable("mosquitto", FileNotFoundError("mosquitto"))
    root = Path(tempfile.mkdtemp(prefix="hotline-mqtt-"))
    root.chmod(0o755)
    cert, key = make_certificate(root)
    passwd = root / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run([passwd_tool, "-b", str(passwd), user, password], check=True)
    tls_port, local_port = free_port(), free_port()
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/config/passwd", str(passwd))
    conf = conf.replace("/mosquitto/etc/acl", str(ROOT / "deploy/mosquitto/acl"))
    conf = conf.replace("/mosquitto/certs/mqtt.crt", str(cert))
    conf = conf.replace("/mosquitto/certs/mqtt.key", str(key))
    conf = conf.replace("/mosquitto/data/", f"{root}/data/")
    conf = re.sub(r"^listener 8883$", f"listener {tls_port} 127.0.0.1", conf, flags=re.M)
    conf = re.sub(
        r"^listener 1883 127\.0\.0\.1$", f"listener {local_port} 127.0.0.1", conf, flags=re.M
    )
    (root / "data").mkdir()
    if os.geteuid() == 0:  # Mosquitto started as root drops to its own user
        conf += "\nuser root\n"
    (root / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(
        [exe, "-c", str(root / "mosquitto.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", tls_port), timeout=0.5):
                break
        except OSError:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.1)
    try:
        yield tls_port, local_port, cert
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def _client(
    port: int, user: str | None, password: str | None, ca: Path | None
) -> tuple[mqtt.Client, int]:
    """Connect; returns the client (loop running) and the CONNACK reason code's value."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))
    result: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: result.put(reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, result.get(timeout=10)


def test_vendor_accounts_publish_only_their_own_topics_over_tls(broker) -> None:
    tls_port, _local, ca = broker
    intake, code = _client(tls_port, "hotline-intake", PASSWORDS["hotline-intake"], ca)
    assert code == 0
    received: queue.Queue[str] = queue.Queue()
    intake.on_message = lambda _c, _u, msg: received.put(msg.topic)
    subscribed: queue.Queue[list] = queue.Queue()
    intake.on_subscribe = lambda _c, _u, _mid, codes, _p: subscribed.put(codes)
    intake.subscribe("hotline/dev/#", qos=1)
    assert [c.value for c in subscribed.get(timeout=5)] == [1]
    ankang, code = _client(tls_port, "ankang", PASSWORDS["ankang"], ca)
    assert code == 0
    try:
        ankang.publish("hotline/dev/yijia/D2/alarm", b"{}", qos=1).wait_for_publish(5)
        ankang.publish("hotline/dev/ankang/D1/alarm", b"{}", qos=1).wait_for_publish(5)
        # the allowed message arrives; the one under another vendor's prefix never does
        assert received.get(timeout=5) == "hotline/dev/ankang/D1/alarm"
        time.sleep(0.5)
        assert received.empty()
    finally:
        ankang.loop_stop()
        ankang.disconnect()
        intake.loop_stop()
        intake.disconnect()


def test_no_way_in_without_a_password_or_tls(broker) -> None:
    tls_port, local_port, ca = broker
    anonymous, code = _client(tls_port, None, None, ca)
    anonymous.loop_stop()
    assert code != 0  # not authorised
    wrong, code = _client(tls_port, "ankang", "not-the-password", ca)
    wrong.loop_stop()
    assert code != 0
    plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    plain.username_pw_set("ankang", PASSWORDS["ankang"])
    connected: queue.Queue[int] = queue.Queue()
    plain.on_connect = lambda _c, _u, _f, reason, _p: connected.put(reason.value)
    plain.connect("127.0.0.1", tls_port)  # TCP is accepted, MQTT without TLS is not
    plain.loop_start()
    try:
        with pytest.raises(queue.Empty):
            connected.get(timeout=2)
    finally:
        plain.loop_stop()
    # the local listener (the healthcheck's) answers the monitor account
    monitor, code = _client(local_port, "monitor", PASSWORDS["monitor"], None)
    monitor.loop_stop()
    monitor.disconnect()
    assert code == 0
