"""The one AMI connection, built on panoramisk 1.4 with its verified faults fixed here.

What is kept from panoramisk: its ``AMIProtocol`` (transport handling), ``Action`` (ActionID
generation and the ``Key: value`` serialisation, repeated keys for ``Variable``) and ``Message``
(the case-insensitive message every handler reads). What is replaced, and why:

- ``data_received`` decoded every TCP read on its own with ``errors="ignore"``: a Chinese caller
  name split across two reads lost its character. Here one incremental UTF-8 decoder spans reads.
- A block holding two messages without the blank line between them (a "merged block") made
  panoramisk raise inside ``data_received`` (``Event`` became a list), and asyncio then closed
  the connection. Here such a block is split where the second message starts, each message is
  parsed on its own, and nothing a message contains can raise out of the reader.
- ``Action.multi`` guessed list responses from the message text, so ``QueueAdd`` ("Added
  interface to queue") waited for a Complete event that never comes. Here an action is a list
  only when Asterisk says so (``EventList: start``).
- ``Manager`` retried a refused password forever, and after a reconnect re-sent every action
  that had no answer (an Originate could ring an elder twice). Here a refused login is retried a
  bounded number of times and then raised; an action whose connection dropped fails with
  :class:`AmiConnectionLost` ("outcome unknown") and is never sent again.
- panoramisk re-split everything buffered on every read (and so did this adapter's first
  reader): an unterminated block grew quadratically, 8 MB held the event loop for seconds.
  Here each read is scanned once, from where the last scan stopped, and a block longer than
  ``max_block_chars`` is counted, dropped up to its end, and never buffered whole.
- After a login whose follow-up (the resync) fails, the connection is closed before the next
  attempt, and a keep-alive pings only the connection it was started for: a timed-out resync
  once left the old connection open (its events read twice) and two keep-alives running.
- Events are handed to one callback that only enqueues: Asterisk drops a client that reads
  slower than its 100 ms write timeout, so the reader never waits on a database.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOL = "\r\n"
_BLOCK_END = re.compile(r"\r?\n\r?\n")
# A block end is at most 4 characters: a scan that resumes keeps this many from the last read.
_CARRY = 3
# Asterisk's largest messages (a CoreShowChannel item with every channel variable) are a few
# kilobytes; a megabyte without a blank line is a broken peer, not a message.
MAX_BLOCK_CHARS = 1 << 20
_BANNER_MAX = 1024

MessageCallback = Callable[[Message, float], None]


class AmiError(Exception):
    """Base of the adapter's errors."""


class AmiAuthenticationFailed(AmiError):
    """Asterisk refused the AMI username or secret."""


class AmiConnectionLost(AmiError):
    """The connection dropped before the action was answered: its outcome is unknown."""


class AmiActionTimeout(AmiError):
    """Asterisk did not answer the action in time."""


class AmiNotConnected(AmiError):
    """No authenticated AMI connection right now."""


@dataclass
class AmiStats:
    """Counters a supervisor or a test can read; nothing here is ever reset by a reconnect."""

    bytes_received: int = 0
    messages: int = 0
    events: int = 0
    responses: int = 0
    malformed: int = 0
    merged_blocks: int = 0
    unmatched_responses: int = 0
    callback_errors: int = 0
    connects: int = 0
    disconnects: int = 0
    auth_failures: int = 0
    lost_actions: int = 0
    timeouts: int = 0
    skipped: int = 0  # events read but not parsed (not in accept_events)
    oversized_blocks: int = 0  # blocks longer than max_block_chars, dropped unread
    stale_reads: int = 0  # reads on a connection we already closed (dropped)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class ListResponse:
    """The answer to an EventList action: the ack, the item events, the Complete event."""

    response: Message
    items: list[Message] = field(default_factory=list)
    complete: Message | None = None


def _message(store: dict[str, tuple[str, Any]]) -> Message:
    """A panoramisk Message from an already lower-cased ``key -> (key, value)`` store.

    Message's constructor lower-cases every key again through MutableMapping.update; at
    thousands of messages a second that is most of the reader's time, so the store it keeps
    internally is built here in the same pass that splits the lines.
    """
    m = Message.__new__(Message)
    store.setdefault("content", ("content", ""))
    m._store = store  # type: ignore[attr-defined]
    m.manager = None
    return m


def _parse_plain(block: str) -> Message | None:
    """The common case, fast: one CRLF message whose every line is ``Key: value`` and whose
    only Event/Response lines are where Asterisk puts them. Anything else returns None and goes
    through the careful parser."""
    if block.count("\n") != block.count("\r\n"):
        return None
    store: dict[str, tuple[str, Any]] = {}
    first = True
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            return None
        low = key.lower()
        if first:
            if low != "event" and low != "response":
                return None
            first = False
        elif low == "event" or (low == "response" and "response" in store):
            return None  # a merged block
        _store_field(store, low, key, value)
    return _message(store) if store else None


def _store_field(store: dict[str, tuple[str, Any]], low: str, key: str, value: str) -> None:
    # a repeated key (ChanVariable) collects its values into a list, in order
    current = store.get(low)
    if current is None:
        store[low] = (key, value)
    elif isinstance(current[1], list):
        current[1].append(value)
    else:
        store[low] = (current[0], [current[1], value])


def parse_block(block: str, stats: AmiStats | None = None) -> list[Message]:
    """Parse one blank-line-delimited block into messages, never raising.

    A line without a colon is counted as malformed and skipped (the banner excepted). A second
    ``Event:`` or ``Response:`` line inside a block starts a new message (a merged block).
    Repeated keys (``ChanVariable``) collect into a list, in order.
    """
    plain = _parse_plain(block)
    if plain is not None:
        return [plain]
    messages: list[Message] = []
    store: dict[str, tuple[str, Any]] = {}
    for raw in block.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or key[0] == " " or key[-1] == " ":
            if not line.startswith("Asterisk Call Manager/") and stats is not None:
                stats.malformed += 1
                log.warning("AMI 无法解析的行 / malformed AMI line: %.120r", line)
            continue
        if value[:1] == " ":
            value = value[1:]
        low = key.lower()
        # An event may carry a Response header (OriginateResponse); a response never carries
        # an Event header. So a second message starts at "Event:" after Event or Response, or
        # at "Response:" after another Response.
        if (low == "event" and ("event" in store or "response" in store)) or (
            low == "response" and "response" in store
        ):
            if stats is not None:
                stats.merged_blocks += 1
            messages.append(_message(store))
            store = {}
        _store_field(store, low, key, value)
    if store:
        if "event" in store or "response" in store:
            messages.append(_message(store))
        elif stats is not None:
            stats.malformed += 1
            log.warning(
                "AMI 消息缺少 Event/Response / message without Event or Response: %.120r", block
            )
    return messages


class Fields(dict[str, Any]):
    """A message's headers keyed in lower case, read with any case: the typed events read
    dozens of fields per message, and this costs one pass instead of a lower() and a
    MutableMapping detour per read."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, key.lower(), default)


def fields_of(message: Message) -> Fields:
    """The headers of a panoramisk Message (which keeps ``lower-case key -> (key, value)``)."""
    store = getattr(message, "_store", None)
    if isinstance(store, dict):
        return Fields({k: v[1] for k, v in store.items()})
    return Fields({k.lower(): v for k, v in message.items()})


def split_stream(text: str) -> list[str]:
    """Split a captured AMI stream (CRLF or LF) into blocks."""
    return [b for b in _BLOCK_END.split(text) if b.strip()]


class _Pending:
    def __init__(self, action: Action, loop: asyncio.AbstractEventLoop) -> None:
        self.action = action
        self.future: asyncio.Future[Message | ListResponse] = loop.create_future()
        self.listing: ListResponse | None = None


class HotlineAmiProtocol(AMIProtocol):
    """panoramisk's protocol with a reader that keeps multi-byte characters whole, splits
    merged blocks, matches responses by ActionID only, scans each byte once, and never raises."""

    client: AmiClient

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._banner = ""
        # The block being read: its pieces (joined once, when its end arrives), their length,
        # and whether it outgrew the bound and is being skipped to its end.
        self._pieces: list[str] = []
        self._pending = 0
        self._carry = ""
        self._skipping = False
        self.banner_seen = asyncio.get_running_loop().create_future()

    def send(self, data: Any, as_list: bool = False) -> Any:  # panoramisk's entry point
        raise NotImplementedError("use AmiClient.send_action")

    def write_action(self, action: Action) -> None:
        self.transport.write(str(action).encode("utf-8"))

    def data_received(self, data: bytes) -> None:
        stats = self.client.stats
        stats.bytes_received += len(data)
        if self.closed:  # closed by us (a failed follow-up, a dead peer): nothing more from it
            stats.stale_reads += 1
            return
        received_at = time.time()
        try:
            text = self._decoder.decode(data)
        except Exception:  # noqa: BLE001 - the decoder replaces; belt and braces
            log.exception("AMI 解码失败 / AMI decode failed")
            return
        if not self.banner_seen.done():
            text = self._read_banner(text)
            if not text:
                return
        for block in self._blocks(text):
            self._deliver(block, received_at)

    def _read_banner(self, text: str) -> str:
        """Take the banner line off the front; what follows it is returned."""
        self._banner += text
        head, sep, rest = self._banner.partition("\n")
        if not sep and len(self._banner) < _BANNER_MAX:
            return ""
        self._banner = ""
        if sep and head.startswith("Asterisk Call Manager/"):
            self.version = head.rstrip("\r").partition("/")[2]
        else:
            rest = head + sep + rest  # no banner: it is all message text
        self.banner_seen.set_result(self.version)
        return rest

    def _blocks(self, text: str) -> list[str]:
        """The blocks this read completes, scanning only ``text`` (and the few characters the
        last read ended with): the cost of a read is its own length, however long the block."""
        out: list[str] = []
        pos = 0
        if self._pieces or self._skipping:
            window = self._carry + text
            m = _BLOCK_END.search(window)
            if m is None:
                self._carry = window[-_CARRY:]
                if not self._skipping:
                    self._pieces.append(text)
                    self._pending += len(text)
                    self._check_size()
                return out
            carried = len(self._carry)
            end = m.start() - carried  # negative: the block end began in the carry
            if self._skipping:
                self._skipping = False
            else:
                head = "".join(self._pieces)
                out.append(head[: len(head) + end] if end < 0 else head + text[:end])
            self._pieces, self._pending, self._carry = [], 0, ""
            pos = m.end() - carried
        for m in _BLOCK_END.finditer(text, pos):
            out.append(text[pos : m.start()])
            pos = m.end()
        if pos < len(text):
            rest = text[pos:]
            self._pieces, self._pending, self._carry = [rest], len(rest), rest[-_CARRY:]
            self._check_size()
        return out

    def _check_size(self) -> None:
        if self._pending <= self.client.max_block_chars:
            return
        self.client.stats.oversized_blocks += 1
        log.error(
            "AMI 消息超过 %d 字符且无结束空行, 丢弃至其结尾 / AMI block longer than %d characters "
            "without an end: dropped up to its end (starts %.80r)",
            self.client.max_block_chars,
            self.client.max_block_chars,
            self._pieces[0] if self._pieces else "",
        )
        self._pieces, self._pending, self._skipping = [], 0, True

    def _deliver(self, block: str, received_at: float) -> None:
        if not block or block.isspace():
            return
        stats = self.client.stats
        accept = self.client.accept_events
        if accept is not None and block.startswith("Event: "):
            # Asterisk sends far more events than the service acts on; read the name only
            # and drop the rest unparsed, so the reader keeps up with the socket.
            end = block.find("\n")
            name = (block[7:] if end < 0 else block[7:end]).rstrip("\r")
            if name not in accept:
                stats.events += 1
                stats.skipped += 1
                return
        for message in parse_block(block, stats):
            try:
                self.client._on_message(message, received_at)
            except Exception:  # noqa: BLE001 - a bad message must not close the connection
                stats.callback_errors += 1
                log.exception("AMI 消息处理失败 / AMI message handling failed")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.banner_seen.done():
            self.banner_seen.set_exception(
                AmiConnectionLost("连接在问候前断开 / closed before banner")
            )
        self.client._on_connection_lost(self, exc)

    def close(self) -> None:
        # panoramisk's close() queues unanswered actions to send again after a reconnect;
        # an action whose outcome is unknown must never run twice, so only close here.
        if not self.closed:
            self.closed = True
            self.transport.close()


class AmiClient:
    """One authenticated AMI connection with keep-alive, bounded login retries and reconnects.

    ``on_message`` receives every event (and every response nobody waits for) with the time it
    was read; it runs on the event loop and must only enqueue. ``on_connected`` runs after each
    successful login (the service resyncs there).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_message: MessageCallback | None = None,
        on_connected: Callable[[AmiClient], Awaitable[None]] | None = None,
        auth: str = "md5",
        events: str = "on",
        action_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        ping_interval: float = 10.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 30.0,
        auth_retries: int = 3,
        accept_events: frozenset[str] | None = None,
        max_block_chars: int = MAX_BLOCK_CHARS,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.auth = auth.lower()
        self.events = events
        self.on_message = on_message
        self.on_connected = on_connected
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.auth_retries = max(1, auth_retries)
        self.stats = AmiStats()
        # Event names worth parsing (None: all); responses and list items are always parsed.
        self.accept_events = accept_events
        self.max_block_chars = max_block_chars
        self.version: str | None = None
        self._protocol: HotlineAmiProtocol | None = None
        self._protocol_lost: HotlineAmiProtocol | None = None
        self._pending: dict[str, _Pending] = {}
        self._action_listeners: dict[str, Callable[[Message], None]] = {}
        self._authenticated = False
        self._closing = False
        self._lost: asyncio.Event | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._connected_event: asyncio.Event | None = None

    # -- connection ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._authenticated and self._protocol is not None and not self._protocol.closed

    async def connect(self) -> None:
        """Connect and log in once, then run ``on_connected``; raise AmiAuthenticationFailed,
        AmiError, OSError or what ``on_connected`` raised (the connection is closed then)."""
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        if self._connected_event is None:
            self._connected_event = asyncio.Event()

        def factory() -> HotlineAmiProtocol:
            proto = HotlineAmiProtocol()
            proto.client = self
            return proto

        _, protocol = await asyncio.wait_for(
            loop.create_connection(factory, self.host, self.port), timeout=self.connect_timeout
        )
        self._protocol = protocol
        self.stats.connects += 1
        try:
            self.version = await asyncio.wait_for(
                asyncio.shield(protocol.banner_seen), self.connect_timeout
            )
            await self._login()
        except BaseException:
            protocol.close()
            raise
        self._authenticated = True
        self._connected_event.set()
        log.info("AMI 已登录 %s:%s (%s) / AMI logged in", self.host, self.port, self.version)
        if self._ping_task is not None:
            self._ping_task.cancel()
            self._ping_task = None
        if self.ping_interval > 0:
            self._ping_task = loop.create_task(self._keepalive(protocol))
        if self.on_connected is not None:
            try:
                await self.on_connected(self)
            except BaseException:
                # A connection whose follow-up failed is closed here: left open, its events
                # would still arrive next to the new connection's, and its keep-alive with them.
                self._drop(protocol)
                raise

    def _drop(self, protocol: HotlineAmiProtocol) -> None:
        """Close ``protocol`` now and forget everything that belonged to it."""
        if not protocol.closed:
            protocol.closed = True
            protocol.transport.abort()
        self._on_connection_lost(protocol, None)

    async def _login(self) -> None:
        if self.auth == "md5":
            challenge = await self.send_action(
                {"Action": "Challenge", "AuthType": "MD5"}, require_login=False
            )
            if challenge.get("Response") != "Success" or not challenge.get("Challenge"):
                raise AmiError(f"MD5 质询失败 / MD5 challenge refused: {challenge.get('Message')}")
            key = hashlib.md5((challenge["Challenge"] + self.secret).encode("utf-8")).hexdigest()
            login = {"Action": "Login", "AuthType": "MD5", "Username": self.username, "Key": key}
        else:
            login = {"Action": "Login", "Username": self.username, "Secret": self.secret}
        login["Events"] = self.events
        # Asterisk answers a refused login only after a 1 s sleep: allow for it.
        resp = await self.send_action(login, timeout=self.action_timeout + 1.5, require_login=False)
        if resp.get("Response") != "Success":
            self.stats.auth_failures += 1
            raise AmiAuthenticationFailed(
                f"AMI 登录被拒绝 (用户 {self.username!r}): {resp.get('Message')} / AMI login refused"
            )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stay connected until ``stop`` is set: back off between attempts, give up only on a
        password refused ``auth_retries`` times in a row (raised as AmiAuthenticationFailed)."""
        stop = stop or asyncio.Event()
        delay = self.reconnect_initial
        refused = 0
        while not stop.is_set() and not self._closing:
            try:
                await self.connect()
            except AmiAuthenticationFailed:
                refused += 1
                log.error(
                    "AMI 认证失败 %d/%d / AMI authentication failed", refused, self.auth_retries
                )
                if refused >= self.auth_retries:
                    raise
            except (TimeoutError, OSError, AmiError) as exc:
                log.warning(
                    "AMI 连接失败 %s:%s: %r / AMI connect failed", self.host, self.port, exc
                )
            except Exception:  # noqa: BLE001 - a fault after login must not end the service
                log.exception("AMI 登录后处理失败, 将重连 / AMI follow-up after login failed")
            else:
                refused = 0
                delay = self.reconnect_initial
                assert self._lost is not None
                lost = asyncio.ensure_future(self._lost.wait())
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
                lost.cancel()
                stopped.cancel()
                if stop.is_set():
                    break
                log.warning("AMI 连接断开, 将重连 / AMI connection lost, reconnecting")
            jitter = delay * random.uniform(0.8, 1.2)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=jitter)
            delay = min(delay * 2, self.reconnect_max)
        await self.close()

    async def wait_connected(self, timeout: float | None = None) -> None:
        if self._connected_event is None:
            self._connected_event = asyncio.Event()
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def close(self) -> None:
        self._closing = True
        if self._ping_task is not None:
            self._ping_task.cancel()
        proto = self._protocol
        if proto is not None and not proto.closed:
            if self._authenticated:
                with contextlib.suppress(AmiError, OSError):
                    await self.send_action(
                        {"Action": "Logoff"}, timeout=min(1.0, self.action_timeout)
                    )
            proto.close()

    def abort(self) -> None:
        """Drop the connection now (a dead peer); the run loop reconnects."""
        if self._protocol is not None and not self._protocol.closed:
            self._protocol.transport.abort()

    async def _keepalive(self, protocol: HotlineAmiProtocol) -> None:
        """Ping ``protocol`` (and only it) until it closes."""
        while not protocol.closed:
            await asyncio.sleep(self.ping_interval)
            if protocol.closed:
                return
            try:
                await self.send_action({"Action": "Ping"}, protocol=protocol)
            except AmiActionTimeout:
                log.error("AMI Ping 无应答, 断开重连 / AMI ping unanswered, reconnecting")
                protocol.transport.abort()
                return
            except AmiError:
                return

    def _on_connection_lost(self, protocol: HotlineAmiProtocol, exc: Exception | None) -> None:
        if protocol is not self._protocol or self._protocol_lost is protocol:
            return
        self._protocol_lost = protocol
        self._authenticated = False
        self.stats.disconnects += 1
        if self._connected_event is not None:
            self._connected_event.clear()
        if self._ping_task is not None:
            self._ping_task.cancel()
            self._ping_task = None
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                self.stats.lost_actions += 1
                p.future.set_exception(
                    AmiConnectionLost(
                        f"AMI 连接断开, 动作 {p.action.get('Action')} 结果未知, 不会重发 / "
                        "connection lost, outcome unknown, not re-sent"
                    )
                )
        if self._lost is not None:
            self._lost.set()

    # -- actions ------------------------------------------------------------------------------

    async def send_action(
        self,
        fields: dict[str, Any],
        *,
        timeout: float | None = None,
        require_login: bool = True,
        protocol: HotlineAmiProtocol | None = None,
    ) -> Any:
        """Send one action; return its response Message, or a :class:`ListResponse` when
        Asterisk answers with ``EventList: start``. Raise AmiActionTimeout, AmiConnectionLost,
        AmiNotConnected. Never re-sent by this adapter. ``protocol``: only on that connection
        (AmiNotConnected once it is no longer the current one)."""
        proto = self._protocol
        if protocol is not None and protocol is not proto:
            raise AmiNotConnected("AMI 连接已更换 / that AMI connection was replaced")
        if proto is None or proto.closed or (require_login and not self._authenticated):
            raise AmiNotConnected("AMI 未连接 / AMI not connected")
        action = Action(dict(fields))
        action_id = str(action.action_id)
        pending = _Pending(action, asyncio.get_running_loop())
        self._pending[action_id] = pending
        proto.write_action(action)
        try:
            return await asyncio.wait_for(
                asyncio.shield(pending.future), timeout or self.action_timeout
            )
        except TimeoutError:
            self.stats.timeouts += 1
            raise AmiActionTimeout(
                f"AMI 动作 {fields.get('Action')} 超时 / action timed out (ActionID {action_id})"
            ) from None
        finally:
            self._pending.pop(action_id, None)

    def listen_action(
        self, action_id: str, callback: Callable[[Message], None]
    ) -> Callable[[], None]:
        """Receive events that carry ``action_id`` after its response (OriginateResponse)."""
        self._action_listeners[action_id] = callback
        return lambda: self._action_listeners.pop(action_id, None)

    def _on_message(self, message: Message, received_at: float) -> None:
        self.stats.messages += 1
        action_id = message.get("ActionID")
        if isinstance(action_id, list):
            action_id = action_id[0]
        is_event = "Event" in message
        if action_id:
            pending = self._pending.get(action_id)
            if pending is not None and self._complete(pending, message, is_event):
                return
            listener = self._action_listeners.get(action_id)
            if listener is not None and is_event:
                listener(message)
        if is_event:
            self.stats.events += 1
            if self.on_message is not None:
                self.on_message(message, received_at)
        else:
            self.stats.responses += 1
            if not action_id or action_id not in self._pending:
                self.stats.unmatched_responses += 1

    def _complete(self, pending: _Pending, message: Message, is_event: bool) -> bool:
        """Route a message to its waiting action; True when it belonged to it."""
        if pending.future.done():
            return False
        if not is_event:
            self.stats.responses += 1
            if str(message.get("EventList", "")).lower() == "start":
                pending.listing = ListResponse(response=message)
            else:
                pending.future.set_result(message)
            return True
        if pending.listing is None:
            return False  # an event after a plain response (e.g. OriginateResponse)
        self.stats.events += 1
        if str(message.get("EventList", "")).lower() == "complete":
            pending.listing.complete = message
            pending.future.set_result(pending.listing)
        else:
            pending.listing.items.append(message)
        return True
