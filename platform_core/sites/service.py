"""The service-site registry: community and street stations, day care centres and meal points
in one list per region, with their address and position, opening hours, capacity, services,
staff and photos.

Registry keepers (officers and administrators, ``manage_sites``) register sites, change what
only they decide (name, kind, region, operator) and open, suspend or close them. A site's
manager (a ``site_manager`` account linked to the site as staff who manages it) keeps the
site's own details: hours, capacity, services, phone, staff and photos. Everybody acts only in
their region; every change and every refusal is audited.

Meal points are registered by meal aid (``meal_aid.service.open_meal_point``), which adds the
meal-aid half of the row; ``platform_core.flows.site_registry`` registers either kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import User
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.elders import phones
from platform_core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.photo_files import keep_photo, read_kept
from platform_core.providers.models import Provider
from platform_core.regions import codes
from platform_core.regions.service import ensure_region, require_within, within
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_phone
from platform_core.sites.events import SiteRegistered, SiteStatusChanged, SiteUpdated
from platform_core.sites.models import ServiceSite, SitePhoto, SiteStaff
from platform_core.sites.vocabulary import (
    KIND_LABELS,
    SITE_SERVICES,
    STAFF_POSTS,
    STATUS_LABELS,
    WEEKDAYS,
    SiteKind,
    SiteStatus,
)

# Details a site's manager keeps; the rest is the registry keeper's.
MANAGER_FIELDS = frozenset({"opening_hours", "capacity", "services", "phone"})
KEEPER_FIELDS = MANAGER_FIELDS | {"name", "address", "latitude", "longitude", "provider_id"}
SITE_PHOTO_MAX_BYTES = 6 * 1024 * 1024


class SiteNotFound(NotFound):
    code = "site_not_found"


class NotSiteStaff(PermissionDenied):
    code = "not_site_staff"


@dataclass(frozen=True)
class SiteFields:
    """What any site carries, checked: meal aid builds its points from these too."""

    kind: str
    name: str
    region_code: str
    address: str
    latitude: float | None
    longitude: float | None
    phone: str | None
    opening_hours: dict[str, list[str]]
    capacity: int | None
    services: list[str]
    provider_id: int | None

    def as_values(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------- checks


def check_opening_hours(raw: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """``{"1": ["08:00", "17:30"], ...}`` (ISO weekdays), each day opening before it closes."""
    out: dict[str, list[str]] = {}
    for day, span in (raw or {}).items():
        key = str(day)
        if key not in WEEKDAYS:
            raise ValidationFailed(
                f"营业时间的星期应为 1-7: {day!r} / weekday must be 1-7", code="invalid_hours"
            )
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise ValidationFailed(
                f"{WEEKDAYS[key]}的营业时间应为 [开门, 关门] / hours must be [open, close]",
                code="invalid_hours",
            )
        try:
            opens, closes = (time.fromisoformat(str(v)) for v in span)
        except ValueError:
            raise ValidationFailed(
                f"{WEEKDAYS[key]}的营业时间应为 HH:MM / times must be HH:MM", code="invalid_hours"
            ) from None
        if opens >= closes:
            raise ValidationFailed(
                f"{WEEKDAYS[key]}开门时间须早于关门时间 / opening must come before closing",
                code="invalid_hours",
            )
        out[key] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    return dict(sorted(out.items()))


def _check_position(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValidationFailed(
            "经纬度须同时填写 / give both latitude and longitude", code="invalid_position"
        )
    if latitude is None or longitude is None:
        return
    if not (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    ):
        raise ValidationFailed(
            f"定位坐标无效: {latitude},{longitude} / invalid position", code="invalid_position"
        )


def _check_services(services: Iterable[str]) -> list[str]:
    out = list(dict.fromkeys(services))
    unknown = [s for s in out if s not in SITE_SERVICES]
    if unknown:
        raise ValidationFailed(
            f"未知的场所服务: {'、'.join(unknown)} / unknown site services",
            code="unknown_site_service",
            allowed=list(SITE_SERVICES),
        )
    return out


def _check_capacity(capacity: int | None) -> int | None:
    if capacity is not None and not 1 <= capacity <= 10_000:
        raise ValidationFailed(
            "容纳人数应在 1-10000 之间 / capacity must be 1-10000", code="invalid_capacity"
        )
    return capacity


def _check_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phones.normalize_phone(phone).digits


def _check_text(value: str, label: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise ValidationFailed(
            f"{label}不能为空, 且不超过 {limit} 字 / {label} is required, at most {limit} characters",
            code="invalid_site_field",
            field=label,
        )
    return text


def _check_provider(session: Session, provider_id: int | None) -> None:
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise NotFound(f"服务商不存在: {provider_id} / unknown provider", code="provider_not_found")


class SiteInput(TypedDict, total=False):
    """A site's details as a keeper enters them: what :func:`check_site_fields` checks."""

    kind: Required[str]
    name: Required[str]
    region_code: Required[str]
    address: Required[str]
    latitude: float | None
    longitude: float | None
    phone: str | None
    opening_hours: Mapping[str, Any] | None
    capacity: int | None
    services: Sequence[str]
    provider_id: int | None


def check_site_fields(session: Session, **site: Unpack[SiteInput]) -> SiteFields:
    kind, latitude, longitude = site["kind"], site.get("latitude"), site.get("longitude")
    if kind not in set(SiteKind):
        raise ValidationFailed(
            f"未知的场所类型: {kind} / unknown site kind",
            code="unknown_site_kind",
            allowed=[k.value for k in SiteKind],
        )
    region = ensure_region(session, site["region_code"])
    _check_position(latitude, longitude)
    return SiteFields(
        kind=kind,
        name=_check_text(site["name"], "场所名称", 80),
        region_code=region.code,
        address=_check_text(site["address"], "地址", 255),
        latitude=latitude,
        longitude=longitude,
        phone=_check_phone(site.get("phone")),
        opening_hours=check_opening_hours(site.get("opening_hours")),
        capacity=_check_capacity(site.get("capacity")),
        services=_check_services(site.get("services", ())),
        provider_id=site.get("provider_id"),
    )


# ---------------------------------------------------------------- who may act


def refuse_on_site(
    session: Session, actor: Actor, action: str, site_id: int | None, why: str
) -> None:
    """Audit a refused action on a service site (None: on the registry) with the reason."""
    audit.refuse(
        session,
        actor=actor,
        action=action,
        target_type="service_site",
        target_id=site_id,
        reason=why,
    )


def require_keeper(session: Session, actor: Actor, region_code: str, action: str) -> None:
    """Registry keepers of the region (``manage_sites``); system actors pass."""
    if actor.kind == "system":
        return
    if not allows(actor.role, Permission.MANAGE_SITES):
        refuse_on_site(session, actor, action, None, "role")
        raise PermissionDenied(
            "只有民政监管人员可以登记和变更服务场所 / only registry keepers do this",
            code="permission_denied",
        )
    if not codes.is_within(region_code, actor.region_code):
        refuse_on_site(session, actor, action, None, "out_of_region")
        require_within(region_code, actor.region_code)


def is_staff(session: Session, *, user_id: int | None, site_id: int, manages: bool = False) -> bool:
    if user_id is None:
        return False
    q = select(SiteStaff.id).where(
        SiteStaff.site_id == site_id, SiteStaff.user_id == user_id, SiteStaff.active.is_(True)
    )
    if manages:
        q = q.where(SiteStaff.manages.is_(True))
    return session.scalar(q.limit(1)) is not None


def require_site_staff(
    session: Session, actor: Actor, site: ServiceSite, action: str, *, manages: bool = False
) -> None:
    """The site's own people: a ``site_desk`` account that works at (or manages) the site, in
    its region. Refusals are audited."""
    if actor.kind == "system":
        return
    if not codes.is_within(site.region_code, actor.region_code):
        refuse_on_site(session, actor, action, site.id, "out_of_region")
        require_within(site.region_code, actor.region_code)
    if not allows(actor.role, Permission.SITE_DESK) or not is_staff(
        session, user_id=actor.user_id, site_id=site.id, manages=manages
    ):
        refuse_on_site(session, actor, action, site.id, "not_site_staff")
        raise NotSiteStaff(
            f"您不是{site.name}的{'负责人' if manages else '工作人员'} / not this site's "
            f"{'manager' if manages else 'staff'}"
        )


def may_keep(session: Session, actor: Actor, site: ServiceSite) -> bool:
    """Whether ``actor`` keeps the registry for this site (read-only check, no audit)."""
    return actor.kind == "system" or (
        allows(actor.role, Permission.MANAGE_SITES)
        and codes.is_within(site.region_code, actor.region_code)
    )


def require_site_reader(session: Session, actor: Actor, site: ServiceSite, action: str) -> None:
    """Who may read a site's details: staff of its region who see sites, or its own people."""
    if actor.kind == "system":
        return
    if not codes.is_within(site.region_code, actor.region_code):
        refuse_on_site(session, actor, action, site.id, "out_of_region")
        require_within(site.region_code, actor.region_code)
    if not allows(actor.role, Permission.VIEW_SITES):
        refuse_on_site(session, actor, action, site.id, "role")
        raise PermissionDenied("当前角色无权查看服务场所 / your role may not see sites")


# ---------------------------------------------------------------- the registry


def register_site(
    session: Session, *, actor: Actor, fields: SiteFields, site: ServiceSite | None = None
) -> ServiceSite:
    """Add a site to the registry (``site``: a subtype's row built from ``fields``, as meal aid
    passes its point); keepers of the region only."""
    require_keeper(session, actor, fields.region_code, "site.register")
    if site is None and fields.kind == SiteKind.MEAL_POINT:
        raise ValidationFailed(
            "助餐点须通过助餐模块开设 (菜单、供餐时间) / meal points are opened by meal aid",
            code="meal_point_via_meal_aid",
        )
    if site is None:
        _check_provider(session, fields.provider_id)
    row = site or ServiceSite(**fields.as_values())
    row.status = SiteStatus.OPEN.value
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.register",
        target_type="service_site",
        target_id=row.id,
        detail={"kind": row.kind, "name": row.name, "region_code": row.region_code},
    )
    publish_on_commit(session, SiteRegistered(row.id, row.region_code, row.kind, row.name))
    return row


def get_site(session: Session, *, site_id: int) -> ServiceSite:
    site = session.get(ServiceSite, site_id)
    if site is None:
        raise SiteNotFound(f"服务场所不存在: {site_id} / no such site")
    return site


def list_sites(
    session: Session,
    *,
    region_code: str,
    kind: str | None = None,
    status: str | None = None,
    service: str | None = None,
    name: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ServiceSite]:
    """Sites in ``region_code`` and below it (a user's region: never another's)."""
    q = select(ServiceSite).where(within(ServiceSite.region_code, region_code))
    if kind:
        q = q.where(ServiceSite.kind == SiteKind(kind).value)
    if status:
        q = q.where(ServiceSite.status == SiteStatus(status).value)
    if name:
        q = q.where(ServiceSite.name.contains(name.strip()[:40], autoescape=True))
    rows = list(
        session.scalars(q.order_by(ServiceSite.region_code, ServiceSite.name, ServiceSite.id))
    )
    if service:
        rows = [s for s in rows if service in (s.services or [])]
    return rows[offset : offset + limit]


def update_site(
    session: Session, *, actor: Actor, site_id: int, changes: Mapping[str, Any]
) -> ServiceSite:
    """Change a site's details: its manager the site's own (hours, capacity, services, phone),
    a registry keeper of the region any of them. Audited with what changed."""
    site = get_site(session, site_id=site_id)
    unknown = set(changes) - KEEPER_FIELDS
    if unknown:
        raise ValidationFailed(
            f"不能修改: {', '.join(sorted(unknown))} / these fields cannot be changed here",
            code="invalid_site_field",
        )
    if not may_keep(session, actor, site):
        if set(changes) - MANAGER_FIELDS:
            require_keeper(session, actor, site.region_code, "site.update")
        require_site_staff(session, actor, site, "site.update", manages=True)
    checked = check_site_fields(
        session,
        kind=site.kind,
        name=changes.get("name", site.name),
        region_code=site.region_code,
        address=changes.get("address", site.address),
        latitude=changes.get("latitude", site.latitude),
        longitude=changes.get("longitude", site.longitude),
        phone=changes.get("phone", site.phone),
        opening_hours=changes.get("opening_hours", site.opening_hours),
        capacity=changes.get("capacity", site.capacity),
        services=changes.get("services", site.services or []),
        provider_id=changes.get("provider_id", site.provider_id),
    )
    if checked.provider_id != site.provider_id:
        _check_provider(session, checked.provider_id)
    changed = []
    for key in sorted(changes):
        value = getattr(checked, key)
        if getattr(site, key) != value:
            setattr(site, key, value)
            changed.append(key)
    if changed:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="site.update",
            target_type="service_site",
            target_id=site.id,
            detail={"fields": changed},
        )
        publish_on_commit(session, SiteUpdated(site.id, site.region_code, changed))
    return site


def set_status(
    session: Session, *, actor: Actor, site_id: int, status: str, reason: str = ""
) -> ServiceSite:
    """Open, suspend or close a site (keepers only; suspending and closing need a reason)."""
    site = get_site(session, site_id=site_id)
    require_keeper(session, actor, site.region_code, "site.status")
    target = SiteStatus(status)
    if target is not SiteStatus.OPEN and not reason.strip():
        raise ValidationFailed(
            "暂停或撤销须说明原因 / give a reason to suspend or close", code="reason_required"
        )
    if site.status == SiteStatus.CLOSED and target is not SiteStatus.CLOSED:
        raise Conflict("已撤销的场所不能再开放 / a closed site stays closed", code="site_closed")
    site.status, site.status_reason = target.value, reason.strip()[:200] or None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.status",
        target_type="service_site",
        target_id=site.id,
        detail={"status": target.value, "reason": reason[:200]},
    )
    publish_on_commit(
        session, SiteStatusChanged(site.id, site.region_code, target.value, reason[:200])
    )
    return site


def is_open_at(site: ServiceSite, at: datetime, tz: str) -> bool:
    local = clock.local(at, tz)
    span = (site.opening_hours or {}).get(str(local.isoweekday()))
    if not span or site.status != SiteStatus.OPEN:
        return False
    return time.fromisoformat(span[0]) <= local.time() < time.fromisoformat(span[1])


# ---------------------------------------------------------------- staff and photos


def add_staff(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    name: str,
    post: str,
    phone: str | None = None,
    user_id: int | None = None,
    manages: bool = False,
) -> SiteStaff:
    """Add someone who works at the site; only a registry keeper names a manager (a
    ``site_manager`` account of the site's region)."""
    site = get_site(session, site_id=site_id)
    if manages or not may_keep(session, actor, site):
        if manages:
            require_keeper(session, actor, site.region_code, "site.staff")
        else:
            require_site_staff(session, actor, site, "site.staff", manages=True)
    if post not in STAFF_POSTS:
        raise ValidationFailed(
            f"未知岗位: {post} / unknown post", code="unknown_post", allowed=list(STAFF_POSTS)
        )
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("账号不存在或已停用 / no such active account", code="user_not_found")
        if not codes.is_within(user.region_code, codes.league_of(site.region_code)):
            raise ValidationFailed(
                "该账号不属于场所所在盟市 / the account belongs to another league",
                code="user_out_of_region",
            )
        if manages and user.role != Role.SITE_MANAGER:
            raise ValidationFailed(
                "场所负责人须为服务场所负责人账号 / a manager needs a site-manager account",
                code="not_a_site_manager_account",
            )
        if is_staff(session, user_id=user_id, site_id=site.id):
            raise Conflict("该账号已是本场所工作人员 / already staff here", code="already_staff")
    row = SiteStaff(
        site_id=site.id,
        name=_check_text(name, "姓名", 64),
        post=post,
        phone=_check_phone(phone),
        user_id=user_id,
        manages=manages,
        active=True,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.staff_add",
        target_type="service_site",
        target_id=site.id,
        detail={"staff_id": row.id, "post": post, "user_id": user_id, "manages": manages},
    )
    return row


def remove_staff(session: Session, *, actor: Actor, site_id: int, staff_id: int) -> SiteStaff:
    site = get_site(session, site_id=site_id)
    row = session.get(SiteStaff, staff_id)
    if row is None or row.site_id != site.id:
        raise NotFound("工作人员不存在 / no such staff member", code="staff_not_found")
    if row.manages or not may_keep(session, actor, site):
        if row.manages:
            require_keeper(session, actor, site.region_code, "site.staff")
        else:
            require_site_staff(session, actor, site, "site.staff", manages=True)
    row.active = False
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.staff_remove",
        target_type="service_site",
        target_id=site.id,
        detail={"staff_id": row.id},
    )
    return row


def list_staff(session: Session, *, site_id: int) -> list[SiteStaff]:
    return list(
        session.scalars(
            select(SiteStaff)
            .where(SiteStaff.site_id == site_id, SiteStaff.active.is_(True))
            .order_by(SiteStaff.manages.desc(), SiteStaff.id)
        )
    )


def managed_sites(session: Session, *, user_id: int) -> list[ServiceSite]:
    """The sites whose staff this account is (a site manager's desk offers these)."""
    return list(
        session.scalars(
            select(ServiceSite)
            .join(SiteStaff, SiteStaff.site_id == ServiceSite.id)
            .where(SiteStaff.user_id == user_id, SiteStaff.active.is_(True))
            .order_by(ServiceSite.name, ServiceSite.id)
        )
    )


def add_photo(
    session: Session, *, actor: Actor, site_id: int, data: bytes, caption: str = ""
) -> SitePhoto:
    site = get_site(session, site_id=site_id)
    if not may_keep(session, actor, site):
        require_site_staff(session, actor, site, "site.photo", manages=True)
    stored = keep_photo(
        settings_of(session).data_dir,
        f"site_photos/{site.id}",
        data,
        max_bytes=SITE_PHOTO_MAX_BYTES,
    )
    row = SitePhoto(
        site_id=site.id,
        path=stored.path,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        caption=caption.strip()[:100],
        uploaded_by=actor.label[:100],
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.photo_add",
        target_type="service_site",
        target_id=site.id,
        detail={"photo_id": row.id, "sha256": row.sha256},
    )
    return row


def list_photos(session: Session, *, site_id: int) -> list[SitePhoto]:
    return list(
        session.scalars(
            select(SitePhoto).where(SitePhoto.site_id == site_id).order_by(SitePhoto.id)
        )
    )


def read_photo(session: Session, *, actor: Actor, site_id: int, photo_id: int) -> tuple[bytes, str]:
    site = get_site(session, site_id=site_id)
    if not is_staff(session, user_id=actor.user_id, site_id=site.id):
        require_site_reader(session, actor, site, "site.photo_view")
    photo = session.get(SitePhoto, photo_id)
    if photo is None or photo.site_id != site.id:
        raise NotFound("照片不存在 / no such photo", code="photo_not_found")
    return read_kept(settings_of(session).data_dir, photo.path), photo.content_type


# ---------------------------------------------------------------- what screens show


def _hours(site: ServiceSite) -> list[dict[str, str]]:
    return [
        {"day": day, "label": WEEKDAYS[day], "opens": span[0], "closes": span[1]}
        for day, span in sorted((site.opening_hours or {}).items())
    ]


def site_summary(
    session: Session, site: ServiceSite, *, now: datetime | None = None
) -> dict[str, Any]:
    provider = session.get(Provider, site.provider_id) if site.provider_id else None
    staff = int(
        session.scalar(
            select(func.count())
            .select_from(SiteStaff)
            .where(SiteStaff.site_id == site.id, SiteStaff.active.is_(True))
        )
        or 0
    )
    tz = clock.timezone_of(session)
    return {
        "id": site.id,
        "kind": site.kind,
        "kind_label": KIND_LABELS[SiteKind(site.kind)],
        "name": site.name,
        "region_code": site.region_code,
        "league_code": codes.league_of(site.region_code),
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "phone": site.phone,
        "opening_hours": _hours(site),
        "open_now": is_open_at(site, now or clock.now(), tz),
        "capacity": site.capacity,
        "services": [{"code": s, "label": SITE_SERVICES.get(s, s)} for s in site.services or []],
        "provider_id": site.provider_id,
        "provider_name": provider.name if provider else None,
        "status": site.status,
        "status_label": STATUS_LABELS[SiteStatus(site.status)],
        "status_reason": site.status_reason,
        "staff_count": staff,
    }


def staff_summary(row: SiteStaff, *, full_phone: bool = False) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "post": row.post,
        "post_label": STAFF_POSTS.get(row.post, row.post),
        "phone": (row.phone if full_phone else mask_phone(row.phone)) if row.phone else None,
        "user_id": row.user_id,
        "manages": row.manages,
    }
