"""The simulated Asterisk's queue_log: one line per queue event, as main/logger.c writes it.

``<epoch>|<callid>|<queue>|<agent>|<event>|<data1>|<data2>|...`` where callid is the caller
channel's Uniqueid, agent the member's MemberName ("NONE" when no member is involved) and the
data fields are app_queue's for that event (ENTERQUEUE url|callerid|original position, CONNECT
holdtime|member channel's Uniqueid|ring seconds, COMPLETECALLER/COMPLETEAGENT
holdtime|talktime|original position, ABANDON and EXITWITHTIMEOUT position|original
position|wait, RINGNOANSWER and RINGCANCELED milliseconds, BLINDTRANSFER
exten|context|holdtime|talktime|original position). Each line is flushed as it is written, as
Asterisk does, so a reader on the same file sees it at once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO


class QueueLogWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")
        self.write("NONE", "NONE", "NONE", "QUEUESTART", "")

    def write(self, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        if self._file is None:
            return
        fields = "|".join(str(d) for d in data)
        self._file.write(
            f"{int(time.time())}|{callid}|{queue}|{agent or 'NONE'}|{event}|{fields}\n"
        )
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
