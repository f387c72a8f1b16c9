"""The hotline KPIs exactly as DOMAIN.md section 8 pins them.

- Offered: calls that entered a hotline queue (their first QueueCallerJoin falls in the period)
  and whose fate is known; a caller still waiting is not counted yet. IVR-only calls are never
  offered. A call transferred or overflowed into another queue is offered once, credited to
  the queue it first entered and the agent who first answered it.
- Answer rate (接通率) = answered / offered, strict: every abandon counts, however short. The
  second rate excludes abandons shorter than ``short_abandon_s`` and is labelled so.
- Service level = answered within ``service_level_s`` / offered.
- ASA = mean wait of answered calls (from the first join to the answer, across queues).
- Abandon rate = abandoned in queue / offered.
- AHT = talk + hold + wrap-up per answered agent leg (Asterisk's TalkTime already includes
  time on hold, so hold is not added twice).
- Occupancy = time on calls / (time on calls + idle ready time); ringing counts as idle ready,
  wrap-up and pauses count as neither.

By agent (DOMAIN.md section 8), a row is named by the agent and holds the calls the agent
answered (the agent a call is credited to: the first to answer it), the rings presented to the
agent (a ring-all queue rings every free desk for one call: each leg is a ring, not a call
offered to that agent), the rings the agent did not answer (rang out, taken by a colleague, or
the caller left), of those the rings that rang out at the desk, and talk and wrap-up time.
Offered, answer rate, service level and abandon rate are per call and stay empty on agent rows.

Every row counts the offered calls of the period and their rings (a ring belongs to its call,
so rings and legs fall into the call's hour, day and first queue): the rows of any grouping
add up to the total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import User
from platform_core.calls.models import Agent, AgentOffer, AgentStateSpan, Call
from platform_core.calls.queues import queue_label
from platform_core.errors import ValidationFailed
from platform_core.regions import codes
from platform_core.runtime import settings_of

GROUPINGS = ("hour", "day", "agent", "queue")
# The columns of a report's rows: the hotline's figures per call (by hour, day or queue)...
CALL_COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "timeout",
    "answer_rate",
    "answer_rate_excl_short",
    "service_level",
    "asa_s",
    "abandon_rate",
    "aht_s",
    "occupancy",
    "rings",
    "rings_not_answered",
    "no_answer",
)
# ... and an agent's (DOMAIN.md section 8): answered calls, rings presented and not answered,
# talk and wrap-up time; offered and the rates are the hotline's, not an agent's.
AGENT_COLUMNS = (
    "answered",
    "rings",
    "rings_not_answered",
    "no_answer",
    "talk_s",
    "wrapup_s",
    "aht_s",
    "asa_s",
    "occupancy",
)


@dataclass(frozen=True)
class CallFacts:
    """What the KPIs need of one offered call."""

    linkedid: str
    queued_at: datetime
    queue: str | None
    outcome: str | None
    wait_s: float | None
    agent: str | None = None


@dataclass
class KpiFigures:
    service_level_s: int
    short_abandon_s: int
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timeout: int = 0
    short_abandoned: int = 0
    answered_in_sl: int = 0
    answered_unknown_wait: int = 0
    wait_answered_s: float = 0.0
    legs: int = 0
    handle_s: float = 0.0
    talk_s: float = 0.0
    on_call_s: float = 0.0
    ready_s: float = 0.0
    no_answer: int = 0  # rings that rang out at the desk (AgentRingNoAnswer)
    rings: int = 0
    rings_not_answered: int = 0
    wrapup_s: float = 0.0
    # An agent's row: the per-call figures (offered, rates) are not the agent's own.
    per_agent: bool = False

    def add_call(self, c: CallFacts) -> None:
        if c.outcome not in ("answered", "abandoned", "timeout"):
            return
        self.offered += 1
        if c.outcome == "answered":
            self.answered += 1
            if c.wait_s is None:
                # answered while callcenter was away (adopted by a resync): its wait is
                # unknown, so it counts as answered but outside the service level and ASA
                self.answered_unknown_wait += 1
                return
            self.wait_answered_s += c.wait_s
            if c.wait_s <= self.service_level_s:
                self.answered_in_sl += 1
        elif c.outcome == "abandoned":
            self.abandoned += 1
            if (c.wait_s or 0.0) < self.short_abandon_s:
                self.short_abandoned += 1
        else:
            self.timeout += 1

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered, self.offered)

    @property
    def answer_rate_excl_short(self) -> float | None:
        return _ratio(self.answered, self.offered - self.short_abandoned)

    @property
    def service_level(self) -> float | None:
        return _ratio(self.answered_in_sl, self.offered)

    @property
    def asa_s(self) -> float | None:
        timed = self.answered - self.answered_unknown_wait
        return round(self.wait_answered_s / timed, 1) if timed else None

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    @property
    def aht_s(self) -> float | None:
        return round(self.handle_s / self.legs, 1) if self.legs else None

    @property
    def occupancy(self) -> float | None:
        return _ratio(self.on_call_s, self.on_call_s + self.ready_s)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "timeout": self.timeout,
            "answer_rate": self.answer_rate,
            f"answer_rate_excl_abandons_under_{self.short_abandon_s}s": self.answer_rate_excl_short,
            "service_level": self.service_level,
            "service_level_s": self.service_level_s,
            "asa_s": self.asa_s,
            "abandon_rate": self.abandon_rate,
            "aht_s": self.aht_s,
            "occupancy": self.occupancy,
            "rings": self.rings,
            "rings_not_answered": self.rings_not_answered,
            "no_answer": self.no_answer,
            "talk_s": round(self.talk_s, 1),
            "wrapup_s": round(self.wrapup_s, 1),
        }
        if self.per_agent:
            for key in _PER_CALL:
                out[key] = None
            out[f"answer_rate_excl_abandons_under_{self.short_abandon_s}s"] = None
        return out


# Figures of the hotline's calls that an agent's row leaves empty (DOMAIN.md section 8).
_PER_CALL = ("offered", "abandoned", "timeout", "answer_rate", "service_level", "abandon_rate")


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den > 0 else None


@dataclass
class KpiRow:
    key: str
    figures: KpiFigures
    label: str = ""  # the agent's name, the queue's name; the key itself for hours and days


@dataclass
class KpiReport:
    start: datetime
    end: datetime
    by: str | None
    queue: str | None
    region_code: str | None
    total: KpiFigures
    rows: list[KpiRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "by": self.by,
            "queue": self.queue,
            "region_code": self.region_code,
            "total": self.total.as_dict(),
            "rows": [
                {"key": r.key, "label": r.label or r.key, **r.figures.as_dict()} for r in self.rows
            ],
        }


def compute_kpis(
    calls: Iterable[CallFacts], *, service_level_s: int, short_abandon_s: int
) -> KpiFigures:
    """The call-based KPIs of a set of calls (pure; the replay command uses it directly)."""
    fig = KpiFigures(service_level_s=service_level_s, short_abandon_s=short_abandon_s)
    for c in calls:
        fig.add_call(c)
    return fig


def _bucket(at: datetime, by: str, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:00") if by == "hour" else local.strftime("%Y-%m-%d")


def kpi_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    queue: str | None = None,
    by: str | None = None,
    region_code: str | None = None,
) -> KpiReport:
    """KPIs of calls first queued in [start, end), in total and grouped ``by`` hour, day,
    agent or queue; the console's reports and ``hotline report kpi`` both call this."""
    if by is not None and by not in GROUPINGS:
        raise ValidationFailed(
            f"不支持的分组: {by} / grouping must be one of {', '.join(GROUPINGS)}",
            code="invalid_grouping",
        )
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationFailed(
            "统计区间无效 / the period must be timezone-aware with end after start",
            code="invalid_period",
        )
    settings = settings_of(session)
    tz = ZoneInfo(settings.timezone)

    def new() -> KpiFigures:
        return KpiFigures(
            service_level_s=settings.service_level_s,
            short_abandon_s=settings.short_abandon_s,
            per_agent=by == "agent",
        )

    period = [Call.queued_at >= start, Call.queued_at < end, Call.direction == "inbound"]
    if queue:
        period.append(Call.first_queue == queue)
    if region_code:
        period.append(Call.region_code.startswith(codes.scope_prefix(region_code)))
    q = select(
        Call.linkedid,
        Call.queued_at,
        Call.first_queue,
        Call.outcome,
        Call.wait_s,
        Call.agent_interface,
    ).where(*period)
    facts = {
        linkedid: CallFacts(linkedid, queued_at, first_queue, outcome, wait_s, agent)
        for linkedid, queued_at, first_queue, outcome, wait_s, agent in session.execute(q)
        if queued_at is not None
    }
    total = new()
    total.per_agent = False
    groups: dict[str, KpiFigures] = defaultdict(new)
    for c in facts.values():
        total.add_call(c)
        if by == "agent":
            # the agent's answered calls, waits and service level: those credited to it
            if c.outcome == "answered" and c.agent:
                groups[c.agent].add_call(c)
        elif by is not None:
            groups[_group_of(c, by, tz)].add_call(c)

    # The rings of those calls (one per agent leg), in the call's group.
    oq = (
        select(
            AgentOffer.linkedid,
            AgentOffer.interface,
            AgentOffer.member_name,
            AgentOffer.status,
            AgentOffer.talk_s,
            AgentOffer.wrapup_s,
        )
        .join(Call, Call.linkedid == AgentOffer.linkedid)
        .where(*period)
    )
    member_names: dict[str, str] = {}
    for linkedid, interface, member_name, status, talk, wrapup in session.execute(oq):
        fact = facts.get(linkedid)
        if fact is None:
            continue
        member_names.setdefault(interface, member_name or "")
        targets = [total]
        if by == "agent":
            targets.append(groups[interface])
        elif by is not None:
            targets.append(groups[_group_of(fact, by, tz)])
        for fig in targets:
            fig.rings += 1
            if status in ("no_answer", "cancelled"):
                fig.rings_not_answered += 1
            if status == "no_answer":
                fig.no_answer += 1
            if status == "completed":
                fig.legs += 1
                fig.talk_s += float(talk or 0)
                fig.wrapup_s += float(wrapup or 0)
                fig.handle_s += float(talk or 0) + float(wrapup or 0)

    _add_occupancy(
        session,
        start=start,
        end=end,
        total=total,
        groups=groups,
        by=by,
        queue=queue,
        region_code=region_code,
    )
    labels: dict[str, str] = {}
    if by == "agent":
        labels = agent_names(session, set(groups), fallback=member_names)
    elif by == "queue":
        labels = {key: queue_label(settings, key) for key in groups}
    rows = [KpiRow(key, fig, labels.get(key, key)) for key, fig in sorted(groups.items())]
    return KpiReport(
        start=start, end=end, by=by, queue=queue, region_code=region_code, total=total, rows=rows
    )


def _group_of(c: CallFacts, by: str, tz: ZoneInfo) -> str:
    """The row of a call when grouping by hour, day or queue (its first queue)."""
    if by == "queue":
        return c.queue or "-"
    return _bucket(c.queued_at, by, tz)


def agent_names(
    session: Session, interfaces: set[str], *, fallback: dict[str, str] | None = None
) -> dict[str, str]:
    """Each desk's agent by name: the account that carries the interface, else the member name
    the queue knows, else the interface itself."""
    names = dict.fromkeys(interfaces, "")
    if not interfaces:
        return names
    for interface, member_name in session.execute(
        select(Agent.interface, Agent.member_name).where(Agent.interface.in_(interfaces))
    ):
        names[interface] = member_name or ""
    for interface, name in (fallback or {}).items():
        if interface in names and not names[interface]:
            names[interface] = name
    for account_interface, display_name in session.execute(
        select(User.sip_interface, User.display_name).where(User.sip_interface.in_(interfaces))
    ):
        if account_interface and display_name:
            names[account_interface] = display_name
    return {i: (n if n and n != i else i) for i, n in names.items()}


def _add_occupancy(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    total: KpiFigures,
    groups: dict[str, KpiFigures],
    by: str | None,
    queue: str | None,
    region_code: str | None,
) -> None:
    """Time on calls and idle ready time from the agents' state spans, clipped to the period."""
    stop = min(end, clock.now())
    if stop <= start:
        return
    agents_q = select(Agent.interface, Agent.region_code)
    allowed = None
    if region_code:
        allowed = {
            i
            for i, r in session.execute(agents_q)
            if r is None or r.startswith(codes.scope_prefix(region_code))
        }
    if queue:
        in_queue = set(
            session.scalars(
                select(AgentOffer.interface)
                .where(
                    AgentOffer.queue == queue,
                    AgentOffer.offered_at >= start,
                    AgentOffer.offered_at < end,
                )
                .distinct()
            )
        )
        allowed = in_queue if allowed is None else allowed & in_queue
    before = (
        select(AgentStateSpan.interface, func.max(AgentStateSpan.started_at).label("at"))
        .where(AgentStateSpan.started_at < start)
        .group_by(AgentStateSpan.interface)
        .subquery()
    )
    first = select(AgentStateSpan.interface, AgentStateSpan.state, AgentStateSpan.started_at).join(
        before,
        (AgentStateSpan.interface == before.c.interface)
        & (AgentStateSpan.started_at == before.c.at),
    )
    inside = select(
        AgentStateSpan.interface, AgentStateSpan.state, AgentStateSpan.started_at
    ).where(AgentStateSpan.started_at >= start, AgentStateSpan.started_at < stop)
    spans: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for interface, state, at in [*session.execute(first), *session.execute(inside)]:
        if allowed is not None and interface not in allowed:
            continue
        spans[interface].append((at, state))
    tz = ZoneInfo(settings_of(session).timezone)
    for interface, items in spans.items():
        items.sort()
        for i, (at, state) in enumerate(items):
            begin = max(at, start)
            finish = items[i + 1][0] if i + 1 < len(items) else stop
            finish = min(finish, stop)
            seconds = (finish - begin).total_seconds()
            if seconds <= 0 or state not in ("on_call", "ready", "ringing"):
                continue
            for fig in _occupancy_targets(total, groups, by, interface, begin, finish, tz):
                if state == "on_call":
                    fig[0].on_call_s += fig[1]
                else:
                    fig[0].ready_s += fig[1]


def _occupancy_targets(
    total: KpiFigures,
    groups: dict[str, KpiFigures],
    by: str | None,
    interface: str,
    begin: datetime,
    finish: datetime,
    tz: ZoneInfo,
) -> list[tuple[KpiFigures, float]]:
    seconds = (finish - begin).total_seconds()
    out = [(total, seconds)]
    if by == "agent":
        out.append((groups[interface], seconds))
    elif by in ("hour", "day"):
        # Split the span across the buckets it covers.
        cursor = begin
        while cursor < finish:
            local = cursor.astimezone(tz)
            if by == "hour":
                nxt = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            else:
                nxt = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            edge = min(nxt.astimezone(UTC), finish)
            key = _bucket(cursor, by, tz)
            if key in groups:
                out.append((groups[key], (edge - cursor).total_seconds()))
            cursor = edge
    return out


def figures_dict(fig: KpiFigures) -> dict[str, Any]:
    return {**asdict(fig), **fig.as_dict()}
