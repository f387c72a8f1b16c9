"""Vendor webhooks over real HTTP: signed requests recorded before the answer, everything else
refused with a clear code, counted and kept."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from sqlalchemy import func, select

from callcenter.alarm_intake.app import AlarmIntake
from callcenter.alarm_intake.protocols import dc09, hxjson
from callcenter.alarm_intake.vendors import sign_request
from platform_core.alarms.models import Alarm, RejectedDeviceMessage
from platform_core.db import utcnow
from tests.callcenter import alarm_intake_support as support
from tests.callcenter.alarm_intake_support import VENDORS

home = support.home  # fixture


@pytest.fixture
def webhook(home):
    intake = AlarmIntake(
        home.runtime,
        mqtt_url="",
        http_host="127.0.0.1",
        http_port=0,
        schedule=False,
        vendors=VENDORS,
    ).start()
    yield intake
    intake.stop()


def _post(
    intake,
    vendor: str,
    body: bytes,
    *,
    secret: str | None = None,
    ts: int | None = None,
    headers: dict | None = None,
) -> requests.Response:
    stamp = str(ts if ts is not None else int(time.time()))
    sent = {"Content-Type": "application/json"}
    if secret is not None:
        sent.update(
            {"X-Hotline-Timestamp": stamp, "X-Hotline-Signature": sign_request(secret, stamp, body)}
        )
    sent.update(headers or {})
    return requests.post(
        f"{intake.http.url}/alarm-intake/v1/{vendor}", data=body, headers=sent, timeout=10
    )


def _msg(device: str, msg_id: str, **extra) -> dict:
    return {
        "ver": 1,
        "type": "alarm",
        "event": "fall",
        "dev": device,
        "msgId": msg_id,
        "ts": int(time.time() * 1000),
        **extra,
    }


def test_a_signed_batch_is_recorded_before_the_answer(home, webhook) -> None:
    secret = VENDORS["ankang"].secret
    good = json.loads(
        hxjson.encode(_msg(home.pendant.imei, "w-1", loc={"lat": 40.84, "lng": 111.75}), secret)
    )
    bad = dict(good, dev="someone-else")  # altered after signing
    body = json.dumps([good, bad]).encode()
    resp = _post(webhook, "ankang", body, secret=secret)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {
        "accepted": 1,
        "refused": [
            {
                "reason": "bad_signature",
                "message": "签名不符 / signature does not match",
                "detail": "sign does not match",
            }
        ],
    }
    # committed when the answer came: no waiting needed
    with home.runtime.session() as s:
        [alarm] = s.scalars(select(Alarm)).all()
        assert (alarm.alarm_type, alarm.latitude, alarm.vendor) == ("fall", 40.84, "ankang")
    # the vendor retries the same request: recognised, nothing new
    assert _post(webhook, "ankang", body, secret=secret).status_code == 202
    with home.runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 1
        assert s.get(Alarm, alarm.id).signal_count == 1


def test_dc09_frames_over_http(home, webhook) -> None:
    secret = VENDORS["yijia"].secret
    frames = dc09.encode_event(
        account=home.smoke.serial, seq=11, qualifier="1", event="111", at=utcnow()
    )
    frames += dc09.encode_link_test(account=home.smoke.serial, seq=12, at=utcnow())
    resp = _post(
        webhook, "yijia", frames.encode(), secret=secret, headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 202 and resp.json()["accepted"] == 2
    with home.runtime.session() as s:
        [alarm] = s.scalars(select(Alarm)).all()
        assert alarm.alarm_type == "smoke" and alarm.device_id == home.smoke.id


def test_bad_requests_are_refused_counted_and_kept(home, webhook) -> None:
    secret = VENDORS["ankang"].secret
    body = hxjson.encode(_msg(home.pendant.imei, "w-2"), secret)
    cases = [
        (_post(webhook, "ankang", body), 401, "unsigned"),
        (_post(webhook, "ankang", body, secret="guessed"), 401, "bad_signature"),
        (
            _post(webhook, "ankang", body, secret=secret, ts=int(time.time()) - 3600),
            401,
            "stale_timestamp",
        ),
        (_post(webhook, "nobody", body, secret=secret), 404, "unknown_vendor"),
        (_post(webhook, "ankang", b"<xml/>", secret=secret), 400, "malformed"),
        (_post(webhook, "ankang", b"x" * (300 * 1024), secret=secret), 413, "too_large"),
    ]
    for resp, status, code in cases:
        assert (resp.status_code, resp.json()["code"]) == (status, code)
        assert _is_chinese_first(resp.json()["message"]), resp.json()
    # a signed request whose only message is unusable
    unknown = hxjson.encode(_msg("NOT-REGISTERED-1", "w-3"), secret)
    resp = _post(webhook, "ankang", unknown, secret=secret)
    assert resp.status_code == 202  # recorded as a rejected message of an unknown device
    assert support.wait_until(lambda: webhook.rejects.counts["unknown_device"] == 1)
    webhook.rejects.close()  # flushes what it holds
    with home.runtime.session() as s:
        reasons = dict(
            s.execute(
                select(RejectedDeviceMessage.reason, func.count()).group_by(
                    RejectedDeviceMessage.reason
                )
            ).all()
        )
        assert s.scalar(select(func.count()).select_from(Alarm)) == 0
    assert reasons == {code: 1 for _r, _s, code in cases} | {"unknown_device": 1}


def _is_chinese_first(message: str) -> bool:
    return "\u4e00" <= message[0] <= "\u9fff"


def test_nested_json_is_answered_400_with_its_reason_and_kept(home, webhook) -> None:
    secret = VENDORS["ankang"].secret
    for _ in range(3):
        resp = _post(webhook, "ankang", support.POISON, secret=secret)
        assert resp.status_code == 400, resp.text
        body = resp.json()
        assert body["code"] == "too_deep" and _is_chinese_first(body["message"]), body
    # one nested message inside an otherwise good batch: the whole document is refused
    good = json.loads(hxjson.encode(_msg(home.pendant.imei, "w-9"), secret))
    nested = json.dumps([good, {"dev": json.loads("[" * 40 + "]" * 40)}]).encode()
    resp = _post(webhook, "ankang", nested, secret=secret)
    assert (resp.status_code, resp.json()["code"]) == (400, "too_deep")
    # the webhook serves on: the next alarm is recorded
    sos = hxjson.encode(_msg(home.pendant.imei, "after-poison", event="sos"), secret)
    assert _post(webhook, "ankang", sos, secret=secret).status_code == 202
    assert support.count_alarms(home.runtime, alarm_type="sos") == 1
    webhook.rejects.close()
    with home.runtime.session() as s:
        stored = s.scalar(
            select(func.count())
            .select_from(RejectedDeviceMessage)
            .where(RejectedDeviceMessage.reason == "too_deep")
        )
    assert stored == 4 and webhook.rejects.counts["too_deep"] == 4


def _raw_request(intake, head: bytes, body: bytes = b"", timeout: float = 8.0) -> socket.socket:
    host, port = intake.http.server_address[:2]
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.sendall(head + body)
    return sock


def _read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _head(length: int | str, secret: str = "", body: bytes = b"") -> bytes:
    stamp = str(int(time.time()))
    signature = sign_request(secret, stamp, body) if secret else "0" * 64
    return (
        "POST /alarm-intake/v1/ankang HTTP/1.1\r\nHost: intake\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {length}\r\nX-Hotline-Timestamp: {stamp}\r\n"
        f"X-Hotline-Signature: {signature}\r\n\r\n"
    ).encode()


def test_a_body_shorter_than_its_content_length_is_answered_in_time(home, webhook) -> None:
    webhook.http.read_timeout_s = 1.0
    started = time.monotonic()
    with _raw_request(webhook, _head(1000), b'{"ver":1,') as sock:
        answer = _read_answer(sock)  # the server answers and closes the connection
    assert time.monotonic() - started < 4
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["code"] == "incomplete_body" and _is_chinese_first(body["message"])
    assert support.wait_until(lambda: webhook.rejects.counts["incomplete_body"] == 1)


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(home, webhook) -> None:
    """Each byte in time for the socket's timeout, the whole body not: the deadline holds."""
    webhook.http.read_timeout_s = 1.0
    started = time.monotonic()
    with _raw_request(webhook, _head(200)) as sock:
        answer = b""
        for _ in range(40):
            try:
                sock.sendall(b" ")
            except OSError:
                break  # closed by the server
            time.sleep(0.1)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 3


def test_a_request_that_never_finishes_its_headers_is_closed(home, webhook) -> None:
    webhook.http.read_timeout_s = 1.0
    started = time.monotonic()
    with _raw_request(webhook, b"POST /alarm-intake/v1/ankang HTTP/1.1\r\nHost: in") as sock:
        assert _read_answer(sock) == b""  # closed without an answer: no request was made
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("length", ["١٠", "+10", "1_0", "9" * 30])
def test_content_length_takes_ascii_digits_only(home, webhook, length: str) -> None:
    with _raw_request(webhook, _head(length), b"0123456789") as sock:
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.1 413"), answer
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert _is_chinese_first(body["message"]), body


def test_the_timestamp_takes_ascii_digits_only(home, webhook) -> None:
    secret = VENDORS["ankang"].secret
    body = hxjson.encode(_msg(home.pendant.imei, "w-digits"), secret)
    for stamp in ["²", "١٧٣٢٥٨٦٤٠٠", "9" * 5000]:
        resp = requests.post(
            f"{webhook.http.url}/alarm-intake/v1/ankang",
            data=body,
            headers={
                "X-Hotline-Timestamp": stamp.encode(),
                "X-Hotline-Signature": sign_request(secret, stamp, body),
            },
            timeout=10,
        )
        assert (resp.status_code, resp.json()["code"]) == (401, "bad_timestamp"), stamp
