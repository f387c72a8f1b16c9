"""What a piece of work leaves for the cycle collector, counted by type."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable


def cyclic_garbage(work: Callable[[], object]) -> Counter[str]:
    """The objects ``work`` left in reference cycles (freed only by a collection), by type."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        return Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
