"""Device jobs: the daily pruning of the heartbeat history."""

from __future__ import annotations

from platform_core.devices import heartbeat_history
from platform_core.runtime import current_runtime


def prune_heartbeat_history() -> int:
    with current_runtime().session() as s:
        return heartbeat_history.prune(s)
