"""The AGI channel: typed commands and replies over one FastAGI connection.

This is the only module that touches pyst2. Its reply grammar (``re_code`` splitting the status
code, ``re_kv`` reading ``key=value (data)`` pairs) is right for most lines and is used as is.
The rest of pyst2's ``AGI`` class cannot serve FastAGI on Python 3, so this module replaces it:

- ``AGI.__init__`` installs a SIGHUP handler, which only the main thread may do: a server that
  runs its event loop in any other thread (the one-process demo) dies on the first call. Here
  nothing touches signals; a hangup arrives as the ``HANGUP`` line, as FastAGI sends it.
- ``AGI`` reads and writes text streams; a socket carries bytes (callers' names are UTF-8). Here
  the asyncio stream is read as bytes and decoded per line, so a character split across two
  TCP segments is never cut.
- ``AGI.get_result`` raises ``ValueError`` on the bare ``HANGUP`` line (``int('')``) and loses
  the empty ``200 result= (timeout)`` reply of GET DATA (``re_kv`` needs a non-empty value).
  Here ``HANGUP`` marks the channel hung up and the reply that follows is read; the empty form
  is recognised before ``re_kv`` runs.
- ``AGI`` treats every ``result=-1`` as a hangup; STREAM FILE answers ``result=-1 endpos=0``
  when only the file is missing. Here the reply is typed and the caller of the command decides.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asterisk import agi as pyst2_agi

log = logging.getLogger(__name__)

_EMPTY_RESULT = re.compile(r"^result=\s*(?:\((?P<data>.*)\))?\s*$")
_DIGITS = frozenset("0123456789*#ABCD")
# res_agi.c reads at most this many bytes of one line; a longer line is not AGI.
MAX_LINE = 8192


class AgiError(pyst2_agi.AGIError):
    """The AGI conversation failed."""


class AgiHangup(AgiError, pyst2_agi.AGIHangup):
    """The caller hung up or the connection to Asterisk is gone."""

    def __init__(self, message: str, *, reason: str = "hangup") -> None:
        super().__init__(message)
        self.reason = reason  # "hangup" (HANGUP line, 511, -1) or "lost" (EOF, dead socket)


class AgiProtocolError(AgiError):
    """A line that is not AGI: garbage, truncated or too long."""


class AgiInvalidCommand(AgiError, pyst2_agi.AGIInvalidCommand):
    """510: Asterisk does not know the command."""


class AgiUsageError(AgiError, pyst2_agi.AGIUsageError):
    """520: the command's arguments were wrong; ``usage`` holds Asterisk's explanation."""

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


@dataclass(frozen=True)
class AgiReply:
    """One ``200 result=...`` reply."""

    code: int
    result: str
    data: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def endpos(self) -> int | None:
        value = self.fields.get("endpos")
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError as exc:
            raise AgiProtocolError(
                f"结果不是整数 / result is not an integer: {self.raw!r}"
            ) from exc


@dataclass(frozen=True)
class Playback:
    """STREAM FILE: the key that interrupted it (if any), where it stopped, whether it failed."""

    digit: str | None
    endpos: int
    failed: bool  # the file is missing or unplayable


@dataclass(frozen=True)
class DigitsEntered:
    """GET DATA: what the caller keyed and whether the entry ended by timeout."""

    digits: str
    timed_out: bool


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` block Asterisk sends before the first command."""

    values: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    @property
    def network_script(self) -> str:
        """The script path after ``agi://host[:port]/``, without a query string."""
        return self.get("agi_network_script").split("?", 1)[0].strip("/")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def callerid(self) -> str:
        value = self.get("agi_callerid")
        return "" if value == "unknown" else value

    @property
    def calleridname(self) -> str:
        value = self.get("agi_calleridname")
        return "" if value == "unknown" else value

    @property
    def dnid(self) -> str:
        value = self.get("agi_dnid")
        return "" if value == "unknown" else value

    @property
    def args(self) -> list[str]:
        out = []
        n = 1
        while f"agi_arg_{n}" in self.values:
            out.append(self.values[f"agi_arg_{n}"])
            n += 1
        return out


def parse_reply_line(line: str) -> AgiReply:
    """Parse one ``200 ...`` line with pyst2's grammar, plus the empty-result form it misses."""
    m = pyst2_agi.re_code.search(line)
    code_text, response = m.groups() if m else ("", line)
    if not code_text:
        raise AgiProtocolError(f"无法识别的应答 / not an AGI reply: {line!r}")
    code = int(code_text)
    if code != 200:
        raise AgiProtocolError(f"意外的应答码 / unexpected reply code: {line!r}")
    empty = _EMPTY_RESULT.match(response.strip())
    if empty:
        return AgiReply(code=code, result="", data=empty.group("data"), raw=line)
    pairs = pyst2_agi.re_kv.findall(response)
    if not pairs or pairs[0][0] != "result":
        raise AgiProtocolError(f"应答缺少 result / reply without result=: {line!r}")
    fields = {key: value for key, value, _ in pairs}
    result, data = pairs[0][1], pairs[0][2]
    return AgiReply(
        code=code, result=result, data=data if "(" in response else None, fields=fields, raw=line
    )


def quote(value: str | int) -> str:
    """Quote an argument the way res_agi.c's ``parse_args`` reads it back."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def read_environment(reader: asyncio.StreamReader, *, timeout: float) -> AgiEnvironment:
    """Read the ``agi_*`` block up to its empty line, all of it within ``timeout``."""
    values: dict[str, str] = {}
    try:
        # one deadline for the block, not a timer for each of its twenty-odd lines: the lines
        # come in one segment, and the timers cost more than reading them
        async with asyncio.timeout(timeout):
            while True:
                line = await _next_line(reader)
                if line is None:
                    raise AgiHangup(
                        "AGI 环境未完整即断开 / connection closed inside the environment",
                        reason="lost",
                    )
                if line == "":
                    break
                key, sep, value = line.partition(":")
                if not sep or not key.startswith("agi_"):
                    raise AgiProtocolError(
                        f"不是 AGI 环境行 / not an AGI environment line: {line[:80]!r}"
                    )
                # "agi_accountcode: " carries an empty value after the separator's space
                values[key.strip()] = value[1:] if value.startswith(" ") else value
    except TimeoutError as exc:
        raise AgiHangup(
            "读取 AGI 环境超时 / timed out reading the AGI environment", reason="lost"
        ) from exc
    if "agi_request" not in values:
        raise AgiProtocolError("AGI 环境缺少 agi_request / environment without agi_request")
    return AgiEnvironment(values)


async def _read_line(reader: asyncio.StreamReader, timeout: float) -> str | None:
    """One line without its ``\\n`` (a ``\\r`` before it is tolerated); None at end of stream."""
    try:
        # asyncio.timeout, not wait_for: wait_for wraps every read in a task of its own, and
        # the server reads a line per command for hundreds of calls at once
        async with asyncio.timeout(timeout):
            return await _next_line(reader)
    except TimeoutError as exc:
        raise AgiHangup(
            "Asterisk 无应答 / no reply from Asterisk (dead socket)", reason="lost"
        ) from exc


async def _next_line(reader: asyncio.StreamReader) -> str | None:
    """:func:`_read_line` without a deadline of its own (the caller's covers it)."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise AgiProtocolError(f"截断的行 / truncated line: {exc.partial[:80]!r}") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise AgiProtocolError("行过长 / line too long") from exc
    except (ConnectionError, OSError) as exc:
        raise AgiHangup(f"连接中断 / connection lost: {exc}", reason="lost") from exc
    return raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")


class AgiChannel:
    """One call's AGI conversation. Commands run one at a time, as the protocol requires."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: AgiEnvironment,
        *,
        reply_timeout: float = 60.0,
        on_round_trip: Callable[[str, float], None] | None = None,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._reply_timeout = reply_timeout
        self._on_round_trip = on_round_trip
        self.hung_up = False
        self.commands_sent = 0

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command and read its reply; HANGUP lines on the way mark the channel."""
        line = " ".join([verb, *(str(a) for a in args)])
        if "\n" in line or "\r" in line:
            raise AgiProtocolError("命令中不能有换行 / a command cannot contain a line break")
        started = time.perf_counter()
        try:
            self._writer.write(line.encode("utf-8") + b"\n")
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise AgiHangup(f"连接中断 / connection lost: {exc}", reason="lost") from exc
        self.commands_sent += 1
        reply = await self._read_reply(timeout or self._reply_timeout)
        if self._on_round_trip is not None:
            self._on_round_trip(verb, time.perf_counter() - started)
        return reply

    async def _read_reply(self, timeout: float) -> AgiReply:
        while True:
            text = await _read_line(self._reader, timeout)
            if text is None:
                self.hung_up = True
                raise AgiHangup(
                    "Asterisk 关闭了连接 / Asterisk closed the connection", reason="lost"
                )
            if text == "HANGUP":
                self.hung_up = True
                continue
            if text.startswith("511"):
                self.hung_up = True
                raise AgiHangup(f"通道已挂断 / dead channel: {text}")
            if text.startswith("510"):
                raise AgiInvalidCommand(text)
            if text.startswith("520-"):
                usage = [text]
                while True:
                    more = await _read_line(self._reader, timeout)
                    if more is None:
                        raise AgiHangup(
                            "用法说明未完即断开 / closed inside a 520 usage", reason="lost"
                        )
                    usage.append(more)
                    if more.startswith("520 "):
                        break
                raise AgiUsageError("\n".join(usage))
            if text.startswith("520"):
                raise AgiUsageError(text)
            return parse_reply_line(text)

    def _hangup_if_minus_one(self, reply: AgiReply, what: str) -> None:
        if reply.result == "-1":
            self.hung_up = True
            raise AgiHangup(f"{what} 时通道挂断 / channel hung up during {what}")

    async def answer(self) -> None:
        self._hangup_if_minus_one(await self.command("ANSWER"), "ANSWER")

    async def stream_file(
        self, name: str, escape_digits: str = "", *, timeout: float | None = None
    ) -> Playback:
        """Play a sound file; a key in ``escape_digits`` stops it and is returned."""
        _check_digits(escape_digits)
        reply = await self.command("STREAM FILE", name, quote(escape_digits), timeout=timeout)
        endpos = reply.endpos or 0
        if reply.result == "-1":
            if endpos == 0 and not self.hung_up:
                return Playback(digit=None, endpos=0, failed=True)
            self.hung_up = True
            raise AgiHangup("放音时通道挂断 / channel hung up during STREAM FILE")
        code = reply.result_int()
        return Playback(digit=chr(code) if code > 0 else None, endpos=endpos, failed=False)

    async def get_data(self, name: str, *, timeout_ms: int, max_digits: int) -> DigitsEntered:
        """Play ``name`` and collect up to ``max_digits`` keys (``#`` ends early)."""
        reply = await self.command(
            "GET DATA",
            name,
            int(timeout_ms),
            int(max_digits),
            timeout=self._media_timeout(timeout_ms),
        )
        self._hangup_if_minus_one(reply, "GET DATA")
        return DigitsEntered(digits=reply.result, timed_out=reply.timed_out)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """One key within ``timeout_ms``, or None."""
        reply = await self.command(
            "WAIT FOR DIGIT", int(timeout_ms), timeout=self._media_timeout(timeout_ms)
        )
        self._hangup_if_minus_one(reply, "WAIT FOR DIGIT")
        code = reply.result_int()
        return chr(code) if code > 0 else None

    async def set_variable(self, name: str, value: str | int) -> None:
        await self.command("SET VARIABLE", quote(name), quote(value))

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", quote(name))
        return reply.data if reply.result == "1" else None

    async def exec(self, application: str, *args: str) -> int:
        """Run a dialplan application; -2 means Asterisk does not know it."""
        reply = await self.command("EXEC", application, *(quote(",".join(args)),) if args else ())
        self._hangup_if_minus_one(reply, f"EXEC {application}")
        return reply.result_int()

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", quote(message), int(level))

    async def hangup(self) -> None:
        await self.command("HANGUP")
        self.hung_up = True

    def _media_timeout(self, timeout_ms: int) -> float:
        # prompts play before the digit timer starts: allow the prompt plus the wait
        return self._reply_timeout + timeout_ms / 1000.0

    async def close(self) -> None:
        try:
            self._writer.close()
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def _check_digits(digits: str) -> None:
    bad = set(digits) - _DIGITS
    if bad:
        raise ValueError(f"不是按键 / not DTMF keys: {''.join(sorted(bad))}")
