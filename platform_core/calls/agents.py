"""Agents as the wallboard shows them: the state derived from what Asterisk confirmed (queue
memberships, pauses, device state) and the call legs, and the changes a unit of work publishes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import User
from platform_core.calls import events as ev
from platform_core.calls import live
from platform_core.calls.live import LiveAgent
from platform_core.calls.models import Agent
from platform_core.events import publish_on_commit
from platform_core.key_lists import KEYS, among
from platform_core.runtime import settings_of

log = logging.getLogger(__name__)

# Agent states (DOMAIN.md 1).
LOGGED_OUT, READY, RINGING, ON_CALL, WRAP_UP, PAUSED = (
    "logged_out",
    "ready",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
)
AGENT_STATES = (LOGGED_OUT, READY, RINGING, ON_CALL, WRAP_UP, PAUSED)
_DESK_REGIONS = select(User.sip_interface, User.region_code).where(among(User.sip_interface))
_DEVICE_IN_USE = {2, 3, 8}  # INUSE, BUSY, ONHOLD
_DEVICE_RINGING = {6, 7}  # RINGING, RINGINUSE
_DEVICE_GONE = {4, 5}  # INVALID, UNAVAILABLE
# session.info keys: the agents whose state changed in this unit of work, and their new spans
CHANGES = "calls.agent_changes"
SPANS = "calls.spans"
# The account regions of desks a unit of work will meet for the first time, read together.
ACCOUNT_REGIONS = "calls.account_regions"


def agent_of(
    session: Session, interface: str, member_name: str = "", *, create: bool = True
) -> LiveAgent | None:
    st = live.store(session)
    if interface not in st.agents:
        live.load_agents(session, [interface])
    agent = st.agents.get(interface)
    if agent is None and create:
        agent = LiveAgent(
            interface=interface,
            member_name=member_name or interface,
            state=LOGGED_OUT,
            since=clock.now(),
            region_code=_account_region(session, interface),
        )
        st.agents[interface] = agent
    elif agent is not None and member_name and agent.member_name != member_name:
        agent.member_name = member_name
    return agent


def prefetch_account_regions(session: Session, interfaces: Collection[str]) -> None:
    """Read in one statement the account regions of the desks among ``interfaces`` that have
    no agent row yet: a fresh callcenter meeting 640 desks read them one statement each, and the
    first second's screen pops waited behind those reads."""
    st = live.store(session)
    known: dict[str, str | None] = session.info.setdefault(ACCOUNT_REGIONS, {})
    new = sorted({i for i in interfaces if i and st.agents.get(i) is None and i not in known})
    if not new:
        return
    try:
        with session.no_autoflush:
            found = dict(session.execute(_DESK_REGIONS, {KEYS: new}).all())
    except Exception:  # noqa: BLE001 - as below: each desk is then looked up on its own
        log.exception("查询坐席账号区划失败 / account region lookup failed")
        return
    for interface in new:
        known[interface] = found.get(interface)


def _account_region(session: Session, interface: str) -> str | None:
    """The region of the user whose account carries this SIP interface, if there is one."""
    known: dict[str, str | None] = session.info.get(ACCOUNT_REGIONS, {})
    if interface in known:
        return known[interface]
    try:
        with session.no_autoflush:
            return session.scalar(select(User.region_code).where(User.sip_interface == interface))
    except Exception:  # noqa: BLE001 - an agent's region is a nicety, never a reason to drop an event
        log.exception("查询坐席账号区划失败 / account region lookup failed")
        return None


def derive_agent_state(agent: LiveAgent | Agent, at: datetime) -> tuple[str, str | None]:
    """The state a wallboard shows, from the memberships Asterisk confirmed and the call legs."""
    raw = agent.memberships
    members = list(raw.values()) if isinstance(raw, dict) else list(raw)
    if not members:
        return LOGGED_OUT, None
    if (
        agent.linkedid is not None
        or agent.device_status in _DEVICE_IN_USE
        or any(m.in_call for m in members)
    ):
        return ON_CALL, None
    if agent.ringing_uniqueid is not None or agent.device_status in _DEVICE_RINGING:
        return RINGING, None
    if agent.wrapup_until is not None and agent.wrapup_until > at:
        return WRAP_UP, None
    if all(m.paused for m in members):
        return PAUSED, next((m.paused_reason for m in members if m.paused_reason), "") or None
    if agent.device_status in _DEVICE_GONE:
        return PAUSED, "device_unavailable"
    return READY, None


def refresh_agent(session: Session, agent: LiveAgent, at: datetime) -> None:
    state, reason = derive_agent_state(agent, at)
    if state == agent.state and reason == agent.reason:
        return
    changes: dict[str, tuple[str, str | None, LiveAgent]] = session.info.setdefault(CHANGES, {})
    changes.setdefault(agent.interface, (agent.state, agent.reason, agent))
    agent.state, agent.reason, agent.since = state, reason, at
    # Spans are insert-only: written in one multi-row INSERT when the unit of work commits.
    session.info.setdefault(SPANS, []).append(
        {"interface": agent.interface, "state": state, "reason": reason, "started_at": at}
    )


def publish_changes(
    session: Session, changes: dict[str, tuple[str, str | None, LiveAgent]]
) -> None:
    """One AgentStateChanged per agent whose state differs at the end of the unit of work from
    its start: a batch lasts milliseconds, and a screen shows where the agent is now (the spans
    keep every step for the reports)."""
    home = settings_of(session).home_region_code
    for interface in sorted(changes):
        previous, previous_reason, agent = changes[interface]
        if (agent.state, agent.reason) == (previous, previous_reason):
            continue
        publish_on_commit(
            session,
            ev.AgentStateChanged(
                interface=interface,
                member_name=agent.member_name,
                state=agent.state,
                reason=agent.reason,
                since=agent.since.isoformat(),
                previous=previous,
                linkedid=agent.linkedid,
                queues=sorted(agent.memberships),
                region_code=agent.region_code or home,
            ),
        )


def drop_membership(agent: LiveAgent, queue: str) -> None:
    del agent.memberships[queue]
    agent._removed.append(queue)
