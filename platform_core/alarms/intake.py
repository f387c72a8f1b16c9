"""Turning device signals into alarms, a batch at a time.

Each signal is recorded once (a redelivered message is recognised by its ``msg_key``), then:
an alarm with no open alarm of its device and type raises one; a repeat folds into the open one
and bumps its count (announced at most every ``alarm_repeat_notify_s``: the flood is damped in
what the consoles hear, never in what is recorded); a restore clears the condition and closes a
technical alarm nobody had taken; a technical alarm that chatters (raised again soon after
closing itself) reopens the same alarm instead of raising another. Folding is per device *and*
type, so a faulty sensor flooding one type never hides another alarm from the same device.

A device that serves a deceased elder or was deactivated raises nothing: its signals are kept
and reported as suppressed. Telling the family is the flow's part (platform_core.alarms.notify),
so a process that writes bursts can send those messages after the alarms are committed. A device bound to nobody still raises (someone pressed it), marked
unbound. The batch costs a handful of statements whatever its size, so a burst of alarms is
written in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, or_, select
from sqlalchemy.orm import Session

from platform_core import column_arrays
from platform_core.alarms.events import AlarmRaised, AlarmRepeated, AlarmRestored
from platform_core.alarms.models import Alarm, AlarmSignal
from platform_core.alarms.schemas import Signal, SignalOutcome
from platform_core.alarms.vocabulary import (
    AUTO_CLOSE_ON_RESTORE,
    NEEDS_PERSON,
    AlarmStatus,
    AlarmType,
    Outcome,
    class_of,
    priority_of,
)
from platform_core.db import storable_text, utcnow
from platform_core.devices.lifecycle import DeviceStatus
from platform_core.devices.models import Device
from platform_core.devices.sql import KeyReserve, member_of
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.events import publish_on_commit
from platform_core.runtime import settings_of

SYSTEM_NAME = "系统(设备复位)"
_RAW_MAX = 2000
# Devices that raise nothing any more (their elder died, or they were taken out of service).
_RETIRED = frozenset({DeviceStatus.DEACTIVATED, DeviceStatus.REPLACED})


@dataclass
class _DeviceRow:
    id: int
    serial: str
    imei: str | None
    status: str
    elder_id: int | None
    region_code: str | None
    device_type: str
    # the elder it serves, read in the same statement
    elder_status: str | None = None
    elder_region: str | None = None


def open_key(device_id: int, alarm_type: str) -> str:
    return f"{device_id}:{alarm_type}"


_ALARMS = cast(Table, Alarm.__table__)
_SIGNALS = cast(Table, AlarmSignal.__table__)

# serial or IMEI -> device id. A device keeps its id, serial and IMEI for life (rows are never
# deleted), so the mapping is safe to keep across batches; status and owner are read fresh.
_REFS: dict[str, int] = {}
_REFS_MAX = 500_000


def _devices(session: Session, refs: set[str]) -> dict[str, _DeviceRow]:
    """Devices by the serial (any case) or IMEI the signals name, with their elder's status."""
    query = select(
        Device.id,
        Device.serial,
        Device.imei,
        Device.status,
        Device.elder_id,
        Device.region_code,
        Device.device_type,
        Elder.status,
        Elder.region_code,
    ).outerjoin(Elder, Elder.id == Device.elder_id)
    known = {ref: _REFS[ref] for ref in refs if ref in _REFS}
    rows: list[Any] = []
    if known:
        rows += session.execute(
            query.where(member_of(session, Device.id, set(known.values())))
        ).all()
    unknown = refs - set(known)
    if unknown:
        upper = {r.strip().upper() for r in unknown}
        rows += session.execute(
            query.where(
                or_(
                    member_of(session, Device.serial, upper),
                    member_of(session, Device.imei, unknown),
                )
            )
        ).all()
    out: dict[str, _DeviceRow] = {}
    for row in rows:
        d = _DeviceRow(*row)
        out[d.serial] = d
        if d.imei:
            out[d.imei] = d
    found = {ref: out[key] for ref in refs if (key := _key(ref, out)) is not None}
    if len(_REFS) > _REFS_MAX:
        _REFS.clear()
    _REFS.update({ref: d.id for ref, d in found.items()})
    return found


def _key(ref: str, by: dict[str, _DeviceRow]) -> str | None:
    if ref in by:
        return ref
    upper = ref.strip().upper()
    return upper if upper in by else None


@dataclass(eq=False)
class _NewAlarm:
    """An alarm raised in this batch, written with one INSERT for the batch (an ORM object per
    alarm costs more than the database does). Carries the attributes the batch touches."""

    device_id: int
    elder_id: int | None
    region_code: str
    alarm_type: str
    alarm_class: str
    priority: int
    status: str
    open_key: str | None
    active: bool
    event_code: str
    vendor: str
    protocol: str
    unbound: bool
    occurred_at: datetime
    received_at: datetime
    last_signal_at: datetime
    announced_at: datetime | None
    signal_count: int = 1
    reopen_count: int = 0
    restored_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    position_accuracy_m: float | None = None
    position_source: str | None = None
    timer_rung: str | None = None
    timer_due_at: datetime | None = None
    timer_seq: int = 0
    timer_level: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    outcome: str | None = None
    taken_at: datetime | None = None
    id: int | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "id" or v is not None}
        out["outcome_note"] = ""
        out["updated_at"] = now
        return out


AnyAlarm = Alarm | _NewAlarm  # an alarm from the table, or one this batch raises


_ALARM_FIELDS = {f.name for f in fields(_NewAlarm)} | {"outcome_note", "updated_at"}
_ALARM_COLUMNS = [c.name for c in _ALARMS.c if c.name in _ALARM_FIELDS]
_SIGNAL_COLUMNS = [c.name for c in _SIGNALS.c if c.name != "id"]
_ALARMS_SQL = column_arrays.insert_sql(_ALARMS, _ALARM_COLUMNS)
_SIGNALS_SQL = column_arrays.insert_sql(_SIGNALS, _SIGNAL_COLUMNS)
_ALARM_FLOATS = column_arrays.float_columns(_ALARMS, _ALARM_COLUMNS)
_SIGNAL_FLOATS = column_arrays.float_columns(_SIGNALS, _SIGNAL_COLUMNS)


# the keys of alarms to come, drawn ahead (see KeyReserve)
ALARM_KEYS = KeyReserve(Alarm.__tablename__)


def keys_running_low(engine: Engine) -> bool:
    """Whether the reserve of alarm keys wants refilling (no statement)."""
    return ALARM_KEYS.needs_top_up(engine)


def reserve_keys(session: Session) -> None:
    """Refill the reserve of alarm keys when it runs low; called between bursts."""
    if ALARM_KEYS.needs_top_up(session.get_bind()):
        ALARM_KEYS.top_up(session)


def _insert_new(
    session: Session,
    alarms: list[_NewAlarm],
    now: datetime,
    statements: list[column_arrays.Statement],
) -> None:
    """One INSERT for the batch's new alarms. On PostgreSQL the keys come from the reserve (or
    the sequence, when it runs short) and the INSERT (one array per column) joins
    ``statements``, sent together by the caller; elsewhere the INSERT runs now and returns the
    keys."""
    if not alarms:
        return
    ids = ALARM_KEYS.take(session, len(alarms))
    if ids is not None:
        for alarm, new_id in zip(alarms, ids, strict=True):
            alarm.id = new_id
        rows = [a.row(now) for a in alarms]
        statements.append(
            (_ALARMS_SQL, column_arrays.arrays_of(rows, _ALARM_COLUMNS, _ALARM_FLOATS))
        )
        return
    returned = (
        session.connection()
        .execute(
            insert(_ALARMS).returning(_ALARMS.c.id, sort_by_parameter_order=True),
            [a.row(now) for a in alarms],
        )
        .scalars()
    )
    for alarm, new_id in zip(alarms, returned, strict=True):
        alarm.id = new_id


def record_signals(session: Session, *, signals: Sequence[Signal]) -> list[SignalOutcome]:
    """Record a batch of signals and apply them to alarms, in order; one outcome per signal."""
    if not signals:
        return []
    settings = settings_of(session)
    now = utcnow()
    devices = _devices(session, {s.device_ref for s in signals})
    device_ids = {d.id for d in devices.values()}

    pairs = {(devices[s.device_ref].id, s.msg_key) for s in signals if s.device_ref in devices}
    seen: set[tuple[int, str]] = set()
    if pairs:
        # both columns as arrays (the unique index serves them); exact pairs picked here
        seen = {
            (device_id, key)
            for device_id, key in session.execute(
                select(AlarmSignal.device_id, AlarmSignal.msg_key).where(
                    member_of(session, AlarmSignal.device_id, {d for d, _k in pairs}),
                    member_of(session, AlarmSignal.msg_key, {k for _d, k in pairs}),
                )
            )
            if (device_id, key) in pairs
        }

    keys = {
        open_key(devices[s.device_ref].id, s.alarm_type) for s in signals if s.device_ref in devices
    }
    open_alarms: dict[str, AnyAlarm] = {}
    if keys:
        for found in session.scalars(
            select(Alarm).where(member_of(session, Alarm.open_key, keys)).with_for_update()
        ):
            open_alarms[found.open_key or ""] = found

    chatter_since = now - timedelta(seconds=settings.alarm_chatter_window_s)
    recently_restored: dict[str, AnyAlarm] = {}
    technical = [s for s in signals if s.kind == "alarm" and s.alarm_type in AUTO_CLOSE_ON_RESTORE]
    if technical and device_ids:
        for closed in session.scalars(
            select(Alarm)
            .where(
                member_of(session, Alarm.device_id, device_ids),
                Alarm.alarm_type.in_([t.value for t in AUTO_CLOSE_ON_RESTORE]),
                Alarm.outcome == Outcome.RESTORED.value,
                Alarm.closed_at >= chatter_since,
            )
            .order_by(Alarm.closed_at)
        ):
            recently_restored[open_key(closed.device_id, closed.alarm_type)] = closed

    outcomes: list[SignalOutcome] = []
    signal_rows: list[tuple[Signal, _DeviceRow, str, AnyAlarm | None]] = []
    raised: list[AnyAlarm] = []
    announce_repeat: dict[int, AnyAlarm] = {}
    restored: list[tuple[AnyAlarm, bool]] = []
    repeat_after = timedelta(seconds=settings.alarm_repeat_notify_s)

    for sig in signals:
        device = devices.get(sig.device_ref)
        if device is None:
            outcomes.append(SignalOutcome(sig, "unknown_device"))
            continue
        pair = (device.id, sig.msg_key)
        if pair in seen:
            outcomes.append(SignalOutcome(sig, "redelivered", device_id=device.id))
            continue
        seen.add(pair)
        key = open_key(device.id, sig.alarm_type)
        retired = device.status in _RETIRED or device.elder_status == ElderStatus.DECEASED
        alarm: AnyAlarm | None = open_alarms.get(key)

        if sig.kind == "restore":
            if alarm is None:
                result = "restore_unmatched"
            else:
                alarm.active = False
                alarm.restored_at = sig.received_at
                alarm.last_signal_at = sig.received_at
                closes = (
                    AlarmType(alarm.alarm_type) in AUTO_CLOSE_ON_RESTORE
                    and alarm.status == AlarmStatus.WAITING
                )
                if closes:
                    _close_by_restore(alarm, sig.received_at)
                    del open_alarms[key]
                    recently_restored[key] = alarm
                result = "closed_by_restore" if closes else "restored"
                restored.append((alarm, closes))
            signal_rows.append((sig, device, result, alarm))
            outcomes.append(
                SignalOutcome(sig, result, alarm.id if alarm else None, device_id=device.id)
            )
            continue

        if retired:
            signal_rows.append((sig, device, "suppressed", None))
            outcomes.append(SignalOutcome(sig, "suppressed", device_id=device.id))
            continue

        if alarm is not None:
            alarm.signal_count += 1
            alarm.active = True
            alarm.last_signal_at = sig.received_at
            _take_position(alarm, sig)
            if alarm.announced_at is None or sig.received_at - alarm.announced_at >= repeat_after:
                alarm.announced_at = sig.received_at
                announce_repeat[id(alarm)] = alarm
            signal_rows.append((sig, device, "folded", alarm))
            outcomes.append(SignalOutcome(sig, "folded", alarm.id, device_id=device.id))
            continue

        previous = recently_restored.get(key)
        if previous is not None and previous.taken_at is None:
            _reopen(previous, sig)
            open_alarms[key] = previous
            del recently_restored[key]
            if sig.received_at - (previous.announced_at or previous.received_at) >= repeat_after:
                previous.announced_at = sig.received_at
                raised.append(previous)
            signal_rows.append((sig, device, "reopened", previous))
            outcomes.append(SignalOutcome(sig, "reopened", previous.id, device_id=device.id))
            continue

        region = device.elder_region or device.region_code or settings.home_region_code
        alarm = _NewAlarm(
            device_id=device.id,
            elder_id=device.elder_id,
            region_code=region,
            alarm_type=sig.alarm_type.value,
            alarm_class=class_of(sig.alarm_type).value,
            priority=priority_of(sig.alarm_type),
            status=AlarmStatus.WAITING.value,
            open_key=key,
            active=True,
            event_code=sig.event_code[:20],
            vendor=sig.vendor[:20],
            protocol=sig.protocol[:20],
            unbound=device.elder_id is None,
            occurred_at=sig.occurred_at,
            received_at=sig.received_at,
            last_signal_at=sig.received_at,
            announced_at=sig.received_at,
        )
        _take_position(alarm, sig)
        open_alarms[key] = alarm
        raised.append(alarm)
        signal_rows.append((sig, device, "raised", alarm))
        outcomes.append(SignalOutcome(sig, "raised", None, device_id=device.id))

    # the take timer is data on the alarm, fired from the table by the sweep (timers.py): a
    # burst writes no job row per alarm, which took a fifth of each batch's time in the database
    take_timeout = timedelta(seconds=settings.alarm_take_timeout_s)
    timed = [
        a
        for a in raised
        if AlarmType(a.alarm_type) in NEEDS_PERSON and a.status == AlarmStatus.WAITING
    ]
    for alarm in timed:
        alarm.timer_seq += 1
        alarm.timer_rung, alarm.timer_level = "take", None
        alarm.timer_due_at = alarm.received_at + take_timeout
    session.flush()  # folds and restores of alarms opened before this batch
    # the new alarms and the batch's signals: one round trip on PostgreSQL
    statements: list[column_arrays.Statement] = []
    _insert_new(session, [a for a in raised if isinstance(a, _NewAlarm)], now, statements)

    if signal_rows:
        _insert_signals(
            session,
            [
                {
                    "device_id": device.id,
                    "alarm_id": alarm.id if alarm is not None else None,
                    "msg_key": sig.msg_key[:80],
                    "kind": sig.kind,
                    "alarm_type": sig.alarm_type.value,
                    "event_code": sig.event_code[:20],
                    "result": result,
                    "occurred_at": sig.occurred_at,
                    "received_at": sig.received_at,
                    "transport": sig.transport[:6],
                    "vendor": sig.vendor[:20],
                    "latitude": sig.latitude,
                    "longitude": sig.longitude,
                    "raw": storable_text(sig.raw[:_RAW_MAX]),
                }
                for sig, device, result, alarm in signal_rows
            ],
            statements,
        )

    # the keys are known already (drawn ahead, or returned elsewhere): the events are built
    # while PostgreSQL writes the rows
    def announce() -> None:
        for alarm in raised:
            publish_on_commit(
                session,
                AlarmRaised(
                    alarm_id=_id(alarm),
                    device_id=alarm.device_id,
                    elder_id=alarm.elder_id,
                    region_code=alarm.region_code,
                    alarm_type=alarm.alarm_type,
                    priority=alarm.priority,
                    received_at=alarm.received_at.isoformat(),
                    unbound=alarm.unbound,
                    reopened=alarm.reopen_count > 0,
                ),
            )
        for alarm in announce_repeat.values():
            if alarm in raised:
                continue  # its AlarmRaised carries the count
            publish_on_commit(
                session,
                AlarmRepeated(
                    alarm_id=_id(alarm),
                    region_code=alarm.region_code,
                    signal_count=alarm.signal_count,
                ),
            )
        for alarm, closes in restored:
            publish_on_commit(
                session,
                AlarmRestored(alarm_id=_id(alarm), region_code=alarm.region_code, closed=closes),
            )

    try:
        column_arrays.run_together(session, statements, meanwhile=announce)
    except Exception:
        # a reserved key may be taken already (a database restored to an earlier moment): the
        # batch is written again with keys fresh from the sequence, never an alarm set aside
        ALARM_KEYS.forget()
        raise

    # the outcomes of the alarms raised in this batch, with their ids
    by_signal = {id(sig): alarm for sig, _d, _r, alarm in signal_rows if alarm is not None}
    outcomes = [
        SignalOutcome(o.signal, o.result, by_signal[id(o.signal)].id, o.device_id)
        if o.alarm_id is None and id(o.signal) in by_signal
        else o
        for o in outcomes
    ]

    session.flush()
    return outcomes


def _insert_signals(
    session: Session, rows: list[dict[str, Any]], statements: list[column_arrays.Statement]
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        statements.append(
            (_SIGNALS_SQL, column_arrays.arrays_of(rows, _SIGNAL_COLUMNS, _SIGNAL_FLOATS))
        )
    else:
        session.connection().execute(insert(_SIGNALS), rows)


def _id(alarm: AnyAlarm) -> int:
    if alarm.id is None:
        raise RuntimeError("alarm without an id after the batch's insert")
    return alarm.id


def _take_position(alarm: AnyAlarm, sig: Signal) -> None:
    if sig.latitude is not None and sig.longitude is not None:
        alarm.latitude, alarm.longitude = sig.latitude, sig.longitude
        alarm.position_accuracy_m = sig.accuracy_m
        alarm.position_source = (sig.position_source or "gps")[:10]


def _close_by_restore(alarm: AnyAlarm, at: datetime) -> None:
    alarm.status = AlarmStatus.CLOSED.value
    alarm.open_key = None
    alarm.closed_at = at
    alarm.closed_by = SYSTEM_NAME
    alarm.outcome = Outcome.RESTORED.value
    alarm.timer_due_at = None
    alarm.timer_seq += 1


def _reopen(alarm: AnyAlarm, sig: Signal) -> None:
    alarm.status = AlarmStatus.WAITING.value
    alarm.open_key = open_key(alarm.device_id, alarm.alarm_type)
    alarm.active = True
    alarm.closed_at = alarm.closed_by = alarm.outcome = None
    alarm.restored_at = None
    alarm.reopen_count += 1
    alarm.signal_count += 1
    alarm.last_signal_at = sig.received_at
    _take_position(alarm, sig)


def describe(outcomes: Sequence[SignalOutcome]) -> dict[str, Any]:
    """Counts by result (for logs and the intake's statistics)."""
    out: dict[str, int] = {}
    for o in outcomes:
        out[o.result] = out.get(o.result, 0) + 1
    return out
