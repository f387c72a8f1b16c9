"""The screen pop's fast lane: a ring the IVR decided pops as the reader reads it, before the
writer has recorded it, with what the writer records; once per ring; and what the lane cannot
do (no IVR on the call, the elder's region unreadable) the writer pops after its commit."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from callcenter import pipeline as pipeline_module
from callcenter.ami import parse_block
from callcenter.pbx_sim import CallerConfig
from callcenter.pipeline import EventPipeline
from callcenter.ringing_lane import RingingLane
from platform_core.calls import ringing
from platform_core.calls.models import AgentOffer, Call
from platform_core.calls.ringing import ElderRegions
from platform_core.runtime import Runtime
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


def lane_for(runtime: Runtime, regions: ElderRegions | None = None) -> RingingLane:
    s = runtime.settings
    return RingingLane(
        runtime.event_bus,
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


def read_and_write(runtime: Runtime, pipeline: EventPipeline, stream: list[bytes]) -> None:
    """The reader's side (each ring offered to the lane as its read is split, then every
    message submitted in order); the writer's comes after."""
    for raw in stream:
        for m in parse_block(raw.decode()):
            if m.get("Event") == "AgentCalled":
                pipeline.ring(m, time.time())
            pipeline.submit(m, time.time())


def read_then_write(
    runtime: Runtime, lane: RingingLane, stream: list[bytes], meanwhile: Any
) -> None:
    """The reader's side of ``stream``, then ``meanwhile()`` (the writer not yet running),
    then the writer until everything is written."""
    pipeline = EventPipeline(runtime)
    pipeline.lane = lane
    try:
        read_and_write(runtime, pipeline, stream)
        meanwhile()
        pipeline.start()
        assert pipeline.wait_idle(20)
        runtime.event_bus.drain()  # type: ignore[attr-defined]
    finally:
        pipeline.stop()
        lane.close()


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
    early: list[dict[str, Any]] = []

    def before_the_writer() -> None:
        wait_for(lambda: len(seen) >= 2 and len(seen) == len(lane.popped))
        runtime.event_bus.drain()  # type: ignore[attr-defined]
        early.extend(seen)
        assert rings_recorded(runtime) == []  # the writer has not started: the lane popped
        assert len(early) == len(lane.popped) >= 2

    read_then_write(runtime, lane, stream, before_the_writer)
    recorded = rings_recorded(runtime)
    # one pop per ring, none published twice (the writer took each popped ring out)
    assert Counter((p["linkedid"], p["agent_interface"]) for p in seen) == Counter(recorded)
    assert seen[: len(early)] == early and lane.popped == set()
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


def test_what_the_lane_cannot_pop_the_writer_pops_after_its_commit_once(regions) -> None:
    runtime = regions
    with runtime.session() as s:
        elder = new_elder(s, region_code="150202001001")
    callers = [
        CallerConfig(number="13800000031", talk=3, variables=ivr(elder)),  # region unreadable
        CallerConfig(number="13800000032", talk=3, variables={"HOTLINE_PRIORITY": "0"}),  # no IVR
    ]
    stream, _calls = record_stream(callers, channelvars=CHANNELVARS)
    seen = pops_seen(runtime)
    unreachable = ElderRegions(create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    lane = lane_for(runtime, unreachable)

    def before_the_writer() -> None:
        wait_for(lambda: lane.stats["left_to_writer"] >= 1 and not lane.popped)
        runtime.event_bus.drain()  # type: ignore[attr-defined]
        assert seen == [] and lane.popped == set()

    read_then_write(runtime, lane, stream, before_the_writer)
    recorded = rings_recorded(runtime)
    assert len(recorded) >= 2
    assert Counter((p["linkedid"], p["agent_interface"]) for p in seen) == Counter(recorded)
    assert lane.stats["popped"] == 0


def test_a_popped_ring_is_forgotten_only_when_its_record_commits(runtime) -> None:
    """A batch rolled back and done again (a bad event among its neighbours, the database
    away) must still publish no second pop for a ring the lane popped."""
    popped = {("1.1", "1.2")}
    s = runtime.session_factory()
    try:
        s.info[ringing.POPPED] = popped
        assert ringing.take_popped(s, "1.1", "1.2")
        s.rollback()
        assert popped == {("1.1", "1.2")}
        assert ringing.take_popped(s, "1.1", "1.2")
        assert not ringing.take_popped(s, "1.1", "1.9")  # another leg: the writer pops it
        s.commit()
        assert popped == set()
    finally:
        s.close()


def test_the_writer_steps_back_while_the_reader_reads_a_burst(runtime) -> None:
    """Reads that come full (the reader behind the socket) hold the writer's next batch back a
    moment, so the reader and the pops it sends have the interpreter; a trickle is written at
    once."""
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
