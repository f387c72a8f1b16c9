"""Counting failed attempts per source address in a sliding window (login throttling).

With Redis the count is shared by every console process (one key per address, expiring with
its window); on embedded defaults it lives in the process. Only failures count: a colleague's
successful login from the same office address never unlocks an attacker's.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from platform_core import clock


class AttemptThrottle(Protocol):
    def blocked(self, key: str) -> bool: ...

    def fail(self, key: str) -> int: ...


class MemoryThrottle:
    """In-process fixed windows: ``limit`` failures per ``window_s`` per key."""

    def __init__(self, *, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _current(self, key: str, now: float) -> int:
        started, count = self._counts.get(key, (now, 0))
        return 0 if now - started >= self.window_s else count

    def blocked(self, key: str) -> bool:
        with self._lock:
            return self.limit > 0 and self._current(key, time.monotonic()) >= self.limit

    def fail(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 100_000:  # a flood of addresses: forget the old windows
                self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window_s}
            started, count = self._counts.get(key, (now, 0))
            if now - started >= self.window_s:
                started, count = now, 0
            self._counts[key] = (started, count + 1)
            return count + 1


class RedisThrottle:
    """The same windows in Redis, shared by every process of the deployment."""

    def __init__(self, client: Any, namespace: str, *, limit: int, window_s: int) -> None:
        self.client, self.namespace = client, namespace
        self.limit, self.window_s = limit, window_s

    def _key(self, key: str) -> str:
        window = int(clock.now().timestamp()) // self.window_s
        return f"{self.namespace}:throttle:{key}:{window}"

    def blocked(self, key: str) -> bool:
        raw = self.client.get(self._key(key))
        return self.limit > 0 and raw is not None and int(raw) >= self.limit

    def fail(self, key: str) -> int:
        name = self._key(key)
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, self.window_s)
        count, _ = pipe.execute()
        return int(count)
