"""The online channel's use cases: a family member writes about an elder they follow (text, a
photo, their position), an agent of the elder's region takes the conversation, answers it and
closes it; the conversation stays on the elder's record.

A family member has one open conversation per elder: a message while one is open joins it, a
message after it closed opens the next. Who is offered a waiting conversation is the chat queue
(:mod:`platform_core.chats.queue`). Every reading by the hotline's staff is audited, and every
refusal; what was written is sealed and never travels in an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.chats import queue
from platform_core.chats.events import ChatEnded, ChatMessagePosted, ChatOpened, ChatTaken
from platform_core.chats.models import Chat, ChatMessage
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.elders.service import refuse_on_elder
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.family import service as family
from platform_core.family.models import FamilyMember
from platform_core.photo_files import check_photo, keep_photo, read_kept
from platform_core.regions import codes
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_name, mask_phone

WAITING, HANDLING, CLOSED, ABANDONED = "waiting", "handling", "closed", "abandoned"
OPEN = (WAITING, HANDLING)
STATUS_LABELS = {
    WAITING: "等待接入",
    HANDLING: "接待中",
    CLOSED: "已结束",
    ABANDONED: "未接入已撤回",
}
SENDER, AGENT = "sender", "agent"
TEXT_MAX = 1000
PHOTO_FOLDER = "chat_photos"
# Roles of the hotline who take and answer conversations (a supervisor at a desk answers too).
DESK_ROLES = (Role.AGENT, Role.SUPERVISOR)


class ChatNotFound(NotFound):
    code = "chat_not_found"


class ChatNotWaiting(IllegalTransition):
    code = "chat_taken"


class ChatNotOpen(IllegalTransition):
    code = "chat_closed"


class NotYourChat(PermissionDenied):
    code = "not_your_chat"


class ChatDeskFull(Conflict):
    code = "chat_desk_full"


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    accuracy_m: float | None = None


# ---------------------------------------------------------------- input


def clean_text(value: str | None, *, required: bool) -> str:
    text = (value or "").strip()
    if len(text) > TEXT_MAX:
        raise ValidationFailed(
            f"消息不能超过 {TEXT_MAX} 字 / a message holds at most {TEXT_MAX} characters",
            code="message_too_long",
            limit=TEXT_MAX,
        )
    if required and not text:
        raise ValidationFailed("请输入回复内容 / write a reply", code="message_empty")
    return text


def check_position(
    latitude: float | None, longitude: float | None, accuracy_m: float | None = None
) -> Position | None:
    """A position from the phone, or None when none was sent; half a position or one off the
    globe is refused."""
    if latitude is None and longitude is None:
        return None
    if (
        latitude is None
        or longitude is None
        or not -90 <= latitude <= 90
        or not -180 <= longitude <= 180
        or (accuracy_m is not None and not 0 <= accuracy_m <= 100_000)
    ):
        raise ValidationFailed(
            "位置无效, 请重新获取位置 / the position is not valid", code="invalid_position"
        )
    return Position(
        round(latitude, 6), round(longitude, 6), None if accuracy_m is None else round(accuracy_m)
    )


def _seal(session: Session, value: str) -> str:
    return cipher_of(session).seal(value)


def _open(session: Session, sealed: str | None) -> str | None:
    return None if sealed is None else cipher_of(session).open(sealed)


# ---------------------------------------------------------------- the family member's side


def _post(
    session: Session,
    chat: Chat,
    *,
    author: str,
    author_user_id: int | None,
    author_name: str,
    text: str,
    photo: bytes | None = None,
    position: Position | None = None,
) -> ChatMessage:
    now = utcnow()
    message = ChatMessage(
        chat_id=chat.id,
        author=author,
        author_user_id=author_user_id,
        author_name=author_name[:64],
        at=now,
        text_sealed=_seal(session, text) if text else None,
        position_sealed=(
            _seal(session, json.dumps([position.latitude, position.longitude, position.accuracy_m]))
            if position is not None
            else None
        ),
    )
    if photo is not None:
        settings = settings_of(session)
        stored = keep_photo(
            settings.data_dir, PHOTO_FOLDER, photo, max_bytes=settings.chat_photo_max_bytes
        )
        message.photo_path, message.photo_type = stored.path, stored.content_type
        message.photo_size, message.photo_sha256 = stored.size, stored.sha256
    session.add(message)
    chat.last_message_at = now
    session.flush()
    publish_on_commit(
        session,
        ChatMessagePosted(
            chat_id=chat.id,
            message_id=message.id,
            region_code=chat.region_code,
            author=author,
            sender_user_id=chat.sender_user_id,
            handler_user_id=chat.handler_user_id,
        ),
    )
    return message


def send_as_family(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    text: str | None,
    photo: bytes | None = None,
    position: Position | None = None,
) -> ChatMessage:
    """A family member's message about an elder they follow: it joins their open conversation
    about that elder, or opens one that waits for an agent of the elder's region."""
    link = family.require_link(session, actor=actor, elder_id=elder_id, action="chat.send")
    body = clean_text(text, required=False)
    if not body and photo is None and position is None:
        raise ValidationFailed(
            "请输入文字、附上照片或发送位置 / write something, add a photo or send your position",
            code="message_empty",
        )
    if photo is not None:  # refused before anything is opened
        check_photo(photo, max_bytes=settings_of(session).chat_photo_max_bytes)
    member = link.member
    chat = session.scalar(
        select(Chat)
        .where(
            Chat.sender_user_id == member.user_id,
            Chat.elder_id == elder_id,
            Chat.status.in_(OPEN),
        )
        .order_by(Chat.id.desc())
        .with_for_update()
    )
    if chat is None:
        elder = session.get(Elder, elder_id)
        assert elder is not None  # the link names it
        now = utcnow()
        chat = Chat(
            elder_id=elder_id,
            region_code=elder.region_code,
            sender_user_id=member.user_id,
            sender_name=member.name[:64],
            sender_relation=link.relation,
            status=WAITING,
            opened_at=now,
            last_message_at=now,
        )
        session.add(chat)
        session.flush()
        publish_on_commit(
            session,
            ChatOpened(
                chat_id=chat.id,
                region_code=chat.region_code,
                elder_id=elder_id,
                sender_user_id=member.user_id,
                opened_at=now.isoformat(),
            ),
        )
        audit.record(
            session,
            actor=actor,
            action="chat.open",
            target_type="chat",
            target_id=chat.id,
            detail={"elder_id": elder_id},
        )
    message = _post(
        session,
        chat,
        author=SENDER,
        author_user_id=member.user_id,
        author_name=member.name,
        text=body,
        photo=photo,
        position=position,
    )
    audit.record(
        session,
        actor=actor,
        action="chat.send",
        target_type="chat",
        target_id=chat.id,
        detail={
            "message_id": message.id,
            "photo": photo is not None,
            "position": position is not None,
        },
    )
    return message


def _own_chat(
    session: Session, *, actor: Actor, chat_id: int, action: str, lock: bool = False
) -> Chat:
    """The family member's own conversation (about an elder they still follow); any other reads
    as one that does not exist, audited."""
    member = family.member_of(session, actor=actor)
    chat = session.get(Chat, chat_id, with_for_update=lock)
    if chat is None or chat.sender_user_id != member.user_id:
        _refuse(session, actor, action, chat_id, "not_own_chat")
        raise ChatNotFound("咨询不存在 / no such conversation")
    family.require_link(session, actor=actor, elder_id=chat.elder_id, action=action)
    return chat


def withdraw(session: Session, *, actor: Actor, chat_id: int) -> Chat:
    """The sender ends their conversation: one nobody answered yet is abandoned (counted so in
    the KPIs), one being answered is closed."""
    chat = _own_chat(session, actor=actor, chat_id=chat_id, action="chat.withdraw", lock=True)
    if chat.status not in OPEN:
        raise ChatNotOpen("该咨询已结束 / the conversation has ended")
    _end(session, chat, ABANDONED if chat.status == WAITING else CLOSED, "家属结束咨询")
    audit.record(
        session, actor=actor, action="chat.withdraw", target_type="chat", target_id=chat.id
    )
    return chat


def _end(session: Session, chat: Chat, status: str, reason: str) -> None:
    chat.status, chat.ended_at, chat.end_reason = status, utcnow(), reason[:255]
    queue.settle_offers(session, chat=chat, taker_user_id=None)
    publish_on_commit(
        session,
        ChatEnded(
            chat_id=chat.id,
            region_code=chat.region_code,
            sender_user_id=chat.sender_user_id,
            handler_user_id=chat.handler_user_id,
            status=status,
        ),
    )


# ---------------------------------------------------------------- the hotline's side


def _refuse(session: Session, actor: Actor, action: str, chat_id: int, reason: str) -> None:
    """A refused step on a conversation, audited with its reason."""
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="chat",
        target_id=chat_id,
        detail={"reason": reason},
    )


def _for_staff(
    session: Session, *, actor: Actor, chat_id: int, action: str, lock: bool = False
) -> Chat:
    chat = session.get(Chat, chat_id, with_for_update=lock)
    if chat is None:
        raise ChatNotFound("咨询不存在 / no such conversation")
    if not codes.is_within(chat.region_code, actor.region_code):
        _refuse(session, actor, action, chat_id, "out_of_region")
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
    return chat


def _require_desk_role(session: Session, actor: Actor, action: str, chat_id: int) -> None:
    if actor.role not in DESK_ROLES or actor.user_id is None:
        _refuse(session, actor, action, chat_id, "role")
        raise PermissionDenied("只有坐席可以接待在线咨询 / only agents answer conversations")


def take(session: Session, *, actor: Actor, chat_id: int) -> Chat:
    """An agent of the elder's region takes a waiting conversation (the one offered to them or
    any other); the time it waited is its answer time. An agent holds at most
    ``chat_max_per_agent`` at once."""
    _require_desk_role(session, actor, "chat.take", chat_id)
    chat = _for_staff(session, actor=actor, chat_id=chat_id, action="chat.take", lock=True)
    if chat.status != WAITING:
        who = f"由{chat.handler_name}" if chat.status == HANDLING and chat.handler_name else ""
        raise ChatNotWaiting(f"该咨询已{who}接待或已结束 / the conversation was taken or has ended")
    limit = settings_of(session).chat_max_per_agent
    held = session.scalar(
        select(func.count())
        .select_from(Chat)
        .where(Chat.handler_user_id == actor.user_id, Chat.status == HANDLING)
    )
    if (held or 0) >= limit:
        raise ChatDeskFull(
            f"您已在接待 {held} 个咨询, 请先结束一个 / you already answer {held} conversations",
            limit=limit,
        )
    now = utcnow()
    chat.status, chat.taken_at = HANDLING, now
    chat.handler_user_id, chat.handler_name = actor.user_id, actor.name[:64]
    queue.settle_offers(session, chat=chat, taker_user_id=actor.user_id)
    waited = round((now - chat.opened_at).total_seconds(), 1)
    publish_on_commit(
        session,
        ChatTaken(
            chat_id=chat.id,
            region_code=chat.region_code,
            elder_id=chat.elder_id,
            sender_user_id=chat.sender_user_id,
            handler_user_id=actor.user_id,  # type: ignore[arg-type]
            waited_s=waited,
        ),
    )
    audit.record(
        session,
        actor=actor,
        action="chat.take",
        target_type="chat",
        target_id=chat.id,
        detail={"waited_s": waited},
    )
    return chat


def require_handler(
    session: Session, *, actor: Actor, chat_id: int, action: str, lock: bool = False
) -> Chat:
    """The conversation, in the actor's region and in their hands (refusals audited)."""
    chat = _for_staff(session, actor=actor, chat_id=chat_id, action=action, lock=lock)
    if chat.status != HANDLING:
        raise ChatNotOpen("该咨询未在接待中 / the conversation is not being answered")
    if chat.handler_user_id != actor.user_id:
        _refuse(session, actor, action, chat_id, "not_handler")
        raise NotYourChat("该咨询由其他坐席接待 / another agent answers this conversation")
    return chat


def reply(session: Session, *, actor: Actor, chat_id: int, text: str) -> ChatMessage:
    """The agent's answer, shown at once on the sender's page."""
    chat = require_handler(session, actor=actor, chat_id=chat_id, action="chat.reply", lock=True)
    message = _post(
        session,
        chat,
        author=AGENT,
        author_user_id=actor.user_id,
        author_name=actor.name,
        text=clean_text(text, required=True),
    )
    audit.record(
        session,
        actor=actor,
        action="chat.reply",
        target_type="chat",
        target_id=chat.id,
        detail={"message_id": message.id},
    )
    return message


def close(session: Session, *, actor: Actor, chat_id: int, reason: str = "") -> Chat:
    """The agent ends a conversation they answer; the family member's next message opens a new one."""
    chat = require_handler(session, actor=actor, chat_id=chat_id, action="chat.close", lock=True)
    _end(session, chat, CLOSED, reason.strip() or "坐席结束咨询")
    audit.record(session, actor=actor, action="chat.close", target_type="chat", target_id=chat.id)
    return chat


# ---------------------------------------------------------------- what screens show


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _messages(
    session: Session, chat_ids: list[int], *, show_position: bool
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in chat_ids}
    if not chat_ids:
        return out
    rows = session.scalars(
        select(ChatMessage)
        .where(ChatMessage.chat_id.in_(chat_ids))
        .order_by(ChatMessage.chat_id, ChatMessage.id)
    ).all()
    for m in rows:
        position = None
        if m.position_sealed is not None:
            lat, lon, accuracy = json.loads(_open(session, m.position_sealed) or "[]")
            position = (
                {"latitude": lat, "longitude": lon, "accuracy_m": accuracy}
                if show_position
                else {"sent": True}
            )
        out[m.chat_id].append(
            {
                "id": m.id,
                "author": m.author,
                "author_name": m.author_name,
                "at": _iso(m.at),
                "text": _open(session, m.text_sealed) or "",
                "photo": m.photo_path is not None,
                "position": position,
            }
        )
    return out


def _summary(chat: Chat, elder_name: str | None = None) -> dict[str, Any]:
    return {
        "chat_id": chat.id,
        "elder_id": chat.elder_id,
        "elder_name": elder_name,
        "status": chat.status,
        "status_label": STATUS_LABELS[chat.status],
        "sender_name": chat.sender_name,
        "sender_relation": chat.sender_relation,
        "opened_at": _iso(chat.opened_at),
        "taken_at": _iso(chat.taken_at),
        "ended_at": _iso(chat.ended_at),
        "handler_name": chat.handler_name,
        "last_message_at": _iso(chat.last_message_at),
    }


def family_view(session: Session, *, actor: Actor) -> dict[str, Any]:
    """The family member's page: the elders they may write about, and their conversations (the
    open ones and the latest few) with every message."""
    linked = family.linked_elders(session, actor=actor)
    elder_ids = [e.id for _, e in linked]
    chats = (
        session.scalars(
            select(Chat)
            .where(Chat.sender_user_id == actor.user_id, Chat.elder_id.in_(elder_ids))
            .order_by(Chat.last_message_at.desc(), Chat.id.desc())
            .limit(10)
        ).all()
        if elder_ids
        else []
    )
    messages = _messages(session, [c.id for c in chats], show_position=True)
    names = {e.id: e.name for _, e in linked}
    return {
        "elders": [
            {"elder_id": e.id, "name": e.name, "relation": link.relation} for link, e in linked
        ],
        "chats": [
            {
                **_summary(c, names.get(c.elder_id)),
                "handler_name": c.handler_name,
                "messages": messages[c.id],
            }
            for c in chats
        ],
        "answer_target_s": settings_of(session).chat_answer_target_s,
    }


def conversation(session: Session, *, actor: Actor, chat_id: int) -> dict[str, Any]:
    """One conversation as the hotline's staff read it (audited): the sender masked, the elder,
    every message with its position."""
    chat = _for_staff(session, actor=actor, chat_id=chat_id, action="chat.view")
    elder = session.get(Elder, chat.elder_id)
    phone = session.scalar(
        select(FamilyMember.phone).where(FamilyMember.user_id == chat.sender_user_id)
    )
    audit.record(
        session,
        actor=actor,
        action="chat.view",
        target_type="chat",
        target_id=chat.id,
        detail={"elder_id": chat.elder_id},
    )
    return {
        **_summary(chat, elder.name if elder else None),
        "sender_name": mask_name(chat.sender_name),
        "sender_phone": mask_phone(phone),
        "mine": chat.handler_user_id == actor.user_id and chat.status == HANDLING,
        "messages": _messages(session, [chat.id], show_position=True)[chat.id],
    }


def history_for_elder(
    session: Session, *, actor: Actor, elder_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """The elder's conversations, the latest first, with their messages: the elder's record
    keeps them. Audited as a reading of the elder's conversations."""
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound("老人档案不存在 / no such elder", code="elder_not_found")
    if not codes.is_within(elder.region_code, actor.region_code):
        refuse_on_elder(
            session, actor=actor, action="chat.history", elder_id=elder_id, reason="out_of_region"
        )
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
    chats = session.scalars(
        select(Chat)
        .where(Chat.elder_id == elder_id)
        .order_by(Chat.opened_at.desc(), Chat.id.desc())
        .limit(limit)
    ).all()
    messages = _messages(session, [c.id for c in chats], show_position=False)
    audit.record(
        session,
        actor=actor,
        action="chat.history",
        target_type="elder",
        target_id=elder_id,
        detail={"chats": len(chats)},
    )
    return [
        {**_summary(c), "sender_name": mask_name(c.sender_name), "messages": messages[c.id]}
        for c in chats
    ]


def read_photo(
    session: Session, *, actor: Actor, chat_id: int, message_id: int
) -> tuple[bytes, str]:
    """A photo of a conversation: for its sender, or the hotline's staff of its region (audited)."""
    if actor.role == Role.FAMILY:
        chat = _own_chat(session, actor=actor, chat_id=chat_id, action="chat.photo")
    else:
        chat = _for_staff(session, actor=actor, chat_id=chat_id, action="chat.photo")
    message = session.get(ChatMessage, message_id)
    if message is None or message.chat_id != chat.id or message.photo_path is None:
        raise NotFound("照片不存在 / no such photo", code="photo_not_found")
    if actor.role != Role.FAMILY:
        audit.record(
            session,
            actor=actor,
            action="chat.photo",
            target_type="chat",
            target_id=chat.id,
            detail={"message_id": message.id},
        )
    return read_kept(
        settings_of(session).data_dir, message.photo_path
    ), message.photo_type or "application/octet-stream"


def desk_chats(session: Session, *, user_id: int) -> dict[str, Any]:
    """What an agent's desk holds of the channel: the conversation reserved for it and those it
    answers, so a reload or a reconnect shows them again."""
    offer = queue.open_offer_of(session, user_id=user_id)
    handling = session.scalars(
        select(Chat)
        .where(Chat.handler_user_id == user_id, Chat.status == HANDLING)
        .order_by(Chat.taken_at)
    ).all()
    ids = {c.elder_id for c in handling} | ({offer[1].elder_id} if offer else set())
    names = (
        dict(session.execute(select(Elder.id, Elder.name).where(Elder.id.in_(ids))).all())
        if ids
        else {}
    )
    return {
        "offer": (
            {
                **_summary(offer[1], mask_name(names.get(offer[1].elder_id))),
                "sender_name": mask_name(offer[1].sender_name),
                "offer_id": offer[0].id,
                "expires_at": _iso(offer[0].expires_at),
            }
            if offer
            else None
        ),
        "handling": [
            {**_summary(c, names.get(c.elder_id)), "sender_name": mask_name(c.sender_name)}
            for c in handling
        ],
    }
