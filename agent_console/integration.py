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
        "urgency": order.urgency,
        "status": str(getattr(order.status, "value", order.status)),
    }


# --- calls, recalls, KPIs and telephony ---------------------------------------------------


def live_snapshot(session: Session, *, region_code: str | None) -> dict[str, Any]:
    snap: dict[str, Any] = _module("platform_core.calls.service").live_snapshot(
        session, region_code=region_code
    )
    return snap


def find_call(session: Session, linkedid: str) -> Any:
    service = _module("platform_core.calls.service")
    fn = getattr(service, "find_call", None) or service.find_call_by_linkedid
    return fn(session, linkedid=linkedid)


def list_recalls(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    service = _module("platform_core.calls.service")
    rows = service.list_open_recalls(session, region_code=region_code)
    return [r if isinstance(r, dict) else _recall_dict(r) for r in rows]


def get_recall(session: Session, recall_id: int) -> Any:
    return _module("platform_core.calls.service").get_recall(session, recall_id=recall_id)


def _recall_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "number": getattr(r, "caller_number", getattr(r, "number", "")),
        "elder_id": getattr(r, "elder_id", None),
        "region_code": getattr(r, "region_code", None),
        "reason": getattr(r, "reason", ""),
        "opened_at": _iso(getattr(r, "opened_at", None)),
        "attempts": getattr(r, "attempts", 0),
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
) -> Any:
    return _module("platform_core.calls.kpi").kpi_report(
        session, start=start, end=end, queue=queue, by=by, region_code=region_code
    )


def telephony(runtime: Runtime) -> Any:
    return _module("platform_core.telephony.commands").TelephonyClient(runtime)
