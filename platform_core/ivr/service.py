"""IVR sessions and satisfaction surveys: recording what the IVR did, and reading it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import fit_channel_id, insert_or_else, utcnow
from platform_core.errors import Conflict, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.ivr.events import CallbackRequested, IvrSessionEnded, SurveyAnswered
from platform_core.ivr.models import IvrSession, SatisfactionSurvey
from platform_core.regions.service import within

OUTCOMES = frozenset({"handed_off", "completed", "hung_up", "lost", "failed"})
CALLER_KINDS = frozenset({"elder", "device", "family", "ambiguous", "unknown"})
_SESSIONS: Table = IvrSession.__table__  # type: ignore[assignment]


# what an opening writes, and what a closing writes besides the region it may settle
_OPENED = (
    "uniqueid",
    "linkedid",
    "channel",
    "script",
    "flow_name",
    "flow_version",
    "caller_number",
    "caller_name",
    "dnid",
    "region_code",
)
_CLOSED = (
    "outcome",
    "path",
    "elder_id",
    "caller_kind",
    "language",
    "language_chosen",
    "intent",
    "priority",
    "queue",
    "draft_order_id",
    "prompt_failures",
    "error",
    "commands",
    "ended_at",
)
_BUILT: dict[tuple[str, str], Any] = {}


def _statement(session: Session, name: str) -> Any:
    """The opening's INSERT or the closing's UPDATE, built once per database dialect and run
    with each call's values as parameters. Every call opens and closes a record: building the
    statement and its cache key for each was much of the records' thread, which held the FastAGI
    server's interpreter a third of the time. A race builds one twice, harmlessly."""
    key = (session.get_bind().dialect.name, name)
    built = _BUILT.get(key)
    if built is None:
        t = _SESSIONS.c
        if name == "open":
            built = (
                insert_or_else(session, _SESSIONS)
                .values({c: bindparam(c) for c in _OPENED})
                .on_conflict_do_nothing(index_elements=[t.uniqueid, t.script])
                .returning(t.id)
            )
        else:
            changed = (*_CLOSED, "region_code") if name == "close_in_region" else _CLOSED
            built = (
                update(_SESSIONS)
                .where(t.id == bindparam("session_id"), t.ended_at.is_(None))
                .values({c: bindparam(f"new_{c}") for c in changed})
                .returning(t.region_code, t.uniqueid, t.linkedid, t.script)
            )
        _BUILT[key] = built
    return built


def open_session(
    session: Session,
    *,
    actor: Actor,
    uniqueid: str,
    linkedid: str,
    channel: str,
    script: str,
    caller_number: str = "",
    caller_name: str = "",
    dnid: str = "",
    flow_name: str | None = None,
    flow_version: str | None = None,
    region_code: str | None = None,
) -> int:
    """Start the record of one flow run and return its id; the same channel and script twice
    returns the first. One statement in the usual case: every call opens one."""
    uniqueid, linkedid = fit_channel_id(uniqueid), fit_channel_id(linkedid)
    opened = session.execute(
        _statement(session, "open"),
        {
            "uniqueid": uniqueid,
            "linkedid": linkedid or uniqueid,
            "channel": channel[:128],
            "script": script[:64],
            "flow_name": flow_name,
            "flow_version": flow_version,
            "caller_number": caller_number[:32],
            "caller_name": caller_name[:80],
            "dnid": dnid[:32],
            "region_code": region_code or actor.region_code,
        },
    ).scalar()
    if opened is not None:
        return int(opened)
    return int(
        session.execute(
            select(_SESSIONS.c.id).where(
                _SESSIONS.c.uniqueid == uniqueid, _SESSIONS.c.script == script[:64]
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class SessionResult:
    """How a flow run ended and what it decided."""

    outcome: str
    path: list[str]
    elder_id: int | None = None
    caller_kind: str = "unknown"
    language: str = "zh"
    language_chosen: bool = False
    intent: str | None = None
    priority: int | None = None
    queue: str | None = None
    draft_order_id: int | None = None
    region_code: str | None = None
    prompt_failures: tuple[str, ...] = ()
    error: str | None = None
    commands: int = 0


def close_session(
    session: Session, *, actor: Actor, session_id: int, result: SessionResult
) -> None:
    """Close the record with its outcome; closing twice keeps the first outcome. One statement
    (the update returns what the event tells), not a load and a flush: every call closes one."""
    if result.outcome not in OUTCOMES:
        raise ValidationFailed(
            f"未知的 IVR 结果 / unknown IVR outcome: {result.outcome}", outcome=result.outcome
        )
    if result.caller_kind not in CALLER_KINDS:
        raise ValidationFailed(f"未知的来电者类型 / unknown caller kind: {result.caller_kind}")
    values: dict[str, Any] = {
        "session_id": session_id,
        "new_outcome": result.outcome,
        "new_path": list(result.path),
        "new_elder_id": result.elder_id,
        "new_caller_kind": result.caller_kind,
        "new_language": result.language,
        "new_language_chosen": result.language_chosen,
        "new_intent": result.intent,
        "new_priority": result.priority,
        "new_queue": result.queue,
        "new_draft_order_id": result.draft_order_id,
        "new_prompt_failures": list(result.prompt_failures),
        "new_error": result.error,
        "new_commands": result.commands,
        "new_ended_at": utcnow(),
    }
    if result.region_code:
        values["new_region_code"] = result.region_code
    closed = session.execute(
        _statement(session, "close_in_region" if result.region_code else "close"), values
    ).first()
    if closed is None:
        get_session(session, session_id=session_id)  # closed before, or no such session
        return
    publish_on_commit(
        session,
        IvrSessionEnded(
            region_code=closed.region_code,
            session_id=session_id,
            uniqueid=closed.uniqueid,
            linkedid=closed.linkedid,
            script=closed.script,
            outcome=result.outcome,
            elder_id=result.elder_id,
            intent=result.intent,
            queue=result.queue,
            priority=result.priority,
        ),
    )


def has_chosen_language(session: Session, *, elder_id: int) -> bool:
    """Whether this elder has ever picked a language in the IVR (then the profile's language is
    their own choice, not a default)."""
    q = (
        select(IvrSession.id)
        .where(IvrSession.elder_id == elder_id, IvrSession.language_chosen.is_(True))
        .limit(1)
    )
    return session.scalar(q) is not None


def get_session(session: Session, *, session_id: int) -> IvrSession:
    row = session.get(IvrSession, session_id)
    if row is None:
        raise NotFound(f"IVR 会话不存在 / no IVR session {session_id}", session_id=session_id)
    return row


def find_session(
    session: Session, *, uniqueid: str, script: str | None = None
) -> IvrSession | None:
    q = (
        select(IvrSession)
        .where(IvrSession.uniqueid == uniqueid)
        .order_by(IvrSession.id.desc())
        .limit(1)
    )
    if script is not None:
        q = q.where(IvrSession.script == script)
    return session.scalar(q)


def list_sessions(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    outcome: str | None = None,
    region_code: str | None = None,
    limit: int = 200,
) -> list[IvrSession]:
    q = select(IvrSession).order_by(IvrSession.id.desc()).limit(limit)
    if start is not None:
        q = q.where(IvrSession.started_at >= start)
    if end is not None:
        q = q.where(IvrSession.started_at < end)
    if outcome is not None:
        q = q.where(IvrSession.outcome == outcome)
    if region_code:
        q = q.where(within(IvrSession.region_code, region_code))
    return list(session.scalars(q))


def record_callback_request(
    session: Session, *, actor: Actor, session_id: int, queue: str | None, recall_id: int
) -> IvrSession:
    """The caller chose a call back instead of waiting; ``recall_id`` is the recall item
    (platform_core.calls) that keeps their place."""
    row = get_session(session, session_id=session_id)
    if not row.caller_number:
        raise Conflict(
            "无主叫号码, 无法回拨 / no caller number to call back", session_id=session_id
        )
    row.callback_requested = True
    row.queue = queue or row.queue
    row.recall_id = recall_id
    session.flush()
    publish_on_commit(
        session,
        CallbackRequested(
            region_code=row.region_code,
            session_id=row.id,
            linkedid=row.linkedid,
            caller_number=row.caller_number,
            elder_id=row.elder_id,
            queue=row.queue,
            recall_id=row.recall_id,
        ),
    )
    return row


def record_survey(
    session: Session,
    *,
    actor: Actor,
    linkedid: str,
    uniqueid: str,
    score: int,
    agent_interface: str = "",
    agent_name: str = "",
    elder_id: int | None = None,
    region_code: str | None = None,
) -> SatisfactionSurvey:
    """Store the caller's 1-5 rating of call ``linkedid``; one rating per call."""
    if not 1 <= score <= 5:
        raise ValidationFailed("满意度评分须为 1-5 / a rating is 1 to 5", score=score)
    existing = session.scalar(
        select(SatisfactionSurvey).where(SatisfactionSurvey.linkedid == linkedid)
    )
    if existing is not None:
        raise Conflict("该通话已评价 / this call was already rated", linkedid=linkedid)
    row = SatisfactionSurvey(
        linkedid=linkedid,
        uniqueid=uniqueid,
        agent_interface=agent_interface[:64],
        agent_name=agent_name[:64],
        elder_id=elder_id,
        score=score,
        region_code=region_code or actor.region_code,
    )
    session.add(row)
    session.flush()
    publish_on_commit(
        session,
        SurveyAnswered(
            region_code=row.region_code,
            linkedid=linkedid,
            agent_interface=row.agent_interface,
            score=score,
        ),
    )
    return row


def find_survey(session: Session, *, linkedid: str) -> SatisfactionSurvey | None:
    return session.scalar(select(SatisfactionSurvey).where(SatisfactionSurvey.linkedid == linkedid))


@dataclass(frozen=True)
class SurveySummary:
    agent_interface: str
    answered: int
    average: float
    by_score: dict[int, int]


def survey_summary(
    session: Session, *, start: datetime, end: datetime, region_code: str | None = None
) -> list[SurveySummary]:
    """Ratings per agent in [start, end): how many, the mean, and the count of each score."""
    q = (
        select(SatisfactionSurvey.agent_interface, SatisfactionSurvey.score, func.count())
        .where(SatisfactionSurvey.answered_at >= start, SatisfactionSurvey.answered_at < end)
        .group_by(SatisfactionSurvey.agent_interface, SatisfactionSurvey.score)
    )
    if region_code:
        q = q.where(within(SatisfactionSurvey.region_code, region_code))
    per_agent: dict[str, dict[int, int]] = {}
    for agent, score, count in session.execute(q):
        per_agent.setdefault(agent, {})[int(score)] = int(count)
    out = []
    for agent, counts in sorted(per_agent.items()):
        answered = sum(counts.values())
        average = sum(s * n for s, n in counts.items()) / answered
        out.append(SurveySummary(agent, answered, round(average, 2), dict(sorted(counts.items()))))
    return out
