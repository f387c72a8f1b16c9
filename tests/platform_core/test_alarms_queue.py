"""The alarm queue: priority then age, one ready desk at a time, re-offered when a desk becomes
ready, lapsed reservations escalated and passed on, reservations held in the database so two
routing processes never offer one alarm twice."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.alarms import queue, service
from platform_core.alarms.models import Alarm, AlarmOffer
from platform_core.alarms.router import AlarmRouter
from platform_core.alarms.vocabulary import AlarmType, Outcome
from platform_core.calls.models import Agent
from platform_core.db import utcnow
from platform_core.errors import PermissionDenied
from platform_core.flows.device_reports import receive_signals
from platform_core.telephony.commands import CommandResult, result_to_wire, serve_in_process
from tests.platform_core.alarms_support import new_device, new_elder, signal

HOHHOT = "150100000000"


@pytest.fixture
def desk(regions):
    """An elder with a pendant and a smoke sensor, four Hohhot desks (logged out) and a
    supervisor; ``seen`` collects the events published."""
    rt = regions
    rt.seen = []
    rt.event_bus.subscribe(rt.seen.append)
    with rt.session() as s:
        elder_id = new_elder(s)
        rt.devices = {
            kind: new_device(s, elder_id=elder_id, kind=kind, sim=kind == "sos_pendant").serial
            for kind in ("sos_pendant", "smoke", "gas", "fall_detector")
        }
        rt.users = {}
        for n in range(1, 5):
            rt.users[n] = accounts.create_user(
                s,
                actor=system_actor(),
                username=f"desk{n}",
                password="Steppe-Wind-2026",
                role=Role.AGENT,
                region_code=HOHHOT,
                display_name=f"坐席{n}",
                sip_interface=f"PJSIP/80{n:02d}",
            ).id
        rt.supervisor = accounts.create_user(
            s,
            actor=system_actor(),
            username="sup",
            password="Steppe-Wind-2026",
            role=Role.SUPERVISOR,
            region_code=HOHHOT,
            display_name="班长",
            sip_interface=None,
        ).id
    return rt


def _raise(rt, kind: str = "sos_pendant", alarm_type: str = "sos", at=None) -> int:
    with rt.session() as s:
        [out] = receive_signals(s, signals=[signal(rt.devices[kind], alarm_type, at=at)])
    return out.alarm_id


def _state(rt, n: int, state: str, *, since=None, reason: str | None = None) -> None:
    """Desk n as callcenter records it (what QueueMemberPause / AgentComplete would leave)."""
    with rt.session() as s:
        agent = s.get(Agent, f"PJSIP/80{n:02d}")
        if agent is None:
            agent = Agent(interface=f"PJSIP/80{n:02d}", member_name=f"坐席{n}")
            s.add(agent)
        agent.state, agent.reason = state, reason
        agent.since = since or utcnow()
        agent.region_code = HOHHOT


def _route(rt, now=None) -> queue.RoutePass:
    with rt.session() as s:
        return queue.route(s, now=now)


def _open_offers(rt) -> dict[int, int]:
    """alarm id -> user id of every open reservation."""
    with rt.session() as s:
        return dict(
            s.execute(
                select(AlarmOffer.alarm_id, AlarmOffer.user_id).where(
                    AlarmOffer.status == queue.OFFERED
                )
            ).all()
        )


def _events(rt, kind: str, count: int = 1) -> list[dict[str, Any]]:
    """The events of one type published so far (the in-process bus delivers on its own thread)."""
    deadline = time.monotonic() + 3
    while True:
        found = [e["data"] for e in rt.seen if e["type"] == kind]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def _actor(rt, n: int) -> Actor:
    return Actor(
        kind="user", name=f"坐席{n}", region_code=HOHHOT, role=Role.AGENT, user_id=rt.users[n]
    )


def test_an_alarm_raised_while_nobody_is_ready_goes_to_the_first_desk_ready(desk) -> None:
    rt = desk
    _state(rt, 1, "on_call")
    _state(rt, 2, "paused", reason="break")
    alarm_id = _raise(rt)
    assert _route(rt).offered == [] and _open_offers(rt) == {}

    _state(rt, 2, "ready")  # back from the break
    done = _route(rt)
    assert _open_offers(rt) == {alarm_id: rt.users[2]}
    assert [e["user_id"] for e in _events(rt, "AlarmOffered")] == [rt.users[2]]
    # the offer takes the desk out of the voice queues (QueuePause through telephony)
    assert [(c.kind, c.interface, c.reason) for c in done.commands] == [
        ("pause", "PJSIP/8002", "alarm")
    ]


def test_most_urgent_first_then_the_oldest(desk) -> None:
    rt = desk
    t0 = utcnow() - timedelta(seconds=30)
    smoke = _raise(rt, "smoke", "smoke", at=t0)
    old_sos = _raise(rt, "sos_pendant", "sos", at=t0 + timedelta(seconds=5))
    fall = _raise(rt, "fall_detector", "fall", at=t0 + timedelta(seconds=10))
    gas = _raise(rt, "gas", "gas", at=t0 + timedelta(seconds=1))

    order = []
    for n in range(1, 5):
        _state(rt, n, "ready")
        _route(rt)
        offers = _open_offers(rt)
        order += [a for a, u in offers.items() if u == rt.users[n]]
    # SOS and fall (emergency) before smoke and gas (hazard); within each, the older first
    assert order == [old_sos, fall, smoke, gas]


def test_one_desk_per_alarm_the_longest_ready_first(desk) -> None:
    rt = desk
    now = utcnow()
    for n, ready_for in ((1, 5), (2, 50), (3, 20)):
        _state(rt, n, "ready", since=now - timedelta(seconds=ready_for))
    first = _raise(rt, at=now - timedelta(seconds=2))
    second = _raise(rt, "smoke", "smoke", at=now - timedelta(seconds=1))
    _route(rt)
    assert _open_offers(rt) == {first: rt.users[2], second: rt.users[3]}
    _route(rt)  # routing again changes nothing
    assert _open_offers(rt) == {first: rt.users[2], second: rt.users[3]}


def test_a_lapsed_reservation_is_escalated_and_goes_to_the_next_desk(desk) -> None:
    rt = desk
    now = utcnow()
    _state(rt, 1, "ready", since=now - timedelta(seconds=60))
    alarm_id = _raise(rt)
    _route(rt)
    assert _open_offers(rt) == {alarm_id: rt.users[1]}
    _state(rt, 2, "ready")

    timeout = rt.settings.alarm_offer_timeout_s
    done = _route(rt, now=utcnow() + timedelta(seconds=timeout + 1))
    assert _open_offers(rt) == {alarm_id: rt.users[2]}
    ended = _events(rt, "AlarmOfferEnded")
    assert [(d["user_id"], d["outcome"]) for d in ended] == [(rt.users[1], "lapsed")]
    # the desk that let it lapse stays paused (nobody is at it); the next desk is paused for it
    assert ("pause", "PJSIP/8001", "alarm_missed") in [
        (c.kind, c.interface, c.reason) for c in done.commands
    ]
    assert ("pause", "PJSIP/8002", "alarm") in [
        (c.kind, c.interface, c.reason) for c in done.commands
    ]
    with rt.session() as s:
        assert s.get(Alarm, alarm_id).status == "waiting"  # nothing leaves the queue untaken


def test_a_desk_that_let_an_offer_lapse_gets_none_until_it_is_ready_again(desk) -> None:
    rt = desk
    _state(rt, 1, "ready", since=utcnow() - timedelta(seconds=60))
    first = _raise(rt)
    _route(rt)
    later = utcnow() + timedelta(seconds=rt.settings.alarm_offer_timeout_s + 1)
    _route(rt, now=later)  # lapsed; the pause has not reached the desk's state yet
    assert _open_offers(rt) == {}
    _state(rt, 1, "ready", since=later + timedelta(seconds=1))  # the agent pressed ready
    _route(rt, now=later + timedelta(seconds=2))
    assert _open_offers(rt) == {first: rt.users[1]}


def test_taking_settles_the_reservation_and_frees_the_desk_it_was_withdrawn_from(desk) -> None:
    rt = desk
    now = utcnow()
    _state(rt, 1, "ready", since=now - timedelta(seconds=30))
    mine = _raise(rt)
    theirs = _raise(rt, "smoke", "smoke")
    _state(rt, 2, "ready", since=now - timedelta(seconds=10))
    _route(rt)
    assert _open_offers(rt) == {mine: rt.users[1], theirs: rt.users[2]}
    _state(rt, 1, "paused", reason="alarm")
    _state(rt, 2, "paused", reason="alarm")

    with rt.session() as s:
        service.take_alarm(s, alarm_id=mine, actor=_actor(rt, 1))
    with rt.session() as s:  # desk 1 takes the smoke alarm offered to desk 2 from the list
        service.take_alarm(s, alarm_id=theirs, actor=_actor(rt, 1))
    with rt.session() as s:
        rows = dict(s.execute(select(AlarmOffer.alarm_id, AlarmOffer.status)).all())
    assert rows == {mine: "taken", theirs: "withdrawn"}
    done = _route(rt)
    assert [(c.kind, c.interface) for c in done.commands] == [("unpause", "PJSIP/8002")]
    assert _route(rt).commands == []  # released once


def test_a_reload_finds_what_the_desk_holds(desk) -> None:
    rt = desk
    _state(rt, 1, "ready")
    first = _raise(rt)
    _route(rt)
    with rt.session() as s:
        held = queue.desk_holdings(s, user_id=rt.users[1])
    assert held["offer"]["alarm_id"] == first and held["handling"] == []
    with rt.session() as s:
        raised_at = s.get(Alarm, first).received_at
        service.take_alarm(s, alarm_id=first, actor=_actor(rt, 1))
    with rt.session() as s:
        held = queue.desk_holdings(s, user_id=rt.users[1])
    assert held["offer"] is None
    assert [h["alarm_id"] for h in held["handling"]] == [first]
    # the alarm keeps the time it was raised
    assert held["handling"][0]["received_at"] == raised_at.isoformat()


def test_a_desk_handling_an_alarm_is_offered_none_until_it_is_ready_again(desk) -> None:
    rt = desk
    _state(rt, 1, "ready", since=utcnow() - timedelta(seconds=30))
    first = _raise(rt)
    with rt.session() as s:  # taken from the list before any offer; the pause is on its way
        service.take_alarm(s, alarm_id=first, actor=_actor(rt, 1))
    _raise(rt, "smoke", "smoke")
    assert _route(rt).offered == []
    _state(rt, 1, "ready", since=utcnow() + timedelta(seconds=1))
    assert len(_route(rt, now=utcnow() + timedelta(seconds=2)).offered) == 1


def test_a_supervisor_assigns_a_waiting_alarm(desk) -> None:
    rt = desk
    _state(rt, 1, "ready")
    alarm_id = _raise(rt)
    _route(rt)
    sup = Actor(
        kind="user", name="班长", region_code=HOHHOT, role=Role.SUPERVISOR, user_id=rt.supervisor
    )
    with rt.session() as s:
        offer = queue.assign(s, alarm_id=alarm_id, user_id=rt.users[3], actor=sup)
        assert offer.assigned_by and offer.agent_name == "坐席3"
    assert _open_offers(rt) == {alarm_id: rt.users[3]}
    with rt.session() as s, pytest.raises(PermissionDenied):
        queue.assign(s, alarm_id=alarm_id, user_id=rt.users[2], actor=_actor(rt, 1))
    with rt.session() as s:
        board = queue.waiting_board(s, region_code=HOHHOT)
    [row] = board["alarms"]
    assert row["alarm_id"] == alarm_id and row["offered_to"] == "坐席3"
    assert {d["user_id"] for d in board["desks"]} == set(rt.users.values())


def test_closing_a_waiting_alarm_withdraws_its_reservation(desk) -> None:
    rt = desk
    _state(rt, 1, "ready")
    alarm_id = _raise(rt)
    _route(rt)
    with rt.session() as s:
        service.close_alarms_of_elder(
            s,
            elder_id=s.get(Alarm, alarm_id).elder_id,
            actor=system_actor(),
            outcome=Outcome.ELDER_DECEASED,
        )
    assert _open_offers(rt) == {}
    assert [e["outcome"] for e in _events(rt, "AlarmOfferEnded")] == ["withdrawn"]


def test_two_processes_routing_at_once_never_offer_an_alarm_twice(desk) -> None:
    """Two routers (two console processes) race on the same queue: one open reservation per
    alarm and per desk, whatever the interleaving."""
    rt = desk
    for n in range(1, 5):
        _state(rt, n, "ready", since=utcnow() - timedelta(seconds=n))
    alarms = [
        _raise(rt, kind, t)
        for kind, t in (
            ("sos_pendant", "sos"),
            ("smoke", "smoke"),
            ("gas", "gas"),
            ("fall_detector", "fall"),
        )
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def router() -> None:
        try:
            start.wait()
            for _ in range(5):
                _route(rt)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=router) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    offers = _open_offers(rt)
    assert sorted(offers) == sorted(alarms)
    assert len(set(offers.values())) == 4
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(AlarmOffer)) == 4


def test_the_router_offers_within_a_moment_and_pauses_the_desk(desk) -> None:
    rt = desk
    sent: list[dict[str, Any]] = []

    def serve(request: dict[str, Any]) -> Future:
        sent.append(request)
        done: Future = Future()
        done.set_result(result_to_wire(CommandResult(ok=True, message="paused")))
        return done

    stop = serve_in_process(rt.settings.redis_namespace, serve)
    router = AlarmRouter(rt, tick_s=5.0).start()
    try:
        alarm_id = _raise(rt)
        _state(rt, 4, "ready")
        started = time.monotonic()
        router.wake()
        while not _open_offers(rt) and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert _open_offers(rt) == {alarm_id: rt.users[4]}
        assert time.monotonic() - started < 1.0
        while not sent and time.monotonic() - started < 5:
            time.sleep(0.02)
        [request] = sent
        assert request["command"] == {
            "kind": "pause",
            "args": {"interface": "PJSIP/8004", "reason": "alarm", "queue": None},
        }
    finally:
        router.stop()
        stop()


def test_technical_alarms_are_not_queued(desk) -> None:
    rt = desk
    _state(rt, 1, "ready")
    with rt.session() as s:
        [out] = receive_signals(s, signals=[signal(rt.devices["smoke"], AlarmType.LOW_BATTERY)])
    assert _route(rt).offered == [] and out.alarm_id not in _open_offers(rt)
