"""Asterisk's side of FastAGI for the PBX simulator: what ``AGI(agi://host/script)`` does.

It connects to the FastAGI server (2 s, as MAX_AGI_CONNECT), sends the ``agi_*`` environment in
res_agi.c's order, then answers each command line the way res_agi.c does: ``200 result=`` replies
(with ``(timeout)`` and ``endpos``), ``510`` for unknown commands, the multi-line ``520`` usage for
wrong arguments, the bare ``HANGUP`` line when the caller hangs up and ``511`` for media commands
on the dead channel after it. Lines end in a bare ``\\n`` both ways. The simulated caller presses
keys from :class:`CallerBehaviour` when asked and may hang up after a number of commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

AGI_DEFAULT_PORT = 4573
CONNECT_TIMEOUT_S = 2.0  # res_agi.c MAX_AGI_CONNECT
ASTERISK_VERSION = "22.10.1"
# A played prompt stops at this many samples (2 s at 8 kHz); an interrupted one earlier.
_PLAYED_SAMPLES = 16000
_INTERRUPTED_SAMPLES = 4000
_DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
_APPLICATIONS = frozenset(
    {
        "answer",
        "playback",
        "background",
        "wait",
        "set",
        "noop",
        "verbose",
        "queue",
        "dial",
        "goto",
        "gosub",
        "hangup",
        "ringing",
        "progress",
        "read",
        "saydigits",
        "userevent",
        "log",
    }
)


@dataclass
class CallerBehaviour:
    """What the simulated caller does: keys pressed when asked, in order ("" = stays silent),
    and hanging up after ``hangup_after`` AGI commands have been answered."""

    digits: list[str] = field(default_factory=list)
    hangup_after: int | None = None


@dataclass
class AgiOutcome:
    """How the AGI application ended (AGISTATUS), what the script SET, and what it sent."""

    status: str  # "SUCCESS" | "HANGUP" | "FAILURE"
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)


@dataclass
class AgiTrace:
    """What the caller waits for, seen from Asterisk's side (``time.monotonic`` seconds).

    ``first_command_s``: the environment written -> the first command read. ``think_s``: a
    reply written -> the next command read, i.e. the server's think time plus the loopback hop.
    """

    first_command_s: float | None = None
    think_s: list[float] = field(default_factory=list)


# The channel's own time per command when paced like a real call: a prompt plays for its
# length (endpos samples at 8 kHz), a caller types a digit in about a second, and a wait for
# digits nobody presses lasts its timeout.
_SAMPLES_PER_S = 8000
_SECONDS_PER_KEY = 1.0
_SILENT_WAIT_S = 5.0  # a wait of -1 (forever) that nobody answers: the caller's patience


def media_seconds(line: str, reply: str) -> float:
    """Seconds a real channel spends on ``line`` before Asterisk writes ``reply``."""
    argv = parse_args(line)
    words = [a.lower() for a in argv[:2]]
    result = reply.split("result=", 1)[-1].split(" ", 1)[0] if "result=" in reply else ""
    if words == ["stream", "file"]:
        endpos = reply.rsplit("endpos=", 1)[-1] if "endpos=" in reply else "0"
        return int(endpos) / _SAMPLES_PER_S if endpos.isdigit() else 0.0
    if words == ["get", "data"]:
        prompt = _PLAYED_SAMPLES / _SAMPLES_PER_S
        if "(timeout)" in reply and not result:
            timeout_ms = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 5000
            return prompt + timeout_ms / 1000
        return prompt + _SECONDS_PER_KEY * max(1, len(result))
    if words == ["wait", "for"]:
        if result not in ("", "0", "-1"):
            return _SECONDS_PER_KEY
        timeout = argv[3] if len(argv) > 3 else "-1"
        return int(timeout) / 1000 if timeout.isdigit() else _SILENT_WAIT_S
    if words == ["say", "digits"]:
        return 0.6 * len(argv[2]) if len(argv) > 2 else 0.0
    if words == ["say", "number"]:
        return 1.5
    return 0.0


class _Usage(Exception):
    """RESULT_SHOWUSAGE in res_agi.c."""


class _Call:
    def __init__(
        self,
        *,
        channel: str,
        uniqueid: str,
        linkedid: str,
        callerid: str,
        calleridname: str,
        language: str,
        behaviour: CallerBehaviour,
        channel_variables: dict[str, str],
        sound_exists: Callable[[str], bool],
    ) -> None:
        self.keys = list(behaviour.digits)
        self.hangup_after = behaviour.hangup_after
        self.sound_exists = sound_exists
        self.answered = 0
        self.dead = False
        self.failed = False
        self.set_variables: dict[str, str] = {}
        self.builtins = {
            "CHANNEL": channel,
            "CHANNEL(name)": channel,
            "UNIQUEID": uniqueid,
            "CHANNEL(uniqueid)": uniqueid,
            "CHANNEL(linkedid)": linkedid,
            "CALLERID(num)": callerid,
            "CALLERID(name)": calleridname,
            "CALLERID(all)": f'"{calleridname}" <{callerid}>',
            "CHANNEL(language)": language,
            "LANGUAGE()": language,
            **channel_variables,
        }

    # --- keys -------------------------------------------------------------------------------
    def _take_key(self, allowed: str | None) -> str | None:
        """The next key if the caller presses one now (and it is allowed), else None."""
        if not self.keys:
            return None
        entry = self.keys[0]
        if entry == "":
            return None
        if allowed is not None and entry[0] not in allowed:
            return None
        self.keys.pop(0)
        if len(entry) > 1:
            self.keys.insert(0, entry[1:])
        return entry[0]

    def _take_entry(self) -> str:
        return self.keys.pop(0) if self.keys else ""

    def lookup(self, name: str) -> str | None:
        if name in self.set_variables:
            return self.set_variables[name]
        return self.builtins.get(name)

    # --- commands ---------------------------------------------------------------------------
    def answer(self, argv: list[str]) -> str:
        return "200 result=0"

    def channel_status(self, argv: list[str]) -> str:
        if len(argv) > 3:
            raise _Usage
        return "200 result=6"  # AST_STATE_UP

    def noop(self, argv: list[str]) -> str:
        return "200 result=0"

    def stream_file(self, argv: list[str]) -> str:
        if len(argv) < 4 or len(argv) > 5:
            raise _Usage
        if not self.sound_exists(argv[2]):
            log.info("模拟 Asterisk: 找不到声音文件 / sim: file %s does not exist", argv[2])
            self.failed = True
            self.builtins["PLAYBACKSTATUS"] = "FAILED"
            return "200 result=-1 endpos=0"
        self.builtins["PLAYBACKSTATUS"] = "SUCCESS"
        key = self._take_key(argv[3]) if argv[3] else None
        if key is not None:
            return f"200 result={ord(key)} endpos={_INTERRUPTED_SAMPLES}"
        return f"200 result=0 endpos={_PLAYED_SAMPLES}"

    def get_data(self, argv: list[str]) -> str:
        if len(argv) < 3:
            raise _Usage
        max_digits = int(argv[4]) if len(argv) >= 5 and argv[4].isdigit() else 1024
        if not self.sound_exists(argv[2]):
            # app.c: the prompt fails to stream, ast_app_getdata returns -1
            return "200 result=-1"
        entry = self._take_entry()
        digits = ""
        terminated = False
        for i, ch in enumerate(entry):
            if ch == "#":
                terminated = True
                rest = entry[i + 1 :]
                break
            digits += ch
            if len(digits) >= max_digits:
                terminated = True
                rest = entry[i + 1 :]
                break
        else:
            rest = ""
        if rest:
            self.keys.insert(0, rest)
        return f"200 result={digits}" if terminated else f"200 result={digits} (timeout)"

    def wait_for_digit(self, argv: list[str]) -> str:
        if len(argv) != 4:
            raise _Usage
        try:
            int(argv[3])
        except ValueError:
            raise _Usage from None
        if self.keys and self.keys[0] == "":
            self.keys.pop(0)
            return "200 result=0"
        key = self._take_key(None)
        return f"200 result={ord(key)}" if key is not None else "200 result=0"

    def say_digits(self, argv: list[str]) -> str:
        if len(argv) != 4:
            raise _Usage
        key = self._take_key(argv[3]) if argv[3] else None
        return f"200 result={ord(key)}" if key is not None else "200 result=0"

    def say_number(self, argv: list[str]) -> str:
        if len(argv) < 4 or len(argv) > 5:
            raise _Usage
        try:
            int(argv[2])
        except ValueError:
            raise _Usage from None
        key = self._take_key(argv[3]) if argv[3] else None
        return f"200 result={ord(key)}" if key is not None else "200 result=0"

    def set_variable(self, argv: list[str]) -> str:
        if len(argv) != 4:
            raise _Usage
        self.set_variables[argv[2]] = argv[3]
        return "200 result=1"

    def get_variable(self, argv: list[str]) -> str:
        if len(argv) != 3:
            raise _Usage
        value = self.lookup(argv[2])
        return "200 result=0" if value is None else f"200 result=1 ({value})"

    def get_full_variable(self, argv: list[str]) -> str:
        if len(argv) < 4 or len(argv) > 5:
            raise _Usage
        name = argv[3].removeprefix("${").removesuffix("}")
        value = self.lookup(name)
        return "200 result=0" if value is None else f"200 result=1 ({value})"

    def hangup(self, argv: list[str]) -> str:
        if len(argv) > 2:
            raise _Usage
        if len(argv) == 2 and argv[1] != self.builtins["CHANNEL"]:
            return "200 result=-1"
        self.dead = True
        return "200 result=1"

    def exec_(self, argv: list[str]) -> str:
        if len(argv) < 2:
            raise _Usage
        if argv[1].lower() not in _APPLICATIONS:
            return "200 result=-2"
        return "200 result=0"

    def verbose(self, argv: list[str]) -> str:
        if len(argv) < 2 or len(argv) > 3:
            raise _Usage
        return "200 result=1"


# (words, handler, allowed on a dead channel, usage text) as res_agi.c's command table
_Handler = Callable[[_Call, list[str]], str]
_COMMANDS: list[tuple[tuple[str, ...], _Handler, bool, str]] = [
    (
        ("answer",),
        _Call.answer,
        False,
        "Answers channel if not already in answer state. Returns -1 on\n"
        " channel failure, or 0 if successful.",
    ),
    (
        ("channel", "status"),
        _Call.channel_status,
        False,
        "Returns the status of the specified channel.",
    ),
    (
        ("exec",),
        _Call.exec_,
        True,
        "Executes application with given options. Returns whatever the\n"
        " application returns, or -2 on failure to find application.",
    ),
    (
        ("get", "data"),
        _Call.get_data,
        False,
        "Stream the given file, and receive DTMF data.\n"
        " Returns the digits received from the channel at the other end.",
    ),
    (
        ("get", "full", "variable"),
        _Call.get_full_variable,
        True,
        "Evaluates the given expression\n"
        " against the channel specified by channelname, or the current channel.",
    ),
    (
        ("get", "variable"),
        _Call.get_variable,
        True,
        "Returns 0 if variablename is not set. Returns 1\n"
        " if variablename is set and returns the variable in parentheses.",
    ),
    (
        ("hangup",),
        _Call.hangup,
        False,
        "Hangs up the specified channel. If no channel name is given,\n"
        " hangs up the current channel",
    ),
    (("noop",), _Call.noop, True, "Does nothing."),
    (
        ("say", "digits"),
        _Call.say_digits,
        False,
        "Say a given digit string, returning early if any of\n"
        " the given DTMF digits are received on the channel.",
    ),
    (
        ("say", "number"),
        _Call.say_number,
        False,
        "Say a given number, returning early if any of the\n"
        " given DTMF digits are received on the channel.",
    ),
    (("set", "variable"), _Call.set_variable, True, "Sets a variable to the current channel."),
    (
        ("stream", "file"),
        _Call.stream_file,
        False,
        "Send the given file, allowing playback to be\n"
        " interrupted by the given digits, if any. Use double quotes for the digits if you wish\n"
        " none to be permitted. Returns 0 if playback completes without a digit being pressed,\n"
        " or the ASCII numerical value of the digit if one was pressed, or -1 on error or if the\n"
        " channel was disconnected.",
    ),
    (
        ("verbose",),
        _Call.verbose,
        True,
        "Sends message to the console via verbose message system.\n"
        " level is the verbose level (1-4). Always returns 1.",
    ),
    (
        ("wait", "for", "digit"),
        _Call.wait_for_digit,
        False,
        "Waits up to timeout milliseconds for\n"
        " channel to receive a DTMF digit. Returns -1 on channel failure, 0 if no digit is\n"
        " received in the timeout, or the numerical value of the ascii of the digit if one is\n"
        " received.",
    ),
]


def parse_args(line: str) -> list[str]:
    """Split a command line like res_agi.c's ``parse_args``: double quotes group, a backslash
    escapes the next character, ``""`` is an empty argument."""
    argv: list[str] = []
    current: list[str] = []
    in_arg = False
    quoted = False
    escaped = False
    for ch in line:
        if escaped:
            current.append(ch)
            in_arg = True
            escaped = False
        elif ch == "\\":
            escaped = True
            in_arg = True
        elif ch == '"':
            quoted = not quoted
            in_arg = True
        elif ch in " \t" and not quoted:
            if in_arg:
                argv.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(ch)
            in_arg = True
    if in_arg:
        argv.append("".join(current))
    return argv


def _find_command(argv: list[str]) -> tuple[tuple[str, ...], _Handler, bool, str] | None:
    best = None
    for entry in _COMMANDS:
        words = entry[0]
        matches = len(words) <= len(argv) and all(
            w == a.lower() for w, a in zip(words, argv, strict=False)
        )
        if matches and (best is None or len(words) > len(best[0])):
            best = entry
    return best


def _respond(call: _Call, line: str) -> list[str]:
    """The reply lines res_agi.c's ``agi_handle_command`` writes for one command line."""
    argv = parse_args(line)
    found = _find_command(argv) if argv else None
    if found is None:
        return ["510 Invalid or unknown command"]
    _, handler, allowed_dead, usage = found
    if call.dead and not allowed_dead:
        return [_DEAD_CHANNEL]
    try:
        return [handler(call, argv)]
    except _Usage:
        if not usage:
            return ["520 Invalid command syntax.  Proper usage not available."]
        return [
            "520-Invalid command syntax.  Proper usage follows:",
            *usage.split("\n"),
            "520 End of proper usage.",
        ]


def _split_url(url: str) -> tuple[str, int, str, str, list[str]]:
    """``agi://host[:port][/script[?query]][,arg1,arg2]`` -> host, port, script, request, args."""
    base, *args = url.split(",")
    parts = urlsplit(base)
    if parts.scheme not in ("agi", "hagi"):
        raise ValueError(f"不是 FastAGI 地址 / not a FastAGI URL: {url}")
    script = parts.path.lstrip("/")
    if parts.query:
        script += "?" + parts.query
    return parts.hostname or "127.0.0.1", parts.port or AGI_DEFAULT_PORT, script, base, args


def environment_lines(
    *,
    request: str,
    script: str,
    channel: str,
    uniqueid: str,
    callerid: str,
    calleridname: str,
    dnid: str,
    context: str,
    extension: str,
    language: str = "en",
    args: list[str] | None = None,
) -> list[str]:
    """The ``agi_*`` block in res_agi.c's order (``setup_env``), ending with the empty line."""
    tech = channel.split("/", 1)[0] if "/" in channel else channel
    lines = ["agi_network: yes"]
    if script:
        lines.append(f"agi_network_script: {script}")
    lines += [
        f"agi_request: {request}",
        f"agi_channel: {channel}",
        f"agi_language: {language}",
        f"agi_type: {tech}",
        f"agi_uniqueid: {uniqueid}",
        f"agi_version: {ASTERISK_VERSION}",
        f"agi_callerid: {callerid or 'unknown'}",
        f"agi_calleridname: {calleridname or 'unknown'}",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        f"agi_dnid: {dnid or 'unknown'}",
        "agi_rdnis: unknown",
        f"agi_context: {context}",
        f"agi_extension: {extension}",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        f"agi_threadid: {140202580211456 + (hash(uniqueid) & 0xFFFF)}",
    ]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args or [], start=1)]
    lines.append("")
    return lines


async def run_fastagi_call(
    url: str,
    *,
    channel: str,
    uniqueid: str,
    linkedid: str,
    callerid: str,
    calleridname: str,
    dnid: str = "12349",
    context: str = "hotline-inbound",
    extension: str = "12349",
    behaviour: CallerBehaviour | None = None,
    channel_variables: dict[str, str] | None = None,
    sounds: Collection[str] | Callable[[str], bool] | None = None,
    language: str = "en",
    timeout: float = 120.0,
    pace: Callable[[str, str], float] | None = None,
    trace: AgiTrace | None = None,
) -> AgiOutcome:
    """Run ``AGI(url)`` on one channel and return AGISTATUS, the variables set and the commands.

    ``channel_variables`` are variables the channel already carries (Originate's ``Variable``);
    ``sounds`` names the sound files that exist (a collection or a predicate; None: all do).
    ``timeout`` bounds a script that never ends (Asterisk would wait forever).
    ``pace(line, reply)`` gives the seconds the channel takes before replying (e.g.
    :func:`media_seconds` scaled); ``trace`` collects the waits the server causes.
    """
    behaviour = behaviour or CallerBehaviour()
    host, port, script, request, args = _split_url(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
        )
    except (TimeoutError, OSError) as exc:
        log.warning("Couldn't connect to any host.  FastAGI failed. (%s:%s: %s)", host, port, exc)
        return AgiOutcome(status="FAILURE")
    if sounds is None:
        exists: Callable[[str], bool] = lambda _name: True  # noqa: E731
    elif callable(sounds):
        exists = sounds
    else:
        names = sounds
        exists = lambda name: name in names  # noqa: E731
    call = _Call(
        channel=channel,
        uniqueid=uniqueid,
        linkedid=linkedid,
        callerid=callerid,
        calleridname=calleridname,
        language=language,
        behaviour=behaviour,
        channel_variables=dict(channel_variables or {}),
        sound_exists=exists,
    )
    outcome = AgiOutcome(status="SUCCESS")
    deadline = time.monotonic() + timeout
    try:
        env = environment_lines(
            request=request,
            script=script,
            channel=channel,
            uniqueid=uniqueid,
            callerid=callerid,
            calleridname=calleridname,
            dnid=dnid,
            context=context,
            extension=extension,
            language=language,
            args=args,
        )
        writer.write(("\n".join(env) + "\n").encode("utf-8"))
        if call.hangup_after == 0:
            call.dead = True
            writer.write(b"HANGUP\n")
        await writer.drain()
        written_at = time.monotonic()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "模拟 Asterisk: AGI 脚本超时 / sim: AGI script %s did not finish", request
                )
                if not call.dead:
                    call.failed = True
                break
            try:
                raw = await asyncio.wait_for(reader.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                break  # the script closed the socket: the AGI application returns
            if trace is not None:
                waited = time.monotonic() - written_at
                if trace.first_command_s is None:
                    trace.first_command_s = waited
                else:
                    trace.think_s.append(waited)
            line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
            outcome.commands.append(line)
            was_dead = call.dead
            replies = _respond(call, line)
            outcome.replies.extend(replies)
            if pace is not None and not was_dead:
                delay = pace(line, replies[-1])
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(("\n".join(replies) + "\n").encode("utf-8"))
            call.answered += 1
            if (
                not was_dead
                and call.hangup_after is not None
                and call.answered >= call.hangup_after
            ):
                call.dead = True
                writer.write(b"HANGUP\n")
            elif not was_dead and call.dead:
                writer.write(b"HANGUP\n")  # the script hung the channel up itself
            await writer.drain()
            written_at = time.monotonic()
    except (ConnectionError, OSError) as exc:
        log.info("模拟 Asterisk: AGI 连接中断 / sim: AGI connection dropped: %s", exc)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    outcome.variables = dict(call.set_variables)
    if call.dead:
        outcome.status = "HANGUP"
    elif call.failed:
        outcome.status = "FAILURE"
    return outcome
