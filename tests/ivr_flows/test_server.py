"""The FastAGI server over TCP: bad input, hang-ups and many calls at once, with PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter.pbx_sim.agi import AgiOutcome, AgiTrace, CallerBehaviour, run_fastagi_call
from platform_core.errors import NotFound
from platform_core.ivr import service as ivr_service
from platform_core.runtime import Runtime
from tests.ivr_flows.conftest import RunningServer, start_server, stop_server


def sessions(runtime: Runtime) -> list:
    with runtime.session() as s:
        return list(reversed(ivr_service.list_sessions(s)))


def test_unknown_script_path_reaches_a_person_and_is_logged(ivr: RunningServer, caplog) -> None:
    caplog.set_level(logging.WARNING)
    outcome = ivr.call("no-such-flow")
    assert outcome.status == "SUCCESS"
    assert outcome.variables["HOTLINE_QUEUE"] == "hotline-general"
    assert outcome.variables["HOTLINE_INTENT"] == "person"
    assert "unknown AGI script path 'no-such-flow'" in caplog.text
    [row] = sessions(ivr.runtime)
    assert (row.script, row.outcome) == ("no-such-flow", "failed")
    assert "no-such-flow" in row.error


def test_caller_hanging_up_mid_flow_is_recorded_with_the_steps_heard(ivr: RunningServer) -> None:
    outcome = ivr.call(callerid="13911112222", digits=["1"], hangup_after=3)
    assert outcome.status == "HANGUP"
    [row] = sessions(ivr.runtime)
    assert row.outcome == "hung_up"
    assert row.ended_at is not None
    assert row.path[-1] == "main_menu"  # left while the menu played
    assert row.caller_number == "13911112222" and row.queue is None


def _raw_exchange(
    port: int, payload: bytes, *, answer: bool, close_write: bool = False
) -> list[str]:
    """Send ``payload`` as the peer, then answer (or not) each line the server writes."""
    received: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        stream = sock.makefile("rb")
        while True:
            try:
                line = stream.readline()
            except (TimeoutError, ConnectionResetError):
                break
            if not line:
                break
            received.append(line.decode().rstrip("\n"))
            if answer:
                sock.sendall(b"200 result=1\n")
    return received


def test_garbage_instead_of_an_environment_still_sends_the_call_to_a_person(
    ivr: RunningServer, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    lines = _raw_exchange(ivr.server.port, b"\x16\x03\x01 garbage\n", answer=True)
    assert 'SET VARIABLE "HOTLINE_QUEUE" "hotline-general"' in lines
    assert "not a valid AGI request" in caplog.text
    # the server is still serving
    assert ivr.call(digits=["0"]).variables["HOTLINE_INTENT"] == "person"


def test_truncated_environment_is_dropped_without_a_record(ivr: RunningServer, caplog) -> None:
    caplog.set_level(logging.INFO)
    payload = b"agi_network: yes\nagi_request: agi://x/main\nagi_chan"
    _raw_exchange(ivr.server.port, payload, answer=False, close_write=True)
    assert "truncated line" in caplog.text
    assert sessions(ivr.runtime) == []
    assert ivr.call(digits=["0"]).status == "SUCCESS"


def test_overlong_line_is_refused(ivr: RunningServer, caplog) -> None:
    caplog.set_level(logging.WARNING)
    _raw_exchange(ivr.server.port, b"agi_request: " + b"x" * 20000 + b"\n\n", answer=True)
    assert "line too long" in caplog.text


@pytest.fixture
def impatient_ivr(regions: Runtime, sounds_dir: Path) -> Iterator[RunningServer]:
    running = start_server(regions, None, sounds_dir, reply_timeout=0.3)
    yield running
    stop_server(running)


def test_dead_socket_ends_the_session_as_lost(impatient_ivr: RunningServer) -> None:
    env = (
        b"agi_network: yes\nagi_network_script: main\nagi_request: agi://127.0.0.1/main\n"
        b"agi_channel: PJSIP/trunk-1\nagi_uniqueid: 1700000001.1\nagi_callerid: 13911112222\n\n"
    )
    with socket.create_connection(("127.0.0.1", impatient_ivr.server.port), timeout=5) as sock:
        sock.sendall(env)
        stream = sock.makefile("rb")
        assert stream.readline().startswith(b"GET VARIABLE")
        sock.sendall(b"200 result=1 (1700000001.1)\n")
        assert stream.readline().startswith(b"STREAM FILE")  # never answered: Asterisk is gone
        assert stream.readline() == b""  # the server gave up and closed
    for _ in range(100):
        rows = sessions(impatient_ivr.runtime)
        if rows and rows[0].outcome != "running":
            break
        asyncio.run(asyncio.sleep(0.02))
    [row] = sessions(impatient_ivr.runtime)
    assert row.outcome == "lost" and row.path == [
        "identify",
        "triage",
        "language_check",
        "choose_language",
    ]


def test_many_calls_at_once(ivr: RunningServer) -> None:
    async def many() -> list:
        return await asyncio.gather(
            *[
                run_fastagi_call(
                    ivr.url("main"),
                    channel=f"PJSIP/trunk-{i}",
                    uniqueid=f"1700000100.{i}",
                    linkedid=f"1700000100.{i}",
                    callerid=f"1390000{i:04d}",
                    calleridname="",
                    behaviour=CallerBehaviour(digits=["1", "3"]),
                )
                for i in range(60)
            ]
        )

    outcomes = asyncio.run(many())
    ivr.settle()
    assert [o.status for o in outcomes] == ["SUCCESS"] * 60
    assert {o.variables["HOTLINE_INTENT"] for o in outcomes} == {"consult"}
    rows = sessions(ivr.runtime)
    assert len(rows) == 60 and {r.outcome for r in rows} == {"handed_off"}
    assert ivr.server.stats.percentile_ms(99) is not None


def test_long_channel_ids_keep_their_session_record(ivr: RunningServer) -> None:
    """agi_uniqueid as a systemname makes it (120 characters) is kept whole; one longer than
    any Asterisk sends (400) still gets its record, under a fitted id."""
    asterisk_id = "hotline-pbx-" + "x" * 94 + "-1796593575.12"
    absurd = "y" * 400
    for uniqueid in (asterisk_id, absurd):
        outcome = asyncio.run(
            run_fastagi_call(
                ivr.url("main"),
                channel="PJSIP/trunk-00000fff",
                uniqueid=uniqueid,
                linkedid=uniqueid,
                callerid="13900000077",
                calleridname="张桂兰",
                behaviour=CallerBehaviour(digits=["0"]),
            )
        )
        assert outcome.status == "SUCCESS"
    ivr.settle()
    rows = sessions(ivr.runtime)
    assert len(rows) == 2
    assert (rows[0].uniqueid, rows[0].linkedid, rows[0].outcome) == (
        asterisk_id,
        asterisk_id,
        "handed_off",
    )
    assert rows[1].uniqueid.startswith("y" * 100) and len(rows[1].uniqueid) == 150
    assert rows[1].outcome == "handed_off"


def test_the_caller_does_not_wait_for_the_session_record_to_be_written(
    ivr: RunningServer, monkeypatch
) -> None:
    """The record's write goes on while the first prompt plays; its id still reaches the
    hand-off variables and the record is closed with the call's outcome."""
    written = ivr_service.open_session

    def slow_open(*args: object, **kwargs: object) -> int:
        time.sleep(0.5)  # a busy database's commit
        return written(*args, **kwargs)

    monkeypatch.setattr(ivr_service, "open_session", slow_open)
    trace = AgiTrace()
    outcome = ivr.call(callerid="13911113333", digits=["0"], trace=trace)
    assert outcome.status == "SUCCESS"
    assert trace.think_s[0] < 0.25, trace.think_s[:3]  # linkedid read -> the first prompt
    [row] = sessions(ivr.runtime)
    assert outcome.variables["HOTLINE_IVR_SESSION"] == str(row.id)
    assert row.ended_at is not None and row.outcome == "handed_off"


def test_session_records_are_written_together_and_a_bad_one_costs_only_itself(
    ivr: RunningServer,
) -> None:
    """Records queued together are written in one transaction; one the database refuses (a
    session that does not exist) fails alone, the others are written."""
    records = ivr.server.records
    ended = ivr_service.SessionResult(outcome="completed", path=["identify"])

    async def queue_together() -> list:
        before = records.batches
        opened = [
            records.open(uniqueid=f"1700009000.{n}", linkedid="", channel="c", script="main")
            for n in range(20)
        ]
        ids = await asyncio.gather(*opened)
        assert records.batches - before <= 2  # not one transaction each
        closings = [records.close(session_id, ended) for session_id in ids]
        closings.append(records.close(999_999_999, ended))
        return list(await asyncio.gather(*closings, return_exceptions=True))

    results = asyncio.run_coroutine_threadsafe(queue_together(), ivr.loop).result(30)
    assert results[:20] == [None] * 20
    assert isinstance(results[20], NotFound)
    rows = sessions(ivr.runtime)
    assert len(rows) == 20 and {r.outcome for r in rows} == {"completed"}


def _call_within(ivr: RunningServer, seconds: float, **kwargs) -> AgiOutcome:
    """One call from the simulated Asterisk, failing (not hanging) past ``seconds``."""
    n = time.monotonic_ns()
    return asyncio.run(
        asyncio.wait_for(
            run_fastagi_call(
                ivr.url("main"),
                channel=f"PJSIP/trunk-{n % 0xFFFF:04x}",
                uniqueid=f"1800000000.{n}",
                linkedid=f"1800000000.{n}",
                calleridname="",
                **kwargs,
            ),
            seconds,
        )
    )


@pytest.mark.parametrize("locked", ["ivr_sessions", "elders"])
def test_a_hung_database_does_not_keep_the_caller_in_silence(
    ivr: RunningServer, locked: str
) -> None:
    """A database that hangs rather than refuses (here: a table locked by another session, so
    the session's record or the caller's identification waits) costs a caller at most the
    bound at each wait: the call is handed on, and the record is written once the database
    answers. Before the bound, the AGI socket stayed open until the record was closed."""
    ivr.server.backend.wait_s = 0.3
    with ivr.runtime.engine.connect() as locker:
        locker.execute(text(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        outcome = _call_within(
            ivr, 5.0, callerid="13911114444", behaviour=CallerBehaviour(digits=["0"])
        )
        took = time.monotonic() - started
        assert outcome.status == "SUCCESS"
        assert outcome.variables["HOTLINE_QUEUE"] == "hotline-general"
        assert took < 2.5, took
        locker.rollback()  # the database answers again
    ivr.settle()
    [row] = sessions(ivr.runtime)
    assert row.outcome == "handed_off" and row.ended_at is not None
