"""One bad AMI event costs only itself, and events about calls that are none of the hotline's
create no calls: over real TCP from the PBX simulator into PostgreSQL, ground truth from the
simulator."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from callcenter.pbx_sim import CallerConfig
from callcenter.pbx_sim.wire import Channel
from platform_core.calls.models import AgentOffer, Call, QueueEntry, RecallItem
from tests.callcenter.conftest import settle, sim_config
from tests.callcenter.test_cli import EXPECTED, FIXTURE, env, invoke  # noqa: F401 - fixture

SNAPSHOT_EVENTS = ("QueueCallerJoin", "AgentConnect", "AgentComplete", "QueueCallerAbandon")


def foreign(n: int, context: str = "from-internal") -> Channel:
    uid = f"1700009999.{n}"
    return Channel(
        name=f"PJSIP/2{n:03d}-0000{n:04x}",
        uniqueid=uid,
        linkedid=uid,
        caller_num=f"2{n:03d}",
        caller_name="内线",
        context=context,
        exten="600",
        state=6,
    )


def overflowing_join(ch: Channel) -> list[tuple[str, str]]:
    return [*ch.snapshot(), ("Queue", "hotline-general"), ("Position", "1e999"), ("Count", "1")]


def hold_writer(center) -> threading.Event:
    """Keep the writer busy until the returned gate opens: everything read meanwhile is
    written as one batch."""
    gate = threading.Event()
    center.center.pipeline.submit_marker(lambda _s: gate.wait(60))
    return gate


def read_all(center, sim, timeout: float = 20) -> None:
    """Wait until callcenter has read everything the simulator sent so far (not written)."""
    token = f"t{time.monotonic_ns()}"
    sim.call(sim.pbx.user_event, [("UserEvent", "HotlineProbe"), ("Token", token)])
    deadline = time.monotonic() + timeout
    while center.center.pipeline.last_probe != token:
        assert time.monotonic() < deadline, "probe never arrived"
        time.sleep(0.01)


def test_a_join_with_an_overflowing_position_costs_only_itself(
    runtime, start_sim, start_center
) -> None:
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim)
    gate = hold_writer(center)
    call = sim.place_call(CallerConfig(number="13800000021", name="张桂兰", talk=8))
    sim.call(sim.pbx.inject, "QueueCallerJoin", overflowing_join(foreign(1, "hotline-inbound")))
    sim.wait(call)
    read_all(center, sim)
    gate.set()  # the call's events and the poison go to the database as one batch
    settle(center, runtime, sim)
    with runtime.session() as s:
        c = s.get(Call, call.linkedid)
        assert c is not None, "the answered call was lost with the poison's batch"
        assert (c.outcome, c.agent_interface, c.wait_s, c.talk_s) == (
            "answered",
            call.agent_interface,
            call.wait_s,
            call.talk_s,
        )
        assert s.scalar(select(func.count()).select_from(Call)) == 1
    stats = center.center.pipeline.stats
    assert (stats.malformed, stats.failed) == (1, 0)


def test_replay_skips_an_overflowing_position_and_keeps_the_rest(env, runtime, tmp_path) -> None:  # noqa: F811
    blocks = FIXTURE.read_text(encoding="utf-8").split("\n\n")
    poison = "\n".join(
        f"{k}: {v}"
        for k, v in [("Event", "QueueCallerJoin"), ("Privilege", "agent,all")]
        + overflowing_join(foreign(2, "hotline-inbound"))
    )
    path = Path(tmp_path) / "poisoned.ami"
    path.write_text("\n\n".join([*blocks[:6], poison, *blocks[6:]]), encoding="utf-8")
    assert json.loads(invoke(env, "callcenter", "replay", str(path), "--json")) == EXPECTED
    table = invoke(env, "callcenter", "replay", str(path))
    assert "格式错误 1" in table


def test_queue_events_of_other_contexts_create_no_calls(runtime, start_sim, start_center) -> None:
    """AgentConnect, AgentComplete and QueueCallerAbandon about channels never seen, in a
    context that is not the hotline's (desks calling an internal queue), next to a real call."""
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim)
    desk = Channel(name="PJSIP/8001-0000ffff", uniqueid="1700009999.90", linkedid="x", state=6)
    agent = [("Queue", "internal-600"), ("Interface", "PJSIP/8001"), ("MemberName", "王芳")]
    strangers = [foreign(n) for n in (3, 4, 5)]

    def dest(of: Channel) -> list[tuple[str, str]]:
        desk.linkedid = of.linkedid
        return desk.snapshot("Dest")

    sim.call(
        sim.pbx.inject,
        "AgentConnect",
        [
            *strangers[0].snapshot(),
            *dest(strangers[0]),
            *agent,
            ("HoldTime", "3"),
            ("RingTime", "2"),
        ],
    )
    sim.call(
        sim.pbx.inject,
        "AgentComplete",
        [
            *strangers[1].snapshot(),
            *dest(strangers[1]),
            *agent,
            ("HoldTime", "3"),
            ("TalkTime", "40"),
            ("Reason", "caller"),
        ],
    )
    sim.call(
        sim.pbx.inject,
        "QueueCallerAbandon",
        [
            *strangers[2].snapshot(),
            ("Queue", "internal-600"),
            ("Position", "1"),
            ("OriginalPosition", "1"),
            ("HoldTime", "9"),
        ],
    )
    call = sim.place_call(CallerConfig(number="13800000022", name="李四", talk=5))
    sim.wait(call)
    settle(center, runtime, sim)
    ids = [ch.linkedid for ch in strangers]
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Call).where(Call.linkedid.in_(ids))) == 0
        assert s.scalar(select(func.count()).select_from(RecallItem)) == 0
        for model in (QueueEntry, AgentOffer):
            assert (
                s.scalar(select(func.count()).select_from(model).where(model.linkedid.in_(ids)))
                == 0
            )
        assert s.get(Call, call.linkedid).outcome == "answered"
    assert center.center.pipeline.stats.unknown_channel >= 3
