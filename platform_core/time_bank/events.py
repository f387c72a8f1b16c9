"""Past-tense events of the time bank."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class TimeBankPosted(DomainEvent):
    """A transaction was posted; the accounts it touched show their new balances."""

    transaction_id: int
    kind: str
    region_code: str
    account_ids: list[int]
