"""Volunteers and their activities, and the hours they earn in the time bank.

- Registration (at a site, by its staff): the real-name check is the ID number (GB 11643, at
  least 16 years old, one registration per person), the original card seen by the staff member
  who says so, and the phone proved by a texted code. A volunteer logs in to their phone page
  with a ``volunteer`` account an administrator made, linked here by its username.
- Activities are published by a site's staff: when, where, how many volunteers, how many hours.
  Volunteers of the site's 盟市 sign up (places permitting), check in on their phone within
  ``HOTLINE_ACTIVITY_CHECK_IN_RADIUS_M`` of the activity from ``_EARLY_MIN`` before it starts
  until it ends, and the organiser confirms the hours each served: only then are they earned
  (``time_bank.earn``, once per sign-up).
- A volunteer's family are the elders who list the volunteer's phone as an emergency contact
  (and the volunteer's own elder record): hours move to them only (``transfer_to_family``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import User
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.dispatch.ranking import haversine_km
from platform_core.elders import idcard, phones
from platform_core.elders.models import Elder, EmergencyContact
from platform_core.elders.service import refuse_on_elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import require_within, within
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_name, mask_phone
from platform_core.sites import service as sites
from platform_core.sites.models import ServiceSite
from platform_core.time_bank import service as time_bank
from platform_core.time_bank.models import TimeAccount, TimeTransaction
from platform_core.verification import service as verification
from platform_core.volunteers.events import (
    ActivityPublished,
    HoursConfirmed,
    VolunteerCheckedIn,
    VolunteerRegistered,
    VolunteerSignedUp,
)
from platform_core.volunteers.models import Activity, ActivitySignup, Volunteer
from platform_core.volunteers.vocabulary import (
    ACTIVITY_STATUS,
    MIN_AGE,
    SIGNUP_STATUS,
    SKILLS,
)


class VolunteerError(Conflict):
    code = "volunteer_conflict"


class NotAVolunteer(PermissionDenied):
    code = "not_a_volunteer"


class TooFar(ValidationFailed):
    code = "check_in_too_far"


@dataclass(frozen=True)
class Family:
    elder: Elder
    relation: str


# ---------------------------------------------------------------- who is acting


def volunteer_of(session: Session, *, user_id: int | None) -> Volunteer | None:
    if user_id is None:
        return None
    return session.scalar(select(Volunteer).where(Volunteer.user_id == user_id))


def require_volunteer(session: Session, actor: Actor, action: str) -> Volunteer:
    found = volunteer_of(session, user_id=actor.user_id)
    if (
        not allows(actor.role, Permission.VOLUNTEER_PORTAL)
        or found is None
        or found.status != "active"
    ):
        audit.record_refusal(
            session,
            actor=actor,
            action=f"volunteer.{action}",
            target_type="volunteer",
            detail={"reason": "not_a_volunteer"},
        )
        raise NotAVolunteer("只有登记在册的志愿者可以操作 / registered volunteers only")
    return found


def _require_organiser(session: Session, actor: Actor, site: ServiceSite, action: str) -> None:
    """A site's own staff organise its volunteers (officers of the region too)."""
    if actor.kind == "system":
        return
    if allows(actor.role, Permission.MANAGE_VOLUNTEERS) and actor.role != Role.SITE_MANAGER:
        if not codes.is_within(site.region_code, actor.region_code):
            sites.refuse_on_site(session, actor, action, site.id, "out_of_region")
            require_within(site.region_code, actor.region_code)
        return
    sites.require_site_staff(session, actor, site, action)


def get_volunteer(session: Session, *, volunteer_id: int) -> Volunteer:
    row = session.get(Volunteer, volunteer_id)
    if row is None:
        raise NotFound("志愿者不存在 / no such volunteer", code="volunteer_not_found")
    return row


# ---------------------------------------------------------------- registration


def send_phone_code(
    session: Session, *, actor: Actor, site_id: int, phone: str, source_ip: str | None = None
) -> verification.Issued:
    """The code that proves the new volunteer's phone, texted at the desk."""
    site = sites.get_site(session, site_id=site_id)
    _require_organiser(session, actor, site, "volunteer.register")
    return verification.issue(
        session,
        actor=actor,
        purpose="volunteer_phone",
        phone=phone,
        region_code=site.region_code,
        source_ip=source_ip,
    )


def register_volunteer(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    name: str,
    id_number: str,
    phone: str,
    skills: list[str],
    id_card_seen: bool,
    verification_id: int,
    username: str | None = None,
) -> Volunteer:
    """Register a volunteer at a site after the real-name check (card seen, ID number valid
    and unused, 16 or older, the phone proved by its texted code: ``verification.attempt``
    in a unit of work of its own first)."""
    site = sites.get_site(session, site_id=site_id)
    _require_organiser(session, actor, site, "volunteer.register")
    if not id_card_seen:
        raise ValidationFailed(
            "请先核验志愿者的身份证原件 / check the original ID card first",
            code="id_card_not_checked",
        )
    text_name = (name or "").strip()
    if not 2 <= len(text_name) <= 64:
        raise ValidationFailed("姓名为 2-64 字 / name of 2-64 characters", code="invalid_name")
    parsed = idcard.parse_id_number(id_number)
    today = clock.today_in(session)
    if parsed.age_on(today) < MIN_AGE:
        raise ValidationFailed(
            f"志愿者须年满 {MIN_AGE} 周岁 / volunteers are {MIN_AGE} or older", code="too_young"
        )
    cipher = cipher_of(session)
    if (
        session.scalar(
            select(Volunteer.id).where(
                Volunteer.id_number_index.in_(cipher.blind_indexes(parsed.number))
            )
        )
        is not None
    ):
        raise VolunteerError(
            "该身份证号已登记为志愿者 / already registered", code="volunteer_exists"
        )
    unknown = [s for s in skills if s not in SKILLS]
    if unknown:
        raise ValidationFailed(
            f"未知技能: {'、'.join(unknown)} / unknown skills",
            code="unknown_skill",
            allowed=list(SKILLS),
        )
    number = phones.normalize_phone(phone).digits
    proved = verification.consume(
        session, verification_id=verification_id, phone=number, purpose="volunteer_phone"
    )
    user_id = _volunteer_account(session, username, site) if username else None
    row = Volunteer(
        user_id=user_id,
        name=text_name,
        id_number_sealed=cipher.seal(parsed.number),
        id_number_index=cipher.blind_index(parsed.number),
        id_number_masked=parsed.number[:6] + "********" + parsed.number[-4:],
        sex=parsed.sex,
        birth_date=parsed.birth_date,
        phone=number,
        region_code=site.region_code,
        home_site_id=site.id,
        skills=list(dict.fromkeys(skills)),
        status="active",
        id_checked_by=actor.label[:100],
        phone_verification_id=proved.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="volunteer.register",
        target_type="volunteer",
        target_id=row.id,
        detail={"site_id": site.id, "skills": row.skills, "account": bool(user_id)},
    )
    publish_on_commit(session, VolunteerRegistered(row.id, row.region_code, site.id))
    return row


def _volunteer_account(session: Session, username: str, site: ServiceSite) -> int:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or user.role != Role.VOLUNTEER:
        raise ValidationFailed(
            "登录账号须为在用的志愿者账号 (由系统管理员开设) / needs an active volunteer account",
            code="not_a_volunteer_account",
        )
    if not codes.is_within(user.region_code, codes.league_of(site.region_code)):
        raise ValidationFailed(
            "该账号不属于场所所在盟市 / account of another league", code="user_out_of_region"
        )
    if session.scalar(select(Volunteer.id).where(Volunteer.user_id == user.id)) is not None:
        raise VolunteerError(
            "该账号已关联其他志愿者 / account already linked", code="account_linked"
        )
    return user.id


def family_of(session: Session, volunteer: Volunteer) -> list[Family]:
    """The elders whose emergency contacts list the volunteer's phone, and the volunteer's own
    elder record (matched by ID number), living."""
    out: dict[int, Family] = {}
    rows = session.execute(
        select(Elder, EmergencyContact.relation)
        .join(EmergencyContact, EmergencyContact.elder_id == Elder.id)
        .where(EmergencyContact.phone == volunteer.phone, Elder.status == ElderStatus.ACTIVE.value)
    ).all()
    for elder, relation in rows:
        out.setdefault(elder.id, Family(elder, relation))
    own = session.scalar(
        select(Elder).where(
            Elder.id_number_index.in_(
                cipher_of(session).blind_indexes(
                    cipher_of(session).open(volunteer.id_number_sealed)
                )
            ),
            Elder.status == ElderStatus.ACTIVE.value,
        )
    )
    if own is not None:
        out.setdefault(own.id, Family(own, "本人"))
    return sorted(out.values(), key=lambda f: f.elder.id)


# ---------------------------------------------------------------- activities


def publish_activity(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    places: int,
    hours: Decimal | str | None = None,
    description: str = "",
    skill: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Activity:
    site = sites.get_site(session, site_id=site_id)
    _require_organiser(session, actor, site, "activity.publish")
    if (
        starts_at.tzinfo is None
        or ends_at <= starts_at
        or ends_at - starts_at > timedelta(hours=24)
    ):
        raise ValidationFailed(
            "活动时间无效 (结束须晚于开始, 不超过 24 小时) / invalid times",
            code="invalid_activity_time",
        )
    if not 1 <= places <= 500:
        raise ValidationFailed("名额为 1-500 / places 1-500", code="invalid_places")
    if skill is not None and skill not in SKILLS:
        raise ValidationFailed(f"未知技能: {skill} / unknown skill", code="unknown_skill")
    duration = Decimal((ends_at - starts_at).total_seconds() / 3600).quantize(Decimal("0.5"))
    credited = time_bank.hours_of(hours if hours is not None else max(duration, Decimal("0.5")))
    title_text = (title or "").strip()
    if not 1 <= len(title_text) <= 80:
        raise ValidationFailed("活动名称 1-80 字 / title of 1-80 characters", code="invalid_title")
    row = Activity(
        site_id=site.id,
        region_code=site.region_code,
        title=title_text,
        description=(description or "").strip()[:2000],
        skill=skill,
        starts_at=starts_at,
        ends_at=ends_at,
        places=places,
        hours=credited,
        latitude=latitude if latitude is not None else site.latitude,
        longitude=longitude if longitude is not None else site.longitude,
        status="published",
        published_by=actor.label[:100],
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="activity.publish",
        target_type="activity",
        target_id=row.id,
        detail={"site_id": site.id},
    )
    publish_on_commit(session, ActivityPublished(row.id, row.region_code, site.id, row.title))
    return row


def get_activity(session: Session, *, activity_id: int, lock: bool = False) -> Activity:
    q = select(Activity).where(Activity.id == activity_id)
    row = session.scalar(q.with_for_update() if lock else q)
    if row is None:
        raise NotFound("活动不存在 / no such activity", code="activity_not_found")
    return row


def _taken(session: Session, activity_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ActivitySignup)
            .where(ActivitySignup.activity_id == activity_id, ActivitySignup.status != "cancelled")
        )
        or 0
    )


def sign_up(
    session: Session, *, actor: Actor, activity_id: int, now: datetime | None = None
) -> ActivitySignup:
    """A volunteer of the site's 盟市 takes a place (the activity's row is locked while places
    are counted)."""
    volunteer = require_volunteer(session, actor, "sign_up")
    activity = get_activity(session, activity_id=activity_id, lock=True)
    at = now or clock.now()
    if codes.league_of(activity.region_code) != codes.league_of(volunteer.region_code):
        raise NotFound("活动不存在 / no such activity", code="activity_not_found")
    if activity.status != "published" or at >= activity.starts_at:
        raise VolunteerError("活动已开始或已取消, 不能报名 / sign-up closed", code="signup_closed")
    existing = session.scalar(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity.id, ActivitySignup.volunteer_id == volunteer.id
        )
    )
    if existing is not None and existing.status != "cancelled":
        return existing
    if _taken(session, activity.id) >= activity.places:
        raise VolunteerError("名额已满 / no places left", code="activity_full")
    if existing is not None:
        existing.status, existing.signed_up_at = "signed_up", at
        row = existing
    else:
        row = ActivitySignup(
            activity_id=activity.id, volunteer_id=volunteer.id, status="signed_up", signed_up_at=at
        )
        session.add(row)
    session.flush()
    publish_on_commit(
        session,
        VolunteerSignedUp(activity.id, activity.region_code, activity.site_id, volunteer.id),
    )
    return row


def cancel_signup(
    session: Session, *, actor: Actor, activity_id: int, now: datetime | None = None
) -> ActivitySignup:
    volunteer = require_volunteer(session, actor, "cancel_signup")
    row = session.scalar(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.volunteer_id == volunteer.id
        )
    )
    activity = get_activity(session, activity_id=activity_id)
    if row is None or row.status != "signed_up":
        raise IllegalTransition("没有可取消的报名 / nothing to cancel", code="signup_not_open")
    if (now or clock.now()) >= activity.starts_at:
        raise VolunteerError(
            "活动已开始, 不能取消 / the activity has started", code="signup_closed"
        )
    row.status = "cancelled"
    session.flush()
    return row


def check_in(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    latitude: float,
    longitude: float,
    now: datetime | None = None,
) -> ActivitySignup:
    """签到 on the volunteer's phone: at the activity's place, from a little before it starts
    until it ends."""
    volunteer = require_volunteer(session, actor, "check_in")
    activity = get_activity(session, activity_id=activity_id)
    row = session.scalar(
        select(ActivitySignup)
        .where(
            ActivitySignup.activity_id == activity.id, ActivitySignup.volunteer_id == volunteer.id
        )
        .with_for_update()
    )
    if row is None or row.status not in ("signed_up", "checked_in"):
        raise IllegalTransition("请先报名该活动 / sign up first", code="not_signed_up")
    if row.status == "checked_in":
        return row
    settings = settings_of(session)
    at = now or clock.now()
    if (
        not activity.starts_at - timedelta(minutes=settings.activity_check_in_early_min)
        <= at
        <= activity.ends_at
    ):
        raise VolunteerError(
            f"签到时间为活动开始前 {settings.activity_check_in_early_min} 分钟至结束 / outside the check-in time",
            code="check_in_closed",
        )
    if activity.latitude is None or activity.longitude is None:
        distance = None
    else:
        distance = round(
            haversine_km(activity.latitude, activity.longitude, latitude, longitude) * 1000
        )
        if distance > settings.activity_check_in_radius_m:
            audit.record_refusal(
                session,
                actor=actor,
                action="activity.check_in",
                target_type="activity",
                target_id=activity.id,
                detail={"reason": "too_far", "distance_m": distance},
            )
            raise TooFar(
                f"您距离活动地点约 {distance} 米, 须在 {settings.activity_check_in_radius_m} 米内签到 / too far "
                "from the activity",
                distance_m=distance,
            )
    row.status, row.checked_in_at = "checked_in", at
    row.check_in_latitude, row.check_in_longitude, row.check_in_distance_m = (
        latitude,
        longitude,
        distance,
    )
    session.flush()
    publish_on_commit(
        session,
        VolunteerCheckedIn(
            activity.id, activity.region_code, activity.site_id, volunteer.id, distance
        ),
    )
    return row


def confirm_hours(
    session: Session,
    *,
    actor: Actor,
    signup_id: int,
    hours: Decimal | str | None = None,
    now: datetime | None = None,
) -> ActivitySignup:
    """The organiser confirms the hours a volunteer who checked in served (at most twice the
    activity's); they are earned in the time bank, once."""
    row = session.scalar(
        select(ActivitySignup).where(ActivitySignup.id == signup_id).with_for_update()
    )
    if row is None:
        raise NotFound("报名不存在 / no such sign-up", code="signup_not_found")
    activity = get_activity(session, activity_id=row.activity_id)
    site = sites.get_site(session, site_id=activity.site_id)
    _require_organiser(session, actor, site, "activity.confirm_hours")
    if row.status == "confirmed":
        return row
    if row.status != "checked_in":
        raise IllegalTransition(
            f"报名状态为「{SIGNUP_STATUS[row.status]}」, 未签到不能确认时数 / not checked in",
            code="not_checked_in",
        )
    amount = time_bank.hours_of(hours if hours is not None else activity.hours)
    if amount > activity.hours * 2:
        raise ValidationFailed(
            f"确认时数不能超过活动时数的两倍 ({activity.hours * 2} 小时) / too many hours",
            code="too_many_hours",
        )
    volunteer = get_volunteer(session, volunteer_id=row.volunteer_id)
    at = now or clock.now()
    txn = time_bank.earn(
        session,
        actor=actor,
        volunteer_id=volunteer.id,
        region_code=volunteer.region_code,
        hours=amount,
        key=f"earn:signup:{row.id}",
        at=at,
        memo=f"{activity.title}",
        ref=("activity_signup", str(row.id)),
    )
    row.status, row.hours, row.confirmed_by, row.confirmed_at = (
        "confirmed",
        amount,
        actor.label[:100],
        at,
    )
    row.time_transaction_id = txn.id
    session.flush()
    publish_on_commit(
        session,
        HoursConfirmed(row.id, activity.region_code, activity.site_id, volunteer.id, str(amount)),
    )
    return row


def mark_absent(
    session: Session, *, actor: Actor, signup_id: int, now: datetime | None = None
) -> ActivitySignup:
    row = session.get(ActivitySignup, signup_id)
    if row is None:
        raise NotFound("报名不存在 / no such sign-up", code="signup_not_found")
    activity = get_activity(session, activity_id=row.activity_id)
    _require_organiser(
        session, actor, sites.get_site(session, site_id=activity.site_id), "activity.absent"
    )
    if row.status != "signed_up" or (now or clock.now()) < activity.ends_at:
        raise IllegalTransition(
            "活动结束后才能登记缺席 / after the activity only", code="not_absent"
        )
    row.status = "absent"
    session.flush()
    return row


# ---------------------------------------------------------------- hours within the family


def account_of(session: Session, volunteer: Volunteer) -> TimeAccount:
    return time_bank.member_account(
        session, kind=time_bank.VOLUNTEER, holder_id=volunteer.id, region_code=volunteer.region_code
    )


def elder_account(session: Session, elder: Elder) -> TimeAccount:
    return time_bank.member_account(
        session, kind=time_bank.ELDER, holder_id=elder.id, region_code=elder.region_code
    )


def transfer_to_family(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    hours: Decimal | str,
    key: str,
    now: datetime | None = None,
) -> TimeTransaction:
    """Give hours to an elder of the volunteer's family (refused for anyone else, audited)."""
    volunteer = require_volunteer(session, actor, "transfer")
    family = {f.elder.id: f for f in family_of(session, volunteer)}
    if elder_id not in family:
        refuse_on_elder(
            session,
            actor=actor,
            action="time_bank.transfer",
            elder_id=elder_id,
            reason="not_family",
        )
        raise PermissionDenied(
            "只能转赠给档案中登记的家人 / to your own family only", code="not_family"
        )
    return time_bank.transfer(
        session,
        actor=actor,
        from_account=account_of(session, volunteer),
        to_account=elder_account(session, family[elder_id].elder),
        hours=hours,
        key=f"transfer:{volunteer.id}:{key}",
        at=now,
        memo=f"转赠给{family[elder_id].relation}",
    )


# ---------------------------------------------------------------- what screens show


def activity_summary(session: Session, activity: Activity, *, tz: str) -> dict[str, Any]:
    site = session.get(ServiceSite, activity.site_id)
    return {
        "id": activity.id,
        "title": activity.title,
        "site_id": activity.site_id,
        "site_name": site.name if site else "",
        "address": site.address if site else "",
        "skill_label": SKILLS.get(activity.skill or "", None),
        "starts_at": clock.local(activity.starts_at, tz).strftime("%Y-%m-%d %H:%M"),
        "ends_at": clock.local(activity.ends_at, tz).strftime("%H:%M"),
        "places": activity.places,
        "taken": _taken(session, activity.id),
        "hours": str(activity.hours),
        "status": activity.status,
        "status_label": ACTIVITY_STATUS[activity.status],
        "latitude": activity.latitude,
        "longitude": activity.longitude,
    }


def upcoming_activities(
    session: Session, *, region_code: str, now: datetime | None = None, limit: int = 50
) -> list[Activity]:
    """Published activities of the region not yet over, soonest first."""
    at = now or clock.now()
    return list(
        session.scalars(
            select(Activity)
            .where(
                within(Activity.region_code, region_code),
                Activity.status == "published",
                Activity.ends_at > at,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
    )


def site_activities(session: Session, *, actor: Actor, site_id: int) -> list[dict[str, Any]]:
    """A site's activities with their sign-ups (names, check-in and hours) for its organisers."""
    site = sites.get_site(session, site_id=site_id)
    _require_organiser(session, actor, site, "activity.list")
    tz = clock.timezone_of(session)
    rows = session.scalars(
        select(Activity)
        .where(Activity.site_id == site.id)
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(50)
    ).all()
    out = []
    for activity in rows:
        signups = session.execute(
            select(ActivitySignup, Volunteer)
            .join(Volunteer, Volunteer.id == ActivitySignup.volunteer_id)
            .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status != "cancelled")
            .order_by(ActivitySignup.id)
        ).all()
        out.append(
            {
                **activity_summary(session, activity, tz=tz),
                "signups": [
                    {
                        "id": su.id,
                        "volunteer": v.name,
                        "phone": mask_phone(v.phone),
                        "status": su.status,
                        "status_label": SIGNUP_STATUS[su.status],
                        "checked_in_at": clock.local(su.checked_in_at, tz).strftime("%H:%M")
                        if su.checked_in_at
                        else None,
                        "distance_m": su.check_in_distance_m,
                        "hours": str(su.hours) if su.hours is not None else None,
                    }
                    for su, v in signups
                ],
            }
        )
    return out


def volunteer_page(
    session: Session, *, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """The volunteer's phone page: balance and latest movements, their family (names masked,
    with each one's hours), their sign-ups and the activities they may join."""
    volunteer = require_volunteer(session, actor, "page")
    tz = clock.timezone_of(session)
    account = account_of(session, volunteer)
    mine = {
        su.activity_id: su
        for su in session.scalars(
            select(ActivitySignup).where(
                ActivitySignup.volunteer_id == volunteer.id, ActivitySignup.status != "cancelled"
            )
        )
    }
    upcoming = upcoming_activities(
        session, region_code=codes.league_of(volunteer.region_code), now=now
    )
    joined = [session.get(Activity, aid) for aid in mine]
    activities = {a.id: a for a in upcoming + [a for a in joined if a is not None]}
    family = []
    for f in family_of(session, volunteer):
        held = time_bank.find_member_account(session, kind=time_bank.ELDER, holder_id=f.elder.id)
        family.append(
            {
                "elder_id": f.elder.id,
                "name": mask_name(f.elder.name),
                "relation": f.relation,
                "balance": str(held.balance if held else "0.00"),
            }
        )
    return {
        "volunteer": {
            "id": volunteer.id,
            "name": volunteer.name,
            "skills": [SKILLS.get(s, s) for s in volunteer.skills or []],
            "id_number": volunteer.id_number_masked,
        },
        "balance": str(account.balance),
        "cap": str(
            Decimal(str(settings_of(session).timebank_balance_cap_h)).quantize(Decimal("0.01"))
        ),
        "statement": time_bank.statement(session, account_id=account.id, limit=20),
        "family": family,
        "activities": [
            {
                **activity_summary(session, a, tz=tz),
                "signup": (
                    {
                        "status": mine[a.id].status,
                        "status_label": SIGNUP_STATUS[mine[a.id].status],
                        "hours": str(mine[a.id].hours) if mine[a.id].hours else None,
                    }
                    if a.id in mine
                    else None
                ),
            }
            for a in sorted(activities.values(), key=lambda x: (x.starts_at, x.id))
        ],
    }


def find_volunteers(
    session: Session, *, region_code: str, name: str | None = None
) -> list[Volunteer]:
    q = select(Volunteer).where(within(Volunteer.region_code, region_code))
    if name:
        q = q.where(or_(Volunteer.name == name.strip(), Volunteer.phone == name.strip()))
    return list(session.scalars(q.order_by(Volunteer.id).limit(200)))
