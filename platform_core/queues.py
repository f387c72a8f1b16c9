"""Taking work from a queue a batch at a time, for the writer threads that batch their writes
(the alarm intake's lanes and low-priority work, the IVR's session records)."""

from __future__ import annotations

import queue
import time
from typing import Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Source(Protocol[T_co]):
    def get(self, block: bool = True, timeout: float | None = None) -> T_co | None: ...

    def get_nowait(self) -> T_co | None: ...


def take_batch(source: _Source[T], limit: int, *, linger_s: float = 0.0) -> tuple[list[T], bool]:
    """Wait for one item, then take what else is queued (or arrives within ``linger_s``), up to
    ``limit`` items. ``None`` in the queue marks its end: the items before it are returned with
    True, and nothing after it is taken."""
    first = source.get()
    if first is None:
        return [], True
    batch = [first]
    deadline = time.monotonic() + linger_s
    while len(batch) < limit:
        wait = deadline - time.monotonic()
        try:
            item = source.get(timeout=wait) if wait > 0 else source.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False
