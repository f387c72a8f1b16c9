"""The two vendor protocols, read from wire samples written out by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from callcenter.alarm_intake.protocols import (
    MAX_PAYLOAD,
    PARSERS,
    ProtocolError,
    dc09,
    hxjson,
    read_payload,
)
from callcenter.alarm_intake.vendors import Vendor, check_request, sign_request
from platform_core.alarms.schemas import Signal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows.device_reports import FaultReport

SECRET = "s3cret-of-ankang"
NOW = datetime(2024, 11, 26, 2, 15, 8, tzinfo=UTC)

# the vendor's canonical form: sorted keys, no spaces, without "sign"
CANONICAL = (
    '{"code":"E101","dev":"864512030000019","event":"sos",'
    '"loc":{"acc":15,"lat":40.8414,"lng":111.7519,"src":"gps"},'
    '"msgId":"AK-000123","ts":1732587307000,"type":"alarm","ver":1}'
)
SIGN = hmac.new(SECRET.encode(), CANONICAL.encode(), hashlib.sha256).hexdigest()
# ... and as a device cloud actually sends it: other key order, spaces, the signature inside
ON_THE_WIRE = (
    '{ "ver": 1, "type": "alarm", "event": "sos", "dev": "864512030000019", '
    '"msgId": "AK-000123", "ts": 1732587307000, "code": "E101", '
    '"loc": {"lng": 111.7519, "lat": 40.8414, "src": "gps", "acc": 15}, '
    f'"sign": "{SIGN}" }}'
)


def _hx(payload: str | bytes) -> hxjson.Parsed:
    data = payload.encode() if isinstance(payload, str) else payload
    return hxjson.parse(data, vendor="ankang", secret=SECRET, transport="mqtt", received_at=NOW)


def test_hx_json_alarm_with_position() -> None:
    parsed = _hx(ON_THE_WIRE)
    assert parsed.refused == []
    [sig] = parsed.reports
    assert isinstance(sig, Signal)
    assert (sig.device_ref, sig.kind, sig.alarm_type, sig.msg_key) == (
        "864512030000019",
        "alarm",
        AlarmType.SOS,
        "AK-000123",
    )
    assert sig.occurred_at == datetime(2024, 11, 26, 2, 15, 7, tzinfo=UTC)
    assert sig.received_at == NOW and sig.event_code == "E101"
    assert (sig.latitude, sig.longitude, sig.accuracy_m, sig.position_source) == (
        40.8414,
        111.7519,
        15.0,
        "gps",
    )


def test_hx_json_batch_keeps_the_good_and_refuses_the_bad() -> None:
    def signed(body: dict) -> dict:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return dict(body, sign=hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest())

    heartbeat = signed({"ver": 1, "type": "heartbeat", "dev": "YJ000100000011", "bat": 57})
    restore = signed(
        {
            "ver": 1,
            "type": "restore",
            "event": "smoke",
            "dev": "SMK-7",
            "msgId": "9",
            "ts": "2024-11-26T10:15:00+08:00",
        }
    )
    fault = signed(
        {
            "ver": 1,
            "type": "fault",
            "dev": "SMK-7",
            "msgId": "10",
            "ts": 1732587307000,
            "code": "F03",
            "detail": "传感器自检失败",
        }
    )
    unsigned = {"ver": 1, "type": "alarm", "event": "fall", "dev": "X", "msgId": "1", "ts": 1}
    forged = dict(
        signed({"ver": 1, "type": "alarm", "event": "fall", "dev": "X", "msgId": "2", "ts": 1})
    )
    forged["dev"] = "Y"
    odd_event = signed(
        {"ver": 1, "type": "alarm", "event": "ufo", "dev": "X", "msgId": "3", "ts": 1}
    )
    no_time = signed({"ver": 1, "type": "alarm", "event": "sos", "dev": "X", "msgId": "4"})
    parsed = _hx(json.dumps([heartbeat, restore, fault, unsigned, forged, odd_event, no_time]))
    hb, rs, ft = parsed.reports
    assert isinstance(hb, Heartbeat) and hb.battery_pct == 57 and hb.at == NOW
    assert isinstance(rs, Signal) and rs.kind == "restore" and rs.alarm_type is AlarmType.SMOKE
    assert rs.occurred_at == datetime(2024, 11, 26, 2, 15, tzinfo=UTC)
    assert isinstance(ft, FaultReport) and (ft.fault_code, ft.description) == (
        "F03",
        "传感器自检失败",
    )
    assert [e.reason for e, _raw in parsed.refused] == [
        "unsigned",
        "bad_signature",
        "unknown_event",
        "bad_time",
    ]


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"\xff\xfe", "malformed"),
        (b"{not json", "malformed"),
        (b"[" + b"{}," * 600 + b"{}]", "too_large"),
    ],
)
def test_hx_json_payloads_that_are_not_messages(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as err:
        _hx(payload)
    assert err.value.reason == reason


def test_dc09_crc_is_crc16_arc() -> None:
    # the CRC catalogue's check value of CRC-16/ARC
    assert dc09.crc16(b"123456789") == 0xBB3D


BODY = '"ADM-CID"0042R0L0#4A21C9[#4A21C9|1105 01 015][XE111.75190][YN40.84140]_02:15:07,11-26-2024'


def _frame(body: str, crc: int | None = None, length: int | None = None) -> bytes:
    data = body.encode()
    crc = dc09.crc16(data) if crc is None else crc
    return f"\n{crc:04X}0{len(data) if length is None else length:03X}{body}\r".encode()


def _dc(payload: bytes) -> dc09.Parsed:
    return dc09.parse(payload, vendor="yijia", secret="", transport="mqtt", received_at=NOW)


def test_dc09_fall_with_position_restore_link_test_and_trouble() -> None:
    restore = BODY.replace("|1105", "|3105").replace("0042", "0043")
    link = '"NULL"0044R0L0#4A21C9[]_02:16:00,11-26-2024'
    trouble = '"ADM-CID"0045L0#4A21C9[#4A21C9|1383 01 015]_02:17:00,11-26-2024'
    parsed = _dc(_frame(BODY) + _frame(restore) + _frame(link) + _frame(trouble))
    assert parsed.refused == []
    fall, back, beat, fault = parsed.reports
    assert isinstance(fall, Signal) and fall.alarm_type is AlarmType.FALL and fall.kind == "alarm"
    assert (fall.device_ref, fall.event_code, fall.msg_key) == (
        "4A21C9",
        "1105",
        "0042@02:15:07,11-26-2024",
    )
    assert fall.occurred_at == datetime(2024, 11, 26, 2, 15, 7, tzinfo=UTC)
    assert (fall.latitude, fall.longitude) == (40.8414, 111.7519)
    assert fall.detail == {"partition": "01", "zone": "015"}
    assert isinstance(back, Signal) and back.kind == "restore" and back.alarm_type is AlarmType.FALL
    assert isinstance(beat, Heartbeat) and beat.device_ref == "4A21C9"
    assert isinstance(fault, FaultReport) and fault.fault_code == "CID383"


def test_dc09_refuses_damaged_and_unknown_frames() -> None:
    good = _frame(BODY)
    crc = dc09.crc16(BODY.encode())
    cases = {
        "bad_crc": _frame(BODY, crc=crc ^ 0x0101),
        "bad_length": _frame(BODY, length=len(BODY) + 1),
        "malformed": b"\nhello there\r",
        "encrypted_unsupported": _frame(BODY.replace('"ADM-CID"', '"*ADM-CID"')),
        "unknown_event": _frame(BODY.replace("|1105", "|1999")),
    }
    parsed = _dc(b"".join(cases.values()) + good)
    assert [e.reason for e, _raw in parsed.refused] == list(cases)
    assert len(parsed.reports) == 1
    with pytest.raises(ProtocolError):
        _dc("\n中文\r".encode())


def test_dc09_encoder_round_trips() -> None:
    text = dc09.encode_event(
        account="4A21C9",
        seq=7,
        qualifier="1",
        event="111",
        zone=3,
        at=NOW,
        latitude=-1.5,
        longitude=-70.25,
    )
    [sig] = _dc(text.encode()).reports
    assert sig.alarm_type is AlarmType.SMOKE and (sig.latitude, sig.longitude) == (-1.5, -70.25)


def test_webhook_signature() -> None:
    vendor = Vendor("ankang", "安康通", "hx-json", SECRET)
    body = b'{"x":1}'
    ts = str(int(datetime.now(UTC).timestamp()))
    good = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sign_request(SECRET, ts, body) == good
    check = lambda **kw: check_request(vendor, body=body, max_skew_s=300, **kw)  # noqa: E731
    assert check(timestamp=ts, signature=good) is None
    assert check(timestamp=ts, signature=good.upper()) is None
    assert check(timestamp=None, signature=good) == "unsigned"
    assert check(timestamp=ts, signature="0" * 64) == "bad_signature"
    assert check(timestamp="yesterday", signature=good) == "bad_timestamp"
    assert check(timestamp=ts, signature="签名" * 32) == "bad_signature"
    for stamp in ("+" + ts, ts[:4] + "_" + ts[4:], "١٧٣٢٥٨٦٤٠٠", "9" * 5000):
        assert check(timestamp=stamp, signature=good) == "bad_timestamp", stamp
    old = str(int(ts) - 301)
    assert check(timestamp=old, signature=sign_request(SECRET, old, body)) == "stale_timestamp"


POISON = b"[" * 50_000 + b"]" * 50_000  # 100 KB of nesting: past the parser's recursion limit


def test_hx_json_nested_past_its_depth_is_refused_unread_in_milliseconds() -> None:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        with pytest.raises(ProtocolError) as err:
            _hx(POISON)
        timings.append(time.perf_counter() - started)
        assert err.value.reason == "too_deep"
    assert min(timings) < 0.02, timings
    # nested inside a message of a batch: the whole payload is refused
    inner = json.dumps([{"ver": 1, "val": json.loads("[" * 20 + "]" * 20)}])
    with pytest.raises(ProtocolError) as err:
        _hx(inner)
    assert err.value.reason == "too_deep"


@pytest.mark.parametrize("field", ["dev", "msgId", "code"])
@pytest.mark.parametrize("bad", ["A\x00B", "A\ud800B", "A\nB"], ids=["nul", "surrogate", "newline"])
def test_hx_json_text_fields_take_no_control_characters(field: str, bad: str) -> None:
    message = {
        "ver": 1,
        "type": "alarm",
        "event": "sos",
        "dev": "864512030000019",
        "msgId": "AK-1",
        "code": "E101",
        "ts": 1732587307000,
    }
    message[field] = bad
    try:
        signature = hxjson.sign(message, SECRET)
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8: nobody can have signed it
        signature = "0" * 64
    parsed = _hx(json.dumps(dict(message, sign=signature)))  # escaped: \u0000, \ud800, \n
    assert parsed.reports == []
    assert [e.reason for e, _raw in parsed.refused] == ["bad_field"]
    assert "\x00" not in parsed.refused[0][1]  # the raw text kept escapes it


def test_hx_json_a_signature_in_another_script_is_refused_not_raised() -> None:
    message = json.loads(hxjson.encode({"ver": 1, "type": "heartbeat", "dev": "X1"}, SECRET))
    parsed = _hx(json.dumps(dict(message, sign="签名")))
    assert [e.reason for e, _raw in parsed.refused] == ["bad_signature"]


def test_dc09_refuses_a_frame_with_a_nul_and_keeps_its_neighbours() -> None:
    nul = BODY.replace("[XE111.75190]", "[XE111.75\x00190]")
    parsed = _dc(_frame(BODY) + _frame(nul) + _frame(BODY.replace("0042", "0043")))
    assert len(parsed.reports) == 2
    assert [e.reason for e, _raw in parsed.refused] == ["malformed"]


def test_a_parser_that_fails_refuses_the_message_instead(monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise KeyError("a parser's own fault")

    monkeypatch.setitem(PARSERS, "hx-json", broken)
    with pytest.raises(ProtocolError) as err:
        read_payload(
            "hx-json", b"{}", vendor="ankang", secret="", transport="mqtt", received_at=NOW
        )
    assert (err.value.reason, err.value.detail) == ("unreadable", "KeyError")
    with pytest.raises(ProtocolError) as err:
        read_payload(
            "hx-json",
            b" " * (MAX_PAYLOAD + 1),
            vendor="a",
            secret="",
            transport="mqtt",
            received_at=NOW,
        )
    assert err.value.reason == "too_large"
