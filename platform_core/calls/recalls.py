"""Recall work items: an elder's lost call (abandoned, unanswered, after hours) or a request
to be called back, followed by call-back attempts until someone gets through."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.calls import events as ev
from platform_core.calls.caller import usable_number
from platform_core.calls.live import LiveCall
from platform_core.calls.models import RecallAttempt, RecallItem
from platform_core.errors import Conflict, NotFound
from platform_core.events import publish_on_commit
from platform_core.key_lists import among
from platform_core.regions import codes
from platform_core.runtime import settings_of

log = logging.getLogger(__name__)

# session.info keys: recall items opened in this unit of work, and callers who got through
NEW = "calls.new_recalls"
REACHED = "calls.reached"


def open_for_lost_call(
    session: Session, call: LiveCall, *, reason: str, queue: str | None, at: datetime
) -> RecallItem | None:
    if call.direction != "inbound" or not usable_number(call.caller_number) or call.recall_opened:
        return None
    call.recall_opened = True  # one lost call, one recall item, however often its events come
    item = RecallItem(
        origin_linkedid=call.linkedid,
        elder_id=call.elder_id,
        number=call.caller_number,
        caller_name=call.caller_name,
        region_code=call.region_code,
        queue=queue,
        reason=reason,
        wait_s=call.wait_s,
        status="open",
        opened_at=at,
        attempts=0,
    )
    session.add(item)
    session.info.setdefault(NEW, []).append(item)
    return item


def close_when_reached(session: Session, *, call: LiveCall, at: datetime) -> None:
    """Someone got through to this elder (or number): their open recall items close when the
    unit of work commits (one query for every caller reached in it)."""
    if call.direction != "inbound" or (
        call.elder_id is None and not usable_number(call.caller_number)
    ):
        return
    session.info.setdefault(REACHED, []).append((call, at))


_OPEN_FOR = select(RecallItem).where(
    RecallItem.status == "open",
    or_(among(RecallItem.elder_id, "elders"), among(RecallItem.number, "numbers")),
)


def close_reached(session: Session, reached: list[tuple[LiveCall, datetime]]) -> None:
    elders = {c.elder_id for c, _ in reached if c.elder_id is not None}
    numbers = {c.caller_number for c, _ in reached if usable_number(c.caller_number)}
    items = session.scalars(_OPEN_FOR, {"elders": sorted(elders), "numbers": sorted(numbers)}).all()
    for item in items:
        for call, at in sorted(reached, key=lambda r: r[1]):
            same = (
                item.elder_id is not None and item.elder_id == call.elder_id
            ) or item.number == call.caller_number
            if same and item.opened_at <= at and item.origin_linkedid != call.linkedid:
                _close(session, item, reason="reached_inbound", by_linkedid=call.linkedid, at=at)
                break


def _close(
    session: Session,
    item: RecallItem,
    *,
    reason: str,
    by_linkedid: str | None,
    at: datetime,
    by: str | None = None,
) -> None:
    if item.status != "open":
        return
    item.status = "closed"
    item.closed_at = at
    item.closed_reason = reason
    item.closed_by_linkedid = by_linkedid
    item.closed_by = by
    publish_on_commit(
        session,
        ev.RecallClosed(
            recall_id=item.id,
            number=item.number,
            elder_id=item.elder_id,
            closed_reason=reason,
            by_linkedid=by_linkedid,
            region_code=item.region_code,
        ),
    )


def open_recall_request(
    session: Session,
    *,
    linkedid: str,
    number: str,
    elder_id: int | None,
    queue: str | None,
    at: datetime,
    region_code: str | None = None,
    caller_name: str = "",
) -> RecallItem:
    """The caller asked to be called back (the IVR's offer when the wait is long)."""
    existing = session.scalar(select(RecallItem).where(RecallItem.origin_linkedid == linkedid))
    if existing is not None:
        return existing
    item = RecallItem(
        origin_linkedid=linkedid,
        elder_id=elder_id,
        number=number,
        caller_name=caller_name,
        region_code=region_code or settings_of(session).home_region_code,
        queue=queue,
        reason="callback_requested",
        status="open",
        opened_at=at,
        attempts=0,
    )
    session.add(item)
    session.flush()
    publish_on_commit(
        session,
        ev.RecallOpened(
            recall_id=item.id,
            linkedid=linkedid,
            number=number,
            elder_id=elder_id,
            reason=item.reason,
            queue=queue,
            region_code=item.region_code,
        ),
    )
    return item


def record_recall_attempt(
    session: Session,
    *,
    recall_id: int,
    attempt_key: str,
    result: str,
    at: datetime,
    agent_interface: str | None = None,
    actor_name: str | None = None,
    actor_user_id: int | None = None,
    by_linkedid: str | None = None,
) -> RecallAttempt | None:
    """One call-back attempt and its result; "reached" closes the item. Idempotent per key."""
    item = session.get(RecallItem, recall_id)
    if item is None:
        log.warning("回拨记录不存在 / no recall item %s", recall_id)
        return None
    existing = session.scalar(
        select(RecallAttempt).where(
            RecallAttempt.recall_id == recall_id, RecallAttempt.attempt_key == attempt_key
        )
    )
    if existing is not None:
        if existing.result == "reached" or result != "reached":
            return existing
        existing.result = result
        attempt = existing
    else:
        attempt = RecallAttempt(
            recall_id=recall_id,
            attempt_key=attempt_key,
            at=at,
            result=result,
            agent_interface=agent_interface,
            actor_name=actor_name,
            actor_user_id=actor_user_id,
        )
        session.add(attempt)
        item.attempts += 1
    item.last_attempt_at = at
    item.last_result = result
    publish_on_commit(
        session,
        ev.RecallAttempted(
            recall_id=item.id, result=result, attempts=item.attempts, region_code=item.region_code
        ),
    )
    if result == "reached":
        _close(
            session, item, reason="reached_callback", by_linkedid=by_linkedid, at=at, by=actor_name
        )
    return attempt


@dataclass(frozen=True)
class CallBack:
    """What a call back of a recall dials, and the attempt it is."""

    number: str
    elder_id: int | None
    key: str  # idempotency key: a second click before the attempt's result is the same command


def call_back_of(item: RecallItem) -> CallBack:
    """The next call back of an open recall: its key counts the attempts so far, so a double
    click never dials the elder twice for one attempt and a try after a result is a new one."""
    if item.status != "open":
        raise Conflict("该回拨事项已关闭 / this recall is already closed", code="recall_closed")
    return CallBack(item.number, item.elder_id, f"recall:{item.id}:{item.attempts}")


def get_recall(session: Session, *, recall_id: int) -> RecallItem:
    item = session.get(RecallItem, recall_id)
    if item is None:
        raise NotFound(
            f"回拨事项不存在: {recall_id} / no such recall item", code="recall_not_found"
        )
    return item


def list_recalls(
    session: Session,
    *,
    status: str | None = "open",
    region_code: str | None = None,
    elder_id: int | None = None,
    limit: int = 200,
) -> list[RecallItem]:
    q = select(RecallItem).order_by(RecallItem.opened_at).limit(limit)
    if status:
        q = q.where(RecallItem.status == status)
    if region_code:
        q = q.where(RecallItem.region_code.startswith(codes.scope_prefix(region_code)))
    if elder_id is not None:
        q = q.where(RecallItem.elder_id == elder_id)
    return list(session.scalars(q))


def cancel_recall(
    session: Session, *, recall_id: int, actor_name: str, reason: str = "cancelled"
) -> RecallItem:
    item = get_recall(session, recall_id=recall_id)
    _close(session, item, reason=reason, by_linkedid=None, at=clock.now(), by=actor_name)
    return item


def announce_opened(session: Session, items: list[RecallItem]) -> None:
    """Recall items opened for lost calls in this unit of work, once they have their ids."""
    for item in items:
        publish_on_commit(
            session,
            ev.RecallOpened(
                recall_id=item.id,
                linkedid=item.origin_linkedid,
                number=item.number,
                elder_id=item.elder_id,
                reason=item.reason,
                queue=item.queue,
                region_code=item.region_code,
            ),
        )
