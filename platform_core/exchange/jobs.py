"""RQ entry points of the data exchange: they take committed ids and are idempotent."""

from __future__ import annotations

from platform_core.exchange import upward
from platform_core.runtime import current_runtime


def send_export_job(export_id: int, attempt: int) -> str:
    with current_runtime().session() as s:
        return upward.send_export(s, export_id=export_id, attempt=attempt)
