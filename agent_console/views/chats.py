"""The online channel (网络受理, 在线客服): the family member's phone page that writes to the
hotline about an elder they follow, and the agent's side of the desk that takes, answers and
closes the conversation and opens orders from it.

Who is offered a waiting conversation is the chat queue (platform_core.chats.queue), routed by
this process's :class:`~platform_core.chats.router.ChatRouter`, woken by the relay when a
conversation opens, is taken or ends and when a desk becomes ready. The sender's page follows
its conversations on the ``/chat`` namespace: a snapshot on every (re)connect, then a signal
for each change after which it reads the snapshot again (events carry no text).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from pydantic import Field

from agent_console.realtime import AGENT_NS, Connection, Realtime
from agent_console.security import audit_refusal, current_actor, guard
from agent_console.views.common import body, require_elder_in_region, runtime
from agent_console.views.schemas import Strict
from platform_core.accounts.permissions import Permission
from platform_core.chats import service as chats
from platform_core.chats.router import ChatRouter
from platform_core.errors import ValidationFailed

bp = Blueprint("chats", __name__)
CHAT_NS = "/chat"
_UPLOAD_MARGIN = 64 * 1024


class ReplyIn(Strict):
    text: str = Field(default="", max_length=100_000)


class CloseIn(Strict):
    reason: str = Field(default="", max_length=255)


# ---------------------------------------------------------------- the family member's page


@bp.get("/family/chat")
@guard(Permission.FAMILY_PORTAL)
def page() -> Any:
    with runtime().session() as s:
        view = chats.family_view(s, actor=current_actor())
    chosen = request.args.get("elder", "")
    return render_template(
        "family/chat.html",
        elders=view["elders"],
        chosen=int(chosen) if chosen.isascii() and chosen.isdigit() else None,
        target_s=view["answer_target_s"],
        photo_max_mb=round(runtime().settings.chat_photo_max_bytes / 1024 / 1024, 1),
        photo_max_bytes=runtime().settings.chat_photo_max_bytes,
    )


def _number(name: str) -> float | None:
    raw = request.form.get(name, "").strip()[:32]
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed(
            "位置无效, 请重新获取位置 / the position is not valid", code="invalid_position"
        ) from None


@bp.post("/api/family/chats")
@guard(Permission.FAMILY_PORTAL)
def send() -> Any:
    """A message (multipart: ``elder_id``, ``text``, optional ``photo``, ``latitude``,
    ``longitude``, ``accuracy``); it joins the open conversation about that elder or opens one."""
    raw_elder = request.form.get("elder_id", "")
    if not (raw_elder.isascii() and raw_elder.isdigit() and len(raw_elder) < 10):
        audit_refusal("http.malformed", reason="no elder", detail={"fields": ["elder_id"]})
        raise ValidationFailed("请选择老人 / choose the elder", code="elder_required")
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else None
    position = chats.check_position(_number("latitude"), _number("longitude"), _number("accuracy"))
    with runtime().session() as s:
        message = chats.send_as_family(
            s,
            actor=current_actor(),
            elder_id=int(raw_elder),
            text=request.form.get("text", "")[: chats.TEXT_MAX + 1],
            photo=photo,
            position=position,
        )
        return jsonify({"chat_id": message.chat_id, "message_id": message.id}), 201


send.hotline_upload_bytes = lambda settings: (  # type: ignore[attr-defined]
    settings.chat_photo_max_bytes + _UPLOAD_MARGIN
)


@bp.post("/api/family/chats/<int:chat_id>/withdraw")
@guard(Permission.FAMILY_PORTAL)
def withdraw(chat_id: int) -> Any:
    with runtime().session() as s:
        chat = chats.withdraw(s, actor=current_actor(), chat_id=chat_id)
        return jsonify({"chat_id": chat.id, "status": chat.status})


def _photo_response(data: bytes, content_type: str) -> Response:
    return Response(data, mimetype=content_type, headers={"Cache-Control": "private, no-store"})


@bp.get("/api/family/chats/<int:chat_id>/photos/<int:message_id>")
@guard(Permission.FAMILY_PORTAL)
def family_photo(chat_id: int, message_id: int) -> Any:
    with runtime().session() as s:
        data, kind = chats.read_photo(
            s, actor=current_actor(), chat_id=chat_id, message_id=message_id
        )
    return _photo_response(data, kind)


# ---------------------------------------------------------------- the agent's desk


@bp.post("/api/chats/<int:chat_id>/take")
@guard(Permission.TAKE_CALLS)
def take(chat_id: int) -> Any:
    with runtime().session() as s:
        chat = chats.take(s, actor=current_actor(), chat_id=chat_id)
        return jsonify({"chat_id": chat.id, "elder_id": chat.elder_id})


@bp.get("/api/chats/<int:chat_id>")
@guard(Permission.TAKE_CALLS)
def conversation(chat_id: int) -> Any:
    with runtime().session() as s:
        return jsonify({"chat": chats.conversation(s, actor=current_actor(), chat_id=chat_id)})


@bp.post("/api/chats/<int:chat_id>/replies")
@guard(Permission.TAKE_CALLS)
def reply(chat_id: int) -> Any:
    data = body(ReplyIn)
    with runtime().session() as s:
        message = chats.reply(s, actor=current_actor(), chat_id=chat_id, text=data.text)
        return jsonify({"message_id": message.id}), 201


@bp.post("/api/chats/<int:chat_id>/close")
@guard(Permission.TAKE_CALLS)
def close(chat_id: int) -> Any:
    data = body(CloseIn)
    with runtime().session() as s:
        chat = chats.close(s, actor=current_actor(), chat_id=chat_id, reason=data.reason)
        return jsonify({"chat_id": chat.id, "status": chat.status})


@bp.get("/api/chats/<int:chat_id>/photos/<int:message_id>")
@guard(Permission.VIEW_ELDER)
def staff_photo(chat_id: int, message_id: int) -> Any:
    with runtime().session() as s:
        data, kind = chats.read_photo(
            s, actor=current_actor(), chat_id=chat_id, message_id=message_id
        )
    return _photo_response(data, kind)


@bp.get("/api/elders/<int:elder_id>/chats")
@guard(Permission.VIEW_ELDER)
def elder_history(elder_id: int) -> Any:
    """The elder's conversations (the elder's record keeps them), audited."""
    with runtime().session() as s:
        require_elder_in_region(s, elder_id)
        return jsonify(
            {"chats": chats.history_for_elder(s, actor=current_actor(), elder_id=elder_id)}
        )


# ---------------------------------------------------------------- the relay


def _relay_handlers(realtime: Realtime, router: ChatRouter) -> None:
    def to_sender(event: str, env: dict[str, Any]) -> None:
        realtime.emit_local(
            event, env, namespace=CHAT_NS, to=f"user:{env['data']['sender_user_id']}"
        )

    def changed(env: dict[str, Any]) -> None:
        router.wake()
        realtime.emit_to_region("chat_changed", env, namespace=AGENT_NS)
        realtime.tell_supervisors(env)
        to_sender("chat_changed", env)

    def offered(env: dict[str, Any]) -> None:
        realtime.emit_local(
            "chat_offered", env, namespace=AGENT_NS, to=f"user:{env['data']['user_id']}"
        )

    def offer_ended(env: dict[str, Any]) -> None:
        router.wake()
        realtime.emit_local(
            "chat_offer_ended", env, namespace=AGENT_NS, to=f"user:{env['data']['user_id']}"
        )

    def message(env: dict[str, Any]) -> None:
        handler = env["data"].get("handler_user_id")
        if handler:
            realtime.emit_local("chat_message", env, namespace=AGENT_NS, to=f"user:{handler}")
        to_sender("chat_message", env)

    def desk_state(env: dict[str, Any]) -> None:
        if env["data"].get("state") == "ready":
            router.wake()

    realtime.on_domain_event("ChatOffered", offered)
    realtime.on_domain_event("ChatOfferEnded", offer_ended)
    realtime.on_domain_event("ChatMessagePosted", message)
    realtime.on_domain_event("AgentStateChanged", desk_state)
    for name in ("ChatOpened", "ChatTaken", "ChatEnded"):
        realtime.on_domain_event(name, changed)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    router = ChatRouter(realtime.runtime)
    app.extensions["hotline_chat_router"] = router
    realtime.add_companion(router.start, router.stop)
    _relay_handlers(realtime, router)
    realtime.add_namespace(CHAT_NS, Permission.FAMILY_PORTAL)

    def snapshot_of(conn: Connection) -> dict[str, Any]:
        with realtime.runtime.session() as s:
            return chats.family_view(s, actor=conn.actor)

    realtime.set_snapshot(CHAT_NS, snapshot_of)

    @realtime.on(CHAT_NS, "snapshot", Permission.FAMILY_PORTAL)
    def socket_snapshot(conn: Connection, _payload: Any) -> dict[str, Any]:
        return {"snapshot": snapshot_of(conn)}
