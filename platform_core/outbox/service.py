"""The platform's one after-commit mechanism: what a transaction must start later is written in
that transaction, as outbox rows, and handed on once it commits.

- ``publish_on_commit(session, event)``: a domain event, published after the commit;
- ``enqueue_on_commit(session, func_path, *args, job_id=..., at=None, queue=...)``: a job
  (dispatch, a text message, an SLA or alarm timer), queued after the commit or when due.

A rolled-back transaction or savepoint takes its rows with it, so it starts nothing. Right after
the commit the committing process hands on what is due (the fast path, ``Relay.hand_committed``);
the relay loop takes whatever that missed once the grace has passed (Redis down, the process
killed between commit and hand-off), and timers when they fall due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, func, insert, inspect, select
from sqlalchemy import event as event_api
from sqlalchemy.orm import Session, SessionTransaction

from platform_core import clock
from platform_core.jobs import resolve
from platform_core.outbox.models import EntryKind, OutboxEntry
from platform_core.settings import settings_of


class Event(Protocol):
    """What the outbox needs of a domain event (platform_core.events.DomainEvent, which sits
    above the outbox: its module re-exports ``publish_on_commit``)."""

    def envelope(self) -> dict[str, Any]: ...


class Publisher(Protocol):
    """What the relay needs of an event bus (platform_core.events.EventBus)."""

    def publish(self, envelope: dict[str, Any]) -> None: ...

    def publish_many(self, envelopes: list[dict[str, Any]]) -> None: ...


_TABLE: Table = OutboxEntry.__table__  # type: ignore[assignment]

_STAGED = "outbox.staged"  # rows written in this transaction, for the fast path
_EVENTS = "outbox.events"  # envelopes published in this transaction, not yet in a row
_SAVEPOINTS = "outbox.savepoints"  # how many envelopes there were as each savepoint began
_COMMITTING = "outbox.committing"  # the events' row is written: a later event gets its own


@dataclass(frozen=True)
class Staged:
    """A row written in this transaction, with what the fast path needs kept aside (after the
    commit an ORM row's attributes may be expired, and loading them is no longer allowed)."""

    kind: str
    payload: list[Any]
    func_path: str | None
    job_id: str | None
    queue: str | None
    relay_after: datetime
    # due when staged: the committing process hands it on itself right after the commit
    due_now: bool
    # a job's row goes through the ORM (a rolled-back savepoint takes it along); the events'
    # row is inserted directly, its id known at once
    entry: OutboxEntry | None = None
    row_id: int | None = None

    @property
    def id(self) -> int:
        if self.row_id is not None:
            return self.row_id
        identity = inspect(self.entry).identity
        assert identity is not None, "a staged row read before it was written"
        return int(identity[0])

    @property
    def committed(self) -> bool:
        return self.entry is None or inspect(self.entry).persistent


def publish_on_commit(session: Session, event: Event) -> None:
    """Publish ``event`` once (and only if) this unit of work commits.

    The events of one transaction share one row, inserted as the transaction commits, after
    every other hook that publishes: a row per event (an INSERT at each flush between them)
    cost callcenter's writer a third more CPU per AMI event (bench/event_rows.py, README).
    """
    envelope = event.envelope()
    if session.info.get(_COMMITTING):  # published by a hook after ours: a row of its own
        _insert_events(session, [envelope])
        return
    pending: list[Any] | None = session.info.get(_EVENTS)
    if pending is None:
        pending = session.info[_EVENTS] = []
        if not event_api.contains(session, "before_commit", _write_pending_events):
            # a hook on the session itself runs after every hook on the Session class
            event_api.listen(session, "before_commit", _write_pending_events)
    pending.append(envelope)


def _write_pending_events(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: its events wait for the transaction's own commit
    session.info[_COMMITTING] = True
    envelopes = session.info.pop(_EVENTS, None)
    if envelopes:
        _insert_events(session, envelopes)


# built once: nearly every transaction that changes something writes one such row
_INSERT_EVENTS = insert(_TABLE).returning(_TABLE.c.id)


def _insert_events(session: Session, envelopes: list[Any]) -> None:
    now = clock.now()
    relay_after = now + timedelta(seconds=_grace_s(session))
    row_id = session.execute(
        _INSERT_EVENTS,
        {
            "kind": EntryKind.EVENTS.value,
            "payload": envelopes,
            "created_at": now,
            "relay_after": relay_after,
            "attempts": 0,
        },
    ).scalar_one()
    staged = Staged(EntryKind.EVENTS, envelopes, None, None, None, relay_after, True, None, row_id)
    session.info.setdefault(_STAGED, []).append(staged)


def enqueue_on_commit(
    session: Session,
    func_path: str,
    *args: Any,
    job_id: str,
    at: datetime | None = None,
    queue: str = "default",
) -> None:
    """Queue the job ``func_path(*args)`` once this unit of work commits, or at ``at``.

    ``args`` are ids and plain values (they are stored as JSON); ``job_id`` is derived from
    what the job is about, so a job queued twice runs as one and a repeated run finds its work
    done. The same id staged twice in one transaction is written once.
    """
    resolve(func_path)  # a wrong name fails the transaction that names it, not a worker later
    staged: list[Staged] = session.info.setdefault(_STAGED, [])
    if any(s.job_id == job_id and s.kind == EntryKind.JOB and s.committed for s in staged):
        return
    now = clock.now()
    due_now = at is None or at <= now
    relay_after = now + timedelta(seconds=_grace_s(session)) if at is None or due_now else at
    entry = OutboxEntry(
        kind=EntryKind.JOB,
        func_path=func_path,
        payload=list(args),
        job_id=job_id,
        queue=queue,
        created_at=now,
        due_at=at,
        relay_after=relay_after,
        attempts=0,
    )
    session.add(entry)
    staged.append(
        Staged(EntryKind.JOB, entry.payload, func_path, job_id, queue, relay_after, due_now, entry)
    )


def _grace_s(session: Session) -> float:
    return settings_of(session).outbox_grace_s


@event_api.listens_for(Session, "after_commit")
def _hand_on(session: Session) -> None:
    outer = session.get_transaction()
    if outer is not None and outer.is_active:
        return  # a savepoint was released: nothing is committed until the outer transaction is
    for key in (_COMMITTING, _EVENTS, _SAVEPOINTS):
        session.info.pop(key, None)
    staged: list[Staged] = session.info.pop(_STAGED, [])
    if not staged:
        return
    # rows staged in a savepoint that rolled back were never committed
    committed = [s for s in staged if s.committed]
    relay = session.info.get("outbox")
    if relay is not None and committed:
        relay.hand_committed(committed, bus=session.info.get("event_bus"))


@event_api.listens_for(Session, "after_transaction_create")
def _note_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[transaction] = len(session.info.get(_EVENTS, ()))


@event_api.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        # the savepoint's events go with it (its job rows are transient now: filtered at commit)
        mark = session.info.get(_SAVEPOINTS, {}).pop(previous, None)
        if mark is not None:
            del session.info.get(_EVENTS, [])[mark:]
        return
    for key in (_STAGED, _COMMITTING, _EVENTS, _SAVEPOINTS):
        session.info.pop(key, None)


def backlog(session: Session) -> dict[str, Any]:
    """What the outbox holds now (``hotline jobs status``): rows whose turn has come and that
    wait for a relay, how late the oldest of them is, timers not yet due, RQ jobs followed until
    they end, and rows that failed to go out (with their last error)."""
    now = clock.now()
    e = OutboxEntry
    waiting = e.handed_at.is_(None)
    due, oldest = session.execute(
        select(func.count(), func.min(e.relay_after)).where(waiting, e.relay_after <= now)
    ).one()
    return {
        "due": due,
        "late_s": (now - oldest).total_seconds() if oldest is not None else 0.0,
        "timers": session.scalar(select(func.count()).where(waiting, e.relay_after > now)),
        "handed": session.scalar(select(func.count()).where(e.handed_at.is_not(None))),
        "failing": session.scalar(select(func.count()).where(waiting, e.attempts > 0)),
    }
