"""The provider portal (服务商平台): a phone-sized inbox of the provider's orders and the steps
its staff take at the elder's home: accept or reject, name who goes, set off, check in and out
with the phone's position and a photo, report, and the elder's confirmation.

Live on the ``/provider`` namespace: each step of one of the provider's orders (taken on a
staff phone, by the hotline or by dispatch) reaches the inbox and the staff phones showing it as
it happens; a (re)connecting page gets the inbox's counts first and reads its list again."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, render_template, request
from pydantic import BaseModel, Field

from agent_console.realtime import Connection, Realtime
from agent_console.security import audit_refusal, current_actor, guard
from agent_console.views.common import body, check_note, runtime
from agent_console.views.schemas import SnapshotIn
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.errors import ValidationFailed
from platform_core.orders import confirmation, photos, portal
from platform_core.orders import messages as order_messages
from platform_core.orders import service as orders
from platform_core.orders.events import ORDER_EVENT_TYPES
from platform_core.orders.summaries import order_change

bp = Blueprint("provider", __name__)
PROVIDER_NS = "/provider"
# Multipart overhead allowed above the photo size limit before the request is cut off.
_UPLOAD_MARGIN = 64 * 1024
_MESSAGES = Path(__file__).resolve().parents[1] / "templates" / "provider"


@cache
def portal_messages(lang: str) -> dict[str, str]:
    """The portal's own strings (Chinese first; a missing English string falls back to it)."""
    zh: dict[str, str] = json.loads((_MESSAGES / "messages.zh.json").read_text(encoding="utf-8"))
    path = _MESSAGES / f"messages.{lang}.json"
    if lang == "zh" or not path.is_file():
        return zh
    return {**zh, **json.loads(path.read_text(encoding="utf-8"))}


@bp.context_processor
def portal_text() -> dict[str, Any]:
    messages = portal_messages(g.get("lang", "zh"))

    def pt(key: str, **values: Any) -> str:
        text = messages.get(key, key)
        return text.format(**values) if values else text

    return {"pt": pt, "provider_catalogue": messages}


class StaffIn(BaseModel):
    staff_id: int | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class PositionIn(BaseModel):
    latitude: float | None = None
    longitude: float | None = None
    photo_id: int | None = None
    report: str = Field(default="", max_length=4000)


class ReportIn(BaseModel):
    report: str = Field(min_length=1, max_length=4000)


class ConfirmIn(BaseModel):
    code: str | None = Field(default=None, max_length=12)
    photo_id: int | None = None
    confirmed_by: str = Field(default="老人本人", max_length=64)


# ---------------------------------------------------------------- pages


@bp.get("/provider")
@guard(Permission.PROVIDER_PORTAL)
def inbox() -> Any:
    actor = current_actor()
    return render_template(
        "provider/inbox.html",
        views=portal.views_for(actor),
        admin=allows(actor.role, Permission.PROVIDER_ADMIN),
    )


@bp.get("/provider/orders/<int:order_id>")
@guard(Permission.PROVIDER_PORTAL)
def order_page(order_id: int) -> Any:
    return render_template("provider/order.html", order_id=order_id, photo_kinds=photos.KINDS)


# ---------------------------------------------------------------- reads


@bp.get("/api/provider/orders")
@guard(Permission.PROVIDER_PORTAL)
def list_orders() -> Any:
    view = request.args.get("view", "new")
    with runtime().session() as s:
        actor = current_actor()
        return jsonify(
            {
                "view": view,
                "orders": portal.provider_orders(s, actor=actor, view=view),
                "counts": portal.inbox_counts(s, actor=actor),
            }
        )


@bp.get("/api/provider/orders/<int:order_id>")
@guard(Permission.PROVIDER_PORTAL)
def order_detail(order_id: int) -> Any:
    with runtime().session() as s:
        return jsonify(portal.provider_order_detail(s, actor=current_actor(), order_id=order_id))


@bp.get("/api/provider/photos/<int:photo_id>")
@guard(Permission.PROVIDER_PORTAL)
def photo(photo_id: int) -> Any:
    with runtime().session() as s:
        data, content_type = photos.read_photo(s, actor=current_actor(), photo_id=photo_id)
    response = Response(data, mimetype=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- steps


def _done(order: Any) -> Any:
    return jsonify({"id": order.id, "status": order.status})


def _step(
    path: str,
    schema: type[BaseModel],
    command: Callable[..., Any],
    terms: Callable[[Any, int, Any], dict[str, Any]],
) -> None:
    """A provider's step on an order, a POST to ``path``: the body checked against ``schema``,
    then the orders command (whose name is the endpoint's) run as the user on ``terms(session,
    order_id, body)``."""

    def step(order_id: int) -> Any:
        data = body(schema)
        with runtime().session() as s:
            return _done(
                command(s, actor=current_actor(), order_id=order_id, **terms(s, order_id, data))
            )

    step.__name__ = step.__qualname__ = command.__name__
    bp.add_url_rule(
        f"/api/provider/orders/<int:order_id>/{path}",
        view_func=guard(Permission.PROVIDER_PORTAL)(step),
        methods=["POST"],
    )


def _staff_named(data: StaffIn) -> dict[str, Any]:
    if data.staff_id is None:
        raise ValidationFailed("请选择服务人员 / choose a staff member", code="staff_required")
    return {"staff_id": data.staff_id}


def _at_home(s: Any, order_id: int, data: PositionIn) -> dict[str, Any]:
    return {
        "latitude": data.latitude,
        "longitude": data.longitude,
        "photo_ref": photos.photo_ref(s, order_id=order_id, photo_id=data.photo_id),
    }


_step("accept", StaffIn, orders.accept, lambda s, o, d: {"staff_id": d.staff_id})
_step("reject", ReasonIn, orders.reject, lambda s, o, d: {"reason": check_note(d.reason)})
_step("assign-staff", StaffIn, orders.assign_staff, lambda s, o, d: _staff_named(d))
_step("start-travel", StaffIn, orders.start_travel, lambda s, o, d: {"staff_id": d.staff_id})
_step("check-in", PositionIn, orders.check_in, _at_home)
_step(
    "check-out",
    PositionIn,
    orders.check_out,
    # the report is checked before the photo is looked up, as the fields come
    lambda s, o, d: {"report": check_note(d.report), **_at_home(s, o, d)},
)
_step("complete", ReportIn, orders.complete, lambda s, o, d: {"report": check_note(d.report)})


@bp.post("/api/provider/orders/<int:order_id>/confirm")
@guard(Permission.PROVIDER_PORTAL)
def confirm(order_id: int) -> Any:
    data = body(ConfirmIn)
    with runtime().session() as s:
        if data.code:
            order = confirmation.confirm_with_code(
                s, actor=current_actor(), order_id=order_id, code=data.code
            )
        elif data.photo_id is not None:
            order = confirmation.confirm_with_signature(
                s,
                actor=current_actor(),
                order_id=order_id,
                photo_id=data.photo_id,
                confirmed_by=data.confirmed_by,
            )
        else:
            raise ValidationFailed(
                "请输入确认码或请老人签名 / enter the code or take a signature",
                code="confirmation_required",
            )
        return _done(order)


@bp.post("/api/provider/orders/<int:order_id>/resend-code")
@guard(Permission.PROVIDER_PORTAL)
def resend_code(order_id: int) -> Any:
    with runtime().session() as s:
        msg = order_messages.resend_confirmation_code(s, actor=current_actor(), order_id=order_id)
        return jsonify({"sent_to": msg.to_number[:3] + "****" + msg.to_number[-4:]})


@bp.post("/api/provider/orders/<int:order_id>/photos")
@guard(Permission.PROVIDER_PORTAL)
def upload_photo(order_id: int) -> Any:
    """A photo from the phone's camera (multipart ``photo``, ``kind``, optional position)."""
    settings = runtime().settings
    request.max_content_length = settings.order_photo_max_bytes + _UPLOAD_MARGIN
    upload = request.files.get("photo")
    if upload is None:
        audit_refusal("http.malformed", reason="no photo in upload", detail={"order_id": order_id})
        raise ValidationFailed("没有收到照片 / no photo in the upload", code="photo_required")

    def number(name: str) -> float | None:
        raw = request.form.get(name)
        try:
            return float(raw) if raw not in (None, "") else None
        except ValueError:
            return None

    with runtime().session() as s:
        row = photos.store_photo(
            s,
            actor=current_actor(),
            order_id=order_id,
            kind=request.form.get("kind", "work"),
            data=upload.read(settings.order_photo_max_bytes + 1),
            latitude=number("latitude"),
            longitude=number("longitude"),
        )
        return jsonify({"photo_id": row.id, "kind": row.kind, "size": row.size}), 201


# ---------------------------------------------------------------- live


def _provider_room(provider_id: int) -> str:
    return f"provider:{provider_id}"


def _staff_room(staff_id: int) -> str:
    return f"staff:{staff_id}"


def _portal_rooms(conn: Connection) -> list[str]:
    """A staff member's phone follows the orders they go to; the provider's own accounts, all
    of the provider's orders."""
    if conn.actor.staff_id is not None:
        return [_staff_room(conn.actor.staff_id)]
    return [_provider_room(conn.actor.provider_id)] if conn.actor.provider_id else []


def inbox_snapshot(actor: Actor) -> dict[str, Any]:
    """What a (re)connecting portal page starts from: the inbox's counts per tab."""
    with runtime().session() as s:
        return {"counts": portal.inbox_counts(s, actor=actor)}


def _relay_handlers(realtime: Realtime) -> None:
    rt = realtime.runtime

    def order_changed(env: dict[str, Any]) -> None:
        # the provider it is with now and the one that just gave it back (a rejection); the
        # staff member who goes and the one it was taken from (a reassignment)
        data = env["data"]
        detail = data.get("detail") or {}
        providers = {data.get("provider_id"), detail.get("provider_id")}
        staff = {data.get("staff_id"), detail.get("previous_staff_id")}
        rooms = [_provider_room(int(p)) for p in providers if p]
        rooms += [_staff_room(int(m)) for m in staff if m]
        if not rooms:
            return
        with rt.session() as s:
            change = order_change(s, data, at=env.get("occurred_at"))
        realtime.emit_local("order_changed", change, namespace=PROVIDER_NS, to=rooms)

    for name in ORDER_EVENT_TYPES:
        realtime.on_domain_event(name, order_changed)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    realtime.add_namespace(PROVIDER_NS, Permission.PROVIDER_PORTAL, rooms=_portal_rooms)
    realtime.set_snapshot(PROVIDER_NS, lambda conn: inbox_snapshot(conn.actor))

    @realtime.on(PROVIDER_NS, "snapshot", Permission.PROVIDER_PORTAL, SnapshotIn)
    def socket_snapshot(conn: Connection, _payload: SnapshotIn) -> dict[str, Any]:
        return {"snapshot": inbox_snapshot(conn.actor)}

    _relay_handlers(realtime)
