"""What a desk holds: the ring that ends at a desk without its agent answering is announced at
once (rang out, taken by a colleague, caller gone), a call is a desk's own only once that desk
answered it, and a reloaded desk finds the call ringing at it or on its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from platform_core.calls import service as calls
from platform_core.calls.desk import agent_took_call, desk_call
from platform_core.calls.schemas import ChannelRef

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def caller(n: int) -> ChannelRef:
    uid = f"1710000000.{n}"
    return ChannelRef(
        channel=f"PJSIP/trunk-{n:08x}",
        uniqueid=uid,
        linkedid=uid,
        caller_number="13800000001",
        context="hotline-inbound",
        exten="12349",
    )


def leg(c: ChannelRef, iface: str) -> ChannelRef:
    return ChannelRef(
        channel=f"{iface}-{c.uniqueid[-2:]}",
        uniqueid=f"{c.uniqueid}.{iface[-4:]}",
        linkedid=c.linkedid,
        context="hotline-agents",
    )


def ring(s, c: ChannelRef, queue: str, *desks: str) -> None:
    calls.record_channel(s, chan=c, at=at(0))
    calls.record_join(s, chan=c, queue=queue, position=1, at=at(1))
    for iface in desks:
        calls.record_agent_called(
            s, chan=c, dest=leg(c, iface), queue=queue, interface=iface, member_name=iface, at=at(2)
        )


def ring_ends(runtime, run) -> list[dict]:
    seen: list[dict] = []
    unsubscribe = runtime.event_bus.subscribe(lambda env: seen.append(env))
    try:
        with runtime.session() as s:
            run(s)
        runtime.event_bus.drain()
    finally:
        unsubscribe()
    return [
        {k: e["data"][k] for k in ("linkedid", "agent_interface", "reason")}
        for e in seen
        if e["type"] == "CallRingEnded"
    ]


def test_a_colleague_answering_ends_the_ring_at_the_other_desks(runtime) -> None:
    c = caller(1)

    def run(s) -> None:
        ring(s, c, "hotline-emergency", "PJSIP/8001", "PJSIP/8002", "PJSIP/8003")
        # app_queue hangs up the other legs (answered elsewhere), then the answer is reported
        calls.record_hangup(s, chan=leg(c, "PJSIP/8001"), cause=26, at=at(5))
        calls.record_hangup(s, chan=leg(c, "PJSIP/8003"), cause=26, at=at(5))
        calls.record_leave(s, chan=c, queue="hotline-emergency", position=1, at=at(5))
        calls.record_connect(
            s,
            chan=c,
            dest=leg(c, "PJSIP/8002"),
            queue="hotline-emergency",
            interface="PJSIP/8002",
            member_name="PJSIP/8002",
            hold_s=4,
            ring_s=3,
            at=at(5),
        )

    ended = ring_ends(runtime, run)
    assert ended == [
        {"linkedid": c.linkedid, "agent_interface": "PJSIP/8001", "reason": "cancelled"},
        {"linkedid": c.linkedid, "agent_interface": "PJSIP/8003", "reason": "cancelled"},
    ]
    with runtime.session() as s:
        assert agent_took_call(s, linkedid=c.linkedid, interface="PJSIP/8002")
        assert not agent_took_call(s, linkedid=c.linkedid, interface="PJSIP/8001")
        assert desk_call(s, interface="PJSIP/8001") is None
        on_line = desk_call(s, interface="PJSIP/8002")
    assert on_line is not None
    assert (on_line["linkedid"], on_line["status"]) == (c.linkedid, "on_call")


def test_a_ring_that_rings_out_or_whose_caller_hangs_up_ends_at_the_desk(runtime) -> None:
    rang_out, gone = caller(2), caller(3)

    def run(s) -> None:
        ring(s, rang_out, "hotline-general", "PJSIP/8001")
        calls.record_ring_no_answer(
            s,
            chan=rang_out,
            dest=leg(rang_out, "PJSIP/8001"),
            queue="hotline-general",
            interface="PJSIP/8001",
            member_name="PJSIP/8001",
            ring_ms=15000,
            at=at(17),
        )
        ring(s, gone, "hotline-general", "PJSIP/8002")
        calls.record_hangup(s, chan=gone, cause=16, at=at(6))

    assert ring_ends(runtime, run) == [
        {"linkedid": rang_out.linkedid, "agent_interface": "PJSIP/8001", "reason": "rang_out"},
        {"linkedid": gone.linkedid, "agent_interface": "PJSIP/8002", "reason": "caller_left"},
    ]


def test_a_reloaded_desk_finds_the_call_ringing_at_it(runtime) -> None:
    c = caller(4)
    with runtime.session() as s:
        ring(s, c, "hotline-general", "PJSIP/8001")
    with runtime.session() as s:
        ringing = desk_call(s, interface="PJSIP/8001")
        assert desk_call(s, interface="PJSIP/8009") is None
        assert not agent_took_call(s, linkedid=c.linkedid, interface="PJSIP/8001")
    assert ringing is not None
    assert (ringing["linkedid"], ringing["status"], ringing["queue"]) == (
        c.linkedid,
        "ringing",
        "hotline-general",
    )
