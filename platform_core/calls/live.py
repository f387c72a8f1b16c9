"""The live rows callcenter's writer works on, and how they reach the database.

Call, queue-entry, offer, agent and membership rows are plain objects held by the unit of work
(``session.info``); every change marks its row dirty, and when the unit of work commits each
table gets one multi-row ``INSERT ... ON CONFLICT DO UPDATE`` for its dirty rows. A burst of AMI
events thus costs a few statements instead of an ORM flush of every attribute, which is what
lets one writer keep up with a busy Asterisk. Rows are loaded by natural key on first touch
(:func:`load_calls`, :func:`load_agents`); the ORM models stay the read side for everyone else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from platform_core import column_arrays
from platform_core.calls.models import (
    Agent,
    AgentMembership,
    AgentOffer,
    AgentStateSpan,
    Call,
    QueueEntry,
)
from platform_core.db import utcnow
from platform_core.key_lists import KEYS, among

STORE = "calls.live"


class _Row:
    """Any attribute set marks the row dirty (cheaper than ORM instrumentation)."""

    _dirty: bool
    table: ClassVar[Any]

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name[0] != "_":
            object.__setattr__(self, "_dirty", True)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS[type(self)]}


@dataclass(eq=False)
class LiveEntry(_Row):
    table: ClassVar[Any] = QueueEntry
    linkedid: str
    seq: int
    uniqueid: str
    queue: str
    joined_at: datetime
    priority: int = 0
    position: int = 0
    left_at: datetime | None = None
    outcome: str | None = None
    wait_s: float | None = None
    abandon_position: int | None = None
    agent_interface: str | None = None


@dataclass(eq=False)
class LiveOffer(_Row):
    table: ClassVar[Any] = AgentOffer
    dest_uniqueid: str
    linkedid: str
    queue: str
    interface: str
    offered_at: datetime
    status: str
    member_name: str = ""
    dest_channel: str = ""
    ring_ms: int | None = None
    connected_at: datetime | None = None
    hold_s: int | None = None
    talk_s: int | None = None
    complete_reason: str | None = None
    ended_at: datetime | None = None
    wrapup_s: float | None = None


@dataclass(eq=False)
class LiveCall(_Row):
    table: ClassVar[Any] = Call
    linkedid: str
    uniqueid: str
    region_code: str
    started_at: datetime
    channel: str = ""
    direction: str = "inbound"
    caller_number: str = ""
    caller_name: str = ""
    elder_id: int | None = None
    is_device: bool = False
    identified: bool = False
    intent: str | None = None
    priority: int = 0
    requested_queue: str | None = None
    queue_status: str | None = None
    recall_id: int | None = None
    queued_at: datetime | None = None
    first_queue: str | None = None
    answered_at: datetime | None = None
    answered_queue: str | None = None
    agent_interface: str | None = None
    member_name: str | None = None
    wait_s: float | None = None
    talk_s: int | None = None
    outcome: str | None = None
    transferred: bool = False
    ended_at: datetime | None = None
    closed_by_resync: bool = False
    recall_opened: bool = False
    updated_at: datetime = field(default_factory=utcnow)
    entries: list[LiveEntry] = field(default_factory=list)
    offers: list[LiveOffer] = field(default_factory=list)
    ivr_ran: bool = False  # the IVR identified the caller already (kept in memory only)


@dataclass(eq=False)
class LiveMembership(_Row):
    table: ClassVar[Any] = AgentMembership
    interface: str
    queue: str
    paused: bool = False
    paused_reason: str = ""
    penalty: int = 0
    status: int = 0
    in_call: bool = False
    calls_taken: int = 0
    membership: str = "dynamic"
    login_time: int = 0


@dataclass(eq=False)
class LiveAgent(_Row):
    table: ClassVar[Any] = Agent
    interface: str
    since: datetime
    member_name: str = ""
    state: str = "logged_out"
    reason: str | None = None
    device_status: int = 0
    ringing_uniqueid: str | None = None
    linkedid: str | None = None
    wrapup_until: datetime | None = None
    member_event_at: datetime | None = None
    region_code: str | None = None
    updated_at: datetime = field(default_factory=utcnow)
    memberships: dict[str, LiveMembership] = field(default_factory=dict)
    _removed: list[str] = field(default_factory=list)


_COLUMNS: dict[type, list[str]] = {}
for _cls in (LiveEntry, LiveOffer, LiveCall, LiveMembership, LiveAgent):
    _table_columns = {c.name for c in _cls.table.__table__.columns}
    _COLUMNS[_cls] = [f.name for f in fields(_cls) if f.name in _table_columns]
_FLOATS: dict[type, list[str]] = {
    cls: column_arrays.float_columns(cls.table.__table__, _COLUMNS[cls])  # type: ignore[attr-defined]
    for cls in _COLUMNS
}
_CONFLICT = {
    LiveCall: ["linkedid"],
    LiveEntry: ["linkedid", "seq"],
    LiveOffer: ["dest_uniqueid"],
    LiveAgent: ["interface"],
    LiveMembership: ["interface", "queue"],
}


def _clean(row: _Row) -> Any:
    object.__setattr__(row, "_dirty", False)
    return row


# -- the store of one unit of work --------------------------------------------------------------


class LiveStore:
    """The rows one unit of work has touched, by natural key; ``None`` = known not to exist."""

    def __init__(self) -> None:
        self.calls: dict[str, LiveCall | None] = {}
        self.agents: dict[str, LiveAgent | None] = {}
        self.ended: dict[str, int] = {}
        self.commits = 0

    def dirty_rows(self) -> dict[type, list[_Row]]:
        out: dict[type, list[_Row]] = {
            LiveCall: [],
            LiveEntry: [],
            LiveOffer: [],
            LiveAgent: [],
            LiveMembership: [],
        }
        for call in self.calls.values():
            if call is None:
                continue
            if call._dirty:
                out[LiveCall].append(call)
            out[LiveEntry].extend(e for e in call.entries if e._dirty)
            out[LiveOffer].extend(o for o in call.offers if o._dirty)
        for agent in self.agents.values():
            if agent is None:
                continue
            if agent._dirty:
                out[LiveAgent].append(agent)
            out[LiveMembership].extend(m for m in agent.memberships.values() if m._dirty)
        return out


def store(session: Session) -> LiveStore:
    st: LiveStore | None = session.info.get(STORE)
    if st is None:
        st = session.info[STORE] = LiveStore()
    return st


def forget(session: Session) -> None:
    session.info.pop(STORE, None)


# The writer's reads of rows not yet in the store, by key (built once: see key_lists).
_CALLS = select(Call).where(among(Call.linkedid))
_ENTRIES = (
    select(QueueEntry)
    .where(among(QueueEntry.linkedid))
    .order_by(QueueEntry.linkedid, QueueEntry.seq)
)
_OFFERS = select(AgentOffer).where(among(AgentOffer.linkedid)).order_by(AgentOffer.id)
_AGENTS = select(Agent).where(among(Agent.interface))
_MEMBERSHIPS = select(AgentMembership).where(among(AgentMembership.interface))


def _chunks(items: list[str], n: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def load_calls(
    session: Session, linkedids: Collection[str] = (), *, open_only: bool = False
) -> list[LiveCall]:
    """Load calls (with entries and offers) not yet in the store; by key, or every open one."""
    st = store(session)
    if open_only:
        rows = list(session.execute(select(Call).where(Call.ended_at.is_(None))).scalars())
        wanted = [r.linkedid for r in rows if r.linkedid not in st.calls]
        rows = [r for r in rows if r.linkedid in set(wanted)]
    else:
        wanted = sorted({x for x in linkedids if x and x not in st.calls})
        rows = []
        for chunk in _chunks(wanted):
            rows.extend(session.execute(_CALLS, {KEYS: chunk}).scalars())
    loaded: dict[str, LiveCall] = {}
    for r in rows:
        values = {name: getattr(r, name) for name in _COLUMNS[LiveCall]}
        loaded[r.linkedid] = _clean(LiveCall(**values))
    if loaded:
        keys = sorted(loaded)
        for chunk in _chunks(keys):
            for e in session.execute(_ENTRIES, {KEYS: chunk}).scalars():
                loaded[e.linkedid].entries.append(
                    _clean(LiveEntry(**{n: getattr(e, n) for n in _COLUMNS[LiveEntry]}))
                )
            for o in session.execute(_OFFERS, {KEYS: chunk}).scalars():
                loaded[o.linkedid].offers.append(
                    _clean(LiveOffer(**{n: getattr(o, n) for n in _COLUMNS[LiveOffer]}))
                )
        for call in loaded.values():
            _clean(call)
    for x in wanted:
        st.calls.setdefault(x, None)
    st.calls.update(loaded)
    for r in rows:
        session.expunge(r)
    return list(loaded.values())


def load_agents(
    session: Session, interfaces: Collection[str] = (), *, every: bool = False
) -> list[LiveAgent]:
    st = store(session)
    if not every:
        wanted = sorted({x for x in interfaces if x and x not in st.agents})
        if not wanted:
            return []
    rows: list[Agent] = []
    if every:
        rows = [a for a in session.execute(select(Agent)).scalars() if a.interface not in st.agents]
        wanted = [a.interface for a in rows]
    else:
        for chunk in _chunks(wanted):
            rows.extend(session.execute(_AGENTS, {KEYS: chunk}).scalars())
    loaded: dict[str, LiveAgent] = {}
    for a in rows:
        loaded[a.interface] = LiveAgent(**{n: getattr(a, n) for n in _COLUMNS[LiveAgent]})
    if loaded:
        for chunk in _chunks(sorted(loaded)):
            for m in session.execute(_MEMBERSHIPS, {KEYS: chunk}).scalars():
                loaded[m.interface].memberships[m.queue] = _clean(
                    LiveMembership(**{n: getattr(m, n) for n in _COLUMNS[LiveMembership]})
                )
        for agent in loaded.values():
            _clean(agent)
    for x in wanted:
        st.agents.setdefault(x, None)
    st.agents.update(loaded)
    for a in rows:
        session.expunge(a)
    return list(loaded.values())


# -- writing ------------------------------------------------------------------------------------


_PG_UPSERT: dict[type, str] = {}


def _pg_upsert_sql(cls: type) -> str:
    """One statement for any number of rows (see column_arrays), prepared once."""
    sql = _PG_UPSERT.get(cls)
    if sql is None:
        keys = _CONFLICT[cls]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[cls] if c not in keys)
        sql = column_arrays.insert_sql(
            cls.table.__table__,  # type: ignore[attr-defined]
            _COLUMNS[cls],
            on_conflict=f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        )
        _PG_UPSERT[cls] = sql
    return sql


def _upsert(
    session: Session,
    cls: type,
    rows: list[_Row],
    statements: list[tuple[str, dict[str, list[Any]]]],
) -> None:
    """Write ``rows``: on PostgreSQL add the statement to ``statements`` (sent together by the
    caller), elsewhere execute it now."""
    if not rows:
        return
    columns = _COLUMNS[cls]
    now = utcnow()
    params = []
    for row in rows:
        values = row.values()
        if "updated_at" in values:
            values["updated_at"] = now
        params.append(values)
    if session.get_bind().dialect.name == "postgresql":
        statements.append(
            (_pg_upsert_sql(cls), column_arrays.arrays_of(params, columns, _FLOATS[cls]))
        )
    else:
        table = cls.table.__table__  # type: ignore[attr-defined]
        keys = _CONFLICT[cls]
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns if c not in keys}
        )
        session.execute(stmt, params)
    for row in rows:
        _clean(row)


_SPAN_COLUMNS = ("interface", "state", "reason", "started_at")
_SPANS_SQL = column_arrays.insert_sql(AgentStateSpan.__table__, _SPAN_COLUMNS)  # type: ignore[arg-type]


def _insert_spans(
    session: Session,
    spans: list[dict[str, Any]],
    statements: list[tuple[str, dict[str, list[Any]]]],
) -> None:
    """Agent state spans are insert-only: one statement for all of a unit of work's."""
    if not spans:
        return
    if session.get_bind().dialect.name == "postgresql":
        statements.append((_SPANS_SQL, column_arrays.arrays_of(spans, _SPAN_COLUMNS)))
    else:
        session.execute(insert(AgentStateSpan), spans)


def write(session: Session, spans: list[dict[str, Any]] | None = None) -> None:
    """Write every dirty live row of this unit of work (parents before children) and the agent
    state ``spans``; on PostgreSQL all of it in one round trip."""
    st = session.info.get(STORE)
    statements: list[tuple[str, dict[str, list[Any]]]] = []
    if st is not None:
        dirty = st.dirty_rows()
        for cls in (LiveCall, LiveEntry, LiveOffer, LiveAgent, LiveMembership):
            _upsert(session, cls, dirty[cls], statements)
    _insert_spans(session, spans or [], statements)
    column_arrays.run_together(session, statements)
    if st is None:
        return
    removed = [(a.interface, q) for a in st.agents.values() if a is not None for q in a._removed]
    if removed:
        session.execute(
            delete(AgentMembership).where(
                tuple_(AgentMembership.interface, AgentMembership.queue).in_(removed)
            )
        )
        for a in st.agents.values():
            if a is not None and a._removed:
                object.__setattr__(a, "_removed", [])


def release_finished(session: Session, *, keep_commits: int = 20) -> None:
    """After a commit: forget lookups that found nothing, and calls that ended ``keep_commits``
    commits ago (the agent leg's Hangup follows the caller's), so a long-lived writer keeps only
    what later events can still touch: open calls and the agents."""
    st = session.info.get(STORE)
    if st is None:
        return
    st.commits += 1
    for key in [k for k, v in st.calls.items() if v is None]:
        del st.calls[key]
    for key in [k for k, v in st.agents.items() if v is None]:
        del st.agents[key]
    for linkedid, call in st.calls.items():
        if call is not None and call.ended_at is not None and linkedid not in st.ended:
            st.ended[linkedid] = st.commits
    for linkedid in [x for x, t in st.ended.items() if st.commits - t >= keep_commits]:
        del st.ended[linkedid]
        st.calls.pop(linkedid, None)
