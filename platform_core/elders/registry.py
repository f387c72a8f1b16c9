"""The elder registry as its keepers use it (基础数据管理): search a region's elders a page at a
time, edit with each field's provenance, contacts and key holders, consent, and an audited,
watermarked export of a filtered list.

Every command checks the keeper's permission (``manage_elders`` / ``export_elders``) and region
here, so a page, a command line or a job meets the same rule.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from sqlalchemy import ColumnElement, exists, func, select, union
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.elders import idcard, phones
from platform_core.elders.models import (
    ConsentRecord,
    Elder,
    ElderCategory,
    ElderPhone,
    EmergencyContact,
    FieldProvenance,
)
from platform_core.elders.schemas import (
    ConsentIn,
    ContactIn,
    ElderIn,
    ElderUpdate,
    ProvenanceIn,
    validate_input,
)
from platform_core.elders.service import (
    add_contact,
    area_code_for,
    category_rows,
    get_elder,
    record_consent,
    refuse_on_elder,
    region_name,
    register_elder,
    update_elder,
)
from platform_core.elders.vocabulary import (
    LIVING_LABELS,
    STATUS_LABELS,
    Category,
    ElderStatus,
    LivingArrangement,
)
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.imports.workbook import chunks
from platform_core.regions import codes
from platform_core.regions import service as regions
from platform_core.runtime import cipher_of
from platform_core.security.exports import watermark
from platform_core.security.masking import mask_phone

MAX_PAGE = 200
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class ElderQuery:
    """What a keeper searches by; empty fields do not filter."""

    text: str = ""  # a name (or its start), an ID number, or a phone number
    address: str = ""
    region_code: str = ""  # within the keeper's region
    status: str = ""
    category: str = ""
    living_arrangement: str = ""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def require(session: Session, actor: Actor, permission: Permission, action: str) -> None:
    """Refuse (and audit) an actor whose role lacks ``permission``."""
    if actor.kind == "system" or allows(actor.role, permission):
        return
    refuse_on_elder(
        session,
        actor=actor,
        action=action,
        elder_id=None,
        reason="permission_denied",
        detail={"permission": permission.value},
    )
    raise PermissionDenied(
        "当前角色无权执行此操作 / your role may not do this", permission=permission.value
    )


def _scope(actor: Actor, query: ElderQuery) -> str:
    if not query.region_code:
        return actor.region_code
    try:
        code = codes.normalize_code(query.region_code)
    except codes.InvalidRegionCode as exc:
        raise ValidationFailed(
            f"区划代码无效: {query.region_code} / bad region code", code="invalid_region"
        ) from exc
    regions.require_within(code, actor.region_code)
    return code


def _text_filter(session: Session, text: str) -> ColumnElement[bool] | None:
    text = text.strip()
    if not text:
        return None
    compact = "".join(text.split()).upper()
    if len(compact) in (15, 18) and compact[:17].isdigit():
        try:
            number = idcard.parse_id_number(compact).number
        except idcard.InvalidIdNumber:
            number = None
        if number is not None:
            return Elder.id_number_index.in_(cipher_of(session).blind_indexes(number))
    phone = phones.try_normalize_phone(text)
    digits = "".join(ch for ch in text if ch.isdigit())
    if phone is not None or (digits and len(digits) >= 7 and len(digits) == len(compact)):
        number = phone.digits if phone is not None else digits
        # two indexed lookups, not an OR of correlated EXISTS (a scan of every elder)
        return Elder.id.in_(
            union(
                select(ElderPhone.elder_id).where(ElderPhone.number == number),
                select(EmergencyContact.elder_id).where(EmergencyContact.phone == number),
            )
        )
    return Elder.name.startswith(text[:64], autoescape=True)


def _statement(session: Session, actor: Actor, query: ElderQuery) -> Any:
    stmt = select(Elder).where(regions.within(Elder.region_code, _scope(actor, query)))
    text = _text_filter(session, query.text)
    if text is not None:
        stmt = stmt.where(text)
    if query.address.strip():
        stmt = stmt.where(Elder.address.contains(query.address.strip()[:100], autoescape=True))
    if query.status:
        stmt = stmt.where(Elder.status == ElderStatus(query.status).value)
    if query.living_arrangement:
        stmt = stmt.where(
            Elder.living_arrangement == LivingArrangement(query.living_arrangement).value
        )
    if query.category:
        stmt = stmt.where(
            exists().where(
                ElderCategory.elder_id == Elder.id,
                ElderCategory.category == Category(query.category).value,
            )
        )
    return stmt


def _row(session: Session, elder: Elder, mobile: dict[int, str]) -> dict[str, Any]:
    return {
        "id": elder.id,
        "name": elder.name,
        "id_number_masked": elder.id_number_masked,
        "birth_date": elder.birth_date.isoformat(),
        "address": elder.address,
        "region_code": elder.region_code,
        "region_name": region_name(session, elder.region_code),
        "phone_masked": mask_phone(mobile.get(elder.id)),
        "living_label": LIVING_LABELS[LivingArrangement(elder.living_arrangement)],
        "status": elder.status,
        "status_label": STATUS_LABELS[ElderStatus(elder.status)],
    }


def _first_phones(session: Session, elder_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    if not elder_ids:
        return out
    for elder_id, number in session.execute(
        select(ElderPhone.elder_id, ElderPhone.number)
        .where(ElderPhone.elder_id.in_(elder_ids))
        .order_by(ElderPhone.id)
    ):
        out.setdefault(elder_id, number)
    return out


def search(
    session: Session, *, actor: Actor, query: ElderQuery, page: int = 0, per_page: int = 50
) -> Page:
    """One page of the elders that match, in the keeper's region only, and how many match."""
    require(session, actor, Permission.MANAGE_ELDERS, "elder.search")
    per_page = max(1, min(per_page, MAX_PAGE))
    try:
        stmt = _statement(session, actor, query)
    except ValueError as exc:
        raise ValidationFailed("查询条件无效 / invalid filter", code="invalid_filter") from exc
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = max(0, min(page, pages - 1))
    elders = list(session.scalars(stmt.order_by(Elder.id).limit(per_page).offset(page * per_page)))
    mobile = _first_phones(session, [e.id for e in elders])
    return Page([_row(session, e, mobile) for e in elders], total, page, pages)


def export_xlsx(session: Session, *, actor: Actor, query: ElderQuery, tz: str) -> bytes:
    """The matching elders (masked, as the list shows them) with who exported them; audited."""
    require(session, actor, Permission.EXPORT_ELDERS, "elder.export")
    stmt = _statement(session, actor, query).order_by(Elder.id).limit(EXPORT_LIMIT)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("老年人名单")
    ws.append([watermark(actor, tz)])
    ws.append(
        ["档案号", "姓名", "身份证号", "出生日期", "居住地址", "区划", "手机", "居住情况", "状态"]
    )
    count = 0
    for chunk in chunks(session.scalars(stmt).yield_per(1000), 1000):
        mobile = _first_phones(session, [e.id for e in chunk])
        for elder in chunk:
            row = _row(session, elder, mobile)
            ws.append(
                [
                    row["id"],
                    row["name"],
                    row["id_number_masked"],
                    row["birth_date"],
                    row["address"],
                    row["region_name"],
                    row["phone_masked"],
                    row["living_label"],
                    row["status_label"],
                ]
            )
            count += 1
    ws.append([watermark(actor, tz)])
    buf = io.BytesIO()
    wb.save(buf)
    audit.record(
        session,
        actor=actor,
        action="elder.export",
        target_type="elder",
        detail={"rows": count, **{k: v for k, v in query.__dict__.items() if v}},
    )
    return buf.getvalue()


# ---------------------------------------------------------------- one elder


def _own(session: Session, actor: Actor, elder_id: int, action: str) -> Elder:
    require(session, actor, Permission.MANAGE_ELDERS, action)
    elder = get_elder(session, elder_id=elder_id)
    if not codes.is_within(elder.region_code, actor.region_code):
        refuse_on_elder(
            session, actor=actor, action=action, elder_id=elder_id, reason="out_of_region"
        )
        regions.require_within(elder.region_code, actor.region_code)
    return elder


def record_of(session: Session, *, actor: Actor, elder_id: int) -> dict[str, Any]:
    """What the registry page shows beyond the profile: provenance, consents, contacts."""
    elder = _own(session, actor, elder_id, "elder.view_record")
    tz = clock.timezone_of(session)
    return {
        "provenance": [
            {
                "field": p.field,
                "source": p.source_department,
                "batch": p.batch,
                "at": clock.local(p.imported_at, tz).strftime("%Y-%m-%d %H:%M"),
            }
            for p in elder.provenance
        ],
        "consents": [
            {
                "id": c.id,
                "consenter": c.consenter_name,
                "relation": c.consenter_relation,
                "by_guardian": c.by_guardian,
                "scope": list(c.scope),
                "consented_on": c.consented_on.isoformat(),
                "withdrawn_on": c.withdrawn_on.isoformat() if c.withdrawn_on else None,
                "recorded_by": c.recorded_by,
            }
            for c in elder.consents
        ],
        "categories": category_rows(elder),
    }


def _manual(actor: Actor) -> ProvenanceIn:
    return ProvenanceIn(
        source_department=f"手工维护 {actor.name}"[:60], batch="manual", imported_at=clock.now()
    )


def edit_elder(session: Session, *, actor: Actor, elder_id: int, changes: dict[str, Any]) -> Elder:
    """Change the fields given; each changed field's provenance names the keeper who changed it."""
    elder = _own(session, actor, elder_id, "elder.update")
    area = area_code_for(session, elder.region_code)
    update = ElderUpdate.model_validate(
        {**changes, "provenance": _manual(actor).model_dump()},
        context={"area_code": area} if area else None,
    )
    return update_elder(session, elder_id=elder_id, changes=update, actor=actor)


def add_elder_contact(
    session: Session, *, actor: Actor, elder_id: int, contact: ContactIn
) -> EmergencyContact:
    _own(session, actor, elder_id, "elder.add_contact")
    row = add_contact(session, elder_id=elder_id, contact=contact, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="elder.add_contact",
        target_type="elder",
        target_id=elder_id,
        detail={"contact_id": row.id, "holds_key": row.holds_key},
    )
    return row


def _contact(session: Session, elder_id: int, contact_id: int) -> EmergencyContact:
    row = session.get(EmergencyContact, contact_id)
    if row is None or row.elder_id != elder_id:
        raise NotFound("联系人不存在 / no such contact", code="contact_not_found")
    return row


def set_key_holder(
    session: Session, *, actor: Actor, elder_id: int, contact_id: int, holds_key: bool
) -> EmergencyContact:
    _own(session, actor, elder_id, "elder.set_key_holder")
    row = _contact(session, elder_id, contact_id)
    row.holds_key = holds_key
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.set_key_holder",
        target_type="elder",
        target_id=elder_id,
        detail={"contact_id": contact_id, "holds_key": holds_key},
    )
    return row


def remove_contact(session: Session, *, actor: Actor, elder_id: int, contact_id: int) -> None:
    elder = _own(session, actor, elder_id, "elder.remove_contact")
    row = _contact(session, elder_id, contact_id)
    elder.contacts.remove(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="elder.remove_contact",
        target_type="elder",
        target_id=elder_id,
        detail={"contact_id": contact_id},
    )


def add_consent(
    session: Session, *, actor: Actor, elder_id: int, consent: ConsentIn
) -> ConsentRecord:
    _own(session, actor, elder_id, "elder.record_consent")
    row = record_consent(session, elder_id=elder_id, consent=consent, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="elder.record_consent",
        target_type="elder",
        target_id=elder_id,
        detail={"consent_id": row.id, "scope": list(row.scope), "by_guardian": row.by_guardian},
    )
    return row


def withdraw_consent(
    session: Session, *, actor: Actor, elder_id: int, consent_id: int, on: date
) -> ConsentRecord:
    _own(session, actor, elder_id, "elder.withdraw_consent")
    row = session.get(ConsentRecord, consent_id)
    if row is None or row.elder_id != elder_id:
        raise NotFound("同意记录不存在 / no such consent", code="consent_not_found")
    if row.withdrawn_on is None:
        row.withdrawn_on = on
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="elder.withdraw_consent",
            target_type="elder",
            target_id=elder_id,
            detail={"consent_id": consent_id},
        )
    return row


def provenance_of(session: Session, *, elder_id: int) -> dict[str, FieldProvenance]:
    return {
        p.field: p
        for p in session.scalars(
            select(FieldProvenance).where(FieldProvenance.elder_id == elder_id)
        )
    }


def create_elder(session: Session, *, actor: Actor, data: dict[str, Any]) -> Elder:
    """Register an elder from the registry's form; every field given is on record as the
    keeper's own entry."""
    require(session, actor, Permission.MANAGE_ELDERS, "elder.register")
    body = {k: v for k, v in data.items() if v not in (None, "", [])}
    code = str(body.get("region_code", ""))
    area = None
    if code:
        try:
            area = area_code_for(session, codes.normalize_code(code))
        except codes.InvalidRegionCode:
            area = None
    elder_in = validate_input(
        ElderIn, {**body, "provenance": {"*": _manual(actor).model_dump()}}, area_code=area
    )
    return register_elder(session, data=elder_in, actor=actor)


def check_keeper(session: Session, *, actor: Actor, elder_id: int, action: str) -> None:
    """Refuse (and audit) a keeper without the duty or outside the elder's region, before a
    form is read."""
    _own(session, actor, elder_id, action)
