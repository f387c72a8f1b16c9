"""Regression tests for the panoramisk faults fixed in callcenter.ami, each over real TCP.

Every fix comes with a canary that runs stock panoramisk 1.4 against the same peer and shows
the fault, so the test is known to discriminate (and tells us when an upgrade fixes it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import panoramisk
import pytest

from callcenter.ami import (
    AmiAuthenticationFailed,
    AmiClient,
    AmiConnectionLost,
    AmiNotConnected,
    parse_block,
)
from tests.callcenter.wire_server import Conn, ScriptedServer, msg

NAME = "张三丰"


def run(coro: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(condition: Any, timeout: float) -> None:
    """Poll ``condition`` (the machine may be busy: no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def client(port: int, **kw: Any) -> AmiClient:
    kw.setdefault("ping_interval", 0)
    kw.setdefault("action_timeout", 1.0)
    return AmiClient(host="127.0.0.1", port=port, username="hotline", secret="s3cret", **kw)


def stock_manager(port: int, **kw: Any) -> panoramisk.Manager:
    return panoramisk.Manager(
        host="127.0.0.1",
        port=port,
        username="hotline",
        secret="s3cret",
        ping_delay=60,
        loop=asyncio.get_running_loop(),
        **kw,
    )


def caller_event(name: str = NAME) -> bytes:
    return msg(
        ("Event", "Newchannel"),
        ("Privilege", "call,all"),
        ("Channel", "PJSIP/trunk-00000001"),
        ("CallerIDNum", "13800000001"),
        ("CallerIDName", name),
        ("Uniqueid", "1700000000.1"),
        ("Linkedid", "1700000000.1"),
    )


async def split_name_script(conn: Conn) -> None:
    if not await conn.login(fully_booted=True):
        return
    data = caller_event()
    cut = data.index(NAME.encode()) + 1  # inside the first character's three bytes
    await conn.send(data[:cut], pause=0.05)
    await conn.send(data[cut:])
    await conn.serve_pings()


def test_chinese_name_split_across_reads_survives() -> None:
    async def main() -> list[str]:
        names: list[str] = []
        async with ScriptedServer(split_name_script) as srv:
            c = client(
                srv.port,
                on_message=lambda m, t: (
                    names.append(m.get("CallerIDName")) if m.get("Event") == "Newchannel" else None
                ),
            )
            await c.connect()
            for _ in range(500):
                if names:
                    break
                await asyncio.sleep(0.01)
            await c.close()
        return names

    assert run(main()) == [NAME]


def test_canary_stock_panoramisk_loses_the_split_character() -> None:
    async def main() -> list[str]:
        names: list[str] = []
        async with ScriptedServer(split_name_script) as srv:
            m = stock_manager(srv.port)
            m.register_event("Newchannel", lambda mgr, ev: names.append(ev.CallerIDName))
            m.connect()
            for _ in range(500):
                if names:
                    break
                await asyncio.sleep(0.01)
            m.close()
        return names

    names = run(main())
    assert names and names[0] != NAME


async def queueadd_script(conn: Conn) -> None:
    if not await conn.login(fully_booted=True):
        return
    while (action := await conn.read_action(timeout=10)) is not None:
        if action["action"].lower() == "queueadd":
            await conn.send(
                msg(
                    ("Response", "Success"),
                    ("ActionID", action["actionid"]),
                    ("Message", "Added interface to queue"),
                )
            )
            await conn.send(
                msg(
                    ("Event", "QueueMemberAdded"),
                    ("Privilege", "agent,all"),
                    ("Queue", action["queue"]),
                    ("MemberName", "王芳"),
                    ("Interface", action["interface"]),
                )
            )
        elif action["action"].lower() == "logoff":
            await conn.send(msg(("Response", "Goodbye"), ("ActionID", action["actionid"])))
            return


def test_queueadd_resolves_on_its_response() -> None:
    async def main() -> tuple[str, float]:
        async with ScriptedServer(queueadd_script) as srv:
            c = client(srv.port)
            await c.connect()
            t0 = time.monotonic()
            resp = await c.send_action(
                {"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/8001"}
            )
            elapsed = time.monotonic() - t0
            await c.close()
        return resp["Message"], elapsed

    message, elapsed = run(main())
    assert message == "Added interface to queue"
    assert elapsed < 2.0  # its own response resolves it (stock panoramisk never resolves)


def test_canary_stock_queueadd_never_resolves() -> None:
    async def main() -> bool:
        async with ScriptedServer(queueadd_script) as srv:
            m = stock_manager(srv.port)
            m.connect()
            for _ in range(500):
                if m.authenticated:
                    break
                await asyncio.sleep(0.01)
            fut = m.send_action(
                {"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/8001"}
            )
            try:
                await asyncio.wait_for(fut, 0.5)
                return True
            except TimeoutError:
                return False
            finally:
                m.close()

    assert run(main()) is False


async def refusing_script(conn: Conn) -> None:
    await conn.login(secret="the-right-one")


def test_wrong_password_is_retried_a_bounded_number_of_times_then_raised() -> None:
    async def main() -> tuple[str, int]:
        async with ScriptedServer(refusing_script) as srv:
            c = client(srv.port, auth_retries=2, reconnect_initial=0.05)
            with pytest.raises(AmiAuthenticationFailed) as info:
                await c.run()
            await asyncio.sleep(0.3)
            return str(info.value), len(srv.connections)

    message, attempts = run(main())
    assert "登录被拒绝" in message and "Authentication failed" in message
    assert attempts == 2


def test_plain_login_refused_too() -> None:
    async def main() -> None:
        async with ScriptedServer(refusing_script) as srv:
            c = client(srv.port, auth="plain", auth_retries=1)
            with pytest.raises(AmiAuthenticationFailed):
                await c.run()

    run(main())


def test_canary_stock_panoramisk_retries_a_wrong_password_forever() -> None:
    async def main() -> int:
        async with ScriptedServer(refusing_script) as srv:
            m = stock_manager(srv.port, reconnect_timeout=0)
            m.connect()
            await until(lambda: len(srv.connections) >= 3, 10)
            m.close()
            return len(srv.connections)

    assert run(main()) >= 3


class OriginateServer:
    """First connection: takes an Originate and drops without answering. Later: answers pings."""

    def __init__(self) -> None:
        self.originates_per_connection: list[int] = []

    async def __call__(self, conn: Conn) -> None:
        first = not self.originates_per_connection
        self.originates_per_connection.append(0)
        index = len(self.originates_per_connection) - 1
        if not await conn.login(fully_booted=True):
            return
        while (action := await conn.read_action(timeout=1.5)) is not None:
            name = action["action"].lower()
            if name == "originate":
                self.originates_per_connection[index] += 1
                if first:
                    conn.writer.transport.abort()
                    return
            elif name == "ping":
                await conn.send(
                    msg(("Response", "Success"), ("ActionID", action["actionid"]), ("Ping", "Pong"))
                )
            elif name == "logoff":
                await conn.send(msg(("Response", "Goodbye"), ("ActionID", action["actionid"])))
                return


def test_unanswered_originate_fails_as_unknown_and_is_never_resent() -> None:
    script = OriginateServer()

    async def main() -> str:
        async with ScriptedServer(script) as srv:
            c = client(srv.port, reconnect_initial=0.05)
            stop = asyncio.Event()
            runner = asyncio.create_task(c.run(stop))
            await c.wait_connected(5)
            with pytest.raises(AmiConnectionLost) as info:
                await c.send_action(
                    {
                        "Action": "Originate",
                        "Channel": "PJSIP/8001",
                        "Exten": "13800000001",
                        "Context": "hotline-callback",
                        "Priority": "1",
                        "Async": "true",
                    }
                )
            await asyncio.sleep(0.2)
            await c.wait_connected(5)
            await c.send_action({"Action": "Ping"})
            await asyncio.sleep(0.3)
            stop.set()
            await runner
            return str(info.value)

    message = run(main())
    assert "结果未知" in message
    assert script.originates_per_connection[0] == 1
    assert sum(script.originates_per_connection[1:]) == 0
    assert len(script.originates_per_connection) >= 2


def test_canary_stock_panoramisk_resends_the_originate_after_reconnect() -> None:
    script = OriginateServer()

    async def main() -> None:
        async with ScriptedServer(script) as srv:
            m = stock_manager(srv.port, reconnect_timeout=0)
            m.connect()
            for _ in range(500):
                if m.authenticated:
                    break
                await asyncio.sleep(0.01)
            m.send_action(
                {
                    "Action": "Originate",
                    "Channel": "PJSIP/8001",
                    "Exten": "13800000001",
                    "Context": "hotline-callback",
                    "Priority": "1",
                    "Async": "false",
                }
            )
            await until(lambda: sum(script.originates_per_connection[1:]) >= 1, 10)
            m.close()

    run(main())
    assert sum(script.originates_per_connection[1:]) >= 1


MERGED = (
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nQueue: hotline-general\r\nUniqueid: 1.1\r\n"
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nQueue: hotline-emergency\r\nUniqueid: 1.2\r\n\r\n"
)


async def merged_script(conn: Conn) -> None:
    if not await conn.login(fully_booted=True):
        return
    await conn.send(MERGED, pause=0.05)
    await conn.send(b"this line has no colon\r\n\r\n", pause=0.05)
    await conn.send(
        msg(
            ("Event", "QueueCallerJoin"),
            ("Privilege", "agent,all"),
            ("Queue", "q3"),
            ("Uniqueid", "1.3"),
        )
    )
    await conn.serve_pings()


def test_merged_block_is_split_and_the_connection_stays() -> None:
    async def main() -> tuple[list[str], dict[str, int]]:
        seen: list[str] = []
        async with ScriptedServer(merged_script) as srv:
            c = client(
                srv.port,
                on_message=lambda m, t: (
                    seen.append(m["Uniqueid"]) if m.get("Event") == "QueueCallerJoin" else None
                ),
            )
            await c.connect()
            for _ in range(1000):
                if len(seen) >= 3:
                    break
                await asyncio.sleep(0.01)
            stats = c.stats.as_dict()
            await c.close()
        return seen, stats

    seen, stats = run(main())
    assert seen == ["1.1", "1.2", "1.3"]
    assert stats["merged_blocks"] == 1
    assert stats["malformed"] == 1  # the colon-less line
    assert stats["disconnects"] == 0


def test_canary_stock_panoramisk_drops_the_connection_on_a_merged_block() -> None:
    async def main() -> list[Any]:
        lost: list[Any] = []
        async with ScriptedServer(merged_script) as srv:
            m = stock_manager(
                srv.port, reconnect_timeout=60, on_disconnect=lambda mgr, exc: lost.append(exc)
            )
            m.register_event("QueueCallerJoin", lambda mgr, ev: None)
            m.connect()
            await asyncio.sleep(0.6)
            m.close()
        return lost

    assert run(main())


async def half_message_script(conn: Conn) -> None:
    if not await conn.login(fully_booted=True):
        return
    if (
        len(conn.actions)
        and conn is not None
        and not getattr(half_message_script, "dropped", False)
    ):
        half_message_script.dropped = True  # type: ignore[attr-defined]
        await conn.send(
            b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nQueue: hotline-gen", pause=0.05
        )
        conn.writer.transport.abort()
        return
    await conn.send(
        msg(
            ("Event", "QueueCallerJoin"),
            ("Privilege", "agent,all"),
            ("Queue", "after"),
            ("Uniqueid", "2.1"),
        )
    )
    await conn.serve_pings()


def test_connection_dropped_mid_message_reconnects_without_garbage() -> None:
    half_message_script.dropped = False  # type: ignore[attr-defined]

    async def main() -> tuple[list[str], int]:
        queues: list[str] = []
        async with ScriptedServer(half_message_script) as srv:
            c = client(
                srv.port,
                reconnect_initial=0.05,
                on_message=lambda m, t: (
                    queues.append(m["Queue"]) if m.get("Event") == "QueueCallerJoin" else None
                ),
            )
            stop = asyncio.Event()
            runner = asyncio.create_task(c.run(stop))
            for _ in range(1000):
                if queues:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await runner
            return queues, c.stats.disconnects

    queues, disconnects = run(main())
    assert queues == ["after"]
    assert disconnects >= 1


async def silent_script(conn: Conn) -> None:
    await asyncio.sleep(30)


def test_server_that_never_answers_is_retried_with_backoff_not_a_crash() -> None:
    async def main() -> int:
        async with ScriptedServer(silent_script, banner=False) as srv:
            c = client(srv.port, connect_timeout=0.2, reconnect_initial=0.05, reconnect_max=0.2)
            stop = asyncio.Event()
            runner = asyncio.create_task(c.run(stop))
            await until(lambda: len(srv.connections) >= 2, 10)
            stop.set()
            await runner
            with pytest.raises(AmiNotConnected):
                await c.send_action({"Action": "Ping"})
            return len(srv.connections)

    assert run(main()) >= 2


async def stops_answering_script(conn: Conn) -> None:
    if not await conn.login(fully_booted=True):
        return
    await asyncio.sleep(30)  # reads nothing more, answers no Ping


def test_unanswered_ping_drops_and_reconnects() -> None:
    async def main() -> int:
        async with ScriptedServer(stops_answering_script) as srv:
            c = client(srv.port, ping_interval=0.1, action_timeout=0.2, reconnect_initial=0.05)
            stop = asyncio.Event()
            runner = asyncio.create_task(c.run(stop))
            await until(lambda: len(srv.connections) >= 2, 10)
            stop.set()
            await runner
            return len(srv.connections)

    assert run(main()) >= 2


def test_parse_block_tolerates_lf_empty_values_and_repeated_keys() -> None:
    block = "Event: Newchannel\nAccountCode: \nChanVariable: A=1\nChanVariable: B=x: y\nCallerIDName: 乌云"
    (m,) = parse_block(block)
    assert m["AccountCode"] == ""
    assert m["ChanVariable"] == ["A=1", "B=x: y"]
    assert m["callerIDname"] == "乌云"


# -- the reader scans each byte once, and a block has a bound ------------------------------------

HUGE = 8 * 1024 * 1024


async def unterminated_script(conn: Conn) -> None:
    """8 MB of one block with no blank line (a broken peer), then a real event."""
    if not await conn.login(fully_booted=True):
        return
    await conn.send(b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: junk\r\nData: ")
    piece = b"x" * 16384  # segments a network delivers one by one
    for _ in range(HUGE // len(piece)):
        await conn.send(piece)
        await asyncio.sleep(0)  # let the client read it before the next one
    await conn.send(b"\r\n\r\n" + caller_event())
    await conn.serve_pings()


async def loop_lag(stop: asyncio.Event) -> float:
    """How long, in all, the event loop was kept from running this task (it asks every 10 ms)."""
    held = 0.0
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        held += max(0.0, now - last - 0.01)
        last = now
    return held


def test_an_unterminated_8mb_block_does_not_hold_the_event_loop() -> None:
    async def main() -> tuple[float, float, list[str], dict[str, int]]:
        names: list[str] = []
        async with ScriptedServer(unterminated_script) as srv:
            c = client(
                srv.port,
                on_message=lambda m, t: (
                    names.append(m.get("CallerIDName")) if m.get("Event") == "Newchannel" else None
                ),
            )
            await c.connect()
            stop = asyncio.Event()
            lag = asyncio.create_task(loop_lag(stop))
            t0 = time.monotonic()
            await until(lambda: bool(names), 60)
            took = time.monotonic() - t0
            stop.set()
            held = await lag
            stats = c.stats.as_dict()
            await c.close()
        return held, took, names, stats

    held, took, names, stats = run(main(), timeout=300)
    # the peer's writes share the loop and the machine is shared: a second is far above what
    # a linear reader needs and far below a quadratic one (seconds)
    assert held < 1.0, f"event loop held for {held:.2f} s in all (8 MB read in {took:.2f} s)"
    assert names == [NAME]  # the event after the junk is read, on the same connection
    assert stats.get("oversized_blocks") == 1 and stats["disconnects"] == 0


def test_blocks_are_the_same_however_the_stream_is_cut() -> None:
    """Every cut of a stream into reads, including inside a CRLF CRLF or an LF LF, gives the
    same messages; a large block below the bound arrives whole."""
    small = (
        caller_event().decode()
        + "Event: Hangup\nPrivilege: call,all\nUniqueid: 1700000000.1\n\n"
        + caller_event("乌云").decode()
    )
    big = "y" * 300_000
    large = small + "Event: UserEvent\r\nPrivilege: user,all\r\nData: " + big + "\r\n\r\n" + small

    def read(stream: str, size: int) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        c = client(1, on_message=lambda m, t: seen.append((m["Event"], m.get("Data", ""))))
        proto = c._protocol = _protocol(c)
        data = stream.encode()
        for i in range(0, len(data), size):
            proto.data_received(data[i : i + size])
        return seen

    async def main() -> None:  # the protocol lives on an event loop
        expected = [("Newchannel", ""), ("Hangup", ""), ("Newchannel", "")]
        for size in range(1, 9):
            assert read(small, size) == expected, size
        for size in (4096, 65536, len(large)):
            assert read(large, size) == [*expected, ("UserEvent", big), *expected], size

    run(main())


class _Transport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass


def _protocol(c: AmiClient) -> Any:
    from callcenter.ami import HotlineAmiProtocol

    proto = HotlineAmiProtocol()
    proto.client = c
    proto.connection_made(_Transport())
    proto.data_received(b"Asterisk Call Manager/9.0.0\r\n")
    return proto


# -- a resync that fails closes its connection; one keep-alive per connection --------------------


class SlowResyncServer:
    """First connection: takes CoreShowChannels and never answers it. Later ones answer the
    lists at once. Every connection counts the pings it receives and whether the client
    closed it."""

    def __init__(self) -> None:
        self.pings: list[list[float]] = []
        self.closed_by_client: list[float | None] = []

    async def __call__(self, conn: Conn) -> None:
        index = len(self.pings)
        self.pings.append([])
        self.closed_by_client.append(None)
        if not await conn.login(fully_booted=True):
            return
        while (action := await conn.read_action(timeout=30)) is not None:
            name = action["action"].lower()
            aid = action["actionid"]
            if name == "ping":
                self.pings[index].append(time.monotonic())
                await conn.send(msg(("Response", "Success"), ("ActionID", aid), ("Ping", "Pong")))
            elif name == "coreshowchannels" and index > 0:
                await conn.send(
                    msg(("Response", "Success"), ("ActionID", aid), ("EventList", "start"))
                )
                await conn.send(
                    msg(
                        ("Event", "CoreShowChannelsComplete"),
                        ("ActionID", aid),
                        ("EventList", "Complete"),
                        ("ListItems", "0"),
                    )
                )
            elif name == "logoff":
                await conn.send(msg(("Response", "Goodbye"), ("ActionID", aid)))
                return
        self.closed_by_client[index] = time.monotonic()


def test_a_resync_that_times_out_closes_its_connection_and_one_keepalive_runs() -> None:
    script = SlowResyncServer()

    async def resync(c: AmiClient) -> None:
        await c.send_action({"Action": "CoreShowChannels"}, timeout=0.5)

    async def main() -> tuple[float, float, float | None]:
        async with ScriptedServer(script) as srv:
            c = client(srv.port, ping_interval=0.1, reconnect_initial=0.05, on_connected=resync)
            stop = asyncio.Event()
            runner = asyncio.create_task(c.run(stop))
            await until(lambda: len(srv.connections) >= 2 and c.connected, 10)
            await until(lambda: script.closed_by_client[0] is not None, 2)
            start = time.monotonic()
            await asyncio.sleep(1.0)
            end = time.monotonic()
            first_closed = script.closed_by_client[0]
            stop.set()
            await runner
        return start, end, first_closed

    start, end, first_closed = run(main())
    assert first_closed is not None, "the connection whose resync timed out was left open"
    assert [t for t in script.pings[0] if t > first_closed] == []
    second = [t for t in script.pings[1] if start <= t <= end]
    # one keep-alive every 0.1 s (a busy machine may delay some, never double them)
    assert 2 <= len(second) <= 11, second
