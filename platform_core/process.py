"""Settings of a long-running service process (console, callcenter) that Python leaves to us.

CPython's cyclic garbage collector stops every thread of the process while it walks the objects
of the generation it collects. Its default thresholds (a young collection every 700 new container
objects, a full one after 100 young ones) suit short scripts; a service holding hundreds of
thousands of objects (a thousand console sockets, callcenter's calls and agents) then pays a
full walk of 120-190 ms several times a minute, and every request or AMI event in flight waits
for it: it was the largest part of the console's and callcenter's p99 in their benchmarks.
"""

from __future__ import annotations

import gc
import threading

# Young collections after 50,000 new container objects; a full one after 20 x 20 of them.
GC_THRESHOLDS = (50_000, 20, 20)

_settled = False
_lock = threading.Lock()


def settle_service_process() -> None:
    """Freeze what start-up built and space out collections; once per process.

    Call it when the service has loaded everything it keeps for its lifetime (modules, the app,
    caches). Frozen objects are never scanned again; garbage is still collected, cycles among
    young objects at the next young collection.
    """
    global _settled
    with _lock:
        if _settled:
            return
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        _settled = True


def is_settled() -> bool:
    return _settled
