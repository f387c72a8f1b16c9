"""The console's one doorway to the domain services of other packages.

Views call these functions, never the other packages directly, so the names and shapes the
console depends on are listed in one place. A module that is not installed yet answers with a
clear ``module_unavailable`` refusal instead of a crash.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.errors import DomainError, NotFound, ValidationFailed
from platform_core.runtime import Runtime


class ModuleUnavailable(DomainError):
    code = "module_unavailable"
    http_status = 503


def _module(path: str) -> Any:
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise ModuleUnavailable(f"功能模块未安装: {path} / module not available") from exc


# --- elders ------------------------------------------------------------------------------


def elder_region(session: Session, elder_id: int) -> str:
    models = _module("platform_core.elders.models")
    elder = session.get(models.Elder, elder_id)
    if elder is None:
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    return str(elder.region_code)


def elder_profile(
    session: Session, *, elder_id: int, actor: Actor, source_ip: str | None = None
) -> dict[str, Any]:
    profile: dict[str, Any] = _module("platform_core.elders.service").elder_profile(
        session, elder_id=elder_id, actor=actor, source_ip=source_ip
    )
    return profile


def reveal_id_number(
    session: Session, *, elder_id: int, actor: Actor, source_ip: str | None = None
) -> str:
    return str(
        _module("platform_core.elders.service").reveal_id_number(
            session, elder_id=elder_id, actor=actor, source_ip=source_ip
        )
    )


def identify(session: Session, *, number: str) -> Any:
    return _module("platform_core.elders.identification").identify_caller(session, number=number)


def register_elder(
    session: Session,
    *,
    actor: Actor,
    name: str,
    id_number: str,
    phone: str,
    address: str,
    region_code: str,
    living_arrangement: str,
) -> Any:
    """Quick registration of an unknown caller from the screen pop (the rest is filled in later)."""
    schemas = _module("platform_core.elders.schemas")
    try:
        data = schemas.ElderIn(
            name=name,
            id_number=id_number,
            address=address,
            region_code=region_code,
            living_arrangement=living_arrangement,
            phones=[schemas.PhoneIn(number=phone)],
        )
    except ValueError as exc:  # pydantic's ValidationError: say which fields, in the domain's words
        errors = getattr(exc, "errors", lambda: [])()
        fields = sorted({str(e["loc"][0]) for e in errors if e.get("loc")}) or ["data"]
        messages = "; ".join(str(e.get("msg", "")) for e in errors)[:300]
        raise ValidationFailed(
            f"登记信息有误: {', '.join(fields)} ({messages}) / invalid registration",
            code="invalid_registration",
            fields=fields,
        ) from None
    return _module("platform_core.elders.service").register_elder(session, data=data, actor=actor)


# Alarms and unanswered care calls within this many days are shown as risk flags.
RECENT_DAYS = 30


def recent_risk_flags(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """Flags from other modules' records: recent alarms and care calls that never got through,
    counted in one round trip."""
    from datetime import UTC, timedelta

    from sqlalchemy import func, select

    since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
    counts: dict[str, Any] = {}
    try:
        alarms = _module("platform_core.alarms.models").Alarm
        counts["recent_alarms"] = (
            select(func.count())
            .select_from(alarms)
            .where(
                alarms.elder_id == elder_id, alarms.received_at >= since, alarms.unbound.is_(False)
            )
            .scalar_subquery()
        )
    except ModuleUnavailable:
        pass
    try:
        care = _module("platform_core.care_calls.models").CareCall
        counts["missed_care_calls"] = (
            select(func.count())
            .select_from(care)
            .where(
                care.elder_id == elder_id, care.status == "unreachable", care.outcome_at >= since
            )
            .scalar_subquery()
        )
    except ModuleUnavailable:
        pass
    if not counts:
        return []
    row = session.execute(select(*(q.label(code) for code, q in counts.items()))).one()
    labels = {
        "recent_alarms": "近{days}天报警 {n} 次 / {n} alarms in {days} days",
        "missed_care_calls": "关怀电话未接通 {n} 次 / {n} care calls unanswered",
    }
    return [
        {"code": code, "count": n, "label": labels[code].format(n=n, days=RECENT_DAYS)}
        for code, n in zip(counts, row, strict=True)
        if n
    ]


# --- catalogue and orders ----------------------------------------------------------------


def service_types(session: Session) -> list[dict[str, Any]]:
    catalogue = _module("platform_core.catalogue.service")
    rows = catalogue.list_service_types(session)
    return [{"code": r.code, "name": r.name, "category": getattr(r, "category", "")} for r in rows]


def open_order(session: Session, *, actor: Actor, **kwargs: Any) -> Any:
    return _module("platform_core.orders.service").open_order(session, actor=actor, **kwargs)


def order_summary(order: Any) -> dict[str, Any]:
    return {
        "id": order.id,
        "order_no": order.order_no,
        "service_type_code": order.service_type_code,
        "urgency": str(getattr(order.urgency, "value", order.urgency)),
        "status": str(getattr(order.status, "value", order.status)),
        "opened_at": _iso(getattr(order, "created_at", None)),
    }


def open_orders_for_elder(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    orders = _module("platform_core.orders.service").open_orders_for_elder(
        session, elder_id=elder_id
    )
    return [order_summary(o) for o in orders]


# --- calls, recalls, KPIs and telephony ---------------------------------------------------


def live_snapshot(session: Session, *, region_code: str | None) -> dict[str, Any]:
    snap: dict[str, Any] = _module("platform_core.calls.service").live_snapshot(
        session, region_code=region_code
    )
    return snap


def find_call(session: Session, linkedid: str) -> Any:
    return _module("platform_core.calls.service").find_call(session, linkedid=linkedid)


def recent_calls(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    calls = _module("platform_core.calls.service").recent_calls(session, elder_id=elder_id, limit=5)
    return [
        {
            "linkedid": c.linkedid,
            "started_at": _iso(c.started_at),
            "outcome": c.outcome,
            "intent": c.intent,
            "agent": c.member_name or c.agent_interface,
            "wait_s": c.wait_s,
            "talk_s": c.talk_s,
        }
        for c in calls
    ]


def list_recalls(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    rows = _module("platform_core.calls.service").list_recalls(session, region_code=region_code)
    return [_recall_dict(r) for r in rows]


def get_recall(session: Session, recall_id: int) -> Any:
    return _module("platform_core.calls.service").get_recall(session, recall_id=recall_id)


def _recall_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "number": r.number,
        "caller_name": r.caller_name,
        "elder_id": r.elder_id,
        "region_code": r.region_code,
        "queue": r.queue,
        "reason": r.reason,
        "wait_s": r.wait_s,
        "opened_at": _iso(r.opened_at),
        "attempts": r.attempts,
        "last_result": r.last_result,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def kpi_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    queue: str | None,
    by: str | None,
    region_code: str,
) -> dict[str, Any]:
    """The same report as ``hotline report kpi``, as a dict; the short-abandon rate's key is
    normalised (``answer_rate_excl_short``) with its threshold beside it."""
    report = _module("platform_core.calls.kpi").kpi_report(
        session, start=start, end=end, queue=queue, by=by, region_code=region_code
    )
    data: dict[str, Any] = report.as_dict()
    short = session.info["settings"].short_abandon_s

    def norm(figures: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in figures.items():
            out[
                "answer_rate_excl_short" if k.startswith("answer_rate_excl_abandons_under_") else k
            ] = v
        return out

    data["total"] = norm(data["total"])
    data["rows"] = [norm(r) for r in data["rows"]]
    data["short_abandon_s"] = short
    return data


def telephony(runtime: Runtime) -> Any:
    return _module("platform_core.telephony.commands").TelephonyClient(runtime)
