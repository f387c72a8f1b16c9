"""Vendor webhooks over real HTTP: signed requests recorded before the answer, everything else
refused with a clear code, counted and kept."""

from __future__ import annotations

import json
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
        "refused": [{"reason": "bad_signature", "detail": "sign does not match"}],
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
