"""Calls through the PBX simulator over real AMI TCP into callcenter and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.pbx_sim import AgentConfig, CallerConfig
from platform_core.calls.models import (
    Agent,
    AgentOffer,
    AgentStateSpan,
    Call,
    QueueEntry,
    RecallItem,
)
from tests.callcenter.conftest import settle, sim_config


def _call(runtime, linkedid):
    with runtime.session() as s:
        c = s.get(Call, linkedid)
        assert c is not None
        entries = list(
            s.scalars(
                select(QueueEntry).where(QueueEntry.linkedid == linkedid).order_by(QueueEntry.seq)
            )
        )
        offers = list(
            s.scalars(
                select(AgentOffer).where(AgentOffer.linkedid == linkedid).order_by(AgentOffer.id)
            )
        )
        return c, entries, offers


def test_answered_call_is_recorded_and_pops_the_screen(runtime, start_sim, start_center, captured):
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim)
    call = sim.place_call(
        CallerConfig(
            number="13800000001",
            name="张三丰",
            talk=30,
            variables={"HOTLINE_ELDER_ID": "42", "HOTLINE_INTENT": "meal_aid"},
        )
    )
    sim.wait(call)
    settle(center, runtime, sim)

    pop = captured.wait_for("CallRinging", lambda d: d["linkedid"] == call.linkedid)
    assert pop == {
        "linkedid": call.linkedid,
        "uniqueid": call.uniqueid,
        "queue": "hotline-general",
        "agent_interface": "PJSIP/8001",
        "member_name": "王芳",
        "caller_number": "13800000001",
        "caller_name": "张三丰",
        "elder_id": 42,
        "intent": "meal_aid",
        "priority": 0,
        "region_code": runtime.settings.home_region_code,
        # the desk's own channel: what makes this ring's pop one of a kind
        "ring_uniqueid": pop["ring_uniqueid"],
    }
    c, entries, offers = _call(runtime, call.linkedid)
    assert pop["ring_uniqueid"] in {o.dest_uniqueid for o in offers}
    assert (c.outcome, c.caller_name, c.elder_id, c.agent_interface, c.member_name) == (
        "answered",
        "张三丰",
        42,
        "PJSIP/8001",
        "王芳",
    )
    assert call.outcome == "answered"
    assert c.wait_s == call.wait_s and c.talk_s == call.talk_s and c.talk_s >= 29
    assert c.ended_at is not None and c.first_queue == "hotline-general"
    assert [(e.queue, e.outcome) for e in entries] == [("hotline-general", "answered")]
    assert [(o.interface, o.status, o.complete_reason) for o in offers] == [
        ("PJSIP/8001", "completed", "caller")
    ]
    call_events = [e for e in captured.items if e["type"].startswith("Call")]
    assert [e["type"] for e in call_events if e["data"]["linkedid"] == call.linkedid] == [
        "CallQueued",
        "CallRinging",
        "CallAnswered",
        "CallEnded",
    ]
    with runtime.session() as s:
        states = [
            sp.state
            for sp in s.scalars(
                select(AgentStateSpan)
                .where(AgentStateSpan.interface == "PJSIP/8001")
                .order_by(AgentStateSpan.started_at, AgentStateSpan.id)
            )
        ]
    assert states[:4] == ["ready", "ringing", "on_call", "wrap_up"]


def test_abandoned_call_opens_a_recall(runtime, start_sim, start_center, captured):
    cfg = sim_config(agents=1)
    cfg.agents[0].paused = True
    cfg.agents[0].paused_reason = "午餐"
    sim = start_sim(cfg)
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="04716912345", name="乌云", patience=12))
    sim.wait(call)
    settle(center, runtime, sim)
    c, entries, offers = _call(runtime, call.linkedid)
    assert (c.outcome, c.wait_s) == ("abandoned", call.wait_s)
    assert [(e.outcome, e.left_at is not None) for e in entries] == [("abandoned", True)]
    assert offers == []
    with runtime.session() as s:
        (recall,) = s.scalars(select(RecallItem).where(RecallItem.origin_linkedid == call.linkedid))
        assert (recall.status, recall.reason, recall.number) == ("open", "abandoned", "04716912345")
        agent = s.get(Agent, "PJSIP/8001")
        assert (agent.state, agent.reason) == ("paused", "午餐")
    assert captured.wait_for("RecallOpened")["linkedid"] == call.linkedid
    assert captured.wait_for("CallAbandoned")["linkedid"] == call.linkedid


def test_ring_no_answer_then_another_agent(runtime, start_sim, start_center):
    cfg = sim_config(agents=2)
    cfg.agents[0].answer_after = None  # 8001 lets it ring
    sim = start_sim(cfg)
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="13900000002", name="李四", talk=10))
    sim.wait(call)
    settle(center, runtime, sim)
    c, entries, offers = _call(runtime, call.linkedid)
    assert c.outcome == "answered" and c.agent_interface == "PJSIP/8002"
    assert [(o.interface, o.status) for o in offers] == [
        ("PJSIP/8001", "no_answer"),
        ("PJSIP/8002", "completed"),
    ]
    assert offers[0].ring_ms == 15000  # the queue's ring timeout, in milliseconds
    assert c.wait_s == call.wait_s and c.wait_s >= 15 + 3  # ring timeout + retry before 8002 rang


def test_call_that_hangs_up_in_the_ivr_is_not_offered(runtime, start_sim, start_center):
    sim = start_sim(sim_config(agents=1))
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="13700000003", hangup_in_ivr=True))
    sim.wait(call)
    settle(center, runtime, sim)
    c, entries, offers = _call(runtime, call.linkedid)
    assert (c.outcome, c.queued_at, entries, offers) == ("ivr_only", None, [], [])


def test_queue_timeout_with_no_agent_is_a_lost_call(runtime, start_sim, start_center):
    cfg = sim_config(agents=0)
    cfg.queues[1].max_wait = 30
    sim = start_sim(cfg)
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="13600000004", name="王五"))
    sim.wait(call)
    settle(center, runtime, sim)
    c, entries, _ = _call(runtime, call.linkedid)
    assert c.outcome == "timeout" == call.outcome
    assert entries[0].outcome == "timeout"
    with runtime.session() as s:
        (recall,) = s.scalars(select(RecallItem).where(RecallItem.origin_linkedid == call.linkedid))
        assert recall.reason == "no_agent"


def test_later_answered_call_from_the_same_number_closes_the_recall(
    runtime, start_sim, start_center, captured
):
    cfg = sim_config(agents=1)
    cfg.agents[0].answer_after = None
    cfg.queues[1].max_wait = 20
    sim = start_sim(cfg)
    center = start_center(sim)
    lost = sim.wait(sim.place_call(CallerConfig(number="13500000005", name="赵六", patience=10)))
    sim.call(sim.pbx.set_phone, "PJSIP/8001", answer_after=1)
    reached = sim.wait(sim.place_call(CallerConfig(number="13500000005", name="赵六", talk=5)))
    settle(center, runtime, sim)
    assert (lost.outcome, reached.outcome) == ("abandoned", "answered")
    with runtime.session() as s:
        (recall,) = s.scalars(select(RecallItem).where(RecallItem.origin_linkedid == lost.linkedid))
        assert (recall.status, recall.closed_reason, recall.closed_by_linkedid) == (
            "closed",
            "reached_inbound",
            reached.linkedid,
        )
    assert captured.wait_for("RecallClosed")["recall_id"] == recall.id


def test_emergency_queue_with_priority_and_weight(runtime, start_sim, start_center, captured):
    cfg = sim_config(agents=1)
    cfg.agents[0] = AgentConfig(
        interface="PJSIP/8001",
        name="王芳",
        queues=["hotline-emergency", "hotline-general"],
        paused=True,
        paused_reason="培训",
    )
    sim = start_sim(cfg)
    center = start_center(sim)
    general = sim.place_call(CallerConfig(number="13400000006", talk=5))
    sos = sim.place_call(
        CallerConfig(
            number="13400000007",
            talk=5,
            variables={
                "HOTLINE_QUEUE": "hotline-emergency",
                "HOTLINE_PRIORITY": "10",
                "HOTLINE_INTENT": "sos",
            },
        )
    )
    for waiting in (general, sos):  # both wait before the one agent becomes free
        captured.wait_for("CallQueued", lambda d, w=waiting: d["linkedid"] == w.linkedid)
    sim.call(sim.pbx.queue_pause, "PJSIP/8001", False)
    sim.wait(general)
    sim.wait(sos)
    settle(center, runtime, sim)
    g, _, _ = _call(runtime, general.linkedid)
    e, _, _ = _call(runtime, sos.linkedid)
    assert (e.first_queue, e.priority, e.intent, e.outcome) == (
        "hotline-emergency",
        10,
        "sos",
        "answered",
    )
    assert e.answered_at < g.answered_at  # the emergency queue's weight wins the one agent


def test_as_manager_conf_configures_it_channelvars_and_no_dialplan_events(
    runtime, start_sim, start_center, captured
):
    """Production reads no dialplan class: the IVR's variables ride as ChanVariable lines."""
    cfg = sim_config(
        agents=1,
        channelvars=[
            "HOTLINE_ELDER_ID",
            "HOTLINE_INTENT",
            "HOTLINE_PRIORITY",
            "HOTLINE_QUEUE",
            "HOTLINE_RECALL_ID",
            "HOTLINE_AFTER_HOURS",
            "QUEUESTATUS",
        ],
    )
    cfg.users["hotline"].read = "call,agent,user"
    cfg.users["hotline"].write = "call,agent,originate,reporting,user"
    sim = start_sim(cfg)
    center = start_center(sim)
    call = sim.place_call(
        CallerConfig(
            number="13800000009",
            name="其其格",
            talk=5,
            variables={"HOTLINE_ELDER_ID": "55", "HOTLINE_INTENT": "companionship"},
        )
    )
    sim.wait(call)
    settle(center, runtime, sim)
    pop = captured.wait_for("CallRinging", lambda d: d["linkedid"] == call.linkedid)
    assert (pop["elder_id"], pop["intent"], pop["caller_name"]) == (55, "companionship", "其其格")
    assert center.center.pipeline.stats.received > 0
    c, _, _ = _call(runtime, call.linkedid)
    assert (c.outcome, c.elder_id) == ("answered", 55)


class _TinyIvr:
    """A FastAGI script on real TCP: reads Asterisk's environment block, asks for one key, and
    sends the caller to the emergency queue with high priority when it is 9."""

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.port = 0

    async def handle(self, reader, writer) -> None:
        while (line := (await reader.readline()).decode().rstrip("\n")) != "":
            key, _, value = line.partition(": ")
            self.env[key] = value

        async def command(text: str) -> str:
            writer.write((text + "\n").encode())
            await writer.drain()
            return (await reader.readline()).decode().strip()

        await command("ANSWER")
        reply = await command("GET DATA hotline/zh/menu 3000 1")
        pressed = reply.split("result=", 1)[1].split(" ", 1)[0]
        await command("SET VARIABLE HOTLINE_ELDER_ID 321")
        if pressed == "9":
            await command('SET VARIABLE HOTLINE_QUEUE "hotline-emergency"')
            await command("SET VARIABLE HOTLINE_PRIORITY 10")
            await command("SET VARIABLE HOTLINE_INTENT sos")
        writer.close()


def test_the_ivr_runs_over_fastagi_before_the_queue(runtime, start_sim, start_center, captured):
    import asyncio
    import threading

    ivr = _TinyIvr()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(ivr.handle, "127.0.0.1", 0), loop
    ).result(5)
    ivr.port = server.sockets[0].getsockname()[1]
    sim = start_sim(sim_config(agents=1, agi_url=f"agi://127.0.0.1:{ivr.port}"))
    center = start_center(sim)
    call = sim.place_call(CallerConfig(number="13800000077", name="巴特尔", digits=["9"], talk=5))
    sim.wait(call)
    settle(center, runtime, sim)
    assert ivr.env["agi_network_script"] == "main" and ivr.env["agi_callerid"] == "13800000077"
    assert ivr.env["agi_uniqueid"] == call.uniqueid and ivr.env["agi_context"] == "hotline-inbound"
    c, entries, _ = _call(runtime, call.linkedid)
    assert (c.elder_id, c.intent, c.priority, c.first_queue, c.outcome) == (
        321,
        "sos",
        10,
        "hotline-emergency",
        "answered",
    )
    pop = captured.wait_for("CallRinging", lambda d: d["linkedid"] == call.linkedid)
    assert (pop["elder_id"], pop["priority"], pop["queue"]) == (321, 10, "hotline-emergency")
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
