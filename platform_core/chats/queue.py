"""The chat queue: waiting conversations reserved for one ready agent at a time, as the alarm
queue reserves alarms (:mod:`platform_core.alarms.queue`), with the channel's own rules.

- Conversations wait oldest first. Each is reserved for ONE desk of its region that is ready in
  the voice queues, holds no reservation and answers fewer than ``chat_max_per_agent``
  conversations (a desk offered an alarm is paused for it at once, and a paused desk is offered
  nothing); the desk answering fewest, then the
  longest-ready, first. A reservation runs ``chat_offer_timeout_s``; one not taken lapses and
  the conversation goes to the next desk; a desk that let one lapse is offered no other until it
  is ready again (nobody is at it).
- A conversation does not hold the phone line: a reservation sends no pause to telephony, and an
  agent answering conversations stays ready for calls.
- Reservations live in ``chat_offers`` (one open per conversation and per agent, by unique
  indexes) and every pass runs under one transaction-scoped advisory lock on PostgreSQL, so the
  routers of several console processes never offer a conversation twice.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.orm import Session

from platform_core.accounts.models import User
from platform_core.actors import Role
from platform_core.calls.models import Agent
from platform_core.chats.events import ChatOffered, ChatOfferEnded
from platform_core.chats.models import Chat, ChatOffer
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_name
from platform_core.telephony.desks import DeskCommand

OFFERED, TAKEN, LAPSED, WITHDRAWN = "offered", "taken", "lapsed", "withdrawn"
_LOCK_KEY = zlib.crc32(b"hotline.chat_queue")
# Roles whose ready desks are offered conversations (a supervisor at a desk answers too).
DESK_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value)


@dataclass
class RoutePass:
    offered: list[int] = field(default_factory=list)  # offer ids
    lapsed: list[int] = field(default_factory=list)
    # a conversation never pauses a desk: the router's telephony hand-off stays empty
    commands: list[DeskCommand] = field(default_factory=list)


def _serialize(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _unreserved() -> Any:
    return and_(
        Chat.status == "waiting",
        ~exists().where(ChatOffer.chat_id == Chat.id, ChatOffer.status == OFFERED),
    )


def has_work(session: Session, *, now: datetime | None = None) -> bool:
    """Whether a routing pass has anything to do (one cheap read, no lock)."""
    now = now or utcnow()
    due = exists().where(ChatOffer.status == OFFERED, ChatOffer.expires_at <= now)
    # a waiting conversation is work only while some desk is ready to be offered it (a desk
    # becoming ready wakes the router), so a queue nobody can answer costs no pass a tick
    free_desk = (
        select(User.id)
        .join(Agent, Agent.interface == User.sip_interface)
        .where(
            Agent.state == "ready",
            ~exists().where(ChatOffer.user_id == User.id, ChatOffer.status == OFFERED),
        )
        .exists()
    )
    waiting = and_(exists().where(_unreserved()), free_desk)
    return bool(session.scalar(select(or_(due, waiting))))


def _end(session: Session, offer: ChatOffer, chat: Chat, outcome: str, now: datetime) -> None:
    offer.status, offer.ended_at = outcome, now
    publish_on_commit(
        session,
        ChatOfferEnded(
            chat_id=chat.id,
            offer_id=offer.id,
            region_code=chat.region_code,
            user_id=offer.user_id,
            outcome=outcome,
        ),
    )


def settle_offers(session: Session, *, chat: Chat, taker_user_id: int | None) -> None:
    """The conversation was taken or ended: its open reservation is ``taken`` when the taker
    held it, ``withdrawn`` otherwise. The caller holds the conversation's row lock."""
    offer = session.scalar(
        select(ChatOffer)
        .where(ChatOffer.chat_id == chat.id, ChatOffer.status == OFFERED)
        .with_for_update()
    )
    if offer is not None:
        outcome = (
            TAKEN if taker_user_id is not None and offer.user_id == taker_user_id else WITHDRAWN
        )
        _end(session, offer, chat, outcome, utcnow())


@dataclass(frozen=True)
class _Desk:
    user_id: int
    name: str
    region_code: str
    answering: int


def _ready_desks(session: Session) -> list[_Desk]:
    limit = settings_of(session).chat_max_per_agent
    answering = (
        select(func.count())
        .select_from(Chat)
        .where(Chat.handler_user_id == User.id, Chat.status == "handling")
        .scalar_subquery()
    )
    lapsed = (
        select(func.max(ChatOffer.ended_at))
        .where(ChatOffer.user_id == User.id, ChatOffer.status == LAPSED)
        .scalar_subquery()
    )
    rows = session.execute(
        select(User.id, User.display_name, User.region_code, answering, Agent.since, lapsed)
        .join(Agent, Agent.interface == User.sip_interface)
        .where(
            Agent.state == "ready",
            User.active.is_(True),
            User.role.in_(DESK_ROLES),
            ~exists().where(ChatOffer.user_id == User.id, ChatOffer.status == OFFERED),
        )
        .order_by(answering, Agent.since, User.id)
    ).all()
    return [
        _Desk(uid, name, region, int(n or 0))
        for uid, name, region, n, since, last_lapse in rows
        if int(n or 0) < limit and (last_lapse is None or since > last_lapse)
    ]


def _expire(session: Session, now: datetime, out: RoutePass) -> None:
    due = session.scalars(
        select(ChatOffer)
        .where(ChatOffer.status == OFFERED, ChatOffer.expires_at <= now)
        .order_by(ChatOffer.expires_at)
        .with_for_update(skip_locked=True)
    ).all()
    for offer in due:
        chat = session.get(Chat, offer.chat_id)
        if chat is not None:
            _end(session, offer, chat, LAPSED, now)
            out.lapsed.append(offer.id)


def route(session: Session, *, now: datetime | None = None) -> RoutePass:
    """One pass: lapse the reservations that ran out, then reserve every waiting conversation
    (oldest first) for the first suitable desk of its region. The caller commits."""
    now = now or utcnow()
    out = RoutePass()
    _serialize(session)
    _expire(session, now, out)
    desks = _ready_desks(session)
    chats = (
        session.scalars(
            select(Chat)
            .where(_unreserved())
            .order_by(Chat.opened_at, Chat.id)
            .limit(500)
            .with_for_update(skip_locked=True)
        ).all()
        if desks
        else []
    )
    timeout = timedelta(seconds=settings_of(session).chat_offer_timeout_s)
    for chat in chats:
        desk = next((d for d in desks if codes.is_within(chat.region_code, d.region_code)), None)
        if desk is None:
            continue
        desks.remove(desk)
        offer = ChatOffer(
            chat_id=chat.id,
            user_id=desk.user_id,
            agent_name=desk.name[:64],
            offered_at=now,
            expires_at=now + timeout,
            status=OFFERED,
        )
        session.add(offer)
        session.flush()
        publish_on_commit(
            session,
            ChatOffered(
                chat_id=chat.id,
                offer_id=offer.id,
                region_code=chat.region_code,
                user_id=desk.user_id,
                agent_name=offer.agent_name,
                opened_at=chat.opened_at.isoformat(),
                expires_at=offer.expires_at.isoformat(),
            ),
        )
        out.offered.append(offer.id)
    session.flush()
    return out


def open_offer_of(session: Session, *, user_id: int) -> tuple[ChatOffer, Chat] | None:
    row = session.execute(
        select(ChatOffer, Chat)
        .join(Chat, Chat.id == ChatOffer.chat_id)
        .where(ChatOffer.user_id == user_id, ChatOffer.status == OFFERED)
    ).first()
    return (row[0], row[1]) if row else None


def waiting_board(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    """The region's waiting conversations, oldest first, with whom each is offered to and how
    often an offer lapsed: the supervisors' view of the queue (the elder's name masked)."""
    rows = session.execute(
        select(Chat, Elder.name)
        .join(Elder, Elder.id == Chat.elder_id)
        .where(Chat.status == "waiting", within(Chat.region_code, region_code))
        .order_by(Chat.opened_at, Chat.id)
        .limit(200)
    ).all()
    ids = [chat.id for chat, _ in rows]
    offered = (
        dict(
            session.execute(
                select(ChatOffer.chat_id, ChatOffer.agent_name).where(
                    ChatOffer.chat_id.in_(ids), ChatOffer.status == OFFERED
                )
            ).all()
        )
        if ids
        else {}
    )
    lapses = (
        dict(
            session.execute(
                select(ChatOffer.chat_id, func.count())
                .where(ChatOffer.chat_id.in_(ids), ChatOffer.status == LAPSED)
                .group_by(ChatOffer.chat_id)
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "chat_id": chat.id,
            "elder_name": mask_name(name),
            "sender_relation": chat.sender_relation,
            "opened_at": chat.opened_at.isoformat(),
            "offered_to": offered.get(chat.id),
            "lapsed": int(lapses.get(chat.id, 0)),
        }
        for chat, name in rows
    ]
