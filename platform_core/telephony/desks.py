"""Desks paused and released because of what a unit of work decided (an alarm offered to a
desk, a call's wrap-up), sent through telephony once that unit of work has committed.

A decision names its command with an idempotency key, so callcenter carries it out once
whoever sends it again. The commands go out on a thread of their own, in the order they were
decided: a callcenter slow to answer never holds up the work that decided them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from platform_core.runtime import Runtime
from platform_core.telephony.commands import Pause, TelephonyClient, Unpause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeskCommand:
    """A pause or release of one desk, sent through telephony after the decision commits."""

    kind: str  # "pause" or "unpause"
    interface: str
    reason: str
    key: str  # idempotency key: callcenter runs it once whoever sends it again


class DeskCommands:
    """Sends desk commands in order, off the caller's thread."""

    def __init__(self, runtime: Runtime, *, name: str = "desk-commands") -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def send(self, commands: Iterable[DeskCommand]) -> None:
        for command in commands:
            self._pool.submit(self._send, command)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, command: DeskCommand) -> None:
        client = TelephonyClient(self.runtime)
        sent = (
            Pause(interface=command.interface, reason=command.reason)
            if command.kind == "pause"
            else Unpause(interface=command.interface)
        )
        try:
            result = client.execute(sent, idempotency_key=command.key)
            if not result.ok:
                log.warning(
                    "示忙/示闲未成功 / %s %s: %s", command.kind, command.interface, result.message
                )
        except Exception as exc:  # telephony down: the decision stands, logged for the desk
            log.warning("示忙/示闲失败 / %s %s failed: %s", command.kind, command.interface, exc)
