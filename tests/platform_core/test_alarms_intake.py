"""Device signals into alarms: raise, fold, restore, damp a flood, suppress, recognise repeats."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from platform_core.alarms.intake import record_signals
from platform_core.alarms.models import Alarm, AlarmSignal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.db import utcnow
from platform_core.devices import service as devices
from platform_core.elders import service as elders
from platform_core.flows.device_reports import receive_signals
from platform_core.notifications.models import OutboxMessage
from platform_core.regions.service import load_dictionary
from tests.platform_core.alarms_support import STAFF, new_device, new_elder, signal


@pytest.fixture
def rt(any_runtime):
    with any_runtime.session() as s:
        load_dictionary(s)
    return any_runtime


def _events(rt, kind):
    rt.event_bus.drain()
    return [e for e in rt.seen if e["type"] == kind]


@pytest.fixture
def seen(rt):
    rt.seen = []
    unsubscribe = rt.event_bus.subscribe(rt.seen.append)
    yield rt.seen
    unsubscribe()


def test_a_press_raises_one_alarm_and_repeats_fold_into_it(rt, seen) -> None:
    with rt.session() as s:
        elder_id = new_elder(s)
        serial = new_device(s, elder_id=elder_id).serial
    first = signal(serial, msg="A-1")
    with rt.session() as s:
        [out] = receive_signals(s, signals=[first])
        assert out.result == "raised" and out.alarm_id
        alarm_id = out.alarm_id
    # the same message again (a broker redelivery) and two further presses in one batch
    with rt.session() as s:
        results = receive_signals(
            s,
            signals=[first, signal(serial.lower(), msg="A-2"), signal(serial, msg="A-3")],
        )
    assert [o.result for o in results] == ["redelivered", "folded", "folded"]
    assert {o.alarm_id for o in results[1:]} == {alarm_id}
    with rt.session() as s:
        alarm = s.get(Alarm, alarm_id)
        assert (alarm.status, alarm.signal_count, alarm.elder_id) == ("waiting", 3, elder_id)
        assert alarm.priority == 1 and alarm.alarm_class == "emergency"
        stored = s.scalars(select(AlarmSignal.msg_key).where(AlarmSignal.alarm_id == alarm_id))
        assert sorted(stored) == ["A-1", "A-2", "A-3"]
        # the family hears about an SOS once, not once per press
        sms = s.scalars(select(OutboxMessage).where(OutboxMessage.ref_type == "alarm")).all()
        assert [(m.ref_id, m.template, m.to_name) for m in sms] == [
            (str(alarm_id), "alarm_family", "李强")
        ]
        text = rt.cipher.open(sms[0].body_sealed)
        assert "一键呼叫" in text and "王桂兰" in text
    raised = _events(rt, "AlarmRaised")
    assert [e["data"]["alarm_id"] for e in raised] == [alarm_id]
    assert raised[0]["region_code"] == "150102003201"
    # repeats within the damping window are counted, not announced
    assert _events(rt, "AlarmRepeated") == []


def test_a_flood_from_one_device_never_hides_another_alarm(rt, seen) -> None:
    with rt.session() as s:
        elder_id = new_elder(s)
        serial = new_device(s, elder_id=elder_id).serial
    flood = [signal(serial, AlarmType.LOW_BATTERY) for _ in range(300)]
    # a real SOS lands in the middle of the flood
    batch = flood[:150] + [signal(serial, AlarmType.SOS, msg="real")] + flood[150:]
    with rt.session() as s:
        outcomes = record_signals(s, signals=batch)
    results = [o.result for o in outcomes]
    assert results.count("raised") == 2 and results.count("folded") == 299
    with rt.session() as s:
        alarms = {a.alarm_type: a for a in s.scalars(select(Alarm))}
        assert set(alarms) == {"low_battery", "sos"}
        assert alarms["low_battery"].signal_count == 300 and alarms["sos"].signal_count == 1
        # every message of the flood is recorded, once
        assert s.scalar(select(func.count()).select_from(AlarmSignal)) == 301
    assert sorted(e["data"]["alarm_type"] for e in _events(rt, "AlarmRaised")) == [
        "low_battery",
        "sos",
    ]


def test_repeats_are_announced_at_most_once_per_window(rt, seen) -> None:
    with rt.session() as s:
        serial = new_device(s, elder_id=new_elder(s)).serial
    t0 = utcnow()
    window = rt.settings.alarm_repeat_notify_s
    batches = [
        [t0, t0 + timedelta(seconds=1)],
        [t0 + timedelta(seconds=window), t0 + timedelta(seconds=window + 1)],
        [t0 + timedelta(seconds=2 * window + 1)],
        [t0 + timedelta(seconds=2 * window + 2)],
    ]
    for times in batches:
        with rt.session() as s:
            record_signals(s, signals=[signal(serial, at=at) for at in times])
    counts = [e["data"]["signal_count"] for e in _events(rt, "AlarmRepeated")]
    # the raise at t0 is the first announcement; the repeat at +window is told with the count its
    # batch ended on, the one at +2window+1 likewise; +1 s and +2window+2 fall inside a window
    assert counts == [4, 5]


def test_a_restore_clears_an_sos_but_only_an_outcome_closes_it(rt, seen) -> None:
    with rt.session() as s:
        serial = new_device(s, elder_id=new_elder(s)).serial
    with rt.session() as s:
        [raised] = record_signals(s, signals=[signal(serial, AlarmType.SOS)])
    with rt.session() as s:
        [restored] = record_signals(s, signals=[signal(serial, AlarmType.SOS, kind="restore")])
    assert restored.result == "restored" and restored.alarm_id == raised.alarm_id
    with rt.session() as s:
        alarm = s.get(Alarm, raised.alarm_id)
        assert alarm.status == "waiting" and not alarm.active and alarm.restored_at
    # pressed again: still the same case, active again
    with rt.session() as s:
        [again] = record_signals(s, signals=[signal(serial, AlarmType.SOS)])
    assert again.result == "folded" and again.alarm_id == raised.alarm_id
    with rt.session() as s:
        assert s.get(Alarm, raised.alarm_id).active
    # a restore with nothing open to restore is kept and changes nothing
    with rt.session() as s:
        [lonely] = record_signals(s, signals=[signal(serial, AlarmType.SMOKE, kind="restore")])
    assert lonely.result == "restore_unmatched" and lonely.alarm_id is None


def test_technical_alarms_close_on_restore_and_chatter_reopens_the_same_alarm(rt, seen) -> None:
    with rt.session() as s:
        serial = new_device(s, elder_id=new_elder(s), kind="smoke", sim=False).serial
    t0 = utcnow()
    with rt.session() as s:
        outs = record_signals(
            s,
            signals=[
                signal(serial, AlarmType.LOW_BATTERY, at=t0),
                signal(serial, AlarmType.LOW_BATTERY, kind="restore", at=t0 + timedelta(seconds=5)),
                signal(serial, AlarmType.LOW_BATTERY, at=t0 + timedelta(seconds=8)),
                signal(
                    serial, AlarmType.LOW_BATTERY, kind="restore", at=t0 + timedelta(seconds=12)
                ),
            ],
        )
    assert [o.result for o in outs] == [
        "raised",
        "closed_by_restore",
        "reopened",
        "closed_by_restore",
    ]
    assert len({o.alarm_id for o in outs}) == 1
    with rt.session() as s:
        [alarm] = s.scalars(select(Alarm)).all()
        assert (alarm.status, alarm.outcome, alarm.reopen_count) == ("closed", "restored", 1)
        assert alarm.open_key is None
    # the reopening came within the damping window: the consoles heard of it once
    assert len(_events(rt, "AlarmRaised")) == 1
    assert [e["data"]["closed"] for e in _events(rt, "AlarmRestored")] == [True, True]


def test_unknown_unbound_retired_and_deceased(rt, seen) -> None:
    with rt.session() as s:
        alive = new_elder(s)
        dead = new_elder(s)
        stock = new_device(s, elder_id=None).serial
        retired = new_device(s, elder_id=alive)
        devices.unbind_device(
            s, device_id=retired.id, actor=STAFF, to=devices.DeviceStatus.DEACTIVATED
        )
        of_dead = new_device(s, elder_id=dead).serial
        elders.record_death(s, elder_id=dead, died_on=date(2024, 5, 1), actor=STAFF)
    with rt.session() as s:
        outs = record_signals(
            s,
            signals=[
                signal("NO-SUCH-DEVICE"),
                signal(stock),
                signal(retired.serial),
                signal(of_dead, AlarmType.FALL),
            ],
        )
    assert [o.result for o in outs] == ["unknown_device", "raised", "suppressed", "suppressed"]
    with rt.session() as s:
        [unbound] = s.scalars(select(Alarm)).all()
        assert unbound.unbound and unbound.elder_id is None
        assert unbound.region_code == rt.settings.home_region_code
        # suppressed signals are still on record, tied to no alarm
        kept = s.scalars(select(AlarmSignal.result).where(AlarmSignal.alarm_id.is_(None))).all()
        assert sorted(kept) == ["suppressed", "suppressed"]
    assert [e["data"]["unbound"] for e in _events(rt, "AlarmRaised")] == [True]


def test_a_batch_writes_its_alarms_and_signals_in_one_round_trip(runtime, monkeypatch) -> None:
    """On PostgreSQL a batch's new alarms and its signals are one statement each (a column per
    array), sent together: row-by-row inserts took half of a 430-alarm burst's transaction."""
    import psycopg

    with runtime.session() as s:
        load_dictionary(s)
        elder_id = new_elder(s)
        serials = [new_device(s, elder_id=elder_id).serial for _ in range(3)]
    pipelines: list[list[str]] = []  # the tables inserted into by each pipeline
    alone: list[str] = []  # inserts outside a pipeline, or row by row
    real_pipeline = psycopg.Connection.pipeline
    real_execute, real_executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def table_of(query: object) -> str | None:
        text = str(query).replace('"', "")
        return next(
            (t for t in ("alarms", "alarm_signals") if text.startswith(f"INSERT INTO {t} ")), None
        )

    def pipeline(conn, *args, **kwargs):  # noqa: ANN001
        pipelines.append([])
        return real_pipeline(conn, *args, **kwargs)

    def execute(cursor, query, *args, **kwargs):  # noqa: ANN001
        table = table_of(query)
        if table is not None:
            (pipelines[-1] if cursor.connection._pipeline is not None else alone).append(table)
        return real_execute(cursor, query, *args, **kwargs)

    def executemany(cursor, query, *args, **kwargs):  # noqa: ANN001
        table = table_of(query)
        if table is not None:
            alone.append(table)
        return real_executemany(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "pipeline", pipeline)
    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", executemany)
    with runtime.session() as s:
        outcomes = record_signals(s, signals=[signal(x, msg=f"B-{x}") for x in serials])
    monkeypatch.undo()

    assert [o.result for o in outcomes] == ["raised"] * 3
    assert alone == []
    assert [p for p in pipelines if p] == [["alarms", "alarm_signals"]]
    with runtime.session() as s:
        stored = s.execute(select(AlarmSignal.alarm_id, Alarm.device_id).join(Alarm)).all()
    assert sorted(alarm_id for alarm_id, _d in stored) == sorted(o.alarm_id for o in outcomes)
