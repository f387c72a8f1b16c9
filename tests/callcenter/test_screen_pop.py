"""The screen-pop service: a ring the IVR decided pops as it is read, on an AMI session of its
own, before callcenter's writer has recorded it and with what the writer records; once per ring
whoever publishes it first; and what the service cannot pop (no IVR on the call, the elder's
region unreadable, the bus refusing) the writer pops after its commit."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, select

from callcenter import pipeline as pipeline_module
from callcenter.ami import parse_block
from callcenter.pbx_sim import CallerConfig
from callcenter.pbx_sim.config import screen_pop_user
from callcenter.pipeline import EventPipeline
from callcenter.screen_pop import RingingLane, ScreenPopsThread
from platform_core.calls.models import AgentOffer, Call
from platform_core.calls.ringing import ElderRegions, pop_from_ring
from platform_core.calls.schemas import ChannelRef
from platform_core.events import RedisEventBus
from platform_core.runtime import Runtime
from tests.callcenter.conftest import settle, sim_config
from tests.callcenter.test_idempotency_and_bad_input import record_stream
from tests.platform_core.alarms_support import new_elder

# as asterisk_conf/manager.conf has Asterisk write them on every event of a channel
CHANNELVARS = next(
    line.partition("=")[2].replace(" ", "").split(",")
    for line in (Path(__file__).parents[2] / "asterisk_conf" / "manager.conf")
    .read_text()
    .splitlines()
    if line.replace(" ", "").startswith("channelvars=")
)
SHOWN = ("caller_number", "caller_name", "elder_id", "intent", "priority", "region_code")


def ivr(elder_id: int | str, **more: str) -> dict[str, str]:
    """What the IVR leaves on the caller's channel at the end of its flow."""
    return {
        "HOTLINE_ELDER_ID": str(elder_id),
        "HOTLINE_INTENT": "consult",
        "HOTLINE_PRIORITY": "0",
        "HOTLINE_IVR_SESSION": "90210",
        **more,
    }


def lane_for(runtime: Runtime, regions: ElderRegions | None = None, bus: Any = None) -> RingingLane:
    s = runtime.settings
    return RingingLane(
        bus or runtime.event_bus,
        regions or ElderRegions(runtime.engine),
        inbound_contexts={s.call_inbound_contexts},
        home_region=s.home_region_code,
    )


def pops_seen(runtime: Runtime) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    runtime.event_bus.subscribe(
        lambda env: seen.append(env["data"]) if env["type"] == "CallRinging" else None
    )
    return seen


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def read_by_the_lane(lane: RingingLane, stream: list[bytes]) -> None:
    """The service's reader: every message of the stream, as its AMI session would hand it on."""
    for raw in stream:
        for m in parse_block(raw.decode()):
            lane.ring(m, time.time())


def written(runtime: Runtime, stream: list[bytes]) -> None:
    """callcenter's writer, the whole stream, until everything is committed and published."""
    pipeline = EventPipeline(runtime)
    try:
        for raw in stream:
            for m in parse_block(raw.decode()):
                pipeline.submit(m, time.time())
        pipeline.start()
        assert pipeline.wait_idle(20)
        runtime.event_bus.drain()  # type: ignore[attr-defined]
    finally:
        pipeline.stop()


def rings_recorded(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.session() as s:
        return [(o.linkedid, o.interface) for o in s.scalars(select(AgentOffer))]


def test_a_ring_the_ivr_decided_pops_before_the_writer_records_it_with_what_it_records(
    regions,
) -> None:
    runtime = regions
    with runtime.session() as s:
        elder = new_elder(s, region_code="150202001001")  # in Baotou, not the hotline's home
    callers = [
        CallerConfig(number="13800000021", talk=3, variables=ivr(elder)),
        CallerConfig(number="13800000022", talk=3, variables=ivr("", HOTLINE_PRIORITY="10")),
    ]
    stream, _calls = record_stream(callers, channelvars=CHANNELVARS)
    seen = pops_seen(runtime)
    lane = lane_for(runtime)
    try:
        read_by_the_lane(lane, stream)
        wait_for(lambda: lane.stats["popped"] >= 2 and len(seen) == lane.stats["popped"])
        runtime.event_bus.drain()  # type: ignore[attr-defined]
        early = list(seen)
        assert rings_recorded(runtime) == []  # the writer has not started: the lane popped
        assert len(early) == lane.stats["popped"] >= 2
        written(runtime, stream)
    finally:
        lane.close()
    recorded = rings_recorded(runtime)
    # one pop per ring: the writer's pops of the rings the lane popped were not published again
    assert Counter((p["linkedid"], p["agent_interface"]) for p in seen) == Counter(recorded)
    assert seen[: len(early)] == early
    # what the writer popped: a call ringing again at a desk it rang at (the first desk never
    # answers), kept behind the end of the first ring
    first_rings = {(p["linkedid"], p["agent_interface"]) for p in early}
    again = [(p["linkedid"], p["agent_interface"]) for p in seen[len(early) :]]
    assert again and set(again) <= first_rings
    with runtime.session() as s:
        calls = {c.linkedid: c for c in s.scalars(select(Call))}
    for pop in seen:
        call = calls[pop["linkedid"]]
        assert {k: pop[k] for k in SHOWN} == {k: getattr(call, k) for k in SHOWN}
    assert {calls[p["linkedid"]].region_code for p in seen} == {
        "150202001001",
        runtime.settings.home_region_code,
    }


class RefusingBus:
    def publish_many(self, envelopes: list[dict[str, Any]]) -> None:
        raise ConnectionError("Redis is restarting")


def test_what_the_lane_cannot_pop_the_writer_pops_after_its_commit_once(regions) -> None:
    """No IVR on the call, the elder's region unreadable, or the bus refusing the lane's pops:
    the writer pops every ring (a pop the lane took and then could not publish is not lost)."""
    runtime = regions
    with runtime.session() as s:
        elder = new_elder(s, region_code="150202001001")
    callers = [
        CallerConfig(number="13800000031", talk=3, variables=ivr(elder)),
        CallerConfig(number="13800000032", talk=3, variables={"HOTLINE_PRIORITY": "0"}),  # no IVR
    ]
    stream, _calls = record_stream(callers, channelvars=CHANNELVARS)
    seen = pops_seen(runtime)
    unreachable = ElderRegions(create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    lanes = [lane_for(runtime, unreachable), lane_for(runtime, bus=RefusingBus())]
    try:
        for lane in lanes:
            read_by_the_lane(lane, stream)
        wait_for(lambda: all(lane.stats["left_to_writer"] >= 3 for lane in lanes))
        runtime.event_bus.drain()  # type: ignore[attr-defined]
        assert seen == [] and [lane.stats["popped"] for lane in lanes] == [0, 0]
        written(runtime, stream)
    finally:
        for lane in lanes:
            lane.close()
    recorded = rings_recorded(runtime)
    assert len(recorded) >= 2
    assert Counter((p["linkedid"], p["agent_interface"]) for p in seen) == Counter(recorded)


def test_over_redis_a_ring_s_pop_goes_out_once_whichever_process_publishes_it(redis_url) -> None:
    """The service and callcenter each have their own bus (their own process): the first to
    publish a ring's pop wins; another ring of the call, and an event with no ``once``, go
    out as often as they are published."""
    namespace = f"hotline-t-{uuid.uuid4().hex[:8]}"
    service, writer = RedisEventBus(redis_url, namespace), RedisEventBus(redis_url, namespace)
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"{namespace}:events")
    chan = ChannelRef(
        channel="PJSIP/trunk-00000001",
        uniqueid="1.1",
        linkedid="1.1",
        caller_number="13800000041",
        caller_name="",
        context="hotline-inbound",
        variables=ivr(""),
    )

    def pop(ring: str) -> dict[str, Any]:
        return pop_from_ring(
            chan,
            ring_uniqueid=ring,
            queue="hotline-general",
            interface="PJSIP/8001",
            member_name="王芳",
            elder_region=None,
            home_region="150000000000",
        ).envelope()

    try:
        service.publish_many([pop("1.2")])
        writer.publish_many([pop("1.2"), pop("1.3")])
        service.publish_many([pop("1.3")])
        plain = {"id": "x", "type": "QueueCounts", "region_code": None, "data": {}}
        writer.publish_many([plain, plain])
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while len(got) < 4 and time.monotonic() < deadline:
            msg = listener.get_message(timeout=0.2)
            if msg is not None:
                got.append(json.loads(msg["data"]))
        time.sleep(0.2)
        assert listener.get_message(timeout=0.2) is None
    finally:
        listener.close()
        service.close()
        writer.close()
    rings = [g["data"]["ring_uniqueid"] for g in got if g["type"] == "CallRinging"]
    assert rings == ["1.2", "1.3"]
    assert [g["type"] for g in got].count("QueueCounts") == 2


def test_the_service_reads_only_the_rings_and_pops_a_call_once_over_ami(
    regions, start_sim, start_center
) -> None:
    """Over AMI TCP, as deployed: the simulator with manager.conf's two users, callcenter and
    the service each on their own session; the service's session carries the rings alone."""
    runtime = regions
    with runtime.session() as s:
        elder = new_elder(s, region_code="150202001001")
    cfg = sim_config(agents=2, channelvars=CHANNELVARS)
    cfg.users["hotline-pop"] = screen_pop_user("pop-secret")
    cfg.agents[0].answer_after = None  # rings out, then the call rings the other desk
    sim = start_sim(cfg)
    seen = pops_seen(runtime)
    center = start_center(sim)
    pops = ScreenPopsThread(
        runtime, host="127.0.0.1", port=sim.port, secret="pop-secret", ping_interval=0
    ).start()
    try:
        call = sim.place_call(CallerConfig(number="13800000051", talk=2, variables=ivr(elder)))
        sim.wait(call, 20)
        settle(center, runtime, sim)
        stats = pops.service.stats()
    finally:
        pops.stop()
    recorded = rings_recorded(runtime)
    assert len(recorded) >= 2
    assert Counter((p["linkedid"], p["agent_interface"]) for p in seen) == Counter(recorded)
    assert stats["lane"]["popped"] >= 1
    # Asterisk's filter: nothing but AgentCalled reached the service's session
    assert stats["ami"]["skipped"] == 0
    assert stats["ami"]["events"] == stats["lane"]["popped"] + stats["lane"]["left_to_writer"]


def test_the_writer_steps_back_while_the_reader_reads_a_burst(runtime) -> None:
    """Reads that come full (the reader behind the socket) hold the writer's next batch back a
    moment, so the reader has the interpreter; a trickle is written at once."""
    stream, _calls = record_stream(
        [CallerConfig(number=f"1380000004{n}", talk=3) for n in range(3)]
    )
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    kept = [m for m in messages if EventPipeline(runtime).filter.keep(m)]
    assert len(kept) >= pipeline_module._FULL_READ

    def first_batch_after(read_times: list[float]) -> float:
        pipeline = EventPipeline(runtime)
        for m, at in zip(kept, read_times, strict=True):
            pipeline.submit(m, at)
        started = time.monotonic()
        pipeline.start()
        try:
            wait_for(lambda: pipeline.stats.batches > 0, timeout=5)
            return time.monotonic() - started
        finally:
            pipeline.stop()

    one_read = time.time()
    burst = first_batch_after([one_read] * len(kept))
    trickle = first_batch_after([one_read + i for i in range(len(kept))])
    assert burst >= pipeline_module._STEP_BACK_S * 0.8
    assert trickle < burst


class FlakyBus:
    """A bus that refuses until told to take again, then hands on to ``to``."""

    def __init__(self, to: Any) -> None:
        self.to = to
        self.refusing = True

    def publish_many(self, envelopes: list[dict[str, Any]]) -> None:
        if self.refusing:
            raise ConnectionError("Redis is restarting")
        self.to.publish_many(envelopes)


def test_an_outage_is_logged_as_it_starts_and_ends_not_for_every_ring(regions, caplog) -> None:
    """At the peak the service publishes hundreds of groups of rings a second: a bus that
    refuses them is one warning (with no caller's details), and one line when it takes again."""
    runtime = regions
    callers = [CallerConfig(number=f"1380000006{n}", talk=2, variables=ivr("")) for n in range(4)]
    stream, _calls = record_stream(callers, agents=4, channelvars=CHANNELVARS)
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    rings = [i for i, m in enumerate(messages) if m.get("Event") == "AgentCalled"]
    bus = FlakyBus(runtime.event_bus)
    lane = lane_for(runtime, bus=bus)
    caplog.set_level("INFO", logger="callcenter.screen_pop")
    try:
        for i, m in enumerate(messages):
            if i == rings[-1]:
                bus.refusing = False
            before = dict(lane.stats)
            lane.ring(m, time.time())
            if i in rings:  # one group of rings at a time
                wait_for(lambda before=before: lane.stats != before)
                time.sleep(0.05)
    finally:
        lane.close()
    assert lane.stats["left_to_writer"] >= 3 and lane.stats["popped"] == 1
    lines = [r for r in caplog.records if r.name == "callcenter.screen_pop"]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"]
    assert not any("138000000" in r.getMessage() for r in lines)
