"""Settings of a long-running service process (console, callcenter, worker) that Python leaves
to us: the garbage collector's pace, and dying together with the process that started us.

CPython's cyclic garbage collector stops every thread of the process while it walks the objects
of the generation it collects. Its default thresholds (a young collection every 700 new container
objects, a full one after 100 young ones) suit short scripts; a service holding hundreds of
thousands of objects (a thousand console sockets, callcenter's calls and agents) then pays a
full walk of 120-190 ms several times a minute, and every request or AMI event in flight waits
for it: it was the largest part of the console's and callcenter's p99 in their benchmarks.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import threading

# Young collections after 50,000 new container objects; a full one after 20 x 20 of them.
GC_THRESHOLDS = (50_000, 20, 20)

# How long a thread may hold the interpreter lock while another waits for it (CPython: 5 ms).
SWITCH_INTERVAL_S = 0.0005

_settled = False
_lock = threading.Lock()


def favour_waiting_threads(interval_s: float = SWITCH_INTERVAL_S) -> None:
    """Shorten the interval after which a thread holding the interpreter lock hands it over.

    A service's writer thread waits on PostgreSQL several times per batch while another thread
    parses what the network brings without pause; with the default 5 ms interval each of those
    waits could cost the writer a whole interval before it had the lock back: a one-alarm batch
    of eight statements took 30-50 ms in the alarm benchmark, an AGI command's think time grew
    by as much per database call, and the AMI writer fell behind the reader.
    """
    sys.setswitchinterval(interval_s)


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


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Have Linux send ``sig`` to this process when ``parent_pid``, the process that started it,
    dies, however it dies (kill -9 included); exit at once if it already has.

    A forked helper (RQ's scheduler) holds copies of its parent's sockets, database connections
    among them: outliving a killed parent, it kept the parent's session open inside a
    transaction, holding row locks nobody would ever release. Call it in the child, first thing.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


_forks_die_with_us = False


def forks_die_with_this_process(sig: int = signal.SIGTERM) -> None:
    """Every process forked from this one from now on dies with it (``die_with_parent``)."""
    global _forks_die_with_us
    with _lock:
        if _forks_die_with_us:
            return
        _forks_die_with_us = True
    # the pid of the process that forks, read in the parent at each fork
    forking: list[int] = []
    os.register_at_fork(
        before=lambda: forking.append(os.getpid()),
        after_in_parent=lambda: forking.clear(),
        after_in_child=lambda: die_with_parent(forking.pop() if forking else os.getppid(), sig),
    )
