"""``hotline callcenter`` killed with SIGKILL while desks ring for callers, restarted: what
Asterisk did meanwhile is recorded as it happened. A caller answered while callcenter was away
is answered (still talking: bridged to the desk; already gone: that desk's CallsTaken grew),
a caller who gave up meanwhile is abandoned with a recall. The PBX simulator is the ground
truth; callcenter runs as its own process, as in production, and says when it is ready
(``/readyz`` on HOTLINE_METRICS_PORT: logged in, resynced, the database taking its events)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from callcenter.pbx_sim import CallerConfig
from hotline.cli import cli
from platform_core.calls.models import AgentOffer, Call, QueueEntry, RecallItem
from tests.callcenter.conftest import SECRET, sim_config


@pytest.fixture
def callcenter_env(tmp_path: Path, pg_url: str, data_key: str, runtime: Any) -> dict[str, str]:
    return {
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATA_KEY": data_key,
        "HOTLINE_SECRET_KEY": "x" * 40,
        "HOTLINE_REDIS_URL": "",
        "HOTLINE_AMI_USERNAME": "hotline",
        "HOTLINE_AMI_SECRET": SECRET,
        "HOTLINE_AMI_PING_INTERVAL_S": "1",
        "HOTLINE_METRICS_HOST": "127.0.0.1",
        "HOTLINE_METRICS_PORT": str(free_port()),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readyz(env: dict[str, str]) -> dict[str, Any] | None:
    try:
        resp = requests.get(f"http://127.0.0.1:{env['HOTLINE_METRICS_PORT']}/readyz", timeout=3)
    except requests.ConnectionError:
        return None
    found: dict[str, Any] = resp.json()
    return found


def wait_ready(env: dict[str, str], proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"callcenter exited with {proc.returncode}"
        found = readyz(env)
        if found and found["ready"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"callcenter never became ready: {readyz(env)}")


@pytest.fixture
def start_callcenter(
    callcenter_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[int], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(ami_port: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ, **callcenter_env, HOTLINE_AMI_PORT=str(ami_port))
        log = (tmp_path / f"callcenter-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("hotline")), "callcenter"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        wait_ready(callcenter_env, proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_calls_answered_while_callcenter_was_killed_are_recorded_answered(
    runtime, start_sim, start_callcenter, callcenter_env
) -> None:
    cfg = sim_config(agents=2, time_scale=8.0)
    for agent in cfg.agents:
        agent.answer_after = 12  # 1.5 s of ringing (the queue rings a desk for 15 s)
    sim = start_sim(cfg)
    proc = start_callcenter(sim.port)
    assert CliRunner().invoke(cli, ["healthcheck"], env=callcenter_env).exit_code == 0

    talking = sim.place_call(CallerConfig(number="13800000031", name="还在通话", talk=60))
    gone = sim.place_call(CallerConfig(number="13800000032", name="已挂断", talk=4))
    gave_up = sim.place_call(CallerConfig(number="13800000033", name="放弃的", patience=10))

    def seen() -> bool:
        with runtime.session() as s:
            ringing = set(
                s.scalars(select(AgentOffer.linkedid).where(AgentOffer.status == "ringing"))
            )
            queued = set(s.scalars(select(QueueEntry.linkedid)))
        return {talking.linkedid, gone.linkedid} <= ringing and gave_up.linkedid in queued

    until(seen, 20, "callcenter never recorded the desks ringing")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert CliRunner().invoke(cli, ["healthcheck"], env=callcenter_env).exit_code == 1
    with runtime.session() as s:
        answered = [s.get(Call, x).answered_at for x in (talking.linkedid, gone.linkedid)]
    assert answered == [None, None], "answered before the kill: this run proves nothing"

    sim.wait(gone)  # answered and hung up while callcenter is away
    sim.wait(gave_up)
    assert not talking.done.done() and talking.outcome == "answered"
    start_callcenter(sim.port)
    sim.wait(talking, timeout=60)

    def recorded() -> bool:
        with runtime.session() as s:
            return s.get(Call, talking.linkedid).ended_at is not None

    until(recorded, 30, "the call that went on talking was never closed")
    with runtime.session() as s:
        rows = {x: s.get(Call, x) for x in (talking.linkedid, gone.linkedid, gave_up.linkedid)}
        recalls = set(s.scalars(select(RecallItem.origin_linkedid)))
    t = rows[talking.linkedid]
    assert (t.outcome, t.agent_interface, t.wait_s, t.talk_s) == (
        "answered",
        talking.agent_interface,
        talking.wait_s,  # AgentComplete's HoldTime, after the restart
        talking.talk_s,
    )
    g = rows[gone.linkedid]
    assert (g.outcome, g.agent_interface, g.ended_at is not None) == (
        "answered",
        gone.agent_interface,
        True,
    )
    a = rows[gave_up.linkedid]
    assert (gave_up.outcome, a.outcome) == ("abandoned", "abandoned")
    assert recalls == {gave_up.linkedid}  # no recall for the elders who were answered


def test_calls_that_came_and_went_while_callcenter_was_killed_are_read_from_queue_log(
    runtime, start_sim, start_callcenter, callcenter_env, tmp_path
) -> None:
    """Asterisk writes every queue event to its queue_log; callcenter reads it at the resync
    after its restart. Killed while one desk talks and a caller waits with no desk ringing:
    that caller answered and gone, callers who came and went entirely (one answered, one gave
    up, one timed out), and the talk that ended meanwhile are all recorded as they happened."""
    queue_log = tmp_path / "asterisk" / "queue_log"
    callcenter_env["HOTLINE_QUEUE_LOG_PATH"] = str(queue_log)
    cfg = sim_config(agents=1, time_scale=8.0, queue_log=str(queue_log))
    emergency = next(q for q in cfg.queues if q.name == "hotline-emergency")
    emergency.max_wait = 16  # 2 s: the caller there leaves unanswered while callcenter is away
    sim = start_sim(cfg)
    proc = start_callcenter(sim.port)

    talking = sim.place_call(CallerConfig(number="13800000041", name="通话中", talk=9999))
    waiting = sim.place_call(CallerConfig(number="13800000042", name="等待中", talk=8))

    def seen() -> bool:
        with runtime.session() as s:
            answered = s.get(Call, talking.linkedid)
            queued = set(s.scalars(select(QueueEntry.linkedid)))
        return (
            answered is not None and answered.answered_at is not None and waiting.linkedid in queued
        )

    until(seen, 20, "callcenter never recorded the desk talking and the caller waiting")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    gave_up = sim.place_call(CallerConfig(number="13800000043", name="放弃的", patience=8))
    timed_out = sim.place_call(
        CallerConfig(number="13800000044", name="超时的", queue="hotline-emergency")
    )
    sim.wait(gave_up)
    sim.wait(timed_out)
    sim.call(sim.pbx.hangup_channel, talking.channel.name)  # the talk ends while we are away
    sim.wait(talking)
    sim.wait(waiting)  # rang only now, answered and hung up while callcenter is away
    came_and_went = sim.place_call(CallerConfig(number="13800000045", name="来去的", talk=8))
    sim.wait(came_and_went)
    truth = {c.linkedid: c for c in (talking, waiting, gave_up, timed_out, came_and_went)}
    assert [c.outcome for c in truth.values()] == [
        "answered",
        "answered",
        "abandoned",
        "timeout",
        "answered",
    ], "the simulator did not play the scene: this run proves nothing"

    start_callcenter(sim.port)

    def recorded() -> bool:  # a caller gone just before the restart is judged a resync later
        with runtime.session() as s:
            ended = set(s.scalars(select(Call.linkedid).where(Call.ended_at.is_not(None))))
        return ended >= set(truth)

    until(recorded, 15, "calls of the time callcenter was away were never recorded")
    with runtime.session() as s:
        rows = {c.linkedid: c for c in s.scalars(select(Call))}
        recalls = set(s.scalars(select(RecallItem.origin_linkedid)))
        open_stays = s.scalars(select(QueueEntry).where(QueueEntry.left_at.is_(None))).all()
    assert set(rows) == set(truth), "calls lost or made up"
    got = {
        x: (r.outcome, r.agent_interface, r.wait_s, r.talk_s, r.ended_at is not None)
        for x, r in rows.items()
    }
    want = {
        x: (
            t.outcome,
            t.agent_interface,
            None if t.wait_s is None else float(t.wait_s),
            t.talk_s if t.outcome == "answered" else None,
            True,
        )
        for x, t in truth.items()
    }
    assert got == want
    assert recalls == {gave_up.linkedid, timed_out.linkedid}
    assert open_stays == []
