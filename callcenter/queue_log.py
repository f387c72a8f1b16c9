"""Asterisk's queue_log, read after the fact: what happened in the queues while callcenter was
away (killed, restarting, its link to Asterisk down).

AMI is a stream: what Asterisk sent while nobody listened is gone, and the lists a resync reads
(CoreShowChannels, QueueStatus) show only the calls still there. app_queue also writes every
queue event to its queue_log (``/var/log/asterisk/queue_log``, main/logger.c's format
``<epoch>|<callid>|<queue>|<agent>|<event>|<data>...``, callid the caller channel's Uniqueid,
agent the member's MemberName). Read at every resync, it tells how a caller we lost sight of
fared (answered by whom, after what wait, for how long; abandoned; timed out) and which callers
came and went entirely while we were away.

The follower keeps the file open and reads only what was appended since the last read; a
rotated file (``logger rotate``: renamed, a new one opened) is read to its end, then the new
one from its start; a truncated one from its start. Lines older than ``lookback_s`` are left
out, and a caller once settled is forgotten.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from platform_core import clock
from platform_core.calls.schemas import QueueHistory, QueueStay
from platform_core.db import fit_channel_id

log = logging.getLogger(__name__)

# logger.c formats a line into 8 KB; anything longer is no line of Asterisk's
MAX_LINE = 8192
# What ends a stay in the queue (app_queue's queue_log events).
_UNANSWERED = {
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "timeout",
    "EXITWITHKEY": "timeout",
}
_COMPLETE = {
    "COMPLETECALLER": "caller",
    "COMPLETEAGENT": "agent",
    "BLINDTRANSFER": "transfer",
    "ATTENDEDTRANSFER": "transfer",
    "TRANSFER": "transfer",
}


@dataclass(frozen=True)
class QueueLogLine:
    at: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def parse_line(raw: str) -> QueueLogLine | None:
    """One line, or None when it is no queue_log line."""
    parts = raw.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return None
    try:
        at = float(int(parts[0]))
    except ValueError:
        return None
    return QueueLogLine(
        at=at,
        callid=parts[1],
        queue=parts[2],
        agent=parts[3],
        event=parts[4],
        data=tuple(parts[5:]),
    )


def _int(data: tuple[str, ...], i: int) -> int | None:
    """Field ``i`` (negative: from the end) as a count or duration, or None."""
    if (i if i >= 0 else -i - 1) >= len(data):
        return None
    try:
        value = int(data[i])
    except ValueError:
        return None
    return value if 0 <= value < 2**31 else None


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class QueueLogFollower:
    def __init__(self, path: str | Path, *, lookback_s: float = 86400.0) -> None:
        self.path = Path(path)
        self.lookback_s = lookback_s
        self.lines_read = 0
        self.unreadable = 0
        self._file: BinaryIO | None = None
        self._inode: int | None = None
        self._partial = b""
        self._calls: dict[str, list[QueueLogLine]] = {}
        self._settled: dict[str, float] = {}
        self._missing_logged = False
        self._lock = threading.Lock()

    def read_histories(self) -> list[QueueHistory]:
        """Read what was appended, then every caller's history (one resync's view)."""
        with self._lock:
            self._read()
            return self._histories()

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> int:
        """Read what was appended since the last call; the number of lines taken in. Never
        raises for the file: a missing or unreadable one is logged and reads as nothing."""
        with self._lock:
            return self._read()

    def _read(self) -> int:
        taken = 0
        try:
            if self._file is None and not self._open():
                return 0
            taken += self._drain()
            st = os.stat(self.path)
            assert self._file is not None
            if st.st_ino != self._inode or st.st_size < self._file.tell():
                # rotated (a new file under the name) or truncated: start the new one
                self._close()
                if self._open():
                    taken += self._drain()
        except OSError as exc:
            log.warning("queue_log 读取失败 / queue_log unreadable: %s", exc)
            self._close()
        self._forget_old()
        return taken

    def _open(self) -> bool:
        try:
            self._file = self.path.open("rb")
        except FileNotFoundError:
            if not self._missing_logged:
                log.warning("queue_log 不存在 / no queue_log at %s (yet)", self.path)
                self._missing_logged = True
            return False
        self._missing_logged = False
        self._inode = os.fstat(self._file.fileno()).st_ino
        self._partial = b""
        return True

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._inode, self._partial = None, None, b""

    def _drain(self) -> int:
        assert self._file is not None
        chunk = self._file.read()
        if not chunk:
            return 0
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE:
            self._partial = b""
            self.unreadable += 1
        oldest = clock.now().timestamp() - self.lookback_s
        taken = 0
        for raw in complete:
            self.lines_read += 1
            line = (
                parse_line(raw.decode("utf-8", errors="replace")) if len(raw) <= MAX_LINE else None
            )
            if line is None:
                self.unreadable += 1
                continue
            callid = fit_channel_id(line.callid)
            if callid in ("", "NONE") or line.at < oldest or callid in self._settled:
                continue
            self._calls.setdefault(callid, []).append(line)
            taken += 1
        return taken

    def _forget_old(self) -> None:
        oldest = clock.now().timestamp() - self.lookback_s
        for callid in [c for c, lines in self._calls.items() if lines[-1].at < oldest]:
            del self._calls[callid]
        for callid in [c for c, at in self._settled.items() if at < oldest]:
            del self._settled[callid]

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- what it tells ------------------------------------------------------------------------

    def histories(self) -> list[QueueHistory]:
        """Every caller with a stay in a queue, in the order they entered."""
        with self._lock:
            return self._histories()

    def _histories(self) -> list[QueueHistory]:
        out = [h for h in (history_of(c, ls) for c, ls in self._calls.items()) if h is not None]
        return sorted(out, key=lambda h: h.first_at)

    def settled(self, uniqueids: Collection[str]) -> None:
        """These callers are in the records for good: read no more about them."""
        with self._lock:
            self._settle(uniqueids)

    def _settle(self, uniqueids: Collection[str]) -> None:
        for callid in uniqueids:
            lines = self._calls.pop(callid, None)
            self._settled[callid] = lines[-1].at if lines else clock.now().timestamp()

    @property
    def pending(self) -> int:
        return len(self._calls)


def history_of(callid: str, lines: list[QueueLogLine]) -> QueueHistory | None:
    """A caller's stays from its lines (in file order); None when it never entered a queue."""
    stays: list[QueueStay] = []
    caller = ""
    for line in lines:
        at = _when(line.at)
        current = stays[-1] if stays else None
        if line.event == "ENTERQUEUE":
            if current is not None and current.outcome is None:
                current.outcome, current.ended_at = "timeout", at  # left it for another queue
            caller = caller or (line.data[1] if len(line.data) > 1 else "")
            stays.append(
                QueueStay(queue=line.queue, entered_at=at, position=_int(line.data, 2) or 0)
            )
        elif current is None or line.queue != current.queue:
            continue  # about a stay we have no start of
        elif line.event == "CONNECT":
            current.outcome = "answered"
            current.member_name = line.agent
            current.hold_s = _int(line.data, 0)
            current.member_uniqueid = fit_channel_id(line.data[1]) if len(line.data) > 1 else ""
            current.connected_at = at
        elif line.event in _COMPLETE and current.outcome == "answered":
            reason = _COMPLETE[line.event]
            # each ends holdtime|talktime|original position (a transfer says where first)
            current.hold_s = _int(line.data, -3) if current.hold_s is None else current.hold_s
            current.talk_s = _int(line.data, -2)
            current.complete_reason = reason
            current.ended_at = at
        elif line.event in _UNANSWERED and current.outcome is None:
            current.outcome = _UNANSWERED[line.event]
            first = 1 if line.event == "EXITWITHKEY" else 0  # the key pressed comes first
            current.hold_s = _int(line.data, first + 2)
            current.ended_at = at
        elif line.event == "RINGNOANSWER" and current.outcome is None:
            current.rang_out.append((line.agent, _int(line.data, 0) or 0, at))
    if not stays:
        return None
    return QueueHistory(
        uniqueid=callid,
        caller_number=caller,
        stays=stays,
        last_at=_when(lines[-1].at),
    )
