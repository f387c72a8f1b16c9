"""Service sites on the console: the region's registry (``/sites``: every station, day care
centre and meal point with its hours, capacity, services, staff and photos; keepers register,
edit, suspend and close), and a site's own desk (``/site``: the day care roster, checking elders
in and out by ID card or the family's code, capacity warnings, the month's statistics).

Each handler checks the permission on the way in and the domain checks the region and the
site again (a keeper of the region, or the site's own staff); refusals are audited. The desk
follows its sites live: day care events reach the room of their site (``site:<id>``) on the
``/site`` namespace, which sends a snapshot (the sites and today's rosters) on every connect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from pydantic import Field

from agent_console.realtime import Connection, Realtime
from agent_console.security import audit_refusal, current_actor, guard, require_region
from agent_console.views import community_text
from agent_console.views.common import body, runtime
from agent_console.views.schemas import Strict
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import NotFound, ValidationFailed
from platform_core.flows import site_registry
from platform_core.regions import codes
from platform_core.sites import daycare
from platform_core.sites import service as sites
from platform_core.sites.vocabulary import KIND_LABELS, SITE_SERVICES, STAFF_POSTS, WEEKDAYS

bp = Blueprint("sites", __name__)
community_text.install(bp)
SITE_NS = "/site"
_UPLOAD_MARGIN = 64 * 1024
Id = Field(default=None, ge=1, le=2**31 - 1)


class SiteIn(Strict):
    kind: Literal["community_station", "street_centre", "day_care", "meal_point"]
    name: str = Field(min_length=1, max_length=80)
    region_code: str = Field(pattern=r"^[0-9]{6}([0-9]{6})?$")
    address: str = Field(min_length=1, max_length=255)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    phone: str | None = Field(default=None, max_length=20)
    opening_hours: dict[str, list[str]] = Field(default_factory=dict, max_length=7)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    services: list[str] = Field(default_factory=list, max_length=20)
    provider_id: int | None = Id
    meal_times: dict[str, str] | None = Field(default=None, max_length=3)
    delivers: bool = False


class SiteChangeIn(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    address: str | None = Field(default=None, min_length=1, max_length=255)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    phone: str | None = Field(default=None, max_length=20)
    opening_hours: dict[str, list[str]] | None = Field(default=None, max_length=7)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    services: list[str] | None = Field(default=None, max_length=20)
    provider_id: int | None = Id


class StatusIn(Strict):
    status: Literal["open", "suspended", "closed"]
    reason: str = Field(default="", max_length=200)


class StaffIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    post: str = Field(min_length=1, max_length=30)
    phone: str | None = Field(default=None, max_length=20)
    user_id: int | None = Id
    manages: bool = False


class IdentityIn(Strict):
    """Who is at the desk: the ID card read, the family's code, or the roster's elder."""

    id_number: str | None = Field(default=None, min_length=15, max_length=18)
    family_code: str | None = Field(default=None, min_length=1, max_length=12)
    elder_id: int | None = Id
    over_capacity_reason: str | None = Field(default=None, max_length=200)

    def who(self) -> dict[str, Any]:
        """The elder as the desk named them (what check-out takes)."""
        return self.model_dump(exclude={"over_capacity_reason"})


class EnrolIn(Strict):
    id_number: str = Field(min_length=15, max_length=18)
    weekdays: list[Literal["1", "2", "3", "4", "5", "6", "7"]] = Field(min_length=1, max_length=7)


class EndIn(Strict):
    reason: str = Field(min_length=1, max_length=200)


def _month() -> date:
    raw = request.args.get("month") or clock.today(runtime().settings.timezone).strftime("%Y-%m")
    try:
        return date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise ValidationFailed(
            "月份格式应为 YYYY-MM / month must be YYYY-MM", code="invalid_month"
        ) from None


def _day() -> date:
    raw = request.args.get("day")
    if not raw:
        return clock.today(runtime().settings.timezone)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD", code="invalid_date"
        ) from None


def _site_in_region(s: Any, site_id: int) -> Any:
    site = sites.get_site(s, site_id=site_id)
    require_region(site.region_code, target_type="service_site", target_id=site_id)
    return site


def _vocabulary() -> dict[str, Any]:
    return {
        "kinds": {k.value: v for k, v in KIND_LABELS.items()},
        "services": SITE_SERVICES,
        "posts": STAFF_POSTS,
        "weekdays": WEEKDAYS,
    }


# --- the registry ---------------------------------------------------------------------------


@bp.get("/sites")
@guard(Permission.VIEW_SITES)
def registry_page() -> Any:
    return render_template("community/sites.html", vocabulary=_vocabulary())


@bp.get("/api/sites")
@guard(Permission.VIEW_SITES)
def list_sites() -> Any:
    actor = current_actor()
    args = request.args
    with runtime().session() as s:
        rows = sites.list_sites(
            s,
            region_code=actor.region_code,
            kind=args.get("kind") or None,
            status=args.get("status") or None,
            service=args.get("service") or None,
            name=args.get("name") or None,
        )
        return jsonify({"sites": [sites.site_summary(s, site) for site in rows]})


@bp.post("/api/sites")
@guard(Permission.MANAGE_SITES)
def register() -> Any:
    data = body(SiteIn)
    actor = current_actor()
    region = codes.normalize_code(data.region_code)
    if not codes.is_within(region, actor.region_code):
        require_region(None, target_type="region", target_id=data.region_code)
    with runtime().session() as s:
        site = site_registry.register_site(s, actor=actor, **data.model_dump())
        return jsonify({"site": sites.site_summary(s, site)}), 201


@bp.get("/api/sites/<int:site_id>")
@guard()
def detail(site_id: int) -> Any:
    """A site with its staff (phones masked) and photos: for those who see sites, and for the
    site's own staff."""
    actor = current_actor()
    with runtime().session() as s:
        site = _site_in_region(s, site_id)
        staff_here = sites.is_staff(s, user_id=actor.user_id, site_id=site.id)
        if not staff_here:
            sites.require_site_reader(s, actor, site, "site.view")
        return jsonify(
            {
                "site": sites.site_summary(s, site),
                "staff": [sites.staff_summary(r) for r in sites.list_staff(s, site_id=site.id)],
                "photos": [
                    {"id": p.id, "caption": p.caption, "url": f"/api/sites/{site.id}/photos/{p.id}"}
                    for p in sites.list_photos(s, site_id=site.id)
                ],
                "may_keep": sites.may_keep(s, actor, site),
                "manages": sites.is_staff(s, user_id=actor.user_id, site_id=site.id, manages=True),
            }
        )


@bp.post("/api/sites/<int:site_id>")
@guard()
def update(site_id: int) -> Any:
    """Change a site's details (a keeper any of them, its manager the site's own)."""
    data = body(SiteChangeIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        site = sites.update_site(
            s, actor=current_actor(), site_id=site_id, changes=data.model_dump(exclude_unset=True)
        )
        return jsonify({"site": sites.site_summary(s, site)})


@bp.post("/api/sites/<int:site_id>/status")
@guard(Permission.MANAGE_SITES)
def set_status(site_id: int) -> Any:
    data = body(StatusIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        site = sites.set_status(
            s, actor=current_actor(), site_id=site_id, status=data.status, reason=data.reason
        )
        return jsonify({"site": sites.site_summary(s, site)})


@bp.post("/api/sites/<int:site_id>/staff")
@guard()
def add_staff(site_id: int) -> Any:
    data = body(StaffIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = sites.add_staff(s, actor=current_actor(), site_id=site_id, **data.model_dump())
        return jsonify({"staff": sites.staff_summary(row)}), 201


@bp.post("/api/sites/<int:site_id>/staff/<int:staff_id>/remove")
@guard()
def remove_staff(site_id: int, staff_id: int) -> Any:
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = sites.remove_staff(s, actor=current_actor(), site_id=site_id, staff_id=staff_id)
        return jsonify({"staff": sites.staff_summary(row)})


@bp.post("/api/sites/<int:site_id>/photos")
@guard()
def add_photo(site_id: int) -> Any:
    """A photo of the premises (multipart ``photo``, ``caption``)."""
    request.max_content_length = sites.SITE_PHOTO_MAX_BYTES + _UPLOAD_MARGIN
    upload = request.files.get("photo")
    if upload is None:
        audit_refusal("http.malformed", reason="no photo in upload", detail={"site_id": site_id})
        raise ValidationFailed("没有收到照片 / no photo in the upload", code="photo_required")
    with runtime().session() as s:
        _site_in_region(s, site_id)
        photo = sites.add_photo(
            s,
            actor=current_actor(),
            site_id=site_id,
            data=upload.read(),
            caption=request.form.get("caption", ""),
        )
        return jsonify({"photo_id": photo.id}), 201


@bp.get("/api/sites/<int:site_id>/photos/<int:photo_id>")
@guard()
def photo(site_id: int, photo_id: int) -> Any:
    with runtime().session() as s:
        _site_in_region(s, site_id)
        data, content_type = sites.read_photo(
            s, actor=current_actor(), site_id=site_id, photo_id=photo_id
        )
    return Response(data, mimetype=content_type, headers={"Cache-Control": "private, no-store"})


@bp.get("/api/sites/daycare-statistics")
@guard(Permission.VIEW_SITES)
def region_statistics() -> Any:
    """Each day care site of the region and its month (no elders' names)."""
    month = _month()
    with runtime().session() as s:
        return jsonify(
            {
                "month": month.strftime("%Y-%m"),
                "sites": daycare.region_statistics(
                    s, region_code=current_actor().region_code, month=month
                ),
            }
        )


@bp.get("/api/elders/<int:elder_id>/sites")
@guard(Permission.OPEN_ORDER)
def sites_for_elder(elder_id: int) -> Any:
    """Open sites of the elder's 盟市 where an order's service may happen, nearest first."""
    with runtime().session() as s:
        elder = s.get(Elder, elder_id)
        if elder is None:
            raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
        require_region(elder.region_code, target_type="elder", target_id=elder_id)
        return jsonify({"sites": site_registry.sites_for_elder(s, elder_id=elder_id)})


# --- a site's desk ----------------------------------------------------------------------------


def desk_snapshot(actor: Actor) -> dict[str, Any]:
    """The sites this account works at, and today's day care roster of each."""
    with runtime().session() as s:
        rows = sites.managed_sites(s, user_id=actor.user_id) if actor.user_id else []
        today = clock.today_in(s)
        out = []
        for site in rows:
            entry = {
                "site": sites.site_summary(s, site),
                "manages": sites.is_staff(s, user_id=actor.user_id, site_id=site.id, manages=True),
                "roster": None,
            }
            if site.kind == "day_care" or "day_care" in (site.services or []):
                entry["roster"] = daycare.daily_roster(s, site_id=site.id, day=today)
            out.append(entry)
        return {"today": today.isoformat(), "sites": out}


@bp.get("/site")
@guard(Permission.SITE_DESK)
def desk_page() -> Any:
    return render_template("community/site_desk.html", vocabulary=_vocabulary())


@bp.get("/api/site-desk")
@guard(Permission.SITE_DESK)
def desk() -> Any:
    return jsonify(desk_snapshot(current_actor()))


def _desk_site(s: Any, site_id: int) -> Any:
    site = _site_in_region(s, site_id)
    sites.require_site_staff(s, current_actor(), site, "site.desk")
    return site


@bp.get("/api/site-desk/<int:site_id>/roster")
@guard(Permission.SITE_DESK)
def roster(site_id: int) -> Any:
    with runtime().session() as s:
        _desk_site(s, site_id)
        return jsonify(daycare.daily_roster(s, site_id=site_id, day=_day()))


def _at_desk(
    site_id: int, step: Callable[..., Any], named: Callable[[IdentityIn], dict[str, Any]]
) -> Any:
    """Check the elder the desk ``named`` in or out; the attendance and the day's roster."""
    data = body(IdentityIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = step(s, actor=current_actor(), site_id=site_id, **named(data))
        roster = daycare.daily_roster(s, site_id=site_id, day=row.day)
        return jsonify({"attendance_id": row.id, "elder_id": row.elder_id, "roster": roster})


@bp.post("/api/site-desk/<int:site_id>/check-in")
@guard(Permission.SITE_DESK)
def check_in(site_id: int) -> Any:
    return _at_desk(site_id, daycare.check_in, IdentityIn.model_dump)


@bp.post("/api/site-desk/<int:site_id>/check-out")
@guard(Permission.SITE_DESK)
def check_out(site_id: int) -> Any:
    return _at_desk(site_id, daycare.check_out, IdentityIn.who)


@bp.post("/api/site-desk/<int:site_id>/enrolments")
@guard(Permission.SITE_DESK)
def enrol(site_id: int) -> Any:
    """Enrol the elder whose ID card is read at the desk; the family's code is shown once."""
    data = body(EnrolIn)
    actor = current_actor()
    with runtime().session() as s:
        site = _desk_site(s, site_id)
        elder = find_elder_by_id_number(s, id_number=data.id_number)
        if elder is None or codes.league_of(elder.region_code) != codes.league_of(site.region_code):
            audit.record_refusal(
                s,
                actor=actor,
                action="daycare.enrol",
                target_type="service_site",
                target_id=site_id,
                detail={"reason": "elder_not_found"},
            )
            raise NotFound(
                "未找到该身份证的老人档案 / no elder with this ID number", code="elder_not_found"
            )
        done = daycare.enrol(
            s, actor=actor, site_id=site_id, elder_id=elder.id, weekdays=list(data.weekdays)
        )
        return jsonify(
            {
                "enrolment_id": done.enrolment.id,
                "elder_id": elder.id,
                "name": elder.name,
                "family_code": done.family_code,
                "sms_to": done.sms_to,
            }
        ), 201


@bp.post("/api/site-desk/<int:site_id>/enrolments/<int:enrolment_id>/code")
@guard(Permission.SITE_DESK)
def reissue_code(site_id: int, enrolment_id: int) -> Any:
    with runtime().session() as s:
        _site_in_region(s, site_id)
        done = daycare.reissue_family_code(
            s, actor=current_actor(), site_id=site_id, enrolment_id=enrolment_id
        )
        return jsonify({"family_code": done.family_code, "sms_to": done.sms_to})


@bp.post("/api/site-desk/<int:site_id>/enrolments/<int:enrolment_id>/end")
@guard(Permission.SITE_DESK)
def end_enrolment(site_id: int, enrolment_id: int) -> Any:
    data = body(EndIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = daycare.end_enrolment(
            s, actor=current_actor(), site_id=site_id, enrolment_id=enrolment_id, reason=data.reason
        )
        return jsonify(
            {"enrolment_id": row.id, "ended_on": row.ended_on.isoformat() if row.ended_on else None}
        )


@bp.get("/api/site-desk/<int:site_id>/statistics")
@guard(Permission.SITE_DESK)
def statistics(site_id: int) -> Any:
    with runtime().session() as s:
        _desk_site(s, site_id)
        return jsonify(daycare.monthly_statistics(s, site_id=site_id, month=_month()))


# --- live ----------------------------------------------------------------------------------------


def _desk_rooms(conn: Connection) -> list[str]:
    if conn.actor.user_id is None:
        return []
    with runtime().session() as s:
        return [f"site:{site.id}" for site in sites.managed_sites(s, user_id=conn.actor.user_id)]


def _relay_handlers(realtime: Realtime) -> None:
    def to_site(env: dict[str, Any]) -> None:
        realtime.emit_local(
            "site_event", env, namespace=SITE_NS, to=f"site:{env['data']['site_id']}"
        )

    def warning(env: dict[str, Any]) -> None:
        to_site(env)
        realtime.tell_supervisors(env)

    for name in ("DayCareCheckedIn", "DayCareCheckedOut", "SiteUpdated", "SiteStatusChanged"):
        realtime.on_domain_event(name, to_site)
    realtime.on_domain_event("DayCareCapacityWarning", warning)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    realtime.add_namespace(SITE_NS, Permission.SITE_DESK, rooms=_desk_rooms)
    realtime.set_snapshot(SITE_NS, lambda conn: desk_snapshot(conn.actor))

    @realtime.on(SITE_NS, "snapshot", Permission.SITE_DESK)
    def socket_snapshot(conn: Connection, _payload: Any) -> dict[str, Any]:
        return {"snapshot": desk_snapshot(conn.actor)}

    _relay_handlers(realtime)
