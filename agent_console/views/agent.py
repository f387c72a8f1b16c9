"""The agent's console: state control, screen pop, orders from the call, recalls, wrap-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, g, jsonify, render_template, request

from agent_console.realtime import AGENT_NS, SUPERVISOR_NS, Connection, Realtime
from agent_console.security import current_actor, guard, require_region
from agent_console.views.common import (
    body,
    check_note,
    order_opening,
    queue_name,
    require_elder_in_region,
    require_own_call,
    runtime,
)
from agent_console.views.schemas import (
    CallbackIn,
    CancelOrderIn,
    DispositionIn,
    ElderOrdersIn,
    OrderIn,
    PauseIn,
    QuickRegisterIn,
    RevealIn,
    ScreenPopIn,
    SnapshotIn,
    TransferIn,
)
from platform_core.accounts import service as accounts
from platform_core.accounts.models import User
from platform_core.accounts.permissions import Permission
from platform_core.actors import Actor
from platform_core.alarms.queue import desk_holdings
from platform_core.calls import desk
from platform_core.calls import queries as calls
from platform_core.calls import recalls as recall_items
from platform_core.catalogue.intents import order_presets
from platform_core.catalogue.service import list_service_types
from platform_core.chats import service as chats
from platform_core.db import utcnow
from platform_core.elders import registration
from platform_core.elders import service as elders
from platform_core.errors import (
    Conflict,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.flows import care_orders
from platform_core.flows.screen_pop import desk_profile, screen_pop
from platform_core.orders import service as orders
from platform_core.orders.events import ORDER_EVENT_TYPES
from platform_core.orders.summaries import (
    open_order_summaries,
    order_change,
    order_summary,
    orders_opened_by,
)
from platform_core.regions import codes
from platform_core.telephony.commands import TelephonyClient

log = logging.getLogger(__name__)
bp = Blueprint("agent", __name__)

# Pause reasons an agent may choose (labels in the message catalogue under pause.<code>);
# "wrap_up" is set by callcenter after a call (platform_core.flows.call_end).
PAUSE_REASONS = ("break", "meal", "training", "meeting", "admin")


def _interface() -> str:
    interface = g.user.get("sip_interface")
    if not interface:
        raise Conflict(
            "该账号未绑定分机 / this account has no phone extension", code="no_interface"
        )
    return str(interface)


# --- snapshot ------------------------------------------------------------------------------


def agent_snapshot(actor: Actor, user: dict[str, Any]) -> dict[str, Any]:
    """What the agent's screen shows, read in one go: own state, wrap-up, queues, recalls.

    Each part is read on its own, so a part whose module fails still leaves the rest on screen.
    """
    out: dict[str, Any] = {
        "user": user,
        "server_time": utcnow().isoformat(),
        "agent": None,
        "queues": [],
        "recalls": [],
        "wrapup": None,
        "alarm_desk": {"offer": None, "handling": []},
        "chat_desk": {"offer": None, "handling": []},
        "call": None,
        "my_orders": [],
        "unavailable": [],
    }
    rt = runtime()
    with rt.session() as s:
        wrap = accounts.pending_wrapup(s, user_id=user["id"])
        if wrap is not None:
            out["wrapup"] = {"linkedid": wrap.linkedid, "started_at": wrap.started_at.isoformat()}

    def part(name: str, read: Any) -> None:
        try:
            with rt.session() as s:
                read(s)
        except Exception:  # one broken part must not take the console down
            log.exception("读取%s失败 / reading %s failed", name, name)
            out["unavailable"].append(name)

    def live(s: Any) -> None:
        snap = calls.live_snapshot(s, region_code=actor.region_code)
        out["queues"] = snap.get("queues", [])
        out["agent"] = next(
            (a for a in snap.get("agents", []) if a.get("interface") == user.get("sip_interface")),
            None,
        )

    def recalls(s: Any) -> None:
        out["recalls"] = desk.recall_summaries(s, region_code=actor.region_code)

    def alarm_desk(s: Any) -> None:
        out["alarm_desk"] = desk_holdings(s, user_id=user["id"])

    def chat_desk(s: Any) -> None:
        out["chat_desk"] = chats.desk_chats(s, user_id=user["id"])

    def call(s: Any) -> None:
        # the call ringing at this desk or on its line: a reload shows it, a stale card goes
        if user.get("sip_interface"):
            out["call"] = desk.desk_call(s, interface=user["sip_interface"])

    part("live", live)
    part("recalls", recalls)
    part("alarms", alarm_desk)
    part("chats", chat_desk)

    def my_orders(s: Any) -> None:
        out["my_orders"] = orders_opened_by(s, user_id=user["id"])

    part("call", call)
    part("orders", my_orders)
    return out


@bp.get("/agent")
@guard(Permission.TAKE_CALLS)
def console() -> Any:
    from agent_console.views.alarms import messages as alarm_messages

    # the alarm panel's words too: an alarm offered to this desk is named on this page
    return render_template(
        "agent.html",
        pause_reasons=PAUSE_REASONS,
        dispositions=accounts.DISPOSITIONS,
        catalogue=alarm_messages(g.get("lang", "zh")),
        queue_names={q: queue_name(q) for q in _agent_queues()},
        intent_presets=order_presets(runtime().settings),
    )


@bp.get("/api/agent/snapshot")
@guard(Permission.TAKE_CALLS)
def snapshot() -> Any:
    return jsonify(agent_snapshot(current_actor(), g.user))


# --- agent state -----------------------------------------------------------------------------


def _command(send: Callable[[Any], Any]) -> dict[str, Any]:
    """Send one telephony command (callcenter audits it); the state on screen changes only when
    the event confirming it comes back from Asterisk."""
    result = send(TelephonyClient(runtime()))
    return {
        "ok": bool(result.ok),
        "message": result.message,
        "repeated": bool(getattr(result, "repeated", False)),
    }


def _agent_queues() -> list[str]:
    return [q.strip() for q in runtime().settings.agent_queues.split(",") if q.strip()]


def _require_no_wrapup() -> None:
    with runtime().session() as s:
        accounts.require_no_wrapup(s, user_id=g.user["id"])


@bp.post("/api/agent/queue-login")
@guard(Permission.TAKE_CALLS)
def queue_login() -> Any:
    _require_no_wrapup()
    interface, actor = _interface(), current_actor()
    return jsonify(
        _command(
            lambda c: c.login(
                interface=interface,
                queues=_agent_queues(),
                member_name=g.user["display_name"],
                actor=actor,
            )
        )
    )


@bp.post("/api/agent/queue-logout")
@guard(Permission.TAKE_CALLS)
def queue_logout() -> Any:
    interface, actor = _interface(), current_actor()
    return jsonify(
        _command(lambda c: c.logout(interface=interface, queues=_agent_queues(), actor=actor))
    )


@bp.post("/api/agent/pause")
@guard(Permission.TAKE_CALLS)
def pause() -> Any:
    data = body(PauseIn)
    if data.reason not in PAUSE_REASONS:
        raise ValidationFailed(
            "未知的暂停原因 / unknown pause reason",
            code="invalid_pause_reason",
            allowed=list(PAUSE_REASONS),
        )
    interface, actor = _interface(), current_actor()
    return jsonify(
        _command(lambda c: c.pause(interface=interface, reason=data.reason, actor=actor))
    )


@bp.post("/api/agent/ready")
@guard(Permission.TAKE_CALLS)
def ready() -> Any:
    _require_no_wrapup()
    interface, actor = _interface(), current_actor()
    return jsonify(_command(lambda c: c.unpause(interface=interface, actor=actor)))


@bp.post("/api/agent/disposition")
@guard(Permission.TAKE_CALLS)
def disposition() -> Any:
    data = body(DispositionIn)
    check_note(data.notes)
    with runtime().session() as s:
        row = accounts.complete_wrapup(
            s, actor=current_actor(), disposition=data.disposition, notes=data.notes
        )
        remaining = accounts.pending_wrapup(s, user_id=g.user["id"])
        linkedid = row.linkedid
    return jsonify({"ok": True, "linkedid": linkedid, "wrapup_pending": remaining is not None})


# --- the call ----------------------------------------------------------------------------------


def _own_call(linkedid: str) -> Any:
    """The call, if this user may act on it: the agent's own call, or for a supervisor any call
    in their region."""
    with runtime().session() as s:
        call = calls.find_call(s, linkedid=linkedid)
        if call is None:
            raise NotFound("通话不存在 / no such call", code="call_not_found")
        mine = call.agent_interface is not None and call.agent_interface == g.user.get(
            "sip_interface"
        )
        if not mine:
            require_region(call.region_code, target_type="call", target_id=linkedid)
            if g.user["role"] != "supervisor":
                raise PermissionDenied(
                    "只能操作自己的通话 / you can only act on your own calls", code="not_your_call"
                )
        return call


@bp.post("/api/calls/<linkedid>/transfer")
@guard(Permission.TAKE_CALLS)
def transfer(linkedid: str) -> Any:
    data = body(TransferIn)
    call, actor = _own_call(linkedid), current_actor()
    to_queue = data.target in _agent_queues()
    return jsonify(
        _command(
            lambda c: c.transfer(
                channel=call.channel,
                queue=data.target if to_queue else None,
                extension=None if to_queue else data.target,
                actor=actor,
            )
        )
    )


@bp.post("/api/calls/<linkedid>/hangup")
@guard(Permission.TAKE_CALLS)
def hangup(linkedid: str) -> Any:
    call, actor = _own_call(linkedid), current_actor()
    return jsonify(_command(lambda c: c.hangup(channel=call.channel, actor=actor)))


@bp.post("/api/recalls/<int:recall_id>/callback")
@guard(Permission.TAKE_CALLS)
def recall_callback(recall_id: int) -> Any:
    """One click: ring the agent's phone, then the elder. A double click is the same command
    (same idempotency key), so the elder is never dialled twice for one attempt."""
    body(CallbackIn)
    _require_no_wrapup()
    interface, actor = _interface(), current_actor()
    with runtime().session() as s:
        recall = recall_items.get_recall(s, recall_id=recall_id)
        require_region(recall.region_code, target_type="recall", target_id=recall_id)
        call_back = recall_items.call_back_of(recall)
    return jsonify(
        _command(
            lambda c: c.call_back(
                agent_interface=interface,
                number=call_back.number,
                recall_id=recall_id,
                elder_id=call_back.elder_id,
                idempotency_key=call_back.key,
                actor=actor,
            )
        )
    )


@bp.get("/api/recalls")
@guard(Permission.VIEW_RECALLS)
def recalls() -> Any:
    with runtime().session() as s:
        return jsonify(
            {"recalls": desk.recall_summaries(s, region_code=current_actor().region_code)}
        )


# --- the elder -----------------------------------------------------------------------------------


@bp.get("/api/elders/<int:elder_id>/profile")
@guard(Permission.VIEW_ELDER)
def profile(elder_id: int) -> Any:
    with runtime().session() as s:
        elder = require_elder_in_region(s, elder_id)
        profile = desk_profile(
            s, elder_id=elder.id, actor=current_actor(), source_ip=request.remote_addr
        )
        return jsonify({"profile": profile})


@bp.post("/api/elders/<int:elder_id>/reveal")
@guard(Permission.REVEAL_PERSONAL)
def reveal(elder_id: int) -> Any:
    """The ID number in clear: a deliberate click, audited by the elders service."""
    data = body(RevealIn)
    with runtime().session() as s:
        require_elder_in_region(s, elder_id)
        value = elders.reveal_id_number(
            s, elder_id=elder_id, actor=current_actor(), source_ip=request.remote_addr
        )
    return jsonify({"field": data.field, "value": value})


@bp.post("/api/elders")
@guard(Permission.REGISTER_ELDER)
def quick_register() -> Any:
    data = body(QuickRegisterIn)
    actor = current_actor()
    if not codes.is_within(codes.normalize_code(data.region_code), actor.region_code):
        require_region(None, target_type="region", target_id=data.region_code)
    with runtime().session() as s:
        elder = registration.register_caller(s, actor=actor, **data.model_dump())
        return jsonify({"elder_id": elder.id}), 201


@bp.post("/api/elders/<int:elder_id>/orders")
@guard(Permission.OPEN_ORDER)
def open_order(elder_id: int) -> Any:
    data = body(OrderIn)
    check_note(data.notes)
    with order_opening(), runtime().session() as s:
        elder = require_elder_in_region(s, elder_id)
        if data.chat_id is not None:
            opened = care_orders.open_chat_order(
                s,
                actor=current_actor(),
                chat_id=data.chat_id,
                service_type_code=data.service_type_code,
                urgency=data.urgency,
                notes=data.notes,
                address=data.address or None,
                site_id=data.site_id,
            )
            if opened.order.elder_id != elder.id:
                raise ValidationFailed(
                    "该咨询不是这位老人的 / the conversation is about another elder",
                    code="chat_of_another_elder",
                )
        else:
            require_own_call(s, data.linkedid)
            opened = care_orders.open_call_order(
                s,
                actor=current_actor(),
                elder_id=elder.id,
                service_type_code=data.service_type_code,
                urgency=data.urgency,
                notes=data.notes,
                address=data.address or None,
                linkedid=data.linkedid,
                site_id=data.site_id,
            )
        order = opened.order
        allowance = care_orders.order_allowance(s, order_id=order.id)
        summary = {
            **order_summary(order),
            "allowance": str(allowance),
            "already_open": opened.already_open,
        }
        # the call's order of this service was there already: nothing new was created
        return jsonify({"order": summary}), 200 if opened.already_open else 201


@bp.post("/api/orders/<int:order_id>/cancel")
@guard(Permission.OPEN_ORDER)
def cancel_order(order_id: int) -> Any:
    """Cancel an order opened by mistake or no longer wanted; what it drew is given back."""
    data = body(CancelOrderIn)
    check_note(data.reason)
    with runtime().session() as s:
        require_region(
            orders.get_order(s, order_id=order_id).region_code,
            target_type="service_order",
            target_id=order_id,
        )
        order = care_orders.cancel_care_order(
            s, actor=current_actor(), order_id=order_id, reason=data.reason
        )
        return jsonify({"order": order_summary(order)})


@bp.get("/api/catalogue/service-types")
@guard(Permission.OPEN_ORDER)
def service_types() -> Any:
    with runtime().session() as s:
        types = [
            {"code": r.code, "name": r.name, "category": r.category} for r in list_service_types(s)
        ]
        return jsonify({"service_types": types})


# --- Socket.IO ------------------------------------------------------------------------------------


def _relay_handlers(realtime: Realtime) -> None:
    rt = realtime.runtime

    def user_for(interface: str | None) -> User | None:
        if not interface:
            return None
        with rt.session() as s:
            return accounts.find_user_by_interface(s, interface)

    def ringing(env: dict[str, Any]) -> None:
        data = env["data"]
        user = user_for(data.get("agent_interface"))
        if user is not None:
            realtime.emit_local("call_ringing", data, namespace=AGENT_NS, to=f"user:{user.id}")
        realtime.tell_supervisors(env)

    def agent_event(env: dict[str, Any]) -> None:
        data = env["data"]
        user = user_for(data.get("agent_interface") or data.get("interface"))
        if user is not None:
            realtime.emit_local("agent_event", env, namespace=AGENT_NS, to=f"user:{user.id}")
        realtime.tell_supervisors(env)

    def wrapup_opened(env: dict[str, Any]) -> None:
        # callcenter opened it with the call's end (and paused the desk): the agent is asked
        data = env["data"]
        realtime.emit_local(
            "wrapup_required",
            {"linkedid": data["linkedid"]},
            namespace=AGENT_NS,
            to=f"user:{data['user_id']}",
        )

    def ring_ended(env: dict[str, Any]) -> None:
        # only the desk it rang at: the wallboard follows the agent's state instead
        user = user_for(env["data"].get("agent_interface"))
        if user is not None:
            realtime.emit_local("ring_ended", env["data"], namespace=AGENT_NS, to=f"user:{user.id}")

    def order_changed(env: dict[str, Any]) -> None:
        # to the screen pops showing this elder and the agent who opened the order, and to the
        # wallboards of the order's region: each step moves on screen as it happens
        data = env["data"]
        with rt.session() as s:
            change = order_change(s, data, at=env.get("occurred_at"))
        rooms = [_elder_room(data["elder_id"])]
        if data.get("opened_by_user_id"):
            rooms.append(f"user:{data['opened_by_user_id']}")
        realtime.emit_local("order_changed", change, namespace=AGENT_NS, to=rooms)
        realtime.emit_to_region(
            "order_changed",
            {**change, "region_code": data["region_code"]},
            namespace=SUPERVISOR_NS,
        )

    def recall_changed(env: dict[str, Any]) -> None:
        realtime.emit_to_region("recall_changed", env, namespace=AGENT_NS)
        realtime.tell_supervisors(env)

    def login_ended(env: dict[str, Any]) -> None:
        realtime.close_login(env["data"]["session_id"])

    realtime.on_domain_event("CallRinging", ringing)
    realtime.on_domain_event("CallRingEnded", ring_ended)
    for name in (
        "CallAnswered",
        "AgentStateChanged",
        "CallQueued",
        "CallAbandoned",
        "QueueStatsChanged",
    ):
        realtime.on_domain_event(name, agent_event)
    realtime.on_domain_event("CallEnded", agent_event)
    realtime.on_domain_event("WrapUpOpened", wrapup_opened)
    for name in ORDER_EVENT_TYPES:
        realtime.on_domain_event(name, order_changed)
    realtime.on_domain_event("RecallOpened", recall_changed)
    realtime.on_domain_event("RecallClosed", recall_changed)
    realtime.on_domain_event("LoginSessionEnded", login_ended)


def _elder_room(elder_id: int) -> str:
    return f"elder:{elder_id}"


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    realtime.set_snapshot(AGENT_NS, lambda conn: agent_snapshot(conn.actor, conn.user))

    @realtime.on(AGENT_NS, "snapshot", Permission.TAKE_CALLS, SnapshotIn)
    def socket_snapshot(conn: Connection, _payload: SnapshotIn) -> dict[str, Any]:
        return {"snapshot": agent_snapshot(conn.actor, conn.user)}

    @realtime.on(AGENT_NS, "screen_pop", Permission.VIEW_ELDER, ScreenPopIn)
    def socket_screen_pop(conn: Connection, payload: ScreenPopIn) -> dict[str, Any]:
        with runtime().session() as s:
            result = screen_pop(
                s,
                actor=conn.actor,
                linkedid=payload.linkedid,
                elder_id=payload.elder_id,
                caller_number=payload.caller_number,
            )
        # the pop's orders follow the elder shown: their events reach this connection
        elder_id = (result.get("profile") or {}).get("id")
        realtime.follow(AGENT_NS, request.sid, _elder_room(elder_id) if elder_id else None)  # type: ignore[attr-defined]
        return result

    @realtime.on(AGENT_NS, "elder_orders", Permission.VIEW_ELDER, ElderOrdersIn)
    def socket_elder_orders(conn: Connection, payload: ElderOrdersIn) -> dict[str, Any]:
        """The open orders of the elder on the pop, read again after a reconnect (events
        published while the connection was away are in them), and follow that elder again."""
        with runtime().session() as s:
            region = elders.get_elder(s, elder_id=payload.elder_id).region_code
            if not codes.is_within(region, conn.actor.region_code):
                raise OutOfRegion("无权访问其他地区的数据 / outside your region")
            summaries = open_order_summaries(s, elder_id=payload.elder_id)
        realtime.follow(AGENT_NS, request.sid, _elder_room(payload.elder_id))  # type: ignore[attr-defined]
        return {"elder_id": payload.elder_id, "open_orders": summaries}

    _relay_handlers(realtime)
