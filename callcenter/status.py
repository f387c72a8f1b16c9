"""callcenter's readiness and counters, written to a small JSON file every second.

A supervisor, a container health check or a fault drill reads it (``hotline callcenter
status``) without any connection to callcenter: ready means logged in to Asterisk, the resync
of this connection applied, and the database taking the writer's work. A file older than a
few seconds belongs to a process that is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from platform_core import clock
from platform_core.settings import Settings

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
# A status older than this was written by a process that no longer runs (or is stuck).
STALE_AFTER_S = 5.0


def status_path(settings: Settings) -> Path:
    if settings.callcenter_status_file:
        return Path(settings.callcenter_status_file)
    return settings.data_dir / "callcenter-status.json"


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the file in one step (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(status, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written, with ``stale`` (its writer is gone) and ``ready`` false then."""
    try:
        status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        age = (clock.now() - datetime.fromisoformat(str(status["at"]))).total_seconds()
    except (KeyError, ValueError, TypeError):
        age = float("inf")
    status["stale"] = age > STALE_AFTER_S
    if status["stale"]:
        status["ready"] = False
    return status


async def publish(
    snapshot: Any, path: Path, stop: asyncio.Event, interval: float = INTERVAL_S
) -> None:
    """Write ``snapshot()`` every ``interval`` until ``stop``; a last one (not ready) at the end."""
    while True:
        try:
            write_status(path, snapshot())
        except Exception:  # noqa: BLE001 - a full disk must not stop the calls being recorded
            log.exception("无法写入状态文件 %s / cannot write the status file", path)
        try:
            await asyncio.wait_for(stop.wait(), interval)
            break
        except TimeoutError:
            continue
    try:
        final = snapshot()
        final["ready"] = False
        final["stopped"] = True
        write_status(path, final)
    except Exception:  # noqa: BLE001
        log.exception("无法写入状态文件 %s / cannot write the status file", path)
