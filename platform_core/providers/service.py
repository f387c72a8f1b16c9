"""Provider use cases: registration, coverage and offerings, status, staff, candidate sets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.catalogue.models import ServiceType
from platform_core.catalogue.service import get_service_type
from platform_core.db import utcnow
from platform_core.elders import idcard, phones
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.providers.access import (
    is_practitioner,
    is_provider_actor,
    refuse_on_provider,
    require_office,
)
from platform_core.providers.credit_code import normalize_credit_code
from platform_core.providers.events import (
    ProviderRegistered,
    ProviderStatusChanged,
    ProviderUpdated,
    StaffAdded,
    StaffUpdated,
)
from platform_core.providers.models import (
    CLOSED_STATUSES,
    STATUS_LABELS,
    Provider,
    ProviderCoverage,
    ProviderGrade,
    ProviderOffering,
    ProviderStaff,
    ProviderStatus,
    ProviderStatusChange,
    StaffQualification,
    StaffTraining,
)
from platform_core.regions import codes
from platform_core.regions import service as regions
from platform_core.regions.models import Region
from platform_core.runtime import cipher_of
from platform_core.security.masking import mask_id_number, mask_phone

# Who may register providers and change their contracts, grade and status.
MANAGER_ROLES = frozenset({Role.ADMIN, Role.OFFICER})
# Fields a provider may change about itself; the rest is the civil-affairs side's to decide.
SELF_SERVICE_FIELDS = frozenset(
    {"contact_name", "contact_phone", "address", "latitude", "longitude"}
)
_GRADE_ORDER = {g.value: i for i, g in enumerate(ProviderGrade)}


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class StaffNotFound(NotFound):
    code = "staff_not_found"


# ---------------------------------------------------------------- authorisation


def require_manager(
    session: Session, actor: Actor, *, action: str, provider: Provider | None, region_code: str
) -> None:
    require_office(
        session,
        actor,
        roles=MANAGER_ROLES,
        action=action,
        refused="只有民政监管或管理员可以执行此操作 / only civil-affairs officers and "
        "administrators may do this",
        provider=provider,
        region_code=region_code,
    )


def require_manager_or_self(
    session: Session, actor: Actor, *, action: str, provider: Provider
) -> None:
    def deny(error: PermissionDenied) -> None:
        refuse_on_provider(
            session, actor=actor, action=action, provider_id=provider.id, error=error
        )

    if is_provider_actor(actor):
        if is_practitioner(actor):
            deny(
                PermissionDenied(
                    "服务人员不能管理本机构 / a practitioner may not manage the provider",
                    code="not_provider_admin",
                )
            )
        if actor.provider_id != provider.id:
            deny(
                PermissionDenied(
                    "服务商只能管理本机构 / a provider may act only for itself",
                    code="not_your_provider",
                )
            )
        return
    require_manager(
        session, actor, action=action, provider=provider, region_code=provider.region_code
    )


# ---------------------------------------------------------------- validation helpers


def _region(session: Session, raw: str) -> str:
    return regions.ensure_region(session, raw).code


def _area_code(session: Session, region_code: str) -> str | None:
    """The landline area code of the nearest region that has one (the 盟市 sets it)."""
    return session.scalar(
        select(Region.area_code)
        .where(Region.code.in_(self_and_ancestors(region_code)), Region.area_code.is_not(None))
        .order_by(Region.level.desc())
        .limit(1)
    )


def _phone(session: Session, raw: str, region_code: str, what: str) -> str:
    try:
        return phones.normalize_phone(raw, area_code=_area_code(session, region_code)).digits
    except phones.InvalidPhoneNumber as exc:
        raise phones.InvalidPhoneNumber(f"{what}: {exc.message}", **exc.details) from exc


def _offerings(session: Session, service_types: Iterable[str]) -> list[str]:
    out = sorted(set(service_types))
    if not out:
        raise ValidationFailed(
            "服务商至少要提供一种服务 / a provider must offer at least one service",
            code="no_service_types",
        )
    found = {
        st.code: st for st in session.scalars(select(ServiceType).where(ServiceType.code.in_(out)))
    }
    for code in out:
        st = found.get(code) or get_service_type(session, code=code)  # raises for the unknown one
        if not st.active:
            raise ValidationFailed(
                f"服务类型已停用: {st.name} / service type is inactive",
                code="service_type_inactive",
            )
    return out


def _coverage(session: Session, actor: Actor, coverage: Iterable[str], *, action: str) -> list[str]:
    out = sorted({_region(session, c) for c in coverage})
    if not out:
        raise ValidationFailed(
            "服务商至少要覆盖一个区域 / a provider must cover at least one region",
            code="no_coverage",
        )
    for code in out:
        if not codes.is_within(code, actor.region_code):
            refuse_on_provider(
                session,
                actor=actor,
                action=action,
                provider_id=None,
                error=OutOfRegion(
                    f"服务区域 {code} 不在您的管辖范围内 / coverage outside your region"
                ),
            )
    # a region already inside another covered region adds nothing
    return [c for c in out if not any(o != c and codes.is_within(c, o) for o in out)]


def _check_numbers(
    capacity: int | None,
    credit_score: float | None,
    grade: str | None,
    latitude: float | None,
    longitude: float | None,
) -> None:
    if capacity is not None and capacity < 1:
        raise ValidationFailed(
            f"接单容量至少为 1: {capacity} / capacity must be at least 1", code="invalid_capacity"
        )
    if credit_score is not None and not 0 <= credit_score <= 100:
        raise ValidationFailed(
            f"信用分应在 0-100 之间: {credit_score} / credit score outside 0-100",
            code="invalid_credit_score",
        )
    if grade is not None and grade not in _GRADE_ORDER:
        raise ValidationFailed(
            f"等级只能是 A/B/C/D: {grade} / grade must be A-D", code="invalid_grade"
        )
    if (
        latitude is not None
        and not -90 <= latitude <= 90
        or longitude is not None
        and not -180 <= longitude <= 180
    ):
        raise ValidationFailed(
            f"坐标无效: {latitude},{longitude} / invalid coordinates", code="invalid_coordinates"
        )


# ---------------------------------------------------------------- commands


def register_provider(
    session: Session,
    *,
    actor: Actor,
    name: str,
    credit_code: str,
    region_code: str,
    contact_phone: str,
    service_types: Sequence[str],
    coverage: Sequence[str],
    capacity: int = 10,
    kind: str = "",
    address: str = "",
    contact_name: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    grade: str = ProviderGrade.B,
    credit_score: float = 80.0,
) -> Provider:
    """Register a provider with the services it offers and the regions it covers."""
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(
            "服务商名称不能为空 / the provider needs a name", code="invalid_name"
        )
    code = normalize_credit_code(credit_code)
    region = _region(session, region_code)
    require_manager(session, actor, action="provider.register", provider=None, region_code=region)
    _check_numbers(capacity, credit_score, grade, latitude, longitude)
    if session.scalar(select(Provider.id).where(Provider.credit_code == code)) is not None:
        raise Conflict(
            f"统一社会信用代码 {code} 已登记 / this credit code is already registered",
            code="provider_exists",
            credit_code=code,
        )
    offered = _offerings(session, service_types)
    covered = _coverage(session, actor, coverage, action="provider.register")
    provider = Provider(
        name=name,
        credit_code=code,
        kind=kind,
        region_code=region,
        address=address,
        latitude=latitude,
        longitude=longitude,
        contact_name=contact_name,
        contact_phone=_phone(session, contact_phone, region, "联系电话 / contact phone"),
        capacity=capacity,
        grade=grade,
        credit_score=credit_score,
        status=ProviderStatus.NORMAL,
        offerings=[ProviderOffering(service_type_code=c) for c in offered],
        coverage=[ProviderCoverage(region_code=c) for c in covered],
    )
    session.add(provider)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.register",
        target_type="provider",
        target_id=provider.id,
        detail={"credit_code": code, "coverage": covered, "service_types": offered},
    )
    publish_on_commit(
        session,
        ProviderRegistered(
            provider_id=provider.id,
            region_code=region,
            name=name,
            service_type_codes=offered,
            coverage_codes=covered,
        ),
    )
    return provider


_UNSET: Any = object()


def update_provider(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    name: str = _UNSET,
    kind: str = _UNSET,
    address: str = _UNSET,
    latitude: float | None = _UNSET,
    longitude: float | None = _UNSET,
    contact_name: str = _UNSET,
    contact_phone: str = _UNSET,
    capacity: int = _UNSET,
    service_types: Sequence[str] = _UNSET,
    coverage: Sequence[str] = _UNSET,
    grade: str = _UNSET,
    credit_score: float = _UNSET,
) -> Provider:
    """Change what is given; a provider may change only its contact details and location."""
    provider = get_provider(session, provider_id=provider_id)
    given: dict[str, Any] = {
        k: v
        for k, v in {
            "name": name,
            "kind": kind,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
            "contact_name": contact_name,
            "contact_phone": contact_phone,
            "capacity": capacity,
            "service_types": service_types,
            "coverage": coverage,
            "grade": grade,
            "credit_score": credit_score,
        }.items()
        if v is not _UNSET
    }
    if is_provider_actor(actor) and not set(given) <= SELF_SERVICE_FIELDS:
        require_manager(
            session,
            actor,
            action="provider.update",
            provider=provider,
            region_code=provider.region_code,
        )
    require_manager_or_self(session, actor, action="provider.update", provider=provider)
    _check_numbers(
        given.get("capacity"),
        given.get("credit_score"),
        given.get("grade"),
        given.get("latitude"),
        given.get("longitude"),
    )
    if provider.status == ProviderStatus.TERMINATED:
        raise Conflict(
            "服务商已终止合作, 不能再修改 / the provider's contract is terminated",
            code="provider_terminated",
        )
    if "name" in given:
        given["name"] = " ".join(given["name"].split())
        if not given["name"]:
            raise ValidationFailed(
                "服务商名称不能为空 / the provider needs a name", code="invalid_name"
            )
    if "contact_phone" in given:
        given["contact_phone"] = _phone(
            session, given["contact_phone"], provider.region_code, "联系电话 / contact phone"
        )
    if "service_types" in given:
        offered = _offerings(session, given.pop("service_types"))
        keep = {o.service_type_code: o for o in provider.offerings}
        provider.offerings = [keep.get(c) or ProviderOffering(service_type_code=c) for c in offered]
        given["service_types"] = offered
    if "coverage" in given:
        covered = _coverage(session, actor, given.pop("coverage"), action="provider.update")
        keep_cov = {c.region_code: c for c in provider.coverage}
        provider.coverage = [keep_cov.get(c) or ProviderCoverage(region_code=c) for c in covered]
        given["coverage"] = covered
    for field, value in given.items():
        if field not in ("service_types", "coverage"):
            setattr(provider, field, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.update",
        target_type="provider",
        target_id=provider.id,
        detail={
            k: (v if isinstance(v, str | int | float | list) or v is None else str(v))
            for k, v in given.items()
        },
    )
    publish_on_commit(
        session,
        ProviderUpdated(
            provider_id=provider.id, region_code=provider.region_code, fields=sorted(given)
        ),
    )
    return provider


def set_status(
    session: Session, *, actor: Actor, provider_id: int, status: str, reason: str
) -> Provider:
    """Move a provider to normal / warning / reduced / suspended / terminated, saying why."""
    provider = get_provider(session, provider_id=provider_id)
    require_manager(
        session,
        actor,
        action="provider.set_status",
        provider=provider,
        region_code=provider.region_code,
    )
    if status not in set(ProviderStatus):
        raise ValidationFailed(
            f"未知状态: {status} / unknown provider status", code="invalid_provider_status"
        )
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "变更服务商状态必须说明原因 / a status change needs a reason", code="reason_required"
        )
    if provider.status == ProviderStatus.TERMINATED:
        raise IllegalTransition(
            f"服务商已终止合作, 不能改为{STATUS_LABELS[ProviderStatus(status)]} / a terminated provider stays terminated",
            code="provider_terminated",
            from_status=provider.status,
            to_status=status,
        )
    before = provider.status
    if before == status:
        return provider
    provider.status, provider.status_reason, provider.status_changed_at = status, reason, utcnow()
    session.add(
        ProviderStatusChange(
            provider_id=provider.id,
            from_status=before,
            to_status=status,
            reason=reason[:255],
            by=actor.label,
            at=provider.status_changed_at,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.set_status",
        target_type="provider",
        target_id=provider.id,
        detail={"from": before, "to": status, "reason": reason},
    )
    publish_on_commit(
        session,
        ProviderStatusChanged(
            provider_id=provider.id,
            region_code=provider.region_code,
            from_status=before,
            to_status=status,
            reason=reason,
            by=actor.label,
        ),
    )
    return provider


QualificationInput = Mapping[str, Any] | StaffQualification


def add_staff(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    name: str,
    phone: str,
    id_number: str,
    skills: Sequence[str],
    qualifications: Sequence[QualificationInput] = (),
    today: date | None = None,
) -> ProviderStaff:
    """Add a practitioner; skills must be services the provider offers."""
    provider = get_provider(session, provider_id=provider_id)
    require_manager_or_self(session, actor, action="provider.add_staff", provider=provider)
    if provider.status == ProviderStatus.TERMINATED:
        raise Conflict(
            "服务商已终止合作 / the provider's contract is terminated", code="provider_terminated"
        )
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(
            "服务人员姓名不能为空 / the staff member needs a name", code="invalid_name"
        )
    parsed = idcard.parse_id_number(id_number, today=today)
    cipher = cipher_of(session)
    index = cipher.blind_index(parsed.number)
    if (
        session.scalar(
            select(ProviderStaff.id).where(
                ProviderStaff.provider_id == provider.id,
                ProviderStaff.id_number_index.in_(cipher.blind_indexes(parsed.number)),
            )
        )
        is not None
    ):
        raise Conflict(
            "该身份证号的人员已在本机构登记 / this person is already on the staff",
            code="staff_exists",
        )
    skills_out = _skills(provider, skills)
    staff = ProviderStaff(
        provider_id=provider.id,
        name=name,
        phone=_phone(session, phone, provider.region_code, "服务人员电话 / phone"),
        id_number_sealed=cipher.seal(parsed.number),
        id_number_index=index,
        id_number_masked=mask_id_number(parsed.number),
        skills=skills_out,
        qualifications=[_qualification(q) for q in qualifications],
        active=True,
    )
    session.add(staff)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.add_staff",
        target_type="provider_staff",
        target_id=staff.id,
        detail={
            "provider_id": provider.id,
            "skills": skills_out,
            "qualifications": [q.name for q in staff.qualifications],
        },
    )
    publish_on_commit(
        session,
        StaffAdded(
            staff_id=staff.id,
            provider_id=provider.id,
            region_code=provider.region_code,
            name=name,
            skills=skills_out,
        ),
    )
    return staff


def _skills(provider: Provider, skills: Iterable[str]) -> list[str]:
    out = sorted(set(skills))
    offered = set(provider.service_type_codes)
    foreign = [s for s in out if s not in offered]
    if foreign:
        raise ValidationFailed(
            f"服务人员技能超出本机构服务范围: {', '.join(foreign)} / skills the provider does not offer",
            code="skill_not_offered",
            skills=foreign,
        )
    return out


def _date(raw: Any, what: str) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise ValidationFailed(
            f"{what}不是日期: {raw} / not a date", code="invalid_qualification"
        ) from exc


def _text(raw: Any, limit: int) -> str:
    return " ".join(str(raw or "").split())[:limit]


def _qualification(q: QualificationInput) -> StaffQualification:
    """A qualification row from a form's fields (or a copy of an existing row)."""
    if isinstance(q, StaffQualification):
        q = q.fields()
    name = _text(q.get("name"), 60)
    if not name:
        raise ValidationFailed(
            "资质必须有名称 / a qualification needs a name", code="invalid_qualification"
        )
    valid_from = _date(q.get("valid_from"), "资质生效日期")
    valid_until = _date(q.get("valid_until"), "资质有效期")
    if valid_from and valid_until and valid_until < valid_from:
        raise ValidationFailed(
            "资质有效期早于生效日期 / valid until is before valid from",
            code="invalid_qualification",
        )
    return StaffQualification(
        name=name,
        level=_text(q.get("level"), 20),
        number=_text(q.get("number"), 60),
        issuer=_text(q.get("issuer"), 100),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _staff_event(session: Session, staff: ProviderStaff) -> None:
    publish_on_commit(
        session,
        StaffUpdated(
            staff_id=staff.id,
            provider_id=staff.provider_id,
            region_code=staff.provider.region_code,
            active=staff.active,
            skills=list(staff.skills),
        ),
    )


def update_staff(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    skills: Sequence[str] | None = None,
    phone: str | None = None,
    qualifications: Sequence[QualificationInput] | None = None,
) -> ProviderStaff:
    """Change a practitioner's skills, phone or (replacing them all) qualifications."""
    staff = get_staff(session, staff_id=staff_id)
    provider = staff.provider
    require_manager_or_self(session, actor, action="provider.update_staff", provider=provider)
    changed: dict[str, Any] = {}
    if skills is not None:
        staff.skills = changed["skills"] = _skills(provider, skills)
    if phone is not None:
        staff.phone = _phone(session, phone, provider.region_code, "服务人员电话 / phone")
        changed["phone"] = mask_phone(staff.phone)
    if qualifications is not None:
        rows = [_qualification(q) for q in qualifications]
        staff.qualifications = rows
        changed["qualifications"] = [q.name for q in rows]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.update_staff",
        target_type="provider_staff",
        target_id=staff.id,
        detail=changed,
    )
    _staff_event(session, staff)
    return staff


def add_qualification(
    session: Session, *, actor: Actor, staff_id: int, fields: Mapping[str, Any]
) -> StaffQualification:
    """Record one more qualification or certificate of a practitioner."""
    staff = get_staff(session, staff_id=staff_id)
    require_manager_or_self(
        session, actor, action="provider.add_qualification", provider=staff.provider
    )
    row = _qualification(fields)
    staff.qualifications.append(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.add_qualification",
        target_type="provider_staff",
        target_id=staff.id,
        detail={
            "qualification_id": row.id,
            "name": row.name,
            "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        },
    )
    _staff_event(session, staff)
    return row


def remove_qualification(session: Session, *, actor: Actor, qualification_id: int) -> ProviderStaff:
    row = session.get(StaffQualification, qualification_id)
    if row is None:
        raise NotFound("资质记录不存在 / unknown qualification", code="qualification_not_found")
    staff = row.staff
    require_manager_or_self(
        session, actor, action="provider.remove_qualification", provider=staff.provider
    )
    staff.qualifications.remove(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.remove_qualification",
        target_type="provider_staff",
        target_id=staff.id,
        detail={"qualification_id": qualification_id, "name": row.name},
    )
    _staff_event(session, staff)
    return staff


def add_training(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    course: str,
    hours: float,
    completed_on: date | str,
    organiser: str = "",
    certificate_no: str = "",
) -> StaffTraining:
    """Record a training the practitioner completed."""
    staff = get_staff(session, staff_id=staff_id)
    require_manager_or_self(session, actor, action="provider.add_training", provider=staff.provider)
    course = _text(course, 100)
    if not course:
        raise ValidationFailed("请填写培训名称 / the course's name", code="invalid_training")
    if not 0 < hours <= 1000:
        raise ValidationFailed(
            f"学时应在 0-1000 之间: {hours} / hours from 0 to 1000", code="invalid_training"
        )
    done = _date(completed_on, "完成日期")
    if done is None or done > clock.today_in(session):
        raise ValidationFailed(
            "完成日期不能为空或晚于今天 / completed on a day not after today",
            code="invalid_training",
        )
    row = StaffTraining(
        course=course,
        hours=round(float(hours), 1),
        completed_on=done,
        organiser=_text(organiser, 100),
        certificate_no=_text(certificate_no, 60),
        recorded_by=actor.label,
    )
    staff.trainings.append(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.add_training",
        target_type="provider_staff",
        target_id=staff.id,
        detail={"training_id": row.id, "course": course, "hours": row.hours},
    )
    return row


def set_staff_active(
    session: Session, *, actor: Actor, staff_id: int, active: bool, reason: str = ""
) -> ProviderStaff:
    """Deactivate (with the reason) or reactivate a practitioner. Their login is ended and
    restored with them by ``platform_core.flows.staff_accounts``, which every desk calls."""
    staff = get_staff(session, staff_id=staff_id)
    action = "provider.activate_staff" if active else "provider.deactivate_staff"
    require_manager_or_self(session, actor, action=action, provider=staff.provider)
    reason = _text(reason, 255)
    if not active and not reason:
        raise ValidationFailed(
            "停用服务人员必须说明原因 / a deactivation needs a reason", code="reason_required"
        )
    if staff.active == active:
        return staff
    staff.active = active
    if active:
        staff.deactivated_at, staff.deactivated_by, staff.deactivation_reason = None, None, ""
    else:
        staff.deactivated_at, staff.deactivated_by = utcnow(), actor.label
        staff.deactivation_reason = reason
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="provider_staff",
        target_id=staff.id,
        detail={"reason": reason} if reason else {},
    )
    _staff_event(session, staff)
    return staff


def reveal_staff_id_number(
    session: Session, *, actor: Actor, staff_id: int, reason: str = ""
) -> str:
    """The staff member's ID number in clear, for managers of the region or the provider; audited."""
    staff = get_staff(session, staff_id=staff_id)
    require_manager_or_self(
        session, actor, action="provider.reveal_staff_id_number", provider=staff.provider
    )
    number = cipher_of(session).open(staff.id_number_sealed)
    audit.record(
        session,
        actor=actor,
        action="provider.reveal_staff_id_number",
        target_type="provider_staff",
        target_id=staff.id,
        detail={"reason": reason} if reason else {},
    )
    return number


# ---------------------------------------------------------------- queries


def get_provider(session: Session, *, provider_id: int, within: str | None = None) -> Provider:
    """The provider, or NotFound; with ``within`` also OutOfRegion when it neither sits nor
    serves anywhere in that region."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderNotFound(f"服务商不存在: {provider_id} / unknown provider")
    if within is not None and not _visible_from(provider, within):
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
    return provider


def find_provider(session: Session, *, provider_id: int) -> Provider | None:
    return session.get(Provider, provider_id)


def find_provider_by_credit_code(session: Session, *, credit_code: str) -> Provider | None:
    code = normalize_credit_code(credit_code)
    return session.scalar(select(Provider).where(Provider.credit_code == code))


def _visible_from(provider: Provider, scope: str) -> bool:
    scope = codes.normalize_code(scope)
    if codes.is_within(provider.region_code, scope):
        return True
    return any(
        codes.is_within(c, scope) or codes.is_within(scope, c) for c in provider.coverage_codes
    )


def self_and_ancestors(region_code: str) -> list[str]:
    """``150102003201`` -> itself, its township, county, league and the autonomous region."""
    out: list[str] = []
    current: str | None = codes.normalize_code(region_code)
    while current:
        out.append(current)
        current = codes.parent_of(current)
    return out


def list_providers(
    session: Session,
    *,
    region_code: str,
    status: str | None = None,
    service_type_code: str | None = None,
    include_terminated: bool = False,
) -> list[Provider]:
    """Providers registered in or serving any part of ``region_code`` (a user's scope)."""
    scope = codes.normalize_code(region_code)
    cov = ProviderCoverage
    serves_part = exists().where(
        cov.provider_id == Provider.id,
        or_(regions.within(cov.region_code, scope), cov.region_code.in_(self_and_ancestors(scope))),
    )
    q = (
        select(Provider)
        .where(or_(regions.within(Provider.region_code, scope), serves_part))
        .options(selectinload(Provider.coverage), selectinload(Provider.offerings))
        .order_by(Provider.region_code, Provider.id)
    )
    if status is not None:
        q = q.where(Provider.status == status)
    elif not include_terminated:
        q = q.where(Provider.status != ProviderStatus.TERMINATED)
    if service_type_code is not None:
        q = q.where(
            exists().where(
                ProviderOffering.provider_id == Provider.id,
                ProviderOffering.service_type_code == service_type_code,
            )
        )
    return list(session.scalars(q))


def _covering(region_code: str, service_type_code: str) -> list[Any]:
    """Who may be sent: offers the service, covers the region (or an ancestor of it), and is
    neither suspended nor terminated."""
    covering = exists().where(
        ProviderCoverage.provider_id == Provider.id,
        ProviderCoverage.region_code.in_(self_and_ancestors(region_code)),
    )
    offering = exists().where(
        ProviderOffering.provider_id == Provider.id,
        ProviderOffering.service_type_code == service_type_code,
    )
    return [covering, offering, Provider.status.not_in([s.value for s in CLOSED_STATUSES])]


def list_providers_covering(
    session: Session, *, region_code: str, service_type_code: str
) -> list[Provider]:
    """The candidate set dispatch ranks: providers offering the service whose coverage contains
    the elder's region, excluding suspended and terminated ones. Best grade and credit first."""
    q = (
        select(Provider)
        .where(*_covering(region_code, service_type_code))
        .options(selectinload(Provider.coverage), selectinload(Provider.offerings))
        .order_by(Provider.grade, Provider.credit_score.desc(), Provider.id)
    )
    return list(session.scalars(q))


@dataclass(frozen=True)
class Candidate:
    """A provider dispatch may send: who, its standing and its capacity."""

    provider_id: int
    name: str
    status: str
    grade: str
    credit_score: float
    capacity: int


@dataclass(frozen=True)
class CandidateRow(Candidate):
    """What dispatch ranks a candidate on, read without loading the provider."""

    latitude: float | None
    longitude: float | None
    # the covered regions that contain the elder's region (the most specific fits best)
    covering_codes: tuple[str, ...]


def candidate_rows(
    session: Session, *, region_code: str, service_type_code: str
) -> list[CandidateRow]:
    """The same candidate set as :func:`list_providers_covering`, as plain rows in two queries
    (dispatch runs this for every order)."""
    rows = session.execute(
        select(
            Provider.id,
            Provider.name,
            Provider.status,
            Provider.grade,
            Provider.credit_score,
            Provider.capacity,
            Provider.latitude,
            Provider.longitude,
        )
        .where(*_covering(region_code, service_type_code))
        .order_by(Provider.id)
    ).all()
    if not rows:
        return []
    covered: dict[int, list[str]] = {}
    for pid, code in session.execute(
        select(ProviderCoverage.provider_id, ProviderCoverage.region_code).where(
            ProviderCoverage.provider_id.in_([r[0] for r in rows]),
            ProviderCoverage.region_code.in_(self_and_ancestors(region_code)),
        )
    ):
        covered.setdefault(pid, []).append(code)
    return [
        CandidateRow(
            r[0], r[1], r[2], r[3], float(r[4]), r[5], r[6], r[7], tuple(covered.get(r[0], ()))
        )
        for r in rows
    ]


def covers(provider: Provider, *, region_code: str, service_type_code: str) -> bool:
    """Whether this provider may be sent to an elder in ``region_code`` for this service."""
    region = codes.normalize_code(region_code)
    return service_type_code in provider.service_type_codes and any(
        codes.is_within(region, c) for c in provider.coverage_codes
    )


def get_staff(session: Session, *, staff_id: int) -> ProviderStaff:
    staff = session.get(ProviderStaff, staff_id)
    if staff is None:
        raise StaffNotFound(f"服务人员不存在: {staff_id} / unknown staff member")
    return staff


def list_staff(
    session: Session, *, provider_id: int, skill: str | None = None, active_only: bool = True
) -> list[ProviderStaff]:
    q = (
        select(ProviderStaff)
        .where(ProviderStaff.provider_id == provider_id)
        .order_by(ProviderStaff.id)
    )
    if active_only:
        q = q.where(ProviderStaff.active.is_(True))
    rows = list(session.scalars(q))
    return [r for r in rows if skill is None or skill in r.skills]
