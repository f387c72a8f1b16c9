"""Caller identification: who is behind a calling number.

A number can be an elder's own phone, the SIM of a device bound to an elder, or an emergency
contact's phone (then the caller is family, and we say whose). It runs on every ringing phone,
so it is one round trip of indexed equality lookups on canonical digits, and it never raises on
what Asterisk puts in a caller ID (``<unknown>``, ``anonymous``, an internal extension).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import (
    CompoundSelect,
    Integer,
    String,
    and_,
    bindparam,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from platform_core.devices.lifecycle import IN_SERVICE
from platform_core.devices.models import Device
from platform_core.elders import phones
from platform_core.elders.models import Elder, ElderPhone, EmergencyContact
from platform_core.elders.vocabulary import ElderStatus

_KIND_ORDER = {"elder_phone": 0, "device_sim": 1, "contact": 2}
_SIM_ACTIVE = sorted(s.value for s in IN_SERVICE)


@dataclass(frozen=True)
class CallerMatch:
    kind: str  # "elder_phone" | "device_sim" | "contact"
    elder_id: int
    device_id: int | None = None
    contact_id: int | None = None
    contact_name: str | None = None
    relation: str | None = None


@dataclass(frozen=True)
class CallerIdentity:
    number: str  # canonical digits, "" if the caller ID was unusable
    matches: tuple[CallerMatch, ...]

    @property
    def elder_ids(self) -> tuple[int, ...]:
        seen: dict[int, None] = {}
        for m in self.matches:
            seen.setdefault(m.elder_id)
        return tuple(seen)

    @property
    def elder_id(self) -> int | None:
        """The elder, when exactly one elder is matched."""
        ids = self.elder_ids
        return ids[0] if len(ids) == 1 else None

    @property
    def is_device(self) -> bool:
        return any(m.kind == "device_sim" for m in self.matches)

    @property
    def ambiguous(self) -> bool:
        return len(self.elder_ids) > 1

    @property
    def is_family(self) -> bool:
        """Only emergency contacts matched: a relative or neighbour is calling."""
        return bool(self.matches) and all(m.kind == "contact" for m in self.matches)


def identify_caller(
    session: Session, *, number: str, area_code: str | None = None
) -> CallerIdentity:
    """Match a raw caller ID against elders' phones, device SIMs and emergency contacts.

    ``area_code`` is the trunk's own area code: it completes a bare local number. Deceased
    elders are never matched.
    """
    parsed = phones.try_normalize_phone(number, area_code=area_code)
    if parsed is None:
        return CallerIdentity("", ())
    if parsed.kind is phones.PhoneKind.SERVICE:
        return CallerIdentity(parsed.digits, ())
    rows = session.connection().execute(_lookup_statement(), {"digits": parsed.digits}).all()
    ordered = sorted(rows, key=lambda r: (_KIND_ORDER[r[0]], r[6], r[1], r[2] or 0, r[3] or 0))
    return CallerIdentity(
        parsed.digits,
        tuple(
            CallerMatch(
                kind=r[0],
                elder_id=r[1],
                device_id=r[2],
                contact_id=r[3],
                contact_name=r[4],
                relation=r[5],
            )
            for r in ordered
        ),
    )


@lru_cache(maxsize=1)
def _lookup_statement() -> CompoundSelect:
    """One round trip: the three indexed equality lookups as a UNION ALL, built once (building a
    statement costs more than PostgreSQL takes to answer it)."""
    digits = bindparam("digits", type_=String)
    living = Elder.status != ElderStatus.DECEASED.value
    none_int, none_str = null().cast(Integer), null().cast(String)
    own = (
        select(
            literal("elder_phone").label("kind"),
            ElderPhone.elder_id.label("elder_id"),
            none_int.label("device_id"),
            none_int.label("contact_id"),
            none_str.label("contact_name"),
            none_str.label("relation"),
            literal(0).label("priority"),
        )
        .join(Elder, Elder.id == ElderPhone.elder_id)
        .where(ElderPhone.number == digits, living)
    )
    sim = (
        select(
            literal("device_sim"),
            Device.elder_id,
            Device.id,
            none_int,
            none_str,
            none_str,
            literal(0),
        )
        .join(Elder, Elder.id == Device.elder_id)
        .where(and_(Device.sim_number == digits, Device.status.in_(_SIM_ACTIVE)), living)
    )
    contact = (
        select(
            literal("contact"),
            EmergencyContact.elder_id,
            none_int,
            EmergencyContact.id,
            EmergencyContact.name,
            EmergencyContact.relation,
            EmergencyContact.priority,
        )
        .join(Elder, Elder.id == EmergencyContact.elder_id)
        .where(EmergencyContact.phone == digits, living)
    )
    return union_all(own, sim, contact)
