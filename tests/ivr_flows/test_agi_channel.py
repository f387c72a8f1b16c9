"""The AGI channel adapter over real TCP, against an Asterisk peer that writes exact bytes.

Each of pyst2 0.5.1's faults on Python 3 has a test here that shows the library failing on the
same bytes and the adapter handling them.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Awaitable, Callable

import pytest
from asterisk import agi as pyst2_agi

from ivr_flows.agi_channel import (
    AgiChannel,
    AgiHangup,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
    parse_reply_line,
    read_environment,
)

ENV = (
    "agi_network: yes\n"
    "agi_network_script: main\n"
    "agi_request: agi://127.0.0.1/main\n"
    "agi_channel: PJSIP/trunk-0000002b\n"
    "agi_language: en\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1746044688.69\n"
    "agi_version: 22.2.0\n"
    "agi_callerid: 13904711234\n"
    "agi_calleridname: 张桂兰\n"
    "agi_callingpres: 3\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: 12349\n"
    "agi_rdnis: unknown\n"
    "agi_context: hotline-inbound\n"
    "agi_extension: 12349\n"
    "agi_priority: 2\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140202580211456\n"
    "agi_arg_1: first arg\n"
    "\n"
).encode()

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _script_side(
    asterisk: Peer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Task[None]]:
    """A TCP connection whose far end runs ``asterisk``; returns the script's end."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set_result((r, w))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    a_reader, a_writer = await asyncio.open_connection("127.0.0.1", port)
    s_reader, s_writer = await accepted
    server.close()
    task = asyncio.create_task(asterisk(a_reader, a_writer))
    return s_reader, s_writer, task


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def replying(*replies: str, after_env: bytes = ENV) -> Peer:
    """Asterisk sending the environment, then one scripted reply per command line read."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(after_env)
        await writer.drain()
        for reply in replies:
            line = await reader.readline()
            if not line:
                return
            writer.write(reply.encode())
            await writer.drain()
        await reader.read()  # until the script closes
        writer.close()

    return peer


def test_environment_is_read_in_order_with_utf8_split_across_segments() -> None:
    """pyst2 reads text streams; bytes of one character arriving in two TCP segments must not
    be cut. The adapter reads bytes and decodes whole lines."""

    async def split_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cut = ENV.index("张".encode()) + 1  # inside the first character's three bytes
        writer.write(ENV[:cut])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(ENV[cut:])
        await writer.drain()
        await reader.read()

    async def scenario() -> None:
        reader, writer, peer = await _script_side(split_peer)
        env = await read_environment(reader, timeout=2)
        assert env.calleridname == "张桂兰"
        assert env.callerid == "13904711234"
        assert env.network_script == "main"
        assert env.get("agi_accountcode") == ""
        assert env.args == ["first arg"]
        assert list(env.values)[:3] == ["agi_network", "agi_network_script", "agi_request"]
        writer.close()
        await peer

    run(scenario())


def test_bare_hangup_line_marks_the_channel_and_the_reply_after_it_is_read() -> None:
    """pyst2's get_result does int('') on the bare HANGUP line and raises ValueError."""
    with pytest.raises(ValueError):
        pyst2_agi.AGI.get_result(_pyst2_reader("HANGUP\n200 result=0\n"))

    async def scenario() -> None:
        reader, writer, peer = await _script_side(
            replying(
                "HANGUP\n200 result=1\n",
                "511 Command Not Permitted on a dead channel or intercept routine\n",
            )
        )
        channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
        await channel.set_variable("HOTLINE_QUEUE", "hotline-general")  # allowed on a dead channel
        assert channel.hung_up
        with pytest.raises(AgiHangup) as exc:
            await channel.stream_file("hotline/zh/welcome")
        assert exc.value.reason == "hangup"
        await channel.close()
        await peer

    run(scenario())


def test_empty_get_data_timeout_is_not_lost() -> None:
    """pyst2's ``re_kv`` needs a value after ``result=``: ``200 result= (timeout)`` parses to
    nothing, so the timeout is lost."""
    assert pyst2_agi.re_kv.findall(" result= (timeout)") == []

    async def scenario() -> None:
        reader, writer, peer = await _script_side(
            replying("200 result= (timeout)\n", "200 result=12 (timeout)\n", "200 result=123\n")
        )
        channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
        first = await channel.get_data("hotline/zh/survey_question", timeout_ms=3000, max_digits=3)
        second = await channel.get_data("hotline/zh/survey_question", timeout_ms=3000, max_digits=3)
        third = await channel.get_data("hotline/zh/survey_question", timeout_ms=3000, max_digits=3)
        assert (first.digits, first.timed_out) == ("", True)
        assert (second.digits, second.timed_out) == ("12", True)
        assert (third.digits, third.timed_out) == ("123", False)
        await channel.close()
        await peer

    run(scenario())


def test_missing_sound_file_is_a_failed_playback_not_a_hangup() -> None:
    """pyst2 raises AGIAppError("... or hangup") on every result=-1; STREAM FILE answers
    ``result=-1 endpos=0`` when only the file is missing and the caller is still there."""
    with pytest.raises(pyst2_agi.AGIAppError):
        pyst2_agi.AGI.get_result(_pyst2_reader("200 result=-1 endpos=0\n"))

    async def scenario() -> None:
        reader, writer, peer = await _script_side(
            replying(
                "200 result=-1 endpos=0\n",
                "200 result=50 endpos=3200\n",
                "200 result=0 endpos=16000\n",
            )
        )
        channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
        missing = await channel.stream_file("hotline/zh/nothing", "12")
        pressed = await channel.stream_file("hotline/zh/main_menu", "12")
        played = await channel.stream_file("hotline/zh/welcome")
        assert missing.failed and not channel.hung_up
        assert (pressed.digit, pressed.endpos, pressed.failed) == ("2", 3200, False)
        assert (played.digit, played.endpos) == (None, 16000)
        await channel.close()
        await peer

    run(scenario())


def test_a_channel_in_a_worker_thread_needs_no_signal_handler() -> None:
    """pyst2's AGI() installs a SIGHUP handler, which only the main thread may do."""
    errors: list[BaseException] = []
    results: list[str | None] = []

    def pyst2_in_thread() -> None:
        try:
            pyst2_agi.AGI(
                stdin=io.StringIO(ENV.decode()), stdout=io.StringIO(), stderr=io.StringIO()
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def adapter_in_thread() -> None:
        async def scenario() -> None:
            reader, writer, peer = await _script_side(replying("200 result=1 (1746044688.60)\n"))
            channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
            results.append(await channel.get_variable("CHANNEL(linkedid)"))
            await channel.close()
            await peer

        asyncio.run(scenario())

    for target in (pyst2_in_thread, adapter_in_thread):
        t = threading.Thread(target=target)
        t.start()
        t.join(10)
    assert errors and isinstance(errors[0], ValueError)  # "signal only works in main thread"
    assert results == ["1746044688.60"]


def test_510_and_multi_line_520_leave_the_conversation_in_step() -> None:
    usage = (
        "520-Invalid command syntax.  Proper usage follows:\n"
        "Send the given file, allowing playback to be interrupted by the given\n"
        " digits, if any.\n"
        "520 End of proper usage.\n"
    )

    async def scenario() -> None:
        reader, writer, peer = await _script_side(
            replying("510 Invalid or unknown command\n", usage, "200 result=1 (a (b) c)\n")
        )
        channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
        with pytest.raises(AgiInvalidCommand):
            await channel.command("FLY TO MOON")
        with pytest.raises(AgiUsageError) as exc:
            await channel.command("STREAM FILE")
        assert exc.value.usage.splitlines()[1].startswith("Send the given file")
        assert (
            await channel.get_variable("X") == "a (b) c"
        )  # the reply after the usage, not a usage line
        await channel.close()
        await peer

    run(scenario())


def test_dead_socket_is_detected_by_the_reply_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ENV)
        await writer.drain()
        await reader.read()  # reads commands, never answers

    async def scenario() -> None:
        reader, writer, peer = await _script_side(silent)
        channel = AgiChannel(
            reader, writer, await read_environment(reader, timeout=2), reply_timeout=0.3
        )
        with pytest.raises(AgiHangup) as exc:
            await channel.answer()
        assert exc.value.reason == "lost"
        await channel.close()
        await peer

    run(scenario())


def test_an_environment_dribbled_past_its_deadline_is_a_lost_peer() -> None:
    """The environment's deadline covers the whole block (one timer, not one per line): a peer
    that sends a line now and then, each in time for a per-line wait, is let go at the block's
    deadline, as a peer that went silent is."""
    lines = ENV.split(b"\n")

    async def dribbling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for line in lines[:6]:
                writer.write(line + b"\n")
                await writer.drain()
                await asyncio.sleep(0.15)
            await reader.read()  # until the script's end lets go
        except ConnectionError:
            pass  # the script's end let go

    async def scenario() -> float:
        reader, writer, peer = await _script_side(dribbling)
        started = asyncio.get_running_loop().time()
        with pytest.raises(AgiHangup, match="timed out reading the AGI environment"):
            await read_environment(reader, timeout=0.5)
        took = asyncio.get_running_loop().time() - started
        writer.close()
        await peer
        return took

    took = run(scenario())
    assert isinstance(took, float) and took < 0.7


def test_truncated_and_garbage_lines_are_protocol_errors() -> None:
    async def truncating(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ENV)
        await reader.readline()
        writer.write(b"200 resu")  # then the connection drops mid-line
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        reader, writer, peer = await _script_side(truncating)
        channel = AgiChannel(reader, writer, await read_environment(reader, timeout=2))
        with pytest.raises(AgiProtocolError, match="truncated"):
            await channel.answer()
        await channel.close()
        await peer

        reader, writer, peer = await _script_side(
            replying(after_env=b"GET / HTTP/1.1\nHost: x\n\n")
        )
        with pytest.raises(AgiProtocolError, match="not an AGI environment line"):
            await read_environment(reader, timeout=2)
        writer.close()
        await peer

    run(scenario())
    with pytest.raises(AgiProtocolError):
        parse_reply_line("garbage")


def _pyst2_reader(text: str) -> pyst2_agi.AGI:
    """A pyst2 AGI object reading ``text`` (built without __init__, which needs the main thread)."""
    obj = pyst2_agi.AGI.__new__(pyst2_agi.AGI)
    obj.stdin = io.StringIO(text)
    obj.stdout = io.StringIO()
    obj.stderr = io.StringIO()
    return obj
