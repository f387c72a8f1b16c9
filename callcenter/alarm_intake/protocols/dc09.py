"""``dc09-cid``: SIA DC-09 frames carrying Ademco Contact ID events (alarm panels, GSM pendants
and detectors), one or more frames per payload.

    <LF><crc><0LLL>"ADM-CID"<seq>[R<rcvr>]L<pref>#<acct>[#<acct>|<Q><EEE> <GG> <CCC>][X..][Y..]_<HH:MM:SS,MM-DD-YYYY><CR>

- ``crc``: four hex digits, CRC-16/ARC over everything from the first quote to the timestamp;
  ``0LLL``: "0" and three hex digits, the length of that same part.
- ``seq``: 0001-9999, kept by a retransmission (with the timestamp it identifies the message).
- ``acct``: the device's account number, registered as the device's serial (the standard
  has hex digits; vendors' serials with letters are accepted too).
- ``Q``: 1 new event, 3 restore, 6 still present. ``EEE``: the Contact ID event (table below).
  ``GG`` partition and ``CCC`` zone are kept for the record.
- ``[X...]``/``[Y...]``: optional longitude and latitude in degrees (``XE111.7519``, ``YN40.8414``).
- ``"NULL"`` frames are link tests (heartbeats); so is event 602 (periodic test report).
- Encrypted frames (``"*ADM-CID"``) are refused: the vendor relays in clear over TLS.
- A frame with control characters inside (NUL among them) is refused as malformed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from callcenter.alarm_intake.protocols.base import (
    Parsed,
    ProtocolError,
    Report,
    has_unprintable,
)
from platform_core.alarms.schemas import Signal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows.device_reports import FaultReport

NAME = "dc09-cid"
MAX_FRAMES = 500  # a receiver's batch; more in one payload is refused whole

# Contact ID events this platform acts on. 105 is the fall detectors' code in the vendors' own
# block (103-109 are unassigned in the standard's medical range).
ALARMS: dict[str, AlarmType] = {
    "100": AlarmType.SOS,  # medical
    "101": AlarmType.SOS,  # personal emergency (pendant)
    "102": AlarmType.NO_ACTIVITY,  # fail to report in
    "105": AlarmType.FALL,
    "110": AlarmType.SMOKE,  # fire
    "111": AlarmType.SMOKE,
    "151": AlarmType.GAS,
    "154": AlarmType.WATER,
    "302": AlarmType.LOW_BATTERY,  # system battery
    "384": AlarmType.LOW_BATTERY,  # RF transmitter battery
}
FAULTS = {
    "300": "系统故障 / system trouble",
    "373": "火警回路故障 / fire loop trouble",
    "380": "探测器故障 / sensor trouble",
    "383": "探测器防拆 / sensor tamper",
}
HEARTBEAT_EVENTS = frozenset({"602"})

_FRAME = re.compile(
    r'^(?P<crc>[0-9A-Fa-f]{4})0(?P<len>[0-9A-Fa-f]{3})(?P<body>"(?P<id>\*?[A-Z-]+)"'
    r"(?P<seq>\d{4})(?:R(?P<rcvr>[0-9A-Fa-f]{1,6}))?L(?P<pref>[0-9A-Fa-f]{1,6})"
    r"#(?P<acct>[0-9A-Za-z]{3,16})\[(?P<data>[^\]]*)\](?P<ext>(?:\[[^\]]*\])*)"
    r"_(?P<ts>\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4}))$"
)
_CID = re.compile(
    r"^#?(?P<acct>[0-9A-Za-z]{3,16})\|(?P<q>[136])(?P<eee>\d{3}) (?P<gg>\d{2}) (?P<ccc>\d{3})$"
)
_COORD = re.compile(r"^\[(?P<axis>[XY])(?P<hemi>[NSEW]?)(?P<deg>-?\d{1,3}(?:\.\d+)?)\]$")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, initial 0), as DC-09 uses; a byte at a time from
    a table (bit by bit it was a fifth of the intake's CPU per alarm in a burst)."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def frame(body: str) -> str:
    """Wrap a message body (from the first quote to the timestamp) into a frame."""
    data = body.encode("ascii")
    return f"\n{crc16(data):04X}0{len(data):03X}{body}\r"


def encode_event(
    *,
    account: str,
    seq: int,
    qualifier: str,
    event: str,
    zone: int = 1,
    partition: int = 1,
    at: datetime,
    latitude: float | None = None,
    longitude: float | None = None,
) -> str:
    ext = ""
    if latitude is not None and longitude is not None:
        ext = (
            f"[X{'E' if longitude >= 0 else 'W'}{abs(longitude):.5f}]"
            f"[Y{'N' if latitude >= 0 else 'S'}{abs(latitude):.5f}]"
        )
    ts = at.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
    body = (
        f'"ADM-CID"{seq:04d}R0L0#{account}[#{account}|{qualifier}{event} '
        f"{partition:02d} {zone:03d}]{ext}{ts}"
    )
    return frame(body)


def encode_link_test(*, account: str, seq: int, at: datetime) -> str:
    return frame(
        f'"NULL"{seq:04d}R0L0#{account}[]' + at.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
    )


def _timestamp(text: str) -> datetime:
    """``HH:MM:SS,MM-DD-YYYY`` (digits where the frame's pattern says), read by position:
    strptime cost more than the rest of the frame."""
    try:
        return datetime(
            int(text[15:19]),
            int(text[9:11]),
            int(text[12:14]),
            int(text[0:2]),
            int(text[3:5]),
            int(text[6:8]),
            tzinfo=UTC,
        )
    except ValueError:
        raise ProtocolError("bad_time", text) from None


def _position(ext: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for part in re.findall(r"\[[^\]]*\]", ext):
        m = _COORD.match(part)
        if m is None:
            continue  # other extended data (MAC, verification) is not ours to read
        value = float(m["deg"]) * (-1 if m["hemi"] in ("S", "W") else 1)
        found["longitude" if m["axis"] == "X" else "latitude"] = value
    if set(found) != {"latitude", "longitude"}:
        return {}
    if not (-90 <= found["latitude"] <= 90 and -180 <= found["longitude"] <= 180):
        raise ProtocolError("bad_field", "position out of range")
    return found


def parse_frame(text: str, *, vendor: str, transport: str, received_at: datetime) -> Report:
    m = _FRAME.match(text)
    if m is None:
        raise ProtocolError("malformed", "not a DC-09 frame")
    body = m["body"].encode("ascii")
    if int(m["len"], 16) != len(body):
        raise ProtocolError("bad_length", f"says {int(m['len'], 16)}, is {len(body)}")
    if int(m["crc"], 16) != crc16(body):
        raise ProtocolError("bad_crc", m["crc"])
    ident, account, seq = m["id"], m["acct"].upper(), m["seq"]
    if ident.startswith("*"):
        raise ProtocolError("encrypted_unsupported", ident)
    occurred = _timestamp(m["ts"])
    if ident == "NULL":
        return Heartbeat(device_ref=account, at=received_at)
    if ident != "ADM-CID":
        raise ProtocolError("unknown_type", ident)
    cid = _CID.match(m["data"])
    if cid is None:
        raise ProtocolError("malformed", "Contact ID data")
    if cid["acct"].upper() != account:
        raise ProtocolError("bad_field", "account in data differs from the frame's")
    q, event = cid["q"], cid["eee"]
    if event in HEARTBEAT_EVENTS:
        return Heartbeat(device_ref=account, at=received_at)
    if event in FAULTS:
        return FaultReport(account, f"CID{event}", FAULTS[event], received_at, vendor=vendor)
    if event not in ALARMS:
        raise ProtocolError("unknown_event", f"CID {event}")
    return Signal(
        device_ref=account,
        kind="restore" if q == "3" else "alarm",
        alarm_type=ALARMS[event],
        occurred_at=occurred,
        received_at=received_at,
        msg_key=f"{seq}@{m['ts']}",
        vendor=vendor,
        protocol=NAME,
        transport=transport,
        event_code=f"{q}{event}",
        raw=text[:2000],
        detail={"partition": cid["gg"], "zone": cid["ccc"]},
        **_position(m["ext"]),
    )


def parse(
    payload: bytes, *, vendor: str, secret: str, transport: str, received_at: datetime
) -> Parsed:
    """One or more frames (LF ... CR each); ``secret`` is unused: frames carry a CRC only, so
    over HTTP the request signature vouches for them and over MQTT the broker's ACL does."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("malformed", "not ASCII") from None
    frames = [f.strip("\r\n") for f in re.split(r"[\r]", text) if f.strip("\r\n \t")]
    if not frames:
        raise ProtocolError("malformed", "empty")
    if len(frames) > MAX_FRAMES:
        raise ProtocolError("too_large", f"{len(frames)} frames in one payload")
    out = Parsed()
    for f in frames:
        if has_unprintable(f):
            out.refused.append((ProtocolError("malformed", "control characters"), f[:2000]))
            continue
        try:
            out.reports.append(
                parse_frame(f, vendor=vendor, transport=transport, received_at=received_at)
            )
        except ProtocolError as err:
            out.refused.append((err, f[:2000]))
    return out
