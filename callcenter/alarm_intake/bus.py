"""Domain events of one intake batch, published together once the batch has committed.

The bus publishes one message per event; a burst of alarms would pay a Redis round trip per
alarm before the next batch could start. This publisher collects the batch's events (they are
handed over only after the commit, as always) and sends them in one pipeline, in order, on the
same channel the bus uses (``<namespace>:events``), so every subscriber sees the same stream.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from platform_core.events import Envelope, EventBus

log = logging.getLogger(__name__)


class BatchPublisher:
    def __init__(self, bus: EventBus, *, redis_url: str, namespace: str) -> None:
        self.bus = bus
        self.channel = f"{namespace}:events"
        self._redis: Any = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def session_bus(self) -> _Collector:
        return _Collector(self)

    def send(self, envelopes: list[Envelope]) -> None:
        if not envelopes:
            return
        if self._redis is None:
            for env in envelopes:
                self.bus.publish(env)
            return
        pipe = self._redis.pipeline(transaction=False)
        for env in envelopes:
            pipe.publish(self.channel, json.dumps(env, ensure_ascii=False))
        pipe.execute()


class _Collector:
    """Stands in for the bus in one session: keeps what the commit publishes until flush()."""

    def __init__(self, publisher: BatchPublisher) -> None:
        self.publisher = publisher
        self.envelopes: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def flush(self) -> None:
        try:
            self.publisher.send(self.envelopes)
        except Exception:  # committed already: log, as the bus itself does
            log.exception("事件发布失败 / publishing %d events failed", len(self.envelopes))
        self.envelopes = []
