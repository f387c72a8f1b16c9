"""The screen pop: who is calling and what an agent needs at hand when the phone rings.

One function assembles it (:func:`screen_pop`): the caller, the elder's masked profile with risk
flags (the profile's own and recent alarms and unanswered care calls from their modules), the
elder's open orders and last calls. Every screen pop runs it, so each part is one round trip.

The caller of a ringing call is who the IVR (or, for a call that skipped it, callcenter)
recorded on the call: the pop reads that record instead of identifying the number again. Only
a number the IVR found on several elders is looked up once more, for the candidates to choose
from (the IVR records that there were several, not who).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, exists, func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.alarms.models import Alarm
from platform_core.calls.desk import recent_call_summaries
from platform_core.calls.identification import identify_caller
from platform_core.calls.models import Call
from platform_core.care_calls.models import CareCall
from platform_core.devices.service import device_summaries
from platform_core.elders import phones
from platform_core.elders import service as elders
from platform_core.elders.models import Elder, ElderPhone, EmergencyContact
from platform_core.elders.service import refuse_on_elder
from platform_core.ivr.models import IvrSession
from platform_core.orders.summaries import open_order_summaries
from platform_core.regions import codes
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_name

# Alarms and unanswered care calls within this many days are shown as risk flags.
RECENT_DAYS = 30

_RISK_LABELS = {
    "recent_alarms": "近{days}天报警 {n} 次 / {n} alarms in {days} days",
    "missed_care_calls": "关怀电话未接通 {n} 次 / {n} care calls unanswered",
}
_RISK_CODES = tuple(_RISK_LABELS)


@lru_cache(maxsize=1)
def _risk_counts_statement() -> Select[Any]:
    """The counts as one statement with parameters, built once: building a statement on every
    screen pop costs more CPU than PostgreSQL takes to answer it."""
    elder_id: BindParameter[int] = bindparam("elder_id")
    since: BindParameter[datetime] = bindparam("since")
    alarms = (
        select(func.count())
        .select_from(Alarm)
        .where(Alarm.elder_id == elder_id, Alarm.received_at >= since, Alarm.unbound.is_(False))
        .scalar_subquery()
    )
    care = (
        select(func.count())
        .select_from(CareCall)
        .where(
            CareCall.elder_id == elder_id,
            CareCall.status == "unreachable",
            CareCall.outcome_at >= since,
        )
        .scalar_subquery()
    )
    return select(alarms.label("recent_alarms"), care.label("missed_care_calls"))


def recent_risk_flags(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """Flags from other modules' records: recent alarms and care calls that never got through,
    counted in one round trip."""
    since = clock.now() - timedelta(days=RECENT_DAYS)
    row = session.execute(_risk_counts_statement(), {"elder_id": elder_id, "since": since}).one()
    return [
        {"code": code, "count": n, "label": _RISK_LABELS[code].format(n=n, days=RECENT_DAYS)}
        for code, n in zip(_RISK_CODES, row, strict=True)
        if n
    ]


def desk_profile(
    session: Session, *, elder_id: int, actor: Actor, source_ip: str | None = None
) -> dict[str, Any]:
    """The elder's masked profile as the desk shows it, with the elder's devices (SIM masked):
    the profile's own risk flags and those of the alarm and care-call records. Viewing it is
    audited (out of region: refused)."""
    profile = elders.elder_profile(session, elder_id=elder_id, actor=actor, source_ip=source_ip)
    profile["devices"] = device_summaries(session, elder_id=elder_id)
    profile["risk_flags"] = list(profile.get("risk_flags", [])) + recent_risk_flags(
        session, elder_id=elder_id
    )
    return profile


def _candidates(session: Session, elder_ids: list[int], actor: Actor) -> list[dict[str, Any]]:
    rows = session.scalars(select(Elder).where(Elder.id.in_(elder_ids)))
    return [
        {"elder_id": e.id, "name": mask_name(e.name)}
        for e in rows
        if codes.is_within(e.region_code, actor.region_code)
    ]


@lru_cache(maxsize=1)
def _recorded_caller_statement() -> Select[Any]:
    """A call's caller as recorded, with the IVR's verdict (elder, device, family, ambiguous,
    unknown; none when the call skipped the IVR), in one round trip; built once."""
    linkedid: BindParameter[str] = bindparam("linkedid")
    ivr_kind = (
        select(IvrSession.caller_kind)
        .where(IvrSession.linkedid == linkedid, IvrSession.ended_at.is_not(None))
        .order_by(IvrSession.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Call.caller_number, Call.elder_id, Call.is_device, Call.region_code, ivr_kind
    ).where(Call.linkedid == linkedid)


def _caller_of(
    session: Session, elder_id: int, number: str, kind: str | None
) -> dict[str, Any] | None:
    """How the recorded caller relates to the elder shown: the elder (None), the elder's device,
    or one of the elder's emergency contacts, whose name and relation are read only then (and
    for a call that skipped the IVR, whose record does not say)."""
    if kind == "device":
        return {"kind": "device"}
    if kind not in ("family", None):
        return None
    parsed = phones.try_normalize_phone(number, area_code=settings_of(session).trunk_area_code)
    if parsed is None:
        return None
    own_phone = exists().where(ElderPhone.elder_id == elder_id, ElderPhone.number == parsed.digits)
    contact = session.execute(
        select(EmergencyContact.name, EmergencyContact.relation)
        .where(
            EmergencyContact.elder_id == elder_id,
            EmergencyContact.phone == parsed.digits,
            ~own_phone,
        )
        .order_by(EmergencyContact.priority, EmergencyContact.id)
        .limit(1)
    ).first()
    if contact is not None:
        return {"kind": "family", "name": contact.name, "relation": contact.relation}
    return {"kind": "family", "name": None, "relation": None} if kind == "family" else None


def _pop(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    caller: dict[str, Any] | None = None,
    recorded: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """The pop of one elder; ``recorded`` (the call's number and the IVR's verdict) says how the
    caller relates to the elder."""
    profile = desk_profile(session, elder_id=elder_id, actor=actor)
    if recorded is not None:
        caller = _caller_of(session, elder_id, *recorded)
    return {
        "unknown": False,
        "caller": caller,
        "profile": profile,
        "open_orders": open_order_summaries(session, elder_id=elder_id),
        "recent_calls": recent_call_summaries(session, elder_id=elder_id),
    }


def _refuse_other_region(session: Session, actor: Actor, elder_id: int, by: str) -> None:
    """A caller of another region answers exactly as an unknown one (no existence oracle); the
    audit trail keeps what it was."""
    refuse_on_elder(
        session,
        actor=actor,
        action="socket.screen_pop",
        elder_id=elder_id,
        reason="out_of_region",
        detail={"by": by},
    )


def screen_pop(
    session: Session,
    *,
    actor: Actor,
    linkedid: str | None = None,
    elder_id: int | None = None,
    caller_number: str | None = None,
) -> dict[str, Any]:
    """Who is calling: the elder's masked profile with open orders and last calls, or how the
    caller relates to one, or several candidates, or nobody.

    ``linkedid`` names a call: its recorded caller is shown. ``elder_id`` names the elder
    outright (the candidate an agent chose; out of the agent's region: refused and audited).
    ``caller_number`` alone (no call) is identified as the IVR would."""
    if linkedid:
        recorded = session.execute(_recorded_caller_statement(), {"linkedid": linkedid}).first()
        if recorded is not None:
            number, call_elder, is_device, region, ivr_kind = recorded
            kind = ivr_kind or ("device" if is_device else None)
            if elder_id is not None:
                return _pop(
                    session,
                    actor=actor,
                    elder_id=elder_id,
                    recorded=(number, kind),
                )
            if call_elder is not None:
                if not codes.is_within(region, actor.region_code):
                    _refuse_other_region(session, actor, call_elder, "call")
                    return {"unknown": True, "caller_number": number}
                return _pop(
                    session,
                    actor=actor,
                    elder_id=call_elder,
                    recorded=(number, kind),
                )
            if ivr_kind != "ambiguous" and ivr_kind is not None:
                return {"unknown": True, "caller_number": number}
            caller_number = number  # several elders, or the call skipped the IVR: look it up
    caller: dict[str, Any] | None = None
    if caller_number:
        ident = identify_caller(session, number=caller_number)
        chosen = elder_id
        if elder_id is None:
            elder_id = ident.elder_id
        if ident.is_family:
            match = next((m for m in ident.matches if m.elder_id == elder_id), ident.matches[0])
            elder_id = elder_id or match.elder_id
            caller = {"kind": "family", "name": match.contact_name, "relation": match.relation}
        elif ident.is_device:
            caller = {"kind": "device"}
        elif ident.ambiguous and elder_id is None:
            candidates = _candidates(session, [m.elder_id for m in ident.matches], actor)
            if not candidates:
                return {"unknown": True, "caller_number": caller_number}
            return {"unknown": False, "ambiguous": True, "candidates": candidates}
        if elder_id is not None and chosen is None:
            region = elders.get_elder(session, elder_id=elder_id).region_code
            if not codes.is_within(region, actor.region_code):
                _refuse_other_region(session, actor, elder_id, "caller_number")
                elder_id = None
    if elder_id is None:
        return {"unknown": True, "caller_number": caller_number}
    return _pop(session, actor=actor, elder_id=elder_id, caller=caller)
