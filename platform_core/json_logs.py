"""One JSON object per log line, for the log collector that keeps them (see compose.yaml).

Fields: ``time`` (ISO 8601 in the hotline's zone, from the record's own timestamp), ``level``,
``logger``, ``message``, ``process``, ``thread`` and ``exception`` when there is one. The
message is the one the handler's filters left (``log_masking`` masks phones and ID numbers
before any formatter runs).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo


class JsonFormatter(logging.Formatter):
    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        super().__init__()
        self.zone = ZoneInfo(timezone)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, self.zone).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def use_json(timezone: str, logger: logging.Logger | None = None) -> None:
    """Every handler of ``logger`` (the root logger by default) writes JSON lines."""
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(JsonFormatter(timezone))
