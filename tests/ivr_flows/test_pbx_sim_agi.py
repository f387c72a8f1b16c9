"""The PBX simulator's Asterisk side of FastAGI, against a raw script over TCP: the exact bytes
res_agi.c writes (AGI-RESPONSES.md)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

from callcenter.pbx_sim.agi import (
    AgiOutcome,
    AgiTrace,
    CallerBehaviour,
    media_seconds,
    parse_args,
    run_fastagi_call,
)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

ENV_ORDER = [
    "agi_network",
    "agi_network_script",
    "agi_request",
    "agi_channel",
    "agi_language",
    "agi_type",
    "agi_uniqueid",
    "agi_version",
    "agi_callerid",
    "agi_calleridname",
    "agi_callingpres",
    "agi_callingani2",
    "agi_callington",
    "agi_callingtns",
    "agi_dnid",
    "agi_rdnis",
    "agi_context",
    "agi_extension",
    "agi_priority",
    "agi_enhanced",
    "agi_accountcode",
    "agi_threadid",
]


def call_script(
    script: Script,
    *,
    path: str = "main",
    behaviour: CallerBehaviour | None = None,
    **kwargs: object,
) -> tuple[AgiOutcome, dict[str, object]]:
    seen: dict[str, object] = {}

    async def scenario() -> AgiOutcome:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = b""
            while not raw.endswith(b"\n\n"):
                chunk = await reader.readline()
                if not chunk:
                    break
                raw += chunk
            seen["env_bytes"] = raw
            await script(reader, writer)
            writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_fastagi_call(
                f"agi://127.0.0.1:{port}/{path}",
                channel="PJSIP/trunk-00000001",
                uniqueid="1746044688.69",
                linkedid="1746044688.68",
                callerid="13904711234",
                calleridname="张桂兰",
                behaviour=behaviour,
                **kwargs,  # type: ignore[arg-type]
            )

    return asyncio.run(scenario()), seen


def conversation(
    *commands: str, expect_lines: list[int] | None = None
) -> tuple[Script, list[list[str]]]:
    """A script sending ``commands`` one by one and collecting every reply (all its lines)."""
    replies: list[list[str]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for cmd in commands:
            writer.write(cmd.encode() + b"\n")
            await writer.drain()
            lines = []
            while True:
                raw = await asyncio.wait_for(reader.readline(), 2)
                assert raw.endswith(b"\n") and not raw.endswith(b"\r\n")  # bare \n, as res_agi.c
                line = raw.decode().rstrip("\n")
                lines.append(line)
                if line == "HANGUP":
                    continue
                if line.startswith("520-") or (
                    lines[0].startswith("520-") and not line.startswith("520 ")
                ):
                    continue
                break
            replies.append(lines)

    return script, replies


def test_environment_block_in_res_agi_order_with_bare_newlines() -> None:
    script, _ = conversation()
    outcome, seen = call_script(script, path="main?x=1")
    raw = seen["env_bytes"]
    assert isinstance(raw, bytes) and b"\r" not in raw and raw.endswith(b"\n\n")
    lines = raw.decode().split("\n")[:-2]
    keys = [line.split(":", 1)[0] for line in lines if line]
    assert keys == ENV_ORDER
    values = dict(line.split(": ", 1) for line in lines if line and not line.endswith(": "))
    assert values["agi_network_script"] == "main?x=1"
    assert values["agi_request"].startswith("agi://127.0.0.1:") and values["agi_type"] == "PJSIP"
    assert values["agi_calleridname"] == "张桂兰" and values["agi_callerid"] == "13904711234"
    assert "agi_accountcode: " in lines  # empty value keeps the space
    assert outcome.status == "SUCCESS"


def test_replies_as_res_agi_writes_them() -> None:
    script, replies = conversation(
        "ANSWER",
        'GET VARIABLE "CHANNEL(linkedid)"',
        "GET VARIABLE NOT_SET",
        'SET VARIABLE "HOTLINE_QUEUE" "hotline-emergency"',
        'GET VARIABLE "HOTLINE_QUEUE"',
        'STREAM FILE hotline/zh/main_menu "123"',  # caller presses 2 during the prompt
        'STREAM FILE hotline/zh/welcome ""',
        "GET DATA hotline/zh/survey_question 3000 1",  # silence
        "GET DATA hotline/zh/survey_question 3000 4",  # 12 then silence
        "GET DATA hotline/zh/survey_question 3000 4",  # 34#
        "WAIT FOR DIGIT 5000",
        'EXEC Playback "hotline/zh/welcome"',
        "EXEC NoSuchApp",
        'VERBOSE "你好" 1',
        "FLY ME TO THE MOON",
        "STREAM FILE",
    )
    outcome, _ = call_script(script, behaviour=CallerBehaviour(digits=["2", "", "12", "34#", "9"]))
    flat = [r[0] for r in replies[:-1]]
    assert flat == [
        "200 result=0",
        "200 result=1 (1746044688.68)",
        "200 result=0",
        "200 result=1",
        "200 result=1 (hotline-emergency)",
        "200 result=50 endpos=4000",
        "200 result=0 endpos=16000",
        "200 result= (timeout)",
        "200 result=12 (timeout)",
        "200 result=34",
        "200 result=57",
        "200 result=0",
        "200 result=-2",
        "200 result=1",
        "510 Invalid or unknown command",
    ]
    usage = replies[-1]
    assert usage[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert usage[-1] == "520 End of proper usage."
    assert len(usage) >= 3
    assert outcome.status == "SUCCESS"
    assert outcome.variables == {"HOTLINE_QUEUE": "hotline-emergency"}
    assert outcome.commands[0] == "ANSWER" and len(outcome.commands) == 16


def test_caller_hangs_up_after_n_commands_then_511_and_status_hangup() -> None:
    script, replies = conversation(
        "ANSWER",
        'STREAM FILE hotline/zh/welcome ""',
        'SET VARIABLE "A" "1"',
        "WAIT FOR DIGIT 1000",
    )
    outcome, _ = call_script(script, behaviour=CallerBehaviour(hangup_after=1))
    assert replies[0] == ["200 result=0"]
    # the HANGUP line arrives before the reply to the next command, which is refused
    assert replies[1] == [
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
    ]
    assert replies[2] == ["200 result=1"]  # SET VARIABLE is allowed on a dead channel
    assert replies[3] == ["511 Command Not Permitted on a dead channel or intercept routine"]
    assert outcome.status == "HANGUP"


def test_missing_file_makes_agistatus_failure_but_the_session_goes_on() -> None:
    script, replies = conversation(
        'STREAM FILE hotline/zh/gone ""', 'STREAM FILE hotline/zh/welcome ""'
    )
    outcome, _ = call_script(script, sounds={"hotline/zh/welcome"})
    assert [r[0] for r in replies] == ["200 result=-1 endpos=0", "200 result=0 endpos=16000"]
    assert outcome.status == "FAILURE"


def test_script_hangup_command() -> None:
    script, replies = conversation("HANGUP", "ANSWER")
    outcome, _ = call_script(script)
    assert replies[0] == ["200 result=1"]
    assert replies[1] == [
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
    ]
    assert outcome.status == "HANGUP"


def test_connect_failure_is_reported_within_two_seconds() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
    started = time.monotonic()
    outcome = asyncio.run(
        run_fastagi_call(
            f"agi://127.0.0.1:{port}/main",
            channel="PJSIP/x-1",
            uniqueid="1.1",
            linkedid="1.1",
            callerid="1",
            calleridname="",
        )
    )
    assert outcome.status == "FAILURE" and outcome.commands == []
    assert time.monotonic() - started < 2.5


def test_arguments_split_like_res_agi() -> None:
    assert parse_args('SET VARIABLE "A B" "say \\"hi\\""') == ["SET", "VARIABLE", "A B", 'say "hi"']
    assert parse_args('STREAM FILE welcome ""') == ["STREAM", "FILE", "welcome", ""]
    assert parse_args("  GET   DATA  x ") == ["GET", "DATA", "x"]


def test_media_seconds_follow_what_the_channel_plays() -> None:
    # a prompt plays to its end (2 s) or to the key that stops it (0.5 s)
    assert media_seconds('STREAM FILE hello ""', "200 result=0 endpos=16000") == 2.0
    assert media_seconds('STREAM FILE hello "0123"', "200 result=49 endpos=4000") == 0.5
    # GET DATA: the prompt, then a second a key, or the whole timeout when nothing is pressed
    assert media_seconds("GET DATA menu 5000 1", "200 result=3") == 3.0
    assert media_seconds("GET DATA menu 5000 1", "200 result= (timeout)") == 7.0
    assert media_seconds("WAIT FOR DIGIT 4000", "200 result=0") == 4.0
    assert media_seconds("WAIT FOR DIGIT 4000", "200 result=49") == 1.0
    assert media_seconds('SET VARIABLE "A" "1"', "200 result=1") == 0.0


def test_paced_replies_wait_for_the_media_and_the_trace_sees_only_the_scripts_time() -> None:
    think = 0.05

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(think)  # before the first command
        for command in ('STREAM FILE hello ""', 'SET VARIABLE "A" "1"'):
            writer.write(command.encode() + b"\n")
            await writer.drain()
            await reader.readline()
            await asyncio.sleep(think)

    trace = AgiTrace()
    started = time.monotonic()
    outcome, _ = call_script(
        script, pace=lambda line, reply: media_seconds(line, reply) / 10, trace=trace
    )
    elapsed = time.monotonic() - started

    assert outcome.status == "SUCCESS"
    assert elapsed >= 0.2 + 3 * think  # the 2 s prompt played at a tenth of its length
    assert trace.first_command_s is not None and think <= trace.first_command_s < 0.2
    # one wait between the two commands: the script's think time, not the prompt's length
    assert len(trace.think_s) == 1 and think <= trace.think_s[0] < 0.2
