"""The screen pop: who is calling and what an agent needs at hand when the phone rings.

One function assembles it (:func:`screen_pop`): the caller as identified, the elder's masked
profile with risk flags (the profile's own and recent alarms and unanswered care calls from
their modules), the elder's open orders and last calls. Every screen pop runs it, so each part
is one round trip.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.alarms.models import Alarm
from platform_core.audit import service as audit
from platform_core.calls.desk import recent_call_summaries
from platform_core.care_calls.models import CareCall
from platform_core.elders import service as elders
from platform_core.elders.identification import identify_caller
from platform_core.elders.models import Elder
from platform_core.orders.summaries import open_order_summaries
from platform_core.regions import codes
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
    """The elder's masked profile as the desk shows it: the profile's own risk flags and those
    of the alarm and care-call records. Viewing it is audited (out of region: refused)."""
    profile = elders.elder_profile(session, elder_id=elder_id, actor=actor, source_ip=source_ip)
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


def screen_pop(
    session: Session,
    *,
    actor: Actor,
    elder_id: int | None = None,
    caller_number: str | None = None,
) -> dict[str, Any]:
    """Who is calling: the elder's masked profile with open orders and last calls, or how the
    caller relates to one, or several candidates, or nobody.

    ``elder_id`` names the elder outright (out of the agent's region: refused and audited);
    a number of another region answers exactly as an unknown one (no existence oracle), and the
    audit trail keeps what it was."""
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
                audit.record_refusal(
                    session,
                    actor=actor,
                    action="socket.screen_pop",
                    target_type="elder",
                    target_id=elder_id,
                    detail={"reason": "out_of_region", "by": "caller_number"},
                )
                elder_id = None
    if elder_id is None:
        return {"unknown": True, "caller_number": caller_number}
    return {
        "unknown": False,
        "caller": caller,
        "profile": desk_profile(session, elder_id=elder_id, actor=actor),
        "open_orders": open_order_summaries(session, elder_id=elder_id),
        "recent_calls": recent_call_summaries(session, elder_id=elder_id),
    }
