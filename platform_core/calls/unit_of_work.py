"""The unit of work of callcenter's writer: the live rows it touches, the queues whose callers
changed, and what is settled once when it commits rather than once per AMI event.

The listeners below write the live rows (platform_core.calls.live) when a unit of work commits
and forget them when it rolls back; every use case that changes live rows reaches its rows
through :func:`call_of`, :func:`queue_of` or ``agents.agent_of`` and so imports this module.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.calls import agents, caller, live, recalls
from platform_core.calls import events as ev
from platform_core.calls.live import LiveCall
from platform_core.calls.models import QueueEntry, RecallItem, TelephonyQueue
from platform_core.events import publish_on_commit
from platform_core.key_lists import KEYS, among
from platform_core.runtime import settings_of

_CACHE = "calls.cache"
_CHANGED_QUEUES = "calls.dirty_queues"
_ENDED = "calls.ended"


@dataclass(frozen=True)
class EndedCall:
    """A call whose end this unit of work recorded."""

    linkedid: str
    outcome: str | None
    agent_interface: str | None  # the desk that answered it (first answer), if any
    region_code: str


def note_ended(session: Session, call: LiveCall) -> None:
    session.info.setdefault(_ENDED, []).append(
        EndedCall(call.linkedid, call.outcome, call.agent_interface, call.region_code)
    )


def take_ended(session: Session) -> list[EndedCall]:
    """The calls whose end this unit of work recorded so far (by a Hangup or a resync), each
    once: what follows a call's end in the same unit of work starts from them."""
    ended: list[EndedCall] = session.info.pop(_ENDED, [])
    return ended


def _cache(session: Session) -> dict[tuple[str, str], Any]:
    cache: dict[tuple[str, str], Any] | None = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = {}
    return cache


@sa_event.listens_for(Session, "after_rollback")
def _forget_cache(session: Session) -> None:
    live.forget(session)
    for key in (
        _CACHE,
        _CHANGED_QUEUES,
        _ENDED,
        recalls.NEW,
        recalls.REACHED,
        agents.SPANS,
        agents.CHANGES,
    ):
        session.info.pop(key, None)


@sa_event.listens_for(Session, "before_commit")
def _settle(session: Session) -> None:
    """Work done once per unit of work rather than once per event: number the new recall items,
    close the recalls of callers who got through, recount the queues whose callers changed."""
    # the live rows and the agents' state spans go out together, in one round trip
    live.write(session, session.info.pop(agents.SPANS, None))
    session.info.pop(_ENDED, None)  # ends nobody took: a long-lived session must not keep them
    session.info.pop(agents.ACCOUNT_REGIONS, None)  # read again by the next unit that needs them
    new_recalls: list[RecallItem] | None = session.info.pop(recalls.NEW, None)
    reached: list[tuple[LiveCall, datetime]] | None = session.info.pop(recalls.REACHED, None)
    dirty: set[str] | None = session.info.pop(_CHANGED_QUEUES, None)
    agent_changes = session.info.pop(agents.CHANGES, None)
    if agent_changes:
        agents.publish_changes(session, agent_changes)
    if not (new_recalls or reached or dirty):
        return
    session.flush()
    if new_recalls:
        recalls.announce_opened(session, new_recalls)
    if reached:
        recalls.close_reached(session, reached)
    if dirty:
        _recount(session, dirty)


_WAITING = (
    select(QueueEntry.queue, func.count(), func.min(QueueEntry.joined_at))
    .where(QueueEntry.left_at.is_(None), among(QueueEntry.queue))
    .group_by(QueueEntry.queue)
)


def _recount(session: Session, names: Collection[str]) -> None:
    """Waiting callers and the oldest join per queue, from the open queue entries."""
    rows = session.execute(_WAITING, {KEYS: sorted(names)}).all()
    found = {name: (n, oldest) for name, n, oldest in rows}
    region = settings_of(session).home_region_code
    for name in sorted(names):
        q = queue_of(session, name)
        q.waiting, q.oldest_joined_at = found.get(name, (0, None))
        publish_on_commit(
            session,
            ev.QueueStatsChanged(
                queue=name,
                waiting=q.waiting,
                oldest_joined_at=q.oldest_joined_at.isoformat() if q.oldest_joined_at else None,
                region_code=region,
            ),
        )


def prefetch(
    session: Session,
    *,
    linkedids: Collection[str] = (),
    interfaces: Collection[str] = (),
    elder_ids: Collection[int] = (),
) -> None:
    """Load the calls (with entries and offers) and agents a batch of events will touch, and
    the regions of the elders it names."""
    live.load_calls(session, linkedids)
    live.load_agents(session, interfaces)
    agents.prefetch_account_regions(session, interfaces)
    caller.prefetch_regions(session, elder_ids)


def release_finished(session: Session, *, keep_commits: int = 20) -> None:
    """After a commit, let a long-lived writer forget what later events can no longer touch."""
    live.release_finished(session, keep_commits=keep_commits)


def call_of(session: Session, linkedid: str) -> LiveCall | None:
    st = live.store(session)
    if linkedid not in st.calls:
        live.load_calls(session, [linkedid])
    return st.calls.get(linkedid)


def queue_of(session: Session, name: str) -> TelephonyQueue:
    cache = _cache(session)
    key = ("queue", name)
    if key not in cache:
        cache[key] = session.get(TelephonyQueue, name)
    q: TelephonyQueue | None = cache[key]
    if q is None:
        q = TelephonyQueue(name=name, waiting=0)
        session.add(q)
        cache[key] = q
    return q


def mark_queues_changed(session: Session, names: Collection[str]) -> None:
    """These queues' waiting callers changed: recount them once, when the unit of work commits."""
    session.info.setdefault(_CHANGED_QUEUES, set()).update(names)
