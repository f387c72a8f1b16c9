"""Day care (日间照料): who is enrolled at a centre, checking elders in and out by their ID
card or their family's code, the day's roster, capacity warnings and the monthly statistics
per elder and per site.

An elder is checked in at most once a day per centre. The family's code is eight digits, sent
to the family's mobile through the SMS outbox and shown once to the staff who enrol the elder;
only its keyed hash is kept. Capacity: a check-in that would pass the site's places is refused
unless the staff give a reason (kept on the attendance and audited); crossing the warning
share (``HOTLINE_DAYCARE_WARN_SHARE``) or the capacity publishes a warning for the site's
screen and the region's supervisors.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypedDict, Unpack

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.elders.service import age_of, find_elder_by_id_number
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import Conflict, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.notifications import service as sms
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_phone
from platform_core.sites.events import (
    DayCareCapacityWarning,
    DayCareCheckedIn,
    DayCareCheckedOut,
)
from platform_core.sites.models import DayCareAttendance, DayCareEnrolment, ServiceSite
from platform_core.sites.service import get_site, refuse_on_site, require_site_staff
from platform_core.sites.vocabulary import CHECK_METHODS, WEEKDAYS, SiteKind, SiteStatus

FAMILY_CODE_DIGITS = 8


class DayCareError(Conflict):
    code = "daycare_conflict"


class DayCareFull(DayCareError):
    code = "daycare_full"


class NotEnrolled(NotFound):
    code = "daycare_not_enrolled"


@dataclass(frozen=True)
class Enrolled:
    enrolment: DayCareEnrolment
    family_code: str  # shown once; only its keyed hash is kept
    sms_to: str | None  # the family mobile it was texted to, masked


def _day_care_site(session: Session, site_id: int) -> ServiceSite:
    site = get_site(session, site_id=site_id)
    if site.kind != SiteKind.DAY_CARE and "day_care" not in (site.services or []):
        raise ValidationFailed(
            f"{site.name}不提供日间照料 / the site offers no day care", code="not_day_care"
        )
    return site


def _code_index(session: Session, site_id: int, code: str) -> list[str]:
    return cipher_of(session).blind_indexes(f"daycare:{site_id}:{code}")


def _new_code(session: Session, site_id: int) -> tuple[str, str]:
    code = "".join(secrets.choice("0123456789") for _ in range(FAMILY_CODE_DIGITS))
    return code, cipher_of(session).blind_index(f"daycare:{site_id}:{code}")


def _family_mobile(elder: Elder) -> str | None:
    for contact in elder.contacts:
        number = sms.mobile_or_none(contact.phone)
        if number:
            return number
    return None


def _send_code(
    session: Session,
    actor: Actor,
    site: ServiceSite,
    elder: Elder,
    row: DayCareEnrolment,
    code: str,
) -> str | None:
    mobile = _family_mobile(elder)
    if mobile is None:
        return None
    sms.send_sms(
        session,
        to=mobile,
        template="daycare_family_code",
        params={"elder_name": elder.name, "site": site.name, "code": code},
        actor=actor,
        ref_type="daycare_code",
        ref_id=f"{row.id}:{row.family_code_issued_at.isoformat() if row.family_code_issued_at else ''}",
        region_code=elder.region_code,
    )
    return mask_phone(mobile)


def _check_weekdays(weekdays: list[str]) -> list[str]:
    days = sorted({str(d) for d in weekdays})
    if not days or any(d not in WEEKDAYS for d in days):
        raise ValidationFailed(
            "请选择来托的星期 (1-7) / choose the weekdays (1-7)", code="invalid_weekdays"
        )
    return days


def enrol(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    elder_id: int,
    weekdays: list[str],
    started_on: date | None = None,
) -> Enrolled:
    """Enrol an elder of the site's 盟市 at a day care centre; the family's code is made and
    texted to the family's mobile."""
    site = _day_care_site(session, site_id)
    require_site_staff(session, actor, site, "daycare.enrol")
    elder = session.get(Elder, elder_id)
    if elder is None or codes.league_of(elder.region_code) != codes.league_of(site.region_code):
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    if elder.status != ElderStatus.ACTIVE:
        raise DayCareError("老人档案非在册状态 / elder is not active", code="elder_not_active")
    live = session.scalar(
        select(DayCareEnrolment.id).where(
            DayCareEnrolment.site_id == site.id,
            DayCareEnrolment.elder_id == elder.id,
            DayCareEnrolment.ended_on.is_(None),
        )
    )
    if live is not None:
        raise DayCareError(
            f"{elder.name}已在{site.name}登记 / already enrolled", code="already_enrolled"
        )
    code, index = _new_code(session, site.id)
    row = DayCareEnrolment(
        site_id=site.id,
        elder_id=elder.id,
        region_code=elder.region_code,
        weekdays=_check_weekdays(weekdays),
        started_on=started_on or clock.today_in(session),
        family_code_index=index,
        family_code_issued_at=clock.now(),
        enrolled_by=actor.label[:100],
    )
    session.add(row)
    session.flush()
    sent_to = _send_code(session, actor, site, elder, row, code)
    audit.record(
        session,
        actor=actor,
        action="daycare.enrol",
        target_type="elder",
        target_id=elder.id,
        detail={"site_id": site.id, "enrolment_id": row.id, "weekdays": row.weekdays},
    )
    return Enrolled(row, code, sent_to)


def reissue_family_code(
    session: Session, *, actor: Actor, site_id: int, enrolment_id: int
) -> Enrolled:
    """A new family code (the old one stops working), texted like the first."""
    site = _day_care_site(session, site_id)
    require_site_staff(session, actor, site, "daycare.reissue_code")
    row = session.get(DayCareEnrolment, enrolment_id)
    if row is None or row.site_id != site.id or row.ended_on is not None:
        raise NotEnrolled("登记不存在或已结束 / no such enrolment")
    code, row.family_code_index = _new_code(session, site.id)
    row.family_code_issued_at = clock.now()
    session.flush()
    elder = session.get(Elder, row.elder_id)
    assert elder is not None
    sent_to = _send_code(session, actor, site, elder, row, code)
    audit.record(
        session,
        actor=actor,
        action="daycare.reissue_code",
        target_type="elder",
        target_id=row.elder_id,
        detail={"site_id": site.id, "enrolment_id": row.id},
    )
    return Enrolled(row, code, sent_to)


def end_enrolment(
    session: Session, *, actor: Actor, site_id: int, enrolment_id: int, reason: str
) -> DayCareEnrolment:
    site = _day_care_site(session, site_id)
    require_site_staff(session, actor, site, "daycare.end")
    row = session.get(DayCareEnrolment, enrolment_id)
    if row is None or row.site_id != site.id or row.ended_on is not None:
        raise NotEnrolled("登记不存在或已结束 / no such enrolment")
    if not reason.strip():
        raise ValidationFailed("请说明结束原因 / give a reason", code="reason_required")
    row.ended_on, row.end_reason, row.family_code_index = (
        clock.today_in(session),
        reason.strip()[:200],
        None,
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="daycare.end",
        target_type="elder",
        target_id=row.elder_id,
        detail={"site_id": site.id, "enrolment_id": row.id, "reason": row.end_reason},
    )
    return row


# ---------------------------------------------------------------- in and out


class AtTheDesk(TypedDict, total=False):
    """How the desk names the elder: one of the ID card read, the family's code, or the
    roster's elder."""

    id_number: str | None
    family_code: str | None
    elder_id: int | None


def _identify(
    session: Session, actor: Actor, site: ServiceSite, action: str, who: AtTheDesk
) -> tuple[Elder, DayCareEnrolment | None, str]:
    """The elder at the desk and how they were recognised: the ID card read at the desk (an
    enrolled elder, or a walk-in of the site's 盟市), the family's code (an enrolled elder),
    or staff naming an enrolled elder from the roster."""
    id_number, family_code, elder_id = (
        who.get("id_number"),
        who.get("family_code"),
        who.get("elder_id"),
    )
    given = [v for v in (id_number, family_code, elder_id) if v]
    if len(given) != 1:
        raise ValidationFailed(
            "请刷身份证、输入家属码或从名单中选择老人 (三选一) / give one of ID card, family code "
            "or the roster's elder",
            code="identity_required",
        )
    enrolment: DayCareEnrolment | None = None
    if family_code:
        digits = family_code.strip()
        enrolment = (
            session.scalar(
                select(DayCareEnrolment).where(
                    DayCareEnrolment.site_id == site.id,
                    DayCareEnrolment.ended_on.is_(None),
                    DayCareEnrolment.family_code_index.in_(_code_index(session, site.id, digits)),
                )
            )
            if digits.isascii() and digits.isdigit() and len(digits) == FAMILY_CODE_DIGITS
            else None
        )
        if enrolment is None:
            refuse_on_site(session, actor, action, site.id, "unknown_family_code")
            raise NotEnrolled("家属码无效 / unknown family code", code="unknown_family_code")
        elder = session.get(Elder, enrolment.elder_id)
        method = "family_code"
    elif id_number:
        try:
            elder = find_elder_by_id_number(session, id_number=id_number)
        except ValidationFailed:
            refuse_on_site(session, actor, action, site.id, "invalid_id_number")
            raise
        if elder is None or codes.league_of(elder.region_code) != codes.league_of(site.region_code):
            refuse_on_site(session, actor, action, site.id, "elder_not_found")
            raise NotFound(
                "未找到该身份证的老人档案 / no elder with this ID number", code="elder_not_found"
            )
        method = "id_card"
    else:
        elder = session.get(Elder, elder_id)
        method = "staff"
    if elder is None:
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    if enrolment is None:
        enrolment = session.scalar(
            select(DayCareEnrolment).where(
                DayCareEnrolment.site_id == site.id,
                DayCareEnrolment.elder_id == elder.id,
                DayCareEnrolment.ended_on.is_(None),
            )
        )
    if method == "staff" and enrolment is None:
        refuse_on_site(session, actor, action, site.id, "not_enrolled")
        raise NotEnrolled("该老人未在本中心登记, 请刷身份证 / not enrolled here: use the ID card")
    return elder, enrolment, method


def _present(session: Session, site_id: int, day: date) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(DayCareAttendance)
            .where(
                DayCareAttendance.site_id == site_id,
                DayCareAttendance.day == day,
                DayCareAttendance.checked_out_at.is_(None),
            )
        )
        or 0
    )


def warn_threshold(session: Session, capacity: int) -> int:
    """The number present at which the site is warned (at least one below full)."""
    share = settings_of(session).daycare_warn_share
    return max(1, min(capacity - 1, int(capacity * share + 0.999999))) if capacity > 1 else 1


def check_in(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    over_capacity_reason: str | None = None,
    now: datetime | None = None,
    **who: Unpack[AtTheDesk],
) -> DayCareAttendance:
    """Check an elder in for today. The site's row is locked while the elders present are
    counted, so two desks checking in at once never pass its capacity unnoticed."""
    site = _day_care_site(session, site_id)
    require_site_staff(session, actor, site, "daycare.check_in")
    if site.status != SiteStatus.OPEN:
        raise DayCareError(f"{site.name}未在运营 / the site is not open", code="site_not_open")
    at = now or clock.now()
    day = clock.local_date(at, clock.timezone_of(session))
    elder, enrolment, method = _identify(
        session,
        actor,
        site,
        "daycare.check_in",
        who,
    )
    if elder.status != ElderStatus.ACTIVE:
        raise DayCareError("老人档案非在册状态 / elder is not active", code="elder_not_active")
    session.execute(select(ServiceSite.id).where(ServiceSite.id == site.id).with_for_update())
    earlier = session.scalar(
        select(DayCareAttendance).where(
            DayCareAttendance.site_id == site.id,
            DayCareAttendance.elder_id == elder.id,
            DayCareAttendance.day == day,
        )
    )
    if earlier is not None:
        raise DayCareError(
            f"{elder.name}今天已于 {clock.local(earlier.checked_in_at, clock.timezone_of(session)):%H:%M} 签到"
            " / already checked in today",
            code="already_checked_in",
            attendance_id=earlier.id,
        )
    present = _present(session, site.id, day)
    reason = (over_capacity_reason or "").strip()[:200] or None
    if site.capacity is not None and present >= site.capacity and reason is None:
        refuse_on_site(session, actor, "daycare.check_in", site.id, "full")
        raise DayCareFull(
            f"{site.name}已满 ({present}/{site.capacity} 人); 如确需接收, 请说明原因 / the centre "
            "is full: give a reason to take one more",
            present=present,
            capacity=site.capacity,
        )
    row = DayCareAttendance(
        site_id=site.id,
        elder_id=elder.id,
        enrolment_id=enrolment.id if enrolment else None,
        region_code=elder.region_code,
        day=day,
        checked_in_at=at,
        check_in_method=method,
        checked_in_by=actor.label[:100],
        over_capacity_reason=reason
        if site.capacity is not None and present >= site.capacity
        else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="daycare.check_in",
        target_type="elder",
        target_id=elder.id,
        detail={
            "site_id": site.id,
            "method": method,
            **(
                {"over_capacity_reason": row.over_capacity_reason}
                if row.over_capacity_reason
                else {}
            ),
        },
    )
    now_present = present + 1
    publish_on_commit(
        session,
        DayCareCheckedIn(site.id, site.region_code, row.id, elder.id, now_present, site.capacity),
    )
    if site.capacity is not None:
        for level, line in (
            ("near", warn_threshold(session, site.capacity)),
            ("full", site.capacity),
        ):
            if present < line <= now_present:
                publish_on_commit(
                    session,
                    DayCareCapacityWarning(
                        site.id, site.region_code, level, now_present, site.capacity
                    ),
                )
    return row


def check_out(
    session: Session,
    *,
    actor: Actor,
    site_id: int,
    now: datetime | None = None,
    **who: Unpack[AtTheDesk],
) -> DayCareAttendance:
    """Check an elder out (the family's code at pick-up, the ID card, or staff from the roster)."""
    site = _day_care_site(session, site_id)
    require_site_staff(session, actor, site, "daycare.check_out")
    at = now or clock.now()
    day = clock.local_date(at, clock.timezone_of(session))
    elder, _enrolment, method = _identify(
        session,
        actor,
        site,
        "daycare.check_out",
        who,
    )
    row = session.scalar(
        select(DayCareAttendance)
        .where(
            DayCareAttendance.site_id == site.id,
            DayCareAttendance.elder_id == elder.id,
            DayCareAttendance.day == day,
        )
        .with_for_update()
    )
    if row is None:
        raise DayCareError(f"{elder.name}今天未签到 / not checked in today", code="not_checked_in")
    if row.checked_out_at is not None:
        raise DayCareError(
            f"{elder.name}今天已签退 / already checked out", code="already_checked_out"
        )
    row.checked_out_at, row.check_out_method, row.checked_out_by = at, method, actor.label[:100]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="daycare.check_out",
        target_type="elder",
        target_id=elder.id,
        detail={"site_id": site.id, "method": method},
    )
    publish_on_commit(
        session,
        DayCareCheckedOut(
            site.id,
            site.region_code,
            row.id,
            elder.id,
            _present(session, site.id, day),
            site.capacity,
        ),
    )
    return row


# ---------------------------------------------------------------- roster and statistics


def _local_time(at: datetime | None, tz: str) -> str | None:
    return clock.local(at, tz).strftime("%H:%M") if at else None


def daily_roster(session: Session, *, site_id: int, day: date) -> dict[str, Any]:
    """The day's roster: every elder expected (enrolled for that weekday) or present, with
    their state (未到 expected, 在托 present, 已离开 left), and the count against capacity."""
    site = _day_care_site(session, site_id)
    tz = clock.timezone_of(session)
    weekday = str(day.isoweekday())
    enrolled = [
        e
        for e in session.scalars(
            select(DayCareEnrolment).where(
                DayCareEnrolment.site_id == site.id,
                DayCareEnrolment.started_on <= day,
                (DayCareEnrolment.ended_on.is_(None)) | (DayCareEnrolment.ended_on > day),
            )
        )
        if weekday in (e.weekdays or [])
    ]
    visits = {
        a.elder_id: a
        for a in session.scalars(
            select(DayCareAttendance).where(
                DayCareAttendance.site_id == site.id, DayCareAttendance.day == day
            )
        )
    }
    elder_ids = {e.elder_id for e in enrolled} | set(visits)
    elders = (
        {e.id: e for e in session.scalars(select(Elder).where(Elder.id.in_(elder_ids)))}
        if elder_ids
        else {}
    )
    rows = []
    for elder_id in sorted(elder_ids, key=lambda i: (elders[i].name, i)):
        elder, visit = elders[elder_id], visits.get(elder_id)
        state = "expected" if visit is None else "left" if visit.checked_out_at else "present"
        rows.append(
            {
                "elder_id": elder.id,
                "name": elder.name,
                "id_number": elder.id_number_masked,
                "age": age_of(elder, day),
                "state": state,
                "state_label": {"expected": "未到", "present": "在托", "left": "已离开"}[state],
                "enrolled": any(e.elder_id == elder_id for e in enrolled),
                "checked_in_at": _local_time(visit.checked_in_at, tz) if visit else None,
                "checked_out_at": _local_time(visit.checked_out_at, tz) if visit else None,
                "check_in_method": CHECK_METHODS.get(visit.check_in_method) if visit else None,
                "over_capacity_reason": visit.over_capacity_reason if visit else None,
            }
        )
    present = sum(1 for r in rows if r["state"] == "present")
    level = None
    if site.capacity:
        level = (
            "full"
            if present >= site.capacity
            else "near"
            if present >= warn_threshold(session, site.capacity)
            else None
        )
    return {
        "site_id": site.id,
        "site_name": site.name,
        "day": day.isoformat(),
        "capacity": site.capacity,
        "present": present,
        "expected": sum(1 for r in rows if r["state"] == "expected"),
        "left": sum(1 for r in rows if r["state"] == "left"),
        "warning": level,
        "rows": rows,
    }


def _month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def _peak(visits: list[DayCareAttendance], closing: datetime) -> int:
    """Most elders present at once over one day's visits."""
    edges = []
    for v in visits:
        edges.append((v.checked_in_at, 1))
        edges.append((v.checked_out_at or max(closing, v.checked_in_at), -1))
    peak = current = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        current += step
        peak = max(peak, current)
    return peak


def _hours(v: DayCareAttendance) -> float | None:
    if v.checked_out_at is None:
        return None
    return round((v.checked_out_at - v.checked_in_at).total_seconds() / 3600, 2)


def _open_days(site: ServiceSite, start: date, end: date) -> int:
    hours = site.opening_hours or {}
    days = (end - start).days
    return sum(1 for n in range(days) if str((start + timedelta(days=n)).isoweekday()) in hours)


def monthly_statistics(session: Session, *, site_id: int, month: date) -> dict[str, Any]:
    """One site's month: per elder the days attended, hours (completed visits) and visits
    without a check-out, against the days enrolled; for the site the attendance-days, distinct
    elders, average and peak present, and the share of its places used on opening days."""
    site = _day_care_site(session, site_id)
    tz = clock.timezone_of(session)
    start, end = _month_bounds(month)
    visits = list(
        session.scalars(
            select(DayCareAttendance).where(
                DayCareAttendance.site_id == site.id,
                DayCareAttendance.day >= start,
                DayCareAttendance.day < end,
            )
        )
    )
    by_elder: dict[int, list[DayCareAttendance]] = defaultdict(list)
    by_day: dict[date, list[DayCareAttendance]] = defaultdict(list)
    for v in visits:
        by_elder[v.elder_id].append(v)
        by_day[v.day].append(v)
    enrolments = list(
        session.scalars(
            select(DayCareEnrolment).where(
                DayCareEnrolment.site_id == site.id,
                DayCareEnrolment.started_on < end,
                (DayCareEnrolment.ended_on.is_(None)) | (DayCareEnrolment.ended_on > start),
            )
        )
    )
    expected: dict[int, int] = defaultdict(int)
    for e in enrolments:
        first, last = max(start, e.started_on), min(end, e.ended_on or end)
        expected[e.elder_id] += sum(
            1
            for n in range((last - first).days)
            if str((first + timedelta(days=n)).isoweekday()) in (e.weekdays or [])
        )
    ids = set(by_elder) | set(expected)
    names = (
        dict(session.execute(select(Elder.id, Elder.name).where(Elder.id.in_(ids))).all())
        if ids
        else {}
    )
    elders = []
    for elder_id in sorted(ids, key=lambda i: (names.get(i, ""), i)):
        rows = by_elder.get(elder_id, [])
        hours = [h for h in (_hours(v) for v in rows) if h is not None]
        days = len(rows)
        elders.append(
            {
                "elder_id": elder_id,
                "name": names.get(elder_id, ""),
                "days": days,
                "expected_days": expected.get(elder_id, 0),
                "attendance_rate": round(days / expected[elder_id], 4)
                if expected.get(elder_id)
                else None,
                "hours": round(sum(hours), 2),
                "without_check_out": sum(1 for v in rows if v.checked_out_at is None),
            }
        )
    peaks = []
    for day, rows in by_day.items():
        span = (site.opening_hours or {}).get(str(day.isoweekday()))
        closing = clock.at_local(day, time.fromisoformat(span[1]) if span else time(23, 59), tz)
        peaks.append(_peak(rows, closing))
    open_days = _open_days(site, start, end)
    person_days = len(visits)
    return {
        "site_id": site.id,
        "site_name": site.name,
        "month": start.strftime("%Y-%m"),
        "capacity": site.capacity,
        "open_days": open_days,
        "days_with_attendance": len(by_day),
        "person_days": person_days,
        "elders": len(by_elder),
        "average_present": round(person_days / len(by_day), 2) if by_day else 0,
        "peak_present": max(peaks, default=0),
        "over_capacity_check_ins": sum(1 for v in visits if v.over_capacity_reason),
        "utilisation": round(person_days / (site.capacity * open_days), 4)
        if site.capacity and open_days
        else None,
        "hours": round(sum(h for h in (_hours(v) for v in visits) if h is not None), 2),
        "per_elder": elders,
    }


def region_statistics(session: Session, *, region_code: str, month: date) -> list[dict[str, Any]]:
    """Every day care site of the region and its month (officers' view: no elders' names)."""
    from_sites = session.scalars(
        select(ServiceSite.id)
        .where(within(ServiceSite.region_code, region_code))
        .order_by(ServiceSite.name, ServiceSite.id)
    ).all()
    out = []
    for site_id in from_sites:
        site = session.get(ServiceSite, site_id)
        if site is None or (
            site.kind != SiteKind.DAY_CARE and "day_care" not in (site.services or [])
        ):
            continue
        stats = monthly_statistics(session, site_id=site_id, month=month)
        stats.pop("per_elder")
        out.append(stats)
    return out
