"""Reading Asterisk's queue_log (main/logger.c's lines, app_queue's events and fields): each
caller's stays and how they ended, a file followed as it grows, is rotated or truncated, and
lines no Asterisk writes left out. The simulator writes the same lines as it plays calls."""

from __future__ import annotations

import os

from callcenter.pbx_sim import CallerConfig
from callcenter.queue_log import QueueLogFollower, history_of, parse_line
from tests.callcenter.conftest import sim_config

T = 1_760_000_000  # an epoch second


def lines(*rows: str) -> str:
    return "".join(f"{T + i}|{row}\n" for i, row in enumerate(rows))


def test_each_way_a_stay_ends_is_read_with_its_figures(tmp_path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(
        lines(
            "NONE|NONE|NONE|QUEUESTART|",
            "1.1|hotline-general|NONE|ENTERQUEUE||13800000001|1",
            "1.1|hotline-general|王芳|RINGNOANSWER|15000",
            "1.1|hotline-general|李娜|CONNECT|21|1.5|3",
            "1.2|hotline-general|NONE|ENTERQUEUE||13800000002|2",
            "1.2|hotline-general|NONE|ABANDON|1|2|17",
            "1.1|hotline-general|李娜|COMPLETEAGENT|21|95|1",
            "1.3|hotline-emergency|NONE|ENTERQUEUE||13800000003|1",
            "1.3|hotline-emergency|NONE|EXITWITHTIMEOUT|1|1|600",
            "1.3|hotline-general|NONE|ENTERQUEUE||13800000003|1",
            "1.3|hotline-general|张伟|CONNECT|4|1.9|2",
            "1.3|hotline-general|张伟|BLINDTRANSFER|8002|hotline-transfer|4|33|1",
            "1.4|hotline-general|NONE|ENTERQUEUE||13800000004|1",
            "1.4|hotline-general|乌云|CONNECT|2|1.8|1",
            "1.4|hotline-general|乌云|ATTENDEDTRANSFER|BRIDGE|7d3e|2|61|1",
            "1.5|hotline-general|NONE|ENTERQUEUE||13800000005|1",
            "1.5|hotline-general|NONE|EXITWITHKEY|5|1|1|12",
            "1.6|hotline-general|NONE|ENTERQUEUE||13800000006|1",  # still waiting
            "1.7|hotline-general|斯琴|CONNECT|3|1.10|1",  # no ENTERQUEUE of its own: left out
        )
        + "garbage without fields\nnotanumber|1.8|q|NONE|ENTERQUEUE||1|1\n"
    )
    follower = QueueLogFollower(path, lookback_s=10**12)
    follower.read()
    got = {h.uniqueid: h for h in follower.histories()}
    assert follower.unreadable == 2
    assert set(got) == {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6"}
    answered = got["1.1"].stays[0]
    assert (answered.outcome, answered.member_name, answered.member_uniqueid) == (
        "answered",
        "李娜",
        "1.5",
    )
    assert (answered.hold_s, answered.talk_s, answered.complete_reason) == (21, 95, "agent")
    assert [(n, ms) for n, ms, _ in answered.rang_out] == [("王芳", 15000)]
    assert got["1.1"].caller_number == "13800000001" and got["1.1"].closed
    abandoned = got["1.2"].stays[0]
    assert (abandoned.outcome, abandoned.hold_s, got["1.2"].closed) == ("abandoned", 17, True)
    first, second = got["1.3"].stays
    assert (first.queue, first.outcome, first.hold_s) == ("hotline-emergency", "timeout", 600)
    assert (second.outcome, second.hold_s, second.talk_s, second.complete_reason) == (
        "answered",
        4,
        33,
        "transfer",
    )
    attended = got["1.4"].stays[0]
    assert (attended.hold_s, attended.talk_s, attended.complete_reason) == (2, 61, "transfer")
    assert (got["1.5"].stays[0].outcome, got["1.5"].stays[0].hold_s) == ("timeout", 12)
    assert not got["1.6"].closed  # a caller still in the queue
    assert parse_line("1|2|3|4") is None


def test_a_file_followed_as_it_grows_rotates_and_is_truncated(tmp_path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(lines("9.1|q|NONE|ENTERQUEUE||1|1") + f"{T}|9.1|q|NONE|ABAN")
    follower = QueueLogFollower(path, lookback_s=10**12)
    follower.read()
    assert [s.outcome for s in follower.histories()[0].stays] == [None]  # half a line waits
    with path.open("a") as f:
        f.write("DON|1|1|5\n")
    follower.read()
    assert follower.histories()[0].closed
    follower.settled(["9.1"])
    assert follower.histories() == []
    with path.open("a") as f:  # written, then the file is rotated (renamed, a new one opened)
        f.write(lines("9.2|q|NONE|ENTERQUEUE||2|1"))
    os.rename(path, tmp_path / "queue_log.0")
    path.write_text(lines("9.2|q|NONE|ABANDON|1|1|3", "9.3|q|NONE|ENTERQUEUE||3|1"))
    follower.read()
    assert {h.uniqueid: h.closed for h in follower.histories()} == {"9.2": True, "9.3": False}
    path.write_text(lines("9.4|q|NONE|ENTERQUEUE||4|1"))  # truncated and written anew
    follower.read()
    assert {h.uniqueid for h in follower.histories()} == {"9.2", "9.3", "9.4"}
    (tmp_path / "queue_log.0").unlink()
    path.unlink()
    assert follower.read() == 0  # a missing file reads as nothing


def test_lines_older_than_the_lookback_are_left_out(tmp_path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(lines("5.1|q|NONE|ENTERQUEUE||1|1", "5.1|q|NONE|ABANDON|1|1|2"))
    follower = QueueLogFollower(path, lookback_s=3600)
    follower.read()
    assert follower.histories() == []


def test_the_simulator_writes_app_queues_lines(start_sim, tmp_path) -> None:
    path = tmp_path / "queue_log"
    sim = start_sim(sim_config(agents=1, queue_log=str(path)))
    answered = sim.wait(sim.place_call(CallerConfig(number="13800000051", talk=20)))
    gave_up = sim.place_call(CallerConfig(number="13800000052", patience=1))
    sim.wait(gave_up)
    written = [parse_line(x) for x in path.read_text().splitlines()]
    assert all(written) and written[0].event == "QUEUESTART"  # type: ignore[union-attr]
    mine = [x for x in written if x and x.callid == answered.uniqueid]
    assert [x.event for x in mine] == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert mine[0].data == ("", "13800000051", "1")
    assert mine[1].agent == answered.member_name and mine[1].data[0] == str(answered.wait_s)
    assert mine[2].data == (str(answered.wait_s), str(answered.talk_s), "1")
    history = history_of(
        gave_up.uniqueid, [x for x in written if x and x.callid == gave_up.uniqueid]
    )
    assert history is not None and history.closed
    assert (history.stays[0].outcome, history.stays[0].hold_s) == ("abandoned", gave_up.wait_s)
