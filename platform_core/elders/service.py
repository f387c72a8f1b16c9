"""Elder profile use cases: register, change, reveal, view, and the lookups other modules use."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from functools import lru_cache
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.elders import idcard, phones
from platform_core.elders.ethnicity import ethnicity_name
from platform_core.elders.events import (
    ElderDeceased,
    ElderMoved,
    ElderRegistered,
    ElderUpdated,
    EmergencyContactAdded,
)
from platform_core.elders.models import (
    ConsentRecord,
    Elder,
    ElderCategory,
    ElderPhone,
    EmergencyContact,
    FieldProvenance,
)
from platform_core.elders.schemas import (
    CategoryIn,
    ConsentIn,
    ContactIn,
    ElderIn,
    ElderUpdate,
    HealthIn,
    PhoneIn,
    ProvenanceIn,
)
from platform_core.elders.vocabulary import (
    LANGUAGE_LABELS,
    LIVING_LABELS,
    PHONE_USE_LABELS,
    RISK_FLAG_LABELS,
    RISK_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
    Category,
    ElderStatus,
    IvrLanguage,
    LivingArrangement,
    RiskLevel,
    category_label,
)
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.regions import service as regions
from platform_core.regions.codes import is_within, level_of, normalize_code, parent_of
from platform_core.regions.models import Region
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_id_number, mask_phone

# Who may see a sealed ID number in clear, and who may open a profile.
# the care office reads and reveals too: the officer and the community worker check an
# applicant's identity against the documents
REVEAL_ROLES = frozenset(
    {Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.COMMUNITY_WORKER}
)
PROFILE_ROLES = frozenset(
    {Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.COMMUNITY_WORKER}
)


class DuplicateElder(Conflict):
    code = "duplicate_elder"


class ElderNotFound(NotFound):
    code = "elder_not_found"


class ElderDeceasedError(IllegalTransition):
    code = "elder_deceased"


_ADDRESS_NOISE = re.compile(r"[\s,，.。、]")


def household_key(elder: Elder) -> str:
    """Elders living at the same address in the same community are one household."""
    address = _ADDRESS_NOISE.sub("", elder.address)
    return f"{elder.region_code}:{address}"


class CareApplication(TypedDict, total=False):
    """An application to a care programme (a family care bed, a home adaptation) for an elder:
    by the family ("application") or a referral ("referral", e.g. an agent after ``call_id``),
    dated ``on`` (today when absent)."""

    actor: Required[Actor]
    elder_id: Required[int]
    source: str
    call_id: str | None
    on: date | None


def application_fields(elder: Elder, application: CareApplication) -> dict[str, Any]:
    """What a programme's new record takes from the elder it is for (who, where, the
    household) and from the application; the elder must be on the register and in the
    applicant's region."""
    regions.require_within(elder.region_code, application["actor"].region_code)
    if elder.status != "active":
        raise Conflict("老人档案非在册状态 / elder is not active", code="elder_not_active")
    return {
        "elder_id": elder.id,
        "region_code": elder.region_code,
        "household_key": household_key(elder),
        "status": "applied",
        "source": application.get("source", "application"),
        "call_id": application.get("call_id"),
    }


def category_rows(elder: Elder) -> list[dict[str, Any]]:
    """The elder's subsidy categories as a screen lists them, each with its Chinese label."""
    return [
        {
            "category": c.category,
            "subtype": c.subtype,
            "grade": c.grade,
            "label": category_label(c.category, c.subtype, c.grade),
        }
        for c in elder.categories
    ]


# ---------------------------------------------------------------- queries


def get_elder(session: Session, *, elder_id: int) -> Elder:
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(f"老人档案不存在: {elder_id} / no such elder")
    return elder


def find_elder_by_id_number(session: Session, *, id_number: str) -> Elder | None:
    """Look an elder up by ID number (any accepted form: 15 digits, lower-case x)."""
    number = idcard.parse_id_number(id_number).number
    indexes = cipher_of(session).blind_indexes(number)  # during a key rotation: either key
    return session.scalar(select(Elder).where(Elder.id_number_index.in_(indexes)).limit(1))


def list_elders(
    session: Session,
    *,
    region_code: str,
    status: str | None = None,
    category: str | None = None,
    living_arrangement: str | None = None,
    name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Elder]:
    """Elders in ``region_code`` and every region below it, by id."""
    q = select(Elder).where(regions.within(Elder.region_code, region_code))
    if status:
        q = q.where(Elder.status == ElderStatus(status).value)
    if living_arrangement:
        q = q.where(Elder.living_arrangement == LivingArrangement(living_arrangement).value)
    if name:
        q = q.where(Elder.name == name.strip())
    if category:
        q = q.where(
            exists().where(
                ElderCategory.elder_id == Elder.id,
                ElderCategory.category == Category(category).value,
            )
        )
    return list(session.scalars(q.order_by(Elder.id).limit(limit).offset(offset)))


def open_health(session: Session, *, elder: Elder) -> dict[str, Any]:
    """The elder's health details, unsealed (empty lists when none were recorded)."""
    if not elder.health_sealed:
        return HealthIn().model_dump()
    return json.loads(cipher_of(session).open(elder.health_sealed))  # type: ignore[no-any-return]


# Full region names by (database, code). The dictionary changes a few times a year, while every
# screen pop needs one: a name is kept this long, and only when its whole path was found.
REGION_NAME_TTL_S = 600.0
_region_names: dict[tuple[str, str], tuple[float, str]] = {}


def region_name(session: Session, code: str) -> str:
    """``regions.full_name``, from the process's memory or else in one query for the whole path."""
    code = normalize_code(code)
    key = (str(session.get_bind().engine.url), code)
    now = time.monotonic()
    cached = _region_names.get(key)
    if cached is not None and now - cached[0] < REGION_NAME_TTL_S:
        return cached[1]
    path: list[str] = []
    current: str | None = code
    while current:
        path.append(current)
        current = parent_of(current)
    path.reverse()
    names = dict(
        session.execute(select(Region.code, Region.name).where(Region.code.in_(path))).all()
    )
    found = [names[c] for c in path if c in names]
    name = "".join(found[1:])
    if len(found) == len(path):
        _region_names[key] = (now, name)
    return name


def today_in(session: Session) -> date:
    return clock.today_in(session)


def age_of(elder: Elder, today: date) -> int:
    return idcard.age_on(elder.birth_date, today)


def risk_flags(
    elder: Elder, *, health: dict[str, Any], today: date, very_old_age: int
) -> list[str]:
    """Flags an agent should see at a glance, derived from the profile."""
    flags: list[str] = []
    if elder.risk_level == RiskLevel.HIGH:
        flags.append("high_risk")
    if elder.living_arrangement == LivingArrangement.ALONE:
        flags.append("lives_alone")
    elif elder.living_arrangement == LivingArrangement.EMPTY_NEST:
        flags.append("empty_nest")
    age = age_of(elder, today)
    if age >= 100:
        flags.append("centenarian")
    elif age >= very_old_age:
        flags.append("very_old")
    cats = {c.category for c in elder.categories}
    if Category.DISABILITY in cats or health.get("disabilities"):
        flags.append("disabled")
    if cats & {Category.POOR_DISABLED, Category.POOR_SEMI_DISABLED}:
        flags.append("impaired")
    if health.get("chronic_illnesses"):
        flags.append("chronic_illness")
    if health.get("allergies"):
        flags.append("allergy")
    if not elder.contacts:
        flags.append("no_contact")
    elif elder.living_arrangement != LivingArrangement.WITH_FAMILY and not any(
        c.holds_key for c in elder.contacts
    ):
        flags.append("no_key_holder")
    if (elder.housing_floor or 0) >= 3 and elder.housing_has_elevator is False:
        flags.append("stairs_no_elevator")
    return flags


# ---------------------------------------------------------------- authorisation and audit


def refuse_on_elder(
    session: Session, *, elder_id: int | None, **refusal: Unpack[audit.Refusal]
) -> None:
    """Audit a refused action on an elder's record; the record outlives the unit of work's
    rollback (the registry, the family, the screen pop and the time bank refuse so)."""
    audit.refuse(session, target_type="elder", target_id=elder_id, **refusal)


def _denied(
    session: Session, *, actor: Actor, action: str, elder_id: int, error: PermissionDenied
) -> None:
    """Audit the refusal (written once the caller's unit of work ends), then raise."""
    refuse_on_elder(session, actor=actor, action=action, elder_id=elder_id, reason=error.code)
    raise error


def _authorize(
    session: Session, *, elder: Elder, actor: Actor, action: str, roles: frozenset[Role]
) -> None:
    if actor.kind == "user" or actor.role is not None:
        if actor.role not in roles:
            _denied(
                session,
                actor=actor,
                action=action,
                elder_id=elder.id,
                error=PermissionDenied(
                    "当前角色无权执行此操作 / your role may not do this", code="permission_denied"
                ),
            )
    elif actor.kind != "system":
        _denied(
            session,
            actor=actor,
            action=action,
            elder_id=elder.id,
            error=PermissionDenied("无权执行此操作 / not permitted", code="permission_denied"),
        )
    if not is_within(elder.region_code, actor.region_code):
        _denied(
            session,
            actor=actor,
            action=action,
            elder_id=elder.id,
            error=OutOfRegion("无权访问其他地区的数据 / outside your region"),
        )


def _require_in_scope(elder_region: str, actor: Actor) -> None:
    regions.require_within(elder_region, actor.region_code)


def _require_living(elder: Elder) -> None:
    if elder.status == ElderStatus.DECEASED:
        raise ElderDeceasedError(
            f"老人已故 ({elder.deceased_on}), 档案不能再变更 / the elder has died; the profile is closed",
            elder_id=elder.id,
        )


# ---------------------------------------------------------------- helpers that build rows


def area_code_for(session: Session, region_code: str) -> str | None:
    for region in reversed(regions.region_path(session, region_code)):
        if region.area_code:
            return region.area_code
    return None


def known_county(session: Session, raw: str) -> str:
    """The canonical code, when its 旗县区 is in the dictionary (townships and villages below a
    known county are created on demand; a county is never invented)."""
    code = regions.canonical_code(session, raw)
    county = code[:6].ljust(12, "0")
    if level_of(code) < 3 or regions.find_region(session, county) is None:
        raise NotFound(
            f"区划不存在或不是旗县区以下: {code} / unknown region (must be a county or below)",
            code="region_not_found",
        )
    return code


def _phone(raw: str, area_code: str | None, field: str) -> str:
    try:
        return phones.normalize_phone(raw, area_code=area_code).digits
    except phones.InvalidPhoneNumber as exc:
        raise phones.InvalidPhoneNumber(f"{field}: {exc.message}", **exc.details) from None


def _phone_rows(items: list[PhoneIn], area_code: str | None) -> list[ElderPhone]:
    rows: dict[str, ElderPhone] = {}
    for p in items:
        digits = _phone(p.number, area_code, "电话 / phone")
        rows.setdefault(digits, ElderPhone(number=digits, kind=p.kind.value))
    return list(rows.values())


def _contact_row(c: ContactIn, area_code: str | None) -> EmergencyContact:
    return EmergencyContact(
        name=c.name,
        relation=c.relation,
        phone=_phone(c.phone, area_code, f"紧急联系人 {c.name}"),
        priority=c.priority,
        holds_key=c.holds_key,
        note=c.note,
    )


def _category_rows(items: list[CategoryIn]) -> list[ElderCategory]:
    return [
        ElderCategory(
            category=c.category.value, subtype=c.subtype, grade=c.grade, certified_on=c.certified_on
        )
        for c in items
    ]


def _consent_row(c: ConsentIn, actor: Actor) -> ConsentRecord:
    return ConsentRecord(
        consenter_name=c.consenter_name,
        consenter_relation=c.consenter_relation,
        by_guardian=c.by_guardian,
        scope=list(c.scope),
        consented_on=c.consented_on,
        recorded_by=actor.label,
    )


def _seal_health(session: Session, health: HealthIn) -> str | None:
    body = health.model_dump()
    if not any(body.values()):
        return None
    return cipher_of(session).seal(json.dumps(body, ensure_ascii=False, sort_keys=True))


def _set_provenance(elder: Elder, fields: set[str], source: ProvenanceIn) -> None:
    current = {p.field: p for p in elder.provenance}
    for name in sorted(fields):
        row = current.get(name)
        if row is None:
            row = FieldProvenance(field=name)
            elder.provenance.append(row)
        row.source_department, row.batch, row.imported_at = (
            source.source_department,
            source.batch,
            source.imported_at,
        )


def _identity(session: Session, id_number: str) -> tuple[idcard.IdNumber, str]:
    parsed = idcard.parse_id_number(id_number)
    return parsed, cipher_of(session).blind_index(parsed.number)


def _refuse_duplicate(session: Session, number: str, *, except_id: int | None = None) -> None:
    # the same person sealed under a key being rotated away has the other key's index
    candidates = cipher_of(session).blind_indexes(number)
    q = select(Elder.id).where(Elder.id_number_index.in_(candidates))
    if except_id is not None:
        q = q.where(Elder.id != except_id)
    existing = session.scalar(q)
    if existing is not None:
        raise DuplicateElder(
            "该身份证号已有老人档案 / an elder with this ID number is already registered",
            elder_id=existing,
        )


# ---------------------------------------------------------------- commands


def register_elder(session: Session, *, data: ElderIn, actor: Actor) -> Elder:
    """Create a profile. A duplicate ID number is refused; any failure leaves nothing behind."""
    parsed, index = _identity(session, data.id_number)
    region_code = known_county(session, data.region_code)
    _require_in_scope(region_code, actor)
    _refuse_duplicate(session, parsed.number)
    given = data.model_fields_set
    try:
        with session.begin_nested():
            region = regions.ensure_region(session, region_code)
            area = region.area_code or area_code_for(session, region_code)
            elder = Elder(
                name=data.name,
                id_number_sealed=cipher_of(session).seal(parsed.number),
                id_number_index=index,
                id_number_masked=mask_id_number(parsed.number),
                sex=parsed.sex,
                birth_date=parsed.birth_date,
                ethnicity_code=data.ethnicity_code,
                photo_path=data.photo_path,
                household_address=data.household_address,
                household_region_code=(
                    regions.canonical_code(session, data.household_region_code)
                    if data.household_region_code
                    else None
                ),
                address=data.address,
                region_code=region.code,
                latitude=data.latitude,
                longitude=data.longitude,
                living_arrangement=data.living_arrangement.value,
                health_sealed=_seal_health(session, data.health),
                housing_floor=data.housing.floor,
                housing_has_elevator=data.housing.has_elevator,
                housing_bathroom=data.housing.bathroom,
                housing_risks=list(data.housing.risks),
                ivr_language=data.ivr_language.value,
                risk_level=data.risk_level.value,
                status=ElderStatus.ACTIVE.value,
                phones=_phone_rows(data.phones, area),
                contacts=[_contact_row(c, area) for c in data.contacts],
                categories=_category_rows(data.categories),
                consents=[_consent_row(c, actor) for c in data.consents],
            )
            for name, source in data.provenance.items():
                _set_provenance(elder, (given - {"provenance"}) if name == "*" else {name}, source)
            session.add(elder)
            session.flush()
    except IntegrityError:
        # Another registration of the same ID number committed between our check and insert.
        raise DuplicateElder(
            "该身份证号已有老人档案 / an elder with this ID number is already registered"
        ) from None
    warnings = [w.code for w in parsed.warnings]
    audit.record(
        session,
        actor=actor,
        action="elder.register",
        target_type="elder",
        target_id=elder.id,
        detail={"region_code": elder.region_code, **({"warnings": warnings} if warnings else {})},
    )
    publish_on_commit(session, ElderRegistered(elder_id=elder.id, region_code=elder.region_code))
    return elder


def update_elder(session: Session, *, elder_id: int, changes: ElderUpdate, actor: Actor) -> Elder:
    """Change the fields given in ``changes``; lists (phones, categories) replace the old ones."""
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    _require_living(elder)
    fields = set(changes.model_fields_set) - {"provenance"}
    with session.begin_nested():
        if "id_number" in fields and changes.id_number:
            parsed, index = _identity(session, changes.id_number)
            _refuse_duplicate(session, parsed.number, except_id=elder.id)
            elder.id_number_sealed = cipher_of(session).seal(parsed.number)
            elder.id_number_index, elder.id_number_masked = index, mask_id_number(parsed.number)
            elder.sex, elder.birth_date = parsed.sex, parsed.birth_date
        if "region_code" in fields and changes.region_code:
            code = known_county(session, changes.region_code)
            _require_in_scope(code, actor)
            elder.region_code = regions.ensure_region(session, code).code
        if "household_region_code" in fields:
            hr = changes.household_region_code
            elder.household_region_code = regions.canonical_code(session, hr) if hr else None
        for simple in (
            "name",
            "ethnicity_code",
            "photo_path",
            "address",
            "household_address",
            "latitude",
            "longitude",
            "ability_grade",
            "ability_assessed_on",
        ):
            if simple in fields:
                value = getattr(changes, simple)
                if value is None and simple in ("name", "ethnicity_code", "address"):
                    raise ValidationFailed(f"{simple} 不能为空 / cannot be empty")
                setattr(elder, simple, value)
        for enum_field in ("living_arrangement", "risk_level"):
            if enum_field in fields and getattr(changes, enum_field) is not None:
                setattr(elder, enum_field, getattr(changes, enum_field).value)
        if "phones" in fields and changes.phones is not None:
            area = area_code_for(session, elder.region_code)
            new_phones = _phone_rows(changes.phones, area)
            # Old rows must be gone before new ones meet the (elder, number) constraint.
            elder.phones = []
            session.flush()
            elder.phones = new_phones
        if "categories" in fields and changes.categories is not None:
            elder.categories = []
            session.flush()
            elder.categories = _category_rows(changes.categories)
        if "health" in fields and changes.health is not None:
            elder.health_sealed = _seal_health(session, changes.health)
        if "housing" in fields and changes.housing is not None:
            h = changes.housing
            elder.housing_floor, elder.housing_has_elevator = h.floor, h.has_elevator
            elder.housing_bathroom, elder.housing_risks = h.bathroom, list(h.risks)
        if changes.provenance is not None:
            _set_provenance(elder, fields, changes.provenance)
        session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.update",
        target_type="elder",
        target_id=elder.id,
        detail={"fields": sorted(fields)},
    )
    publish_on_commit(
        session,
        ElderUpdated(
            elder_id=elder.id, region_code=elder.region_code, fields=tuple(sorted(fields))
        ),
    )
    return elder


def add_contact(
    session: Session, *, elder_id: int, contact: ContactIn, actor: Actor
) -> EmergencyContact:
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    _require_living(elder)
    row = _contact_row(contact, area_code_for(session, elder.region_code))
    if any(c.phone == row.phone for c in elder.contacts):
        raise Conflict(
            "该联系人电话已登记 / this contact number is already listed", code="duplicate_contact"
        )
    elder.contacts.append(row)
    session.flush()
    publish_on_commit(
        session,
        EmergencyContactAdded(elder_id=elder.id, region_code=elder.region_code, contact_id=row.id),
    )
    return row


def set_language(session: Session, *, elder_id: int, language: str, actor: Actor) -> Elder:
    """The language the IVR greets this elder in ("zh" Mandarin, "mn" Mongolian)."""
    try:
        lang = IvrLanguage(language)
    except ValueError:
        raise ValidationFailed(
            f"不支持的语言: {language} (可选 zh, mn) / unsupported language",
            code="invalid_language",
        ) from None
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    _require_living(elder)
    elder.ivr_language = lang.value
    session.flush()
    publish_on_commit(
        session,
        ElderUpdated(elder_id=elder.id, region_code=elder.region_code, fields=("ivr_language",)),
    )
    return elder


def record_consent(
    session: Session, *, elder_id: int, consent: ConsentIn, actor: Actor
) -> ConsentRecord:
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    row = _consent_row(consent, actor)
    elder.consents.append(row)
    session.flush()
    return row


def record_move(session: Session, *, elder_id: int, moved_on: date, actor: Actor) -> Elder:
    """The elder moved away from the area this platform serves."""
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    _require_living(elder)
    elder.status, elder.moved_on = ElderStatus.MOVED.value, moved_on
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.move",
        target_type="elder",
        target_id=elder.id,
        detail={"moved_on": moved_on.isoformat()},
    )
    publish_on_commit(
        session, ElderMoved(elder_id=elder.id, region_code=elder.region_code, moved_on=moved_on)
    )
    return elder


def record_death(
    session: Session, *, elder_id: int, died_on: date, actor: Actor, source: str = ""
) -> Elder:
    """Mark the elder deceased; ``ElderDeceased`` lets devices and care modules stop.

    Recording the same death again (a repeated import) changes nothing; another date is refused.
    """
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    if died_on < elder.birth_date or died_on > today_in(session):
        raise ValidationFailed(
            f"死亡日期不合理: {died_on} / impossible date of death", code="invalid_death_date"
        )
    if elder.status == ElderStatus.DECEASED:
        if elder.deceased_on == died_on:
            return elder
        raise Conflict(
            f"已登记死亡日期 {elder.deceased_on}, 与 {died_on} 不一致 / a different date of death is on record",
            code="conflicting_death_date",
        )
    elder.status, elder.deceased_on = ElderStatus.DECEASED.value, died_on
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.record_death",
        target_type="elder",
        target_id=elder.id,
        detail={"died_on": died_on.isoformat(), "source": source},
    )
    publish_on_commit(
        session, ElderDeceased(elder_id=elder.id, region_code=elder.region_code, died_on=died_on)
    )
    return elder


def record_category(
    session: Session,
    *,
    elder_id: int,
    category: Category,
    subtype: str | None,
    grade: int | None,
    certified_on: date | None,
    actor: Actor,
    source: str = "",
) -> bool:
    """Put an elder in a category (or update its type, grade and date) as the certifying
    department reports it; False when the record already says exactly that."""
    elder = get_elder(session, elder_id=elder_id)
    _require_in_scope(elder.region_code, actor)
    _require_living(elder)
    row = next((c for c in elder.categories if c.category == category.value), None)
    if row is not None and (row.subtype, row.grade, row.certified_on) == (
        subtype,
        grade,
        certified_on,
    ):
        return False
    if row is None:
        row = ElderCategory(category=category.value)
        elder.categories.append(row)
    row.subtype, row.grade, row.certified_on = subtype, grade, certified_on
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.record_category",
        target_type="elder",
        target_id=elder.id,
        detail={"category": category.value, "grade": grade, "source": source},
    )
    publish_on_commit(
        session,
        ElderUpdated(elder_id=elder.id, region_code=elder.region_code, fields=("categories",)),
    )
    return True


def reveal_id_number(
    session: Session, *, elder_id: int, actor: Actor, reason: str = "", source_ip: str | None = None
) -> str:
    """The ID number in clear, for agents, supervisors and admins of the elder's region; audited."""
    elder = get_elder(session, elder_id=elder_id)
    _authorize(
        session, elder=elder, actor=actor, action="elder.reveal_id_number", roles=REVEAL_ROLES
    )
    number = cipher_of(session).open(elder.id_number_sealed)
    audit.record(
        session,
        actor=actor,
        action="elder.reveal_id_number",
        target_type="elder",
        target_id=elder.id,
        detail={"reason": reason} if reason else {},
        source_ip=source_ip,
    )
    return number


@lru_cache(maxsize=1)
def _profile_statement() -> Select[Elder, bool]:
    """One round trip for the elder (``elder_id``) and the lists the pop shows (a few rows
    each, so the joins' product stays small); whether consent is on file is a subquery, not a
    list to load. Built once: every screen pop runs it."""
    consent_on_file = (
        exists()
        .where(ConsentRecord.elder_id == Elder.id, ConsentRecord.withdrawn_on.is_(None))
        .correlate(Elder)
    )
    return (
        select(Elder, consent_on_file.label("consent_on_file"))
        .where(Elder.id == bindparam("elder_id"))
        .options(
            joinedload(Elder.phones),
            joinedload(Elder.contacts),
            joinedload(Elder.categories),
        )
    )


def elder_profile(
    session: Session, *, elder_id: int, actor: Actor, source_ip: str | None = None
) -> dict[str, Any]:
    """The profile as the screen pop shows it: name in clear, ID number and phones masked."""
    row = session.execute(_profile_statement(), {"elder_id": elder_id}).unique().one_or_none()
    if row is None:
        raise ElderNotFound(f"老人档案不存在: {elder_id} / no such elder")
    elder, consent = row
    _authorize(session, elder=elder, actor=actor, action="elder.view_profile", roles=PROFILE_ROLES)
    settings = settings_of(session)
    today = today_in(session)
    health = open_health(session, elder=elder)
    flags = risk_flags(elder, health=health, today=today, very_old_age=settings.elder_very_old_age)
    profile = {
        "id": elder.id,
        "name": elder.name,
        "id_number_masked": elder.id_number_masked,
        "sex": elder.sex,
        "sex_label": SEX_LABELS.get(elder.sex, ""),  # type: ignore[call-overload]
        "birth_date": elder.birth_date.isoformat(),
        "age": age_of(elder, today),
        "ethnicity_code": elder.ethnicity_code,
        "ethnicity": ethnicity_name(elder.ethnicity_code),
        "photo_path": elder.photo_path,
        "status": elder.status,
        "status_label": STATUS_LABELS[ElderStatus(elder.status)],
        "deceased_on": elder.deceased_on.isoformat() if elder.deceased_on else None,
        "address": elder.address,
        "region_code": elder.region_code,
        "region_name": region_name(session, elder.region_code),
        "household_address": elder.household_address,
        "latitude": elder.latitude,
        "longitude": elder.longitude,
        "phones": [
            {
                "id": p.id,
                "kind": p.kind,
                "kind_label": PHONE_USE_LABELS.get(p.kind, p.kind),  # type: ignore[call-overload]
                "masked": mask_phone(p.number),
            }
            for p in elder.phones
        ],
        "living_arrangement": elder.living_arrangement,
        "living_arrangement_label": LIVING_LABELS[LivingArrangement(elder.living_arrangement)],
        "categories": category_rows(elder),
        "ability_grade": elder.ability_grade,
        "risk_level": elder.risk_level,
        "risk_level_label": RISK_LABELS[RiskLevel(elder.risk_level)],
        "risk_flags": [{"code": f, "label": RISK_FLAG_LABELS[f]} for f in flags],
        "health": health,
        "housing": {
            "floor": elder.housing_floor,
            "has_elevator": elder.housing_has_elevator,
            "bathroom": elder.housing_bathroom,
            "risks": list(elder.housing_risks or []),
        },
        "ivr_language": elder.ivr_language,
        "ivr_language_label": LANGUAGE_LABELS[IvrLanguage(elder.ivr_language)],
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "relation": c.relation,
                "phone_masked": mask_phone(c.phone),
                "priority": c.priority,
                "holds_key": c.holds_key,
                "label": c.name + (" (持钥匙)" if c.holds_key else ""),
            }
            for c in sorted(elder.contacts, key=lambda c: (c.priority, c.id))
        ],
        "consent_on_file": bool(consent),
    }
    audit.record(
        session,
        actor=actor,
        action="elder.view_profile",
        target_type="elder",
        target_id=elder.id,
        source_ip=source_ip,
    )
    return profile
