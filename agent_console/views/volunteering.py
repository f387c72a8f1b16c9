"""Volunteers and the time bank on the console.

- A site's volunteer desk (``/site/volunteers``, the site's staff): register a volunteer after
  the real-name check (the card seen, the phone proved by a texted code, a ``volunteer``
  account linked by its username), publish activities, see who signed up and checked in and
  confirm their hours, redeem an elder's hours for a service.
- The volunteer's phone page (``/volunteer``): hours and movements, family, activities to join,
  check-in with the phone's position, hours given to family or redeemed for their services.

Permissions on the way in, then the domain checks the site's staff, the volunteer and the
family again; refusals are audited. Live: the ``/volunteer`` namespace (the volunteer's page
and its snapshot; hours confirmed, postings, new activities of the region) and the site's room
on ``/site`` for the desk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from pydantic import Field

from agent_console.realtime import Connection, Realtime
from agent_console.security import current_actor, guard, require_region
from agent_console.views import community_text
from agent_console.views.common import body, check_note, order_opening, runtime
from agent_console.views.schemas import Strict
from agent_console.views.sites import SITE_NS
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import NotFound, ValidationFailed
from platform_core.flows import time_bank_services
from platform_core.security.masking import mask_phone
from platform_core.sites import service as sites
from platform_core.time_bank import service as time_bank
from platform_core.verification import service as verification
from platform_core.volunteers import service as volunteers
from platform_core.volunteers.models import ActivitySignup, Volunteer
from platform_core.volunteers.vocabulary import REDEEMABLE, SKILLS

bp = Blueprint("volunteering", __name__)
community_text.install(bp)
VOLUNTEER_NS = "/volunteer"
Hours = Field(pattern=r"^[0-9]{1,4}(\.[0-9]{1,2})?$")
Key = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")


class PhoneIn(Strict):
    phone: str = Field(min_length=5, max_length=20)


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=12)


class RegisterIn(Strict):
    name: str = Field(min_length=2, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(min_length=5, max_length=20)
    skills: list[str] = Field(default_factory=list, max_length=len(SKILLS))
    id_card_seen: bool
    verification_id: int = Field(ge=1, le=2**31 - 1)
    username: str | None = Field(default=None, max_length=64)


class ActivityIn(Strict):
    title: str = Field(min_length=1, max_length=80)
    starts_at: datetime
    ends_at: datetime
    places: int = Field(ge=1, le=500)
    hours: str | None = Hours
    description: str = Field(default="", max_length=100_000)
    skill: str | None = Field(default=None, max_length=20)


class ConfirmIn(Strict):
    hours: str | None = Field(default=None, pattern=r"^[0-9]{1,4}(\.[0-9]{1,2})?$")


class PositionIn(Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class TransferIn(Strict):
    elder_id: int = Field(ge=1, le=2**31 - 1)
    hours: str = Hours
    key: str = Key


class RedeemIn(Strict):
    elder_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    id_number: str | None = Field(default=None, min_length=15, max_length=18)
    service_type_code: str = Field(min_length=1, max_length=40)
    hours: str = Hours
    key: str = Key
    notes: str = Field(default="", max_length=100_000)


def _vocabulary() -> dict[str, Any]:
    return {"skills": SKILLS, "redeemable": REDEEMABLE}


def _aware(at: datetime) -> datetime:
    """A time typed without a zone is the hotline's local time."""
    return at if at.tzinfo else at.replace(tzinfo=clock.zone(runtime().settings.timezone))


# --- the site's volunteer desk -------------------------------------------------------------------


def _site_in_region(s: Any, site_id: int) -> Any:
    site = sites.get_site(s, site_id=site_id)
    require_region(site.region_code, target_type="service_site", target_id=site_id)
    return site


@bp.get("/site/volunteers")
@guard(Permission.SITE_DESK)
def desk_page() -> Any:
    return render_template("community/site_volunteers.html", vocabulary=_vocabulary())


@bp.post("/api/site-desk/<int:site_id>/volunteers/code")
@guard(Permission.MANAGE_VOLUNTEERS)
def send_code(site_id: int) -> Any:
    """Text the code that proves the new volunteer's phone."""
    data = body(PhoneIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        issued = volunteers.send_phone_code(
            s,
            actor=current_actor(),
            site_id=site_id,
            phone=data.phone,
            source_ip=request.remote_addr,
        )
        return jsonify({"verification_id": issued.verification_id, "sent_to": issued.sent_to})


@bp.post("/api/site-desk/<int:site_id>/volunteers/code/<int:verification_id>")
@guard(Permission.MANAGE_VOLUNTEERS)
def check_code(site_id: int, verification_id: int) -> Any:
    """The code the volunteer reads from their phone (a wrong one costs a try, kept)."""
    data = body(CodeIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        tried = verification.attempt(
            s, verification_id=verification_id, code=data.code, purpose="volunteer_phone"
        )
    tried.raise_if_refused()
    return jsonify({"verified": True, "verification_id": verification_id})


@bp.post("/api/site-desk/<int:site_id>/volunteers")
@guard(Permission.MANAGE_VOLUNTEERS)
def register(site_id: int) -> Any:
    data = body(RegisterIn)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = volunteers.register_volunteer(
            s, actor=current_actor(), site_id=site_id, **data.model_dump()
        )
        return jsonify({"volunteer": _volunteer_summary(s, row)}), 201


def _volunteer_summary(s: Any, row: Volunteer) -> dict[str, Any]:
    account = time_bank.find_member_account(s, kind=time_bank.VOLUNTEER, holder_id=row.id)
    return {
        "id": row.id,
        "name": row.name,
        "id_number": row.id_number_masked,
        "phone": mask_phone(row.phone),
        "skills": [SKILLS.get(k, k) for k in row.skills or []],
        "balance": str(account.balance) if account else "0.00",
        "has_account": row.user_id is not None,
    }


@bp.get("/api/site-desk/<int:site_id>/volunteers")
@guard(Permission.MANAGE_VOLUNTEERS)
def list_volunteers(site_id: int) -> Any:
    with runtime().session() as s:
        site = _site_in_region(s, site_id)
        actor = current_actor()
        if not sites.may_keep(s, actor, site):
            sites.require_site_staff(s, actor, site, "volunteer.list")
        rows = volunteers.find_volunteers(s, region_code=site.region_code)
        return jsonify({"volunteers": [_volunteer_summary(s, v) for v in rows]})


@bp.get("/api/site-desk/<int:site_id>/activities")
@guard(Permission.MANAGE_VOLUNTEERS)
def activities(site_id: int) -> Any:
    with runtime().session() as s:
        _site_in_region(s, site_id)
        return jsonify(
            {"activities": volunteers.site_activities(s, actor=current_actor(), site_id=site_id)}
        )


@bp.post("/api/site-desk/<int:site_id>/activities")
@guard(Permission.MANAGE_VOLUNTEERS)
def publish(site_id: int) -> Any:
    data = body(ActivityIn)
    check_note(data.description)
    with runtime().session() as s:
        _site_in_region(s, site_id)
        row = volunteers.publish_activity(
            s,
            actor=current_actor(),
            site_id=site_id,
            title=data.title,
            starts_at=_aware(data.starts_at),
            ends_at=_aware(data.ends_at),
            places=data.places,
            hours=data.hours,
            description=data.description,
            skill=data.skill,
        )
        return jsonify({"activity_id": row.id}), 201


def _signup_site(s: Any, signup_id: int) -> None:
    row = s.get(ActivitySignup, signup_id)
    if row is None:
        raise NotFound("报名不存在 / no such sign-up", code="signup_not_found")
    activity = volunteers.get_activity(s, activity_id=row.activity_id)
    require_region(activity.region_code, target_type="activity", target_id=activity.id)


@bp.post("/api/activity-signups/<int:signup_id>/confirm")
@guard(Permission.MANAGE_VOLUNTEERS)
def confirm(signup_id: int) -> Any:
    data = body(ConfirmIn)
    with runtime().session() as s:
        _signup_site(s, signup_id)
        row = volunteers.confirm_hours(
            s, actor=current_actor(), signup_id=signup_id, hours=data.hours
        )
        return jsonify({"signup_id": row.id, "hours": str(row.hours), "status": row.status})


@bp.post("/api/activity-signups/<int:signup_id>/absent")
@guard(Permission.MANAGE_VOLUNTEERS)
def absent(signup_id: int) -> Any:
    with runtime().session() as s:
        _signup_site(s, signup_id)
        row = volunteers.mark_absent(s, actor=current_actor(), signup_id=signup_id)
        return jsonify({"signup_id": row.id, "status": row.status})


def _redemption(done: time_bank_services.Redemption) -> dict[str, Any]:
    return {
        "order_id": done.order.id,
        "order_no": done.order.order_no,
        "hours": str(-sum(e.amount for e in done.transaction.entries if e.amount < 0)),
        "paid_by": done.paid_by,
    }


@bp.post("/api/site-desk/<int:site_id>/redeem")
@guard(Permission.MANAGE_VOLUNTEERS)
def redeem_for_elder(site_id: int) -> Any:
    """The site's staff spend an elder's own hours (given by the family) on a service."""
    data = body(RedeemIn)
    check_note(data.notes)
    if not data.id_number:
        raise ValidationFailed(
            "请刷老人身份证 / read the elder's ID card", code="identity_required"
        )
    with order_opening(), runtime().session() as s:
        _site_in_region(s, site_id)
        elder = find_elder_by_id_number(s, id_number=data.id_number)
        if elder is None:
            raise NotFound(
                "未找到该身份证的老人档案 / no elder with this ID number", code="elder_not_found"
            )
        require_region(elder.region_code, target_type="elder", target_id=elder.id)
        done = time_bank_services.redeem_for_service(
            s,
            actor=current_actor(),
            elder_id=elder.id,
            service_type_code=data.service_type_code,
            hours=data.hours,
            key=data.key,
            notes=data.notes,
        )
        return jsonify(_redemption(done)), 201


# --- the volunteer's phone page ------------------------------------------------------------------


@bp.get("/volunteer")
@guard(Permission.VOLUNTEER_PORTAL)
def page() -> Any:
    return render_template("community/volunteer.html", vocabulary=_vocabulary())


def _page_for(actor: Any) -> dict[str, Any]:
    with runtime().session() as s:
        return volunteers.volunteer_page(s, actor=actor)


@bp.get("/api/volunteer")
@guard(Permission.VOLUNTEER_PORTAL)
def my_page() -> Any:
    return jsonify(_page_for(current_actor()))


@bp.post("/api/volunteer/activities/<int:activity_id>/sign-up")
@guard(Permission.VOLUNTEER_PORTAL)
def sign_up(activity_id: int) -> Any:
    with runtime().session() as s:
        volunteers.sign_up(s, actor=current_actor(), activity_id=activity_id)
    return jsonify(_page_for(current_actor()))


@bp.post("/api/volunteer/activities/<int:activity_id>/cancel")
@guard(Permission.VOLUNTEER_PORTAL)
def cancel_signup(activity_id: int) -> Any:
    with runtime().session() as s:
        volunteers.cancel_signup(s, actor=current_actor(), activity_id=activity_id)
    return jsonify(_page_for(current_actor()))


@bp.post("/api/volunteer/activities/<int:activity_id>/check-in")
@guard(Permission.VOLUNTEER_PORTAL)
def check_in(activity_id: int) -> Any:
    data = body(PositionIn)
    with runtime().session() as s:
        volunteers.check_in(
            s,
            actor=current_actor(),
            activity_id=activity_id,
            latitude=data.latitude,
            longitude=data.longitude,
        )
    return jsonify(_page_for(current_actor()))


@bp.post("/api/volunteer/transfer")
@guard(Permission.VOLUNTEER_PORTAL)
def transfer() -> Any:
    data = body(TransferIn)
    with runtime().session() as s:
        volunteers.transfer_to_family(
            s, actor=current_actor(), elder_id=data.elder_id, hours=data.hours, key=data.key
        )
    return jsonify(_page_for(current_actor()))


@bp.post("/api/volunteer/redeem")
@guard(Permission.VOLUNTEER_PORTAL)
def redeem() -> Any:
    """Hours spent on a service for an elder of the volunteer's family."""
    data = body(RedeemIn)
    check_note(data.notes)
    if data.elder_id is None:
        raise ValidationFailed("请选择家人 / choose the family member", code="elder_required")
    with order_opening(), runtime().session() as s:
        done = time_bank_services.redeem_for_service(
            s,
            actor=current_actor(),
            elder_id=data.elder_id,
            service_type_code=data.service_type_code,
            hours=data.hours,
            key=data.key,
            notes=data.notes,
        )
        out = _redemption(done)
    return jsonify({**out, "page": _page_for(current_actor())}), 201


# --- live ----------------------------------------------------------------------------------------


def _relay_handlers(realtime: Realtime) -> None:
    rt = realtime.runtime

    def to_site(env: dict[str, Any]) -> None:
        realtime.emit_local(
            "site_event", env, namespace=SITE_NS, to=f"site:{env['data']['site_id']}"
        )

    def to_volunteer(volunteer_id: int, env: dict[str, Any]) -> None:
        with rt.session() as s:
            row = s.get(Volunteer, volunteer_id)
            user_id = row.user_id if row else None
        if user_id:
            realtime.emit_local(
                "volunteer_event", env, namespace=VOLUNTEER_NS, to=f"user:{user_id}"
            )

    def hours(env: dict[str, Any]) -> None:
        to_site(env)
        to_volunteer(env["data"]["volunteer_id"], env)

    def posted(env: dict[str, Any]) -> None:
        with rt.session() as s:
            holders = [
                a.holder_id
                for a in (
                    time_bank.get_account(s, account_id=i) for i in env["data"]["account_ids"]
                )
                if a.kind == time_bank.VOLUNTEER
            ]
        for holder in holders:
            to_volunteer(holder, env)

    def published(env: dict[str, Any]) -> None:
        to_site(env)
        realtime.emit_to_region("volunteer_event", env, namespace=VOLUNTEER_NS)

    realtime.on_domain_event("HoursConfirmed", hours)
    realtime.on_domain_event("VolunteerSignedUp", to_site)
    realtime.on_domain_event("VolunteerCheckedIn", to_site)
    realtime.on_domain_event("VolunteerRegistered", to_site)
    realtime.on_domain_event("ActivityPublished", published)
    realtime.on_domain_event("TimeBankPosted", posted)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    realtime.add_namespace(VOLUNTEER_NS, Permission.VOLUNTEER_PORTAL)
    realtime.set_snapshot(VOLUNTEER_NS, lambda conn: _page_for(conn.actor))

    @realtime.on(VOLUNTEER_NS, "snapshot", Permission.VOLUNTEER_PORTAL)
    def socket_snapshot(conn: Connection, _payload: Any) -> dict[str, Any]:
        return {"snapshot": _page_for(conn.actor)}

    _relay_handlers(realtime)
