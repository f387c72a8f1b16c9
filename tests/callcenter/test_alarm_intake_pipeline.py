"""The intake's writers against real PostgreSQL: a report the database refuses is set aside on
its own at once; a database that is away is waited for, and nothing is set aside meanwhile."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from sqlalchemy import select, text

from callcenter.alarm_intake import pipeline as pipeline_module
from callcenter.alarm_intake.mqtt import Broker, Feed, LaneClient
from callcenter.alarm_intake.pipeline import Delivery, IntakePipeline
from callcenter.alarm_intake.rejects import RejectLog
from platform_core.alarms.models import RejectedDeviceMessage
from platform_core.alarms.schemas import Signal
from platform_core.alarms.vocabulary import AlarmType
from platform_core.db import make_engine, utcnow
from platform_core.devices.heartbeats import Heartbeat
from platform_core.models import metadata
from platform_core.runtime import build_runtime
from tests.callcenter import alarm_intake_support as support
from tests.callcenter.alarm_intake_support import count_alarms, wait_until
from tests.platform_core.alarms_support import new_device, new_elder
from tests.platform_core.test_db_liveness import private_postgres

home = support.home  # fixtures
__all__ = ["private_postgres"]


def _sos(device_ref: str, key: str) -> Signal:
    now = utcnow()
    return Signal(
        device_ref=device_ref,
        kind="alarm",
        alarm_type=AlarmType.SOS,
        occurred_at=now,
        received_at=now,
        msg_key=key,
        vendor="ankang",
        protocol="hx-json",
        raw=f'{{"dev":"{device_ref}","msgId":"{key}"}}',
    )


def test_a_report_the_database_refuses_is_set_aside_alone_and_at_once(home) -> None:
    rt = home.runtime
    with rt.session() as s:
        refs = [new_device(s, elder_id=home.elder_id).imei for _ in range(4)]
    rejects = RejectLog(rt)
    pipeline = IntakePipeline(rt, rejects=rejects).start()
    acks: list[tuple[int, bool]] = []
    poisoned = _sos("864512\x00999", "nul-in-the-reference")  # PostgreSQL refuses the query
    deliveries = [
        Delivery([_sos(refs[0], "a")], lambda ok: acks.append((0, ok))),
        # a webhook request with three messages, the middle one poisoned
        Delivery(
            [_sos(refs[1], "b"), poisoned, _sos(refs[2], "c")],
            lambda ok: acks.append((1, ok)),
            transport="http",
        ),
        Delivery([_sos(refs[3], "d")], lambda ok: acks.append((2, ok))),
    ]
    started = time.monotonic()
    try:
        for d in deliveries:
            pipeline.submit(d)
        assert pipeline.wait_idle(10)
        elapsed = time.monotonic() - started
    finally:
        pipeline.stop()
        rejects.close()
    assert count_alarms(rt, alarm_type="sos") == 4
    # every delivery acknowledged once; the webhook's answer says which report was set aside
    assert sorted(acks) == [(0, True), (1, False), (2, True)]
    assert [e.reason for e in deliveries[1].set_aside] == ["not_stored"]
    # no back-off for an error that is the message's own: milliseconds, not seconds
    assert elapsed < 1.0, elapsed
    with rt.session() as s:
        [row] = s.scalars(select(RejectedDeviceMessage)).all()
    assert (row.reason, row.transport) == ("not_stored", "http") and "\\x00" in row.raw


def test_alarms_wait_out_a_database_outage_and_nothing_is_set_aside(
    private_postgres, base_settings
) -> None:
    server, pg_ctl = private_postgres
    engine = make_engine(server.url, pool_size=3, max_overflow=0)
    metadata.create_all(engine)
    rt = build_runtime(base_settings.with_overrides(database_url=server.url), engine=engine)
    try:
        from platform_core.regions.service import load_dictionary

        with rt.session() as s:
            load_dictionary(s)
        with rt.session() as s:
            imei = new_device(s, elder_id=new_elder(s)).imei
        rejects = RejectLog(rt)
        pipeline = IntakePipeline(rt, rejects=rejects).start()
        acks: list[bool] = []
        server.pg_ctl(pg_ctl, "stop")
        try:
            pipeline.submit(Delivery([_sos(imei, "during-the-outage")], acks.append))
            time.sleep(4)  # longer than the retries of a write that fails for its own reasons
            assert acks == [] and not rejects.counts  # nothing acknowledged, nothing set aside
        finally:
            server.pg_ctl(pg_ctl, "start")
        try:
            assert wait_until(lambda: acks == [True], timeout=20), pipeline.snapshot()
        finally:
            pipeline.stop()
            rejects.close()
        assert count_alarms(rt, alarm_type="sos") == 1
        assert pipeline.snapshot().get("set_aside", 0) == 0
    finally:
        rt.close()


def test_a_second_copy_of_what_was_recorded_is_acknowledged_without_a_write(home) -> None:
    """Each MQTT message reaches the intake on two sessions: the copy of a signal this process
    has just recorded costs no transaction (written one each, a burst's copies kept the alarm
    writer busy for seconds after it)."""
    rt = home.runtime
    with rt.session() as s:
        ref = new_device(s, elder_id=home.elder_id).imei
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt)).start()
    acks: list[bool] = []
    try:
        pipeline.submit(Delivery([_sos(ref, "first")], acks.append))
        assert pipeline.wait_idle(10) and acks == [True]
        batches = pipeline.stats["alarm_batches"]
        pipeline.submit(Delivery([_sos(ref, "first")], acks.append, copy=True))
        assert acks == [True, True]  # acknowledged at once
        assert pipeline.wait_idle(10)
        assert pipeline.stats["alarm_batches"] == batches  # and nothing written for it
        assert pipeline.stats["signals.redelivered"] == 1
        # a copy of something this process never recorded is written (and recognised there)
        pipeline.submit(Delivery([_sos(ref, "before-a-restart")], acks.append, copy=True))
        assert pipeline.wait_idle(10) and pipeline.stats["alarm_batches"] == batches + 1
    finally:
        pipeline.stop()
    assert count_alarms(rt, alarm_type="sos") == 1


def test_heartbeats_wait_while_alarms_keep_arriving(home) -> None:
    """The heartbeat writer does not start between two alarm batches of a burst: the alarm
    lane counts as busy for a moment after the last alarm reached it."""
    rt = home.runtime
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt))  # not started: the lanes stay idle
    assert not pipeline.alarms_busy()
    with rt.session() as s:
        ref = new_device(s, elder_id=home.elder_id).imei
    pipeline.submit(Delivery([_sos(ref, "k")], lambda _ok: None))
    pipeline.lanes["alarm-0"].queue.get_nowait()  # as if its writer had taken it already
    assert pipeline.alarms_busy()
    assert wait_until(lambda: not pipeline.alarms_busy(), timeout=2)
    # a second session's copy is low-priority work itself: it holds the heartbeats back for nothing
    pipeline.submit(Delivery([_sos(ref, "k")], lambda _ok: None, copy=True))
    pipeline.lanes["alarm-0"].queue.get_nowait()
    assert not pipeline.alarms_busy()


def test_low_priority_work_stops_between_items_when_alarms_arrive(home) -> None:
    """Work taken in one bulk (copies, heartbeats, family SMS) pauses between its items once an
    alarm arrives: a burst beginning mid-bulk does not wait for the rest of the bulk."""
    rt = home.runtime
    with rt.session() as s:
        ref = new_device(s, elder_id=home.elder_id).imei
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt))
    gate = threading.Event()
    ran: list[tuple[str, float]] = []

    def first() -> None:
        gate.wait(5)
        ran.append(("first", time.monotonic()))

    pipeline.later(first)  # both queued before the thread starts: taken as one bulk
    pipeline.later(lambda: ran.append(("second", time.monotonic())))
    pipeline.start()
    try:
        time.sleep(0.05)
        pipeline.submit(Delivery([_sos(ref, "mid-bulk")], lambda _ok: None))
        gate.set()
        assert pipeline.wait_idle(10)
    finally:
        pipeline.stop()
    assert [name for name, _at in ran] == ["first", "second"]
    assert ran[1][1] - ran[0][1] >= 0.1  # the alarm lane counted as busy a moment after it


def test_a_steady_stream_of_alarms_slows_low_priority_work_but_never_stops_it(
    home, monkeypatch
) -> None:
    """Alarms arriving without a pause (a chattering device, a storm lasting minutes) keep the
    alarm lane busy all the time: low-priority work (heartbeats, copies, family SMS) then waits
    out the longest yield once and runs as long again, instead of waiting that long per item."""
    monkeypatch.setattr(pipeline_module, "_LONGEST_YIELD_S", 0.2)
    rt = home.runtime
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt))
    done: list[float] = []
    for _ in range(10):
        pipeline.later(lambda: done.append(time.monotonic()))
    stop = threading.Event()

    def alarms_keep_coming() -> None:
        while not stop.is_set():
            pipeline._last_alarm = time.monotonic()
            time.sleep(0.01)

    feeder = threading.Thread(target=alarms_keep_coming, daemon=True)
    feeder.start()
    started = time.monotonic()
    pipeline.start()
    try:
        assert wait_until(lambda: len(done) == 10, timeout=5)
    finally:
        stop.set()
        feeder.join(2)
        pipeline.stop()
    assert done[-1] - started < 1.0  # one item per yield would take 2 s


def test_heartbeat_and_copy_sessions_stop_reading_while_alarms_are_written(home) -> None:
    """The heartbeat session and the second copy session hold their network thread (and so the
    interpreter) back while alarms are being written: their messages wait on the socket."""
    rt = home.runtime
    with rt.session() as s:
        ref = new_device(s, elder_id=home.elder_id).imei
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt))  # not started: nothing is written
    feed = Feed(
        broker=Broker("127.0.0.1", 1),
        client_id="t",
        topic_prefix="t",
        session_expiry_s=60,
        vendors={},
        pipeline=pipeline,
    )
    beats = LaneClient(feed, lane="heartbeat", channel="heartbeat", protocol=mqtt.MQTTv5)
    message = mqtt.MQTTMessage(mid=1, topic=b"t/ankang/x/heartbeat")
    pipeline.submit(Delivery([_sos(ref, "burst")], lambda _ok: None))
    pipeline.lanes["alarm-0"].queue.get_nowait()  # as if its writer were writing it
    started = time.monotonic()
    beats._on_message(None, None, message)
    assert time.monotonic() - started >= 0.1
    assert pipeline._later.qsize() == 1  # then handed on to the low-priority thread


def test_an_alarm_raised_while_redis_is_away_reaches_the_console_when_it_is_back(
    home, monkeypatch
) -> None:
    """The batch's events go out through the outbox like every other unit of work's: a publish
    that fails right after the commit leaves the row, and the relay sends it once the bus is
    back (the intake's own collector had swallowed the failure, and the alarm's event with it)."""
    import redis

    rt = home.runtime
    with rt.session() as s:
        ref = new_device(s, elder_id=home.elder_id).imei
    seen: list[dict] = []
    rt.event_bus.subscribe(seen.append)
    away = {"now": True}
    bus = type(rt.event_bus)
    real_one, real_many = bus.publish, bus.publish_many

    def publish(self, envelope):  # noqa: ANN001
        if away["now"]:
            raise redis.ConnectionError("Connection refused")
        real_one(self, envelope)

    def publish_many(self, envelopes):  # noqa: ANN001
        if away["now"]:
            raise redis.ConnectionError("Connection refused")
        real_many(self, envelopes)

    monkeypatch.setattr(bus, "publish", publish)
    monkeypatch.setattr(bus, "publish_many", publish_many)
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt)).start()
    acks: list[bool] = []
    try:
        pipeline.submit(Delivery([_sos(ref, "while-redis-is-away")], acks.append))
        assert pipeline.wait_idle(10) and acks == [True]  # recorded, acknowledged
        away["now"] = False  # Redis is back
        assert wait_until(lambda: any(e["type"] == "AlarmRaised" for e in seen), timeout=15), (
            "the alarm's event was lost"
        )
    finally:
        pipeline.stop()


def test_a_burst_beginning_while_heartbeats_are_written_waits_for_one_part_of_them(
    home, monkeypatch
) -> None:
    """A heartbeat batch is written in parts, the alarms first between two parts: an alarm
    arriving while the first part is written is recorded before the next part is begun, not
    after the whole batch (which held a burst's first alarms up 90 ms)."""
    monkeypatch.setattr(pipeline_module, "_LOW_PRIORITY_PART", 2, raising=False)
    monkeypatch.setattr(pipeline_module, "_ALARM_QUIET_S", 0.0)
    rt = home.runtime
    with rt.session() as s:
        beating = [new_device(s, elder_id=home.elder_id).imei for _ in range(6)]
        alarming = new_device(s, elder_id=home.elder_id).imei
    pipeline = IntakePipeline(rt, rejects=RejectLog(rt))
    heartbeats_begun: list[int] = []  # heartbeats handed to the database, at each write's start
    begun_when_alarm_recorded: list[int] = []
    write = pipeline.write

    def recording_write(batch: list[Delivery], *, lane: str) -> None:
        if lane == "alarm":
            write(batch, lane=lane)
            begun_when_alarm_recorded.append(sum(heartbeats_begun))
            return
        heartbeats_begun.append(len(batch))
        if len(heartbeats_begun) == 1:  # an alarm arrives while the first part is written
            pipeline.submit(Delivery([_sos(alarming, "mid-heartbeats")], lambda _ok: None))
        write(batch, lane=lane)

    monkeypatch.setattr(pipeline, "write", recording_write)
    now = utcnow()
    for ref in beating:  # queued before the writers start: one batch of six
        pipeline.submit(Delivery([Heartbeat(device_ref=ref, at=now)], lambda _ok: None))
    pipeline.start()
    try:  # the heartbeat writer lingers half a second for more before it writes
        assert wait_until(lambda: pipeline.stats["heartbeats"] == 6, timeout=10)
        assert wait_until(lambda: begun_when_alarm_recorded, timeout=10)
    finally:
        pipeline.stop()
    assert heartbeats_begun == [2, 2, 2]
    assert begun_when_alarm_recorded == [2]
    assert count_alarms(rt) == 1


def test_alarm_keys_come_from_the_reserve_and_a_key_taken_meanwhile_costs_no_alarm(home) -> None:
    """A burst's alarms take keys drawn ahead (no round trip to the sequence in the batch). A
    reserved key that turns out taken (a database restored to an earlier moment) fails that
    write once; the keys are forgotten and every alarm is written, none set aside."""
    from platform_core.alarms.intake import ALARM_KEYS, reserve_keys
    from platform_core.alarms.models import Alarm

    rt = home.runtime
    with rt.session() as s:
        refs = [new_device(s, elder_id=home.elder_id).imei for _ in range(6)]
    ALARM_KEYS.forget()
    with rt.session() as s:
        reserve_keys(s)
        ahead = ALARM_KEYS.take(s, 2)
    assert ahead is not None and ahead[1] == ahead[0] + 1
    rejects = RejectLog(rt)
    pipeline = IntakePipeline(rt, rejects=rejects).start()
    try:
        pipeline.submit(Delivery([_sos(refs[0], "first")], lambda ok: None))
        assert pipeline.wait_idle(10)
        with rt.session() as s:
            first = s.scalar(select(Alarm.id))
        # the key after the two taken above: from the reserve, not the sequence
        assert first == ahead[1] + 1
        # the next reserved keys are taken meanwhile, as in a database restored to an earlier
        # moment: enough of them that no retry with keys from the reserve could succeed
        with rt.session() as s:
            s.execute(
                text(
                    "INSERT INTO alarms (id, device_id, region_code, alarm_type, alarm_class,"
                    " priority, status, active, event_code, vendor, protocol, unbound,"
                    " occurred_at, received_at, last_signal_at, signal_count, reopen_count,"
                    " timer_seq, outcome_note, updated_at)"
                    " SELECT k, device_id, region_code, 'fall', 'emergency', 1, 'closed', false,"
                    " '', '', '', false, now(), now(), now(), 1, 0, 0, '', now()"
                    " FROM alarms, generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS k"
                    " WHERE alarms.id = :first"
                ),
                {"lo": first + 1, "hi": first + 50, "first": first},
            )
        acks: list[bool] = []
        for n, ref in enumerate(refs[1:]):
            pipeline.submit(Delivery([_sos(ref, f"then-{n}")], acks.append))
        assert pipeline.wait_idle(10)
    finally:
        pipeline.stop()
        rejects.close()
    assert count_alarms(rt, alarm_type="sos") == 6
    assert acks == [True] * 5
    assert pipeline.stats["set_aside"] == 0
    with rt.session() as s:
        assert s.scalars(select(RejectedDeviceMessage)).all() == []
