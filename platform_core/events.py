"""Domain events: written to the outbox during a unit of work, published only after its commit.

Services call ``publish_on_commit(session, event)`` (platform_core.outbox: the platform's one
after-commit mechanism, imported here for them). Subscribers receive plain envelopes
(``{"id", "type", "occurred_at", "region_code", "data"}``) whether the bus is in-process or
Redis pub/sub, so the console relays both the same way. An envelope with a ``once`` key (an
event two processes may both publish: the screen pop, from the screen-pop service and from the
writer) goes out at most once, whoever publishes it first (:data:`ONCE_KEPT_S`). Redis pub/sub
forgets what is published while a subscriber is away: a subscriber passes ``on_gap`` and is
told after every reconnect, so its clients re-fetch a snapshot; events the outbox relays late
(Redis was down when they committed) follow, in order, with their original ``occurred_at``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Protocol

import redis

from platform_core import clock
from platform_core.outbox.service import publish_on_commit

__all__ = ["DomainEvent", "EventBus", "InProcessEventBus", "RedisEventBus", "publish_on_commit"]

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
Handler = Callable[[Envelope], None]


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """Base of past-tense domain events. ``region_code`` routes it to the right audience."""

    type_name: ClassVar[str] = ""

    def once(self) -> str | None:
        """What makes this event one of a kind when more than one process may publish it
        (None: each publication is a new event)."""
        return None

    def envelope(self) -> Envelope:
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        envelope = {
            "id": uuid.uuid4().hex,
            "type": self.type_name or type(self).__name__,
            "occurred_at": clock.now().isoformat(),
            "region_code": data.get("region_code"),
            "data": data,
        }
        once = self.once()
        if once is not None:
            envelope["once"] = once
        return envelope


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# How long an envelope's ``once`` key is remembered: far longer than a ring lasts.
ONCE_KEPT_S = 3600


class _OnceSeen:
    """The ``once`` keys an in-process bus published lately (it is one process's bus)."""

    def __init__(self, most: int = 100_000) -> None:
        self.most = most
        self._seen: dict[str, float] = {}

    def first(self, key: str) -> bool:
        now = time.monotonic()
        at = self._seen.get(key)
        if at is not None and now - at < ONCE_KEPT_S:
            return False
        if len(self._seen) >= self.most:
            self._seen.clear()
        self._seen[key] = now
        return True


class EventBus(Protocol):
    def publish(self, envelope: Envelope) -> None: ...

    def publish_many(self, envelopes: list[Envelope]) -> None:
        """The envelopes in order, at once (one transaction's events: one round trip)."""
        ...

    def subscribe(
        self,
        handler: Handler,
        *,
        on_gap: Callable[[], None] | None = None,
        types: Collection[str] | None = None,
    ) -> Callable[[], None]:
        """``handler`` for every event, or only for those of ``types``."""
        ...

    def close(self) -> None: ...


class InProcessEventBus:
    """Delivers on one dispatcher thread, in publish order, like a pub/sub subscriber would."""

    def __init__(self) -> None:
        self._handlers: list[tuple[Handler, frozenset[str] | None]] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[Envelope | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="event-bus", daemon=True)
        self._thread.start()
        self._once = _OnceSeen()
        self._once_lock = threading.Lock()

    def publish(self, envelope: Envelope) -> None:
        self.publish_many([envelope])

    def publish_many(self, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            once = envelope.get("once")
            if once is not None:
                with self._once_lock:
                    if not self._once.first(once):
                        continue
            self._queue.put(envelope)

    def subscribe(
        self,
        handler: Handler,
        *,
        on_gap: Callable[[], None] | None = None,
        types: Collection[str] | None = None,
    ) -> Callable[[], None]:
        entry = (handler, None if types is None else frozenset(types))
        with self._lock:
            self._handlers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def _run(self) -> None:
        while True:
            env = self._queue.get()
            if env is None:
                return
            with self._lock:
                handlers = list(self._handlers)
            for h, types in handlers:
                if types is not None and env.get("type") not in types:
                    continue
                try:
                    h(env)
                except Exception:
                    log.exception("事件处理失败 / event handler failed: %s", env.get("type"))
            self._queue.task_done()

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far was delivered (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self._queue.put(None)


# Claim the envelope's key and publish it in one step (a script runs alone on the server).
_PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[3])) then
    return redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return -1
"""


class RedisEventBus:
    """Redis pub/sub on ``<namespace>:events``; one listener thread that survives restarts."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        # bounded waits: a vanished Redis fails a publish in seconds (the outbox keeps the event)
        self._redis = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
        self._url = redis_url
        self.channel = f"{namespace}:events"
        self._handlers: list[tuple[Handler, Callable[[], None] | None, frozenset[str] | None]] = []
        # the quoted names of the types some handler wants (None: every event is wanted)
        self._wanted: list[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()

    def publish(self, envelope: Envelope) -> None:
        self.publish_many([envelope])

    def publish_many(self, envelopes: list[Envelope]) -> None:
        """One pipeline, in order: a batch of the AMI writer or the alarm intake is hundreds of
        events, a round trip each otherwise; a failure raises, and the outbox keeps the row. An
        envelope with a ``once`` key is published by a script that first claims the key, so
        of two processes publishing it the first wins and the other publishes nothing."""
        pipe = self._redis.pipeline(transaction=False)
        for envelope in envelopes:
            message = json.dumps(envelope, ensure_ascii=False)
            once = envelope.get("once")
            if once is None:
                pipe.publish(self.channel, message)
            else:
                # EVAL, not a registered script: redis-py asks SCRIPT EXISTS before every
                # pipeline holding one, a round trip more per batch of pops
                pipe.eval(
                    _PUBLISH_ONCE,
                    1,
                    f"{self.channel}:once:{once}",
                    self.channel,
                    message,
                    ONCE_KEPT_S,
                )
        pipe.execute()

    def subscribe(
        self,
        handler: Handler,
        *,
        on_gap: Callable[[], None] | None = None,
        types: Collection[str] | None = None,
    ) -> Callable[[], None]:
        entry = (handler, on_gap, None if types is None else frozenset(types))
        with self._lock:
            self._handlers.append(entry)
            self._note_wanted()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="event-bus-redis", daemon=True
                )
                self._thread.start()
        self._subscribed.wait(5)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)
                    self._note_wanted()

        return unsubscribe

    def _note_wanted(self) -> None:
        if any(types is None for _h, _g, types in self._handlers):
            self._wanted = None
        else:
            names = {name for _h, _g, types in self._handlers for name in types or ()}
            self._wanted = [json.dumps(name).encode() for name in sorted(names)]

    def _listen(self) -> None:
        backoff = 0.2
        first = True
        while not self._stop.is_set():
            try:
                pubsub = redis.Redis.from_url(self._url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._subscribed.set()
                if not first:
                    self._notify_gap()
                first = False
                backoff = 0.2
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None or msg.get("type") != "message":
                        continue
                    wanted = self._wanted
                    if wanted is not None and not any(name in msg["data"] for name in wanted):
                        # an event no handler here wants is not even decoded: the alarm
                        # intake hears its own burst of AlarmRaised, hundreds at once
                        continue
                    try:
                        env = json.loads(msg["data"])
                    except ValueError:
                        log.error("无法解析的事件 / undecodable event on %s", self.channel)
                        continue
                    self._deliver(env)
                pubsub.close()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning(
                    "Redis 事件订阅断开, %.1fs 后重连 / subscriber lost Redis: %s", backoff, exc
                )
                self._subscribed.set()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _deliver(self, env: Envelope) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for h, _g, types in handlers:
            if types is not None and env.get("type") not in types:
                continue
            try:
                h(env)
            except Exception:
                log.exception("事件处理失败 / event handler failed: %s", env.get("type"))

    def _notify_gap(self) -> None:
        with self._lock:
            gaps = [g for _h, g, _t in self._handlers if g is not None]
        for g in gaps:
            try:
                g()
            except Exception:
                log.exception("on_gap 回调失败 / on_gap callback failed")

    def close(self) -> None:
        self._stop.set()
