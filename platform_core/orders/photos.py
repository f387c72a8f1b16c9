"""Photos taken at the elder's home, kept under the data directory.

A photo is accepted by what its bytes are, never by its name: JPEG, PNG or WebP, no larger than
``order_photo_max_bytes``. Only the order's provider (or hotline staff of its region) may add
one or look at one, and each look is audited: a photo of a home or a face is personal data.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import NotFound, ValidationFailed
from platform_core.orders import service as orders
from platform_core.orders.models import OrderPhoto
from platform_core.orders.states import Command
from platform_core.photo_files import sniff_image
from platform_core.runtime import settings_of

KINDS = {
    "check_in": "签到照片",
    "check_out": "签退照片",
    "work": "服务照片",
    "signature": "老人签名",
}


class PhotoNotFound(NotFound):
    code = "photo_not_found"


def _authorize(session: Session, actor: Actor, order_id: int, action: str) -> None:
    order = orders.get_order(session, order_id=order_id)
    # the same rule as the steps at the home: the order's provider, or staff of its region
    orders._authorize(
        session, actor=actor, command=Command.CHECK_IN, region_code=order.region_code, order=order
    )


def _refuse(session: Session, actor: Actor, order_id: int, error: ValidationFailed) -> None:
    orders.refuse_on_order(
        session, actor=actor, action="order.photo", order_id=order_id, reason=error.code
    )
    raise error


def store_photo(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    kind: str,
    data: bytes,
    latitude: float | None = None,
    longitude: float | None = None,
) -> OrderPhoto:
    """Check and keep one photo of the order; returns its row (its id goes on the step)."""
    _authorize(session, actor, order_id, "order.photo")
    settings = settings_of(session)
    if kind not in KINDS:
        _refuse(
            session,
            actor,
            order_id,
            ValidationFailed(
                f"未知照片类型: {kind} / unknown photo kind",
                code="invalid_photo_kind",
                allowed=list(KINDS),
            ),
        )
    if not data:
        _refuse(
            session, actor, order_id, ValidationFailed("照片为空 / empty photo", code="empty_photo")
        )
    if len(data) > settings.order_photo_max_bytes:
        limit_mb = settings.order_photo_max_bytes / 1024 / 1024
        _refuse(
            session,
            actor,
            order_id,
            ValidationFailed(
                f"照片不能超过 {limit_mb:.1f} MB / photo larger than {limit_mb:.1f} MB",
                code="photo_too_large",
                limit=settings.order_photo_max_bytes,
            ),
        )
    sniffed = sniff_image(data)
    if sniffed is None:
        _refuse(
            session,
            actor,
            order_id,
            ValidationFailed(
                "只接受 JPEG、PNG 或 WebP 照片 / only JPEG, PNG or WebP photos",
                code="photo_type_not_allowed",
            ),
        )
    assert sniffed is not None
    content_type, ext = sniffed
    relative = Path("order_photos") / str(order_id) / f"{uuid.uuid4().hex}.{ext}"
    target = Path(settings.data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    photo = OrderPhoto(
        order_id=order_id,
        kind=kind,
        path=str(relative),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        latitude=latitude,
        longitude=longitude,
        uploaded_by=actor.label,
        uploaded_by_user_id=actor.user_id,
        provider_id=actor.provider_id,
        uploaded_at=utcnow(),
    )
    session.add(photo)
    session.flush()
    return photo


def list_photos(session: Session, *, order_id: int) -> list[OrderPhoto]:
    return list(
        session.scalars(
            select(OrderPhoto).where(OrderPhoto.order_id == order_id).order_by(OrderPhoto.id)
        )
    )


def photo_ref(session: Session, *, order_id: int, photo_id: int | None) -> str | None:
    """How a step (check-in, check-out) names its photo: one of this order's own photos."""
    if photo_id is None:
        return None
    if not any(p.id == photo_id for p in list_photos(session, order_id=order_id)):
        raise ValidationFailed(
            "照片不属于该工单 / the photo belongs to another order", code="photo_not_found"
        )
    return str(photo_id)


def read_photo(session: Session, *, actor: Actor, photo_id: int) -> tuple[bytes, str]:
    """The photo's bytes and type, for the order's provider or staff of its region; audited."""
    photo = session.get(OrderPhoto, photo_id)
    if photo is None:
        raise PhotoNotFound(f"照片不存在: {photo_id} / unknown photo")
    _authorize(session, actor, photo.order_id, "order.photo.view")
    data = (Path(settings_of(session).data_dir) / photo.path).read_bytes()
    audit.record(
        session,
        actor=actor,
        action="order.photo.view",
        target_type="order_photo",
        target_id=photo.id,
        detail={"order_id": photo.order_id, "kind": photo.kind},
    )
    return data, photo.content_type
