"""The IVR's database work, run off the event loop: each function is one unit of work.

The FastAGI server serves hundreds of calls on one event loop; a query must never block it.
:class:`Backend` runs these functions on a small thread pool, each in its own session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

# Every model registered before the pool's threads query: a model module first imported inside
# a worker thread would be configured half-defined by another thread's query.
import platform_core.models  # noqa: F401
from platform_core.actors import Actor
from platform_core.flows import order_surveys
from platform_core.ivr import service as ivr_service
from platform_core.runtime import Runtime, settings_of

log = logging.getLogger(__name__)

T = TypeVar("T")

WAIT_FRESH_S = 1.0


@dataclass(frozen=True)
class CallerInfo:
    """Who is calling, as far as the IVR needs to know."""

    kind: str  # elder / device / family / ambiguous / unknown
    elder_id: int | None = None
    high_risk: bool = False
    language: str | None = None  # the elder's remembered IVR language
    region_code: str | None = None


UNKNOWN_CALLER = CallerInfo(kind="unknown")


def ivr_actor(runtime: Runtime) -> Actor:
    return Actor(kind="ivr", name="IVR", region_code=runtime.settings.home_region_code)


class DatabaseWait(TimeoutError):
    """The database did not answer within ``settings.ivr_db_wait_s``: the caller goes on."""


class Backend:
    """Runs database work for the IVR on a thread pool sized by ``settings.ivr_db_workers``.

    A caller never waits on the database longer than ``settings.ivr_db_wait_s``: a database
    that hangs (locks, a network partition) rather than refuses would otherwise keep callers in
    silence for as long as it hangs. The work itself goes on in its thread and lands later."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.actor = ivr_actor(runtime)
        workers = max(1, runtime.settings.ivr_db_workers)
        self.wait_s = runtime.settings.ivr_db_wait_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivr-db")
        # lookups a caller waits on have threads of their own: never queued behind the
        # sessions' bookkeeping (opening and closing records, which commit)
        self._reads = ThreadPoolExecutor(
            max_workers=max(1, workers // 2), thread_name_prefix="ivr-read"
        )
        # queue -> (asked at, the read): callers reaching the menu together share one read
        self._waits: dict[str, tuple[float, asyncio.Future[float]]] = {}

    async def run(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``fn(session, actor=..., **kwargs)`` in its own unit of work, off the event loop."""
        return await self._bounded(self._writing(fn, kwargs), fn)

    async def read(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``fn(session, actor=..., **kwargs)`` for a lookup the caller waits on: a read-only
        session without BEGIN and COMMIT, two round trips fewer in the caller's silence."""

        def work() -> T:
            with self.runtime.reading() as session:
                return fn(session, actor=self.actor, **kwargs)

        return await self._bounded(
            asyncio.get_running_loop().run_in_executor(self._reads, work), fn
        )

    def start(self, fn: Callable[..., T], /, **kwargs: Any) -> asyncio.Future[T]:
        """:meth:`run` begun now and awaited later: a write the caller need not wait for (the
        language they chose) goes on while the next prompt plays. Not bounded: only the call's
        own bookkeeping waits for it, after the caller has been handed on."""
        return self._writing(fn, kwargs)

    def _writing(self, fn: Callable[..., T], kwargs: dict[str, Any]) -> asyncio.Future[T]:
        def work() -> T:
            with self.runtime.session() as session:
                return fn(session, actor=self.actor, **kwargs)

        return asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def _bounded(self, future: asyncio.Future[T], fn: Callable[..., Any]) -> T:
        """The answer of ``future``, or :class:`DatabaseWait` after ``wait_s`` (whoever awaits
        it logs the failure, as for any other)."""
        try:
            return await asyncio.wait_for(future, self.wait_s)
        except TimeoutError:
            name = getattr(fn, "__name__", "work")
            raise DatabaseWait(
                f"数据库 {self.wait_s:.1f} 秒未应答 / no answer from the database: {name}"
            ) from None

    async def expected_wait_s(self, queue: str) -> float:
        """:func:`expected_wait_s`, read at most once a second per queue: the count moves with
        the queue's events, and a second's lag does not change whether a call back is offered
        (a burst of callers reaching the menu together asks once)."""
        now = time.monotonic()
        known = self._waits.get(queue)
        if known is None or now - known[0] >= WAIT_FRESH_S:
            known = (now, asyncio.ensure_future(self.read(expected_wait_s, queue=queue)))
            self._waits[queue] = known
        try:
            # shielded: a caller hanging up cancels their wait, not the read the others share
            return await asyncio.shield(known[1])
        except Exception:
            if self._waits.get(queue) is known:
                del self._waits[queue]  # a failed read is not kept for the next second
            raise

    def close(self) -> None:
        self._reads.shutdown(wait=True)
        self._pool.shutdown(wait=True)


# --- the units of work ---------------------------------------------------------------------------


def identify(session: Session, *, actor: Actor, number: str, area_code: str | None) -> CallerInfo:
    """The caller behind ``number``: an elder's phone, a device SIM, or family."""
    from platform_core.calls.identification import identify_caller

    identity = identify_caller(session, number=number, area_code=area_code or None)
    if not identity.matches:
        return UNKNOWN_CALLER
    if identity.ambiguous:
        return CallerInfo(kind="ambiguous")
    elder = (
        session.execute(_caller_elder(), {"elder_id": identity.elder_id}).first()
        if identity.elder_id is not None
        else None
    )
    if elder is None:
        return UNKNOWN_CALLER
    if identity.is_device:
        kind = "device"
    elif identity.is_family:
        kind = "family"
    else:
        kind = "elder"
    own = kind in ("elder", "device")
    return CallerInfo(
        kind=kind,
        elder_id=elder.id,
        # the risk and the language are the elder's own: a relative calling is not high-risk
        high_risk=own and elder.risk_level == "high",
        language=_remembered_language(session, elder) if own else None,
        region_code=elder.region_code,
    )


@lru_cache(maxsize=1)
def _caller_elder() -> Select[Any]:
    """The few fields of the elder the IVR decides by, in a statement built once: loading the
    whole profile as an ORM object cost more than the caller lookup before it."""
    from platform_core.elders.models import Elder

    return select(
        Elder.id, Elder.risk_level, Elder.ivr_language, Elder.ethnicity_code, Elder.region_code
    ).where(Elder.id == bindparam("elder_id"))


MONGOLIAN_ETHNICITY = "02"  # GB/T 3304


def _remembered_language(session: Session, elder: Any) -> str | None:
    """The elder's IVR language, or None when it is only the profile's default and the elder
    may well prefer Mongolian (a Mongolian elder who has never chosen): then the IVR asks."""
    if elder.ivr_language != "zh" or elder.ethnicity_code != MONGOLIAN_ETHNICITY:
        return str(elder.ivr_language)
    if ivr_service.has_chosen_language(session, elder_id=elder.id):
        return str(elder.ivr_language)
    return None


def remember_language(session: Session, *, actor: Actor, elder_id: int, language: str) -> None:
    from platform_core.elders.service import set_language

    set_language(session, elder_id=elder_id, language=language, actor=actor)


def open_draft_order(
    session: Session, *, actor: Actor, elder_id: int, service_type: str, linkedid: str
) -> int:
    from platform_core.orders.service import open_order

    order = open_order(
        session,
        actor=actor,
        elder_id=elder_id,
        service_type_code=service_type,
        source="ivr",
        notes="IVR 来电按键预填, 待坐席确认 / drafted from IVR keys, for the agent to confirm",
        source_ref=linkedid,
    )
    return int(order.id)


def expected_wait_s(session: Session, *, actor: Actor, queue: str) -> float:
    """Seconds a new caller in ``queue`` can expect to wait: the callers already waiting there
    (callcenter keeps the count live from the queue's events), each counted as
    ``ivr_seconds_per_waiting_call``."""
    from platform_core.calls.models import TelephonyQueue

    settings = settings_of(session)
    row = session.get(TelephonyQueue, queue)
    waiting = row.waiting if row is not None else 0
    return float(waiting * settings.ivr_seconds_per_waiting_call)


def request_callback(
    session: Session, *, actor: Actor, session_id: int, queue: str | None, elder_id: int | None
) -> int:
    """Book a call back as a recall item dated at the original call, so it keeps its place."""
    from platform_core.calls.recalls import open_recall_request

    row = ivr_service.get_session(session, session_id=session_id)
    recall = open_recall_request(
        session,
        linkedid=row.linkedid,
        number=row.caller_number,
        elder_id=elder_id,
        queue=queue,
        at=row.started_at,
        region_code=row.region_code,
        caller_name=row.caller_name,
    )
    ivr_service.record_callback_request(
        session, actor=actor, session_id=session_id, queue=queue, recall_id=recall.id
    )
    return int(recall.id)


def answering_agent(session: Session, *, actor: Actor, linkedid: str) -> tuple[str, str]:
    """The agent who answered call ``linkedid`` (interface, member name), from the call record."""
    from platform_core.calls.queries import find_call

    call = find_call(session, linkedid=linkedid)
    if call is None or not call.agent_interface:
        return "", ""
    return call.agent_interface, call.member_name or ""


def record_survey(session: Session, *, actor: Actor, **fields: Any) -> int:
    return ivr_service.record_survey(session, actor=actor, **fields).id


def care_answered(session: Session, *, actor: Actor, attempt_id: int, uniqueid: str) -> CallerInfo:
    """The elder picked up a care call: mark the attempt and say who it is."""
    from platform_core.care_calls import service as care

    answered = care.record_answered(session, actor=actor, attempt_id=attempt_id, uniqueid=uniqueid)
    return CallerInfo(
        kind="elder",
        elder_id=answered.elder_id,
        language=answered.language,
        region_code=answered.region_code,
    )


def care_responded(session: Session, *, actor: Actor, attempt_id: int, response: str) -> None:
    from platform_core.care_calls import service as care

    care.record_response(session, actor=actor, attempt_id=attempt_id, response=response)


def order_survey_answered(
    session: Session, *, actor: Actor, survey_call_id: int, uniqueid: str
) -> int:
    """The elder picked up the survey call of an order; the order's id."""
    return order_surveys.survey_answered(
        session, survey_call_id=survey_call_id, uniqueid=uniqueid
    ).order_id


def rate_order(session: Session, *, actor: Actor, survey_call_id: int, score: int) -> None:
    """The elder's key in the survey flow, as the order's rating."""
    order_surveys.rate_from_survey(session, actor=actor, survey_call_id=survey_call_id, score=score)
