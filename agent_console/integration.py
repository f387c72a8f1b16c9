"""The console's one doorway to the domain services of other packages.

Views call these functions, never the other packages directly, so the names and shapes the
console depends on are listed in one place. A module that is not installed yet answers with a
clear ``module_unavailable`` refusal instead of a crash.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from platform_core import clock
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


# Region names by code, read once per process (the dictionary changes with a release).
_REGION_NAMES: dict[str, str] = {}


def region_name(runtime: Runtime, code: str) -> str:
    """A region as people name it (呼和浩特市, 内蒙古自治区), never its 12-digit code on screen."""
    name = _REGION_NAMES.get(code)
    if name is None:
        regions = _module("platform_core.regions.service")
        try:
            with runtime.session() as s:
                found = regions.find_region(s, code)
        except DomainError:  # not a region code at all
            return code
        name = str(found.name) if found is not None else code
        if found is not None:
            _REGION_NAMES[code] = name
    return name


def region_picker(session: Session, *, parent_code: str, scope_code: str) -> list[dict[str, str]]:
    rows = _module("platform_core.regions.service").picker_options(
        session, parent_code=parent_code, scope_code=scope_code
    )
    return [{"code": r.code, "name": r.name} for r in rows]


def read_id_number(session: Session, *, id_number: str, scope_code: str) -> dict[str, Any]:
    """What the number says: birth date, age today, sex, and its county when the dictionary
    knows it and it lies in the user's region (a number from elsewhere presets nothing)."""
    idcard = _module("platform_core.elders.idcard")
    regions = _module("platform_core.regions.service")
    codes = _module("platform_core.regions.codes")
    parsed = idcard.parse_id_number(id_number)
    county = regions.canonical_code(session, parsed.area_code)
    region = None
    found = regions.find_region(session, county)
    if found is not None and codes.level_of(county) == 3 and codes.is_within(county, scope_code):
        region = {
            "code": county,
            "path": [r.code for r in regions.region_path(session, county)[1:]],
            "full_name": regions.full_name(session, county),
        }
    return {
        "id_number_valid": True,
        "birth_date": parsed.birth_date.isoformat(),
        "age": parsed.age_on(clock.today()),
        "sex": parsed.sex,
        "region": region,
        "warnings": [w.message for w in parsed.warnings],
    }


# Alarms and unanswered care calls within this many days are shown as risk flags.
RECENT_DAYS = 30


_RISK_LABELS = {
    "recent_alarms": "近{days}天报警 {n} 次 / {n} alarms in {days} days",
    "missed_care_calls": "关怀电话未接通 {n} 次 / {n} care calls unanswered",
}


@lru_cache(maxsize=1)
def _risk_counts_statement() -> tuple[tuple[str, ...], Any]:
    """The counts as one statement with parameters, built once: building a statement on every
    screen pop costs more CPU than PostgreSQL takes to answer it."""
    from sqlalchemy import bindparam, func, select

    elder_id, since = bindparam("elder_id"), bindparam("since")
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
        return (), None
    return tuple(counts), select(*(q.label(code) for code, q in counts.items()))


def recent_risk_flags(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """Flags from other modules' records: recent alarms and care calls that never got through,
    counted in one round trip."""
    codes, statement = _risk_counts_statement()
    if statement is None:
        return []
    since = clock.now() - timedelta(days=RECENT_DAYS)
    row = session.execute(statement, {"elder_id": elder_id, "since": since}).one()
    return [
        {"code": code, "count": n, "label": _RISK_LABELS[code].format(n=n, days=RECENT_DAYS)}
        for code, n in zip(codes, row, strict=True)
        if n
    ]


# --- catalogue and orders ----------------------------------------------------------------


def service_types(session: Session) -> list[dict[str, Any]]:
    catalogue = _module("platform_core.catalogue.service")
    rows = catalogue.list_service_types(session)
    return [{"code": r.code, "name": r.name, "category": getattr(r, "category", "")} for r in rows]


def open_order(session: Session, *, actor: Actor, **kwargs: Any) -> Any:
    """An order from the call, drawing on the elder's government-purchase allowance, handed to
    dispatch in the same unit of work (the dispatch job starts once it commits)."""
    order = _module("platform_core.flows.care_orders").open_care_order(
        session, actor=actor, **kwargs
    )
    return _module("platform_core.orders.service").submit_for_dispatch(
        session, actor=actor, order_id=order.id, reason="来电建单"
    )


def cancel_order(session: Session, *, actor: Actor, order_id: int, reason: str) -> Any:
    """Cancel an order and give back what it drew (a meal delivery through its booking)."""
    return _module("platform_core.flows.care_orders").cancel_care_order(
        session, actor=actor, order_id=order_id, reason=reason
    )


def order_region(session: Session, order_id: int) -> str:
    order = _module("platform_core.orders.service").get_order(session, order_id=order_id)
    return str(order.region_code)


def order_allowance(session: Session, *, order_id: int) -> str:
    """What the order draws from a government-purchase allowance ("0.00" when nothing)."""
    amount = _module("platform_core.flows.care_orders").order_allowance(session, order_id=order_id)
    return str(amount)


# Service type names by code, read once per process (the catalogue's names rarely change; a code
# not seen yet is read when it first appears).
_SERVICE_TYPE_NAMES: dict[str, str] = {}


def service_type_name(session: Session | None, code: str) -> str:
    """The catalogue's name of a service type (助洁, not care_cleaning)."""
    name = _SERVICE_TYPE_NAMES.get(code)
    if name is None and session is not None:
        catalogue = _module("platform_core.catalogue.models")
        found = session.get(catalogue.ServiceType, code)
        if found is not None:
            name = _SERVICE_TYPE_NAMES[code] = str(found.name)
    return name or code


def order_summary(order: Any) -> dict[str, Any]:
    from sqlalchemy.orm import object_session

    status = str(getattr(order.status, "value", order.status))
    states = _module("platform_core.orders.states")
    return {
        "id": order.id,
        "order_no": order.order_no,
        "elder_id": order.elder_id,
        "service_type_code": order.service_type_code,
        "service_type_name": service_type_name(object_session(order), order.service_type_code),
        "urgency": str(getattr(order.urgency, "value", order.urgency)),
        "status": status,
        "status_label": states.STATUS_LABELS.get(status, status),
        "open": status in {str(s.value) for s in states.ELDER_OPEN_STATUSES},
        "opened_at": _iso(getattr(order, "opened_at", None)),
        # an IVR draft names the call it was keyed on: the call's order form starts from it
        "source": str(getattr(order.source, "value", order.source)),
        "source_ref": order.source_ref,
    }


def order_change(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """An order event's data as the screen pop shows the order (the same shape as
    :func:`order_summary`)."""
    states = _module("platform_core.orders.states")
    status = str(data["status"])
    return {
        "id": data["order_id"],
        "order_no": data["order_no"],
        "elder_id": data["elder_id"],
        "service_type_code": data["service_type_code"],
        "service_type_name": service_type_name(session, data["service_type_code"]),
        "urgency": data["urgency"],
        "status": status,
        "status_label": states.STATUS_LABELS.get(status, status),
        "open": status in {str(s.value) for s in states.ELDER_OPEN_STATUSES},
    }


def order_event_types() -> list[str]:
    """The type names of every order event (one per lifecycle step)."""
    events = _module("platform_core.orders.events")
    return sorted(cls.type_name or cls.__name__ for cls in events.OrderEvent.__subclasses__())


def intent_presets(settings: Any) -> dict[str, Any]:
    """What the order form starts from for each IVR intent: a service type and an urgency."""
    intents = _module("platform_core.catalogue.intents")
    return {
        "service_types": intents.intent_service_types(settings),
        "emergency": sorted(intents.EMERGENCY_INTENTS),
    }


# --- care processes from a call ----------------------------------------------------------


def care_status(session: Session, *, elder_id: int) -> dict[str, Any]:
    status: dict[str, Any] = _module("platform_core.flows.care_overview").care_status_for_elder(
        session, elder_id=elder_id
    )
    return status


def care_processes() -> dict[str, str]:
    processes: dict[str, str] = _module("platform_core.flows.care_overview").PROCESSES
    return processes


def start_care_process(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    process: str,
    source_ref: str | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    started: dict[str, Any] = _module("platform_core.flows.care_overview").start_care_process(
        session,
        actor=actor,
        elder_id=elder_id,
        process=process,
        source_ref=source_ref,
        options=options,
    )
    return started


def open_orders_for_elder(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    orders = _module("platform_core.orders.service").open_orders_for_elder(
        session, elder_id=elder_id
    )
    return [order_summary(o) for o in orders]


# --- calls, recalls, KPIs and telephony ---------------------------------------------------


def live_snapshot(session: Session, *, region_code: str | None) -> dict[str, Any]:
    snap: dict[str, Any] = _module("platform_core.calls.queries").live_snapshot(
        session, region_code=region_code
    )
    return snap


def find_call(session: Session, linkedid: str) -> Any:
    return _module("platform_core.calls.queries").find_call(session, linkedid=linkedid)


def agent_took_call(session: Session, *, linkedid: str, interface: str) -> bool:
    took: bool = _module("platform_core.calls.desk").agent_took_call(
        session, linkedid=linkedid, interface=interface
    )
    return took


def desk_call(session: Session, *, interface: str) -> dict[str, Any] | None:
    call: dict[str, Any] | None = _module("platform_core.calls.desk").desk_call(
        session, interface=interface
    )
    return call


def recent_calls(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    calls = _module("platform_core.calls.queries").recent_calls(session, elder_id=elder_id, limit=5)
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
    rows = _module("platform_core.calls.recalls").list_recalls(session, region_code=region_code)
    return [_recall_dict(r) for r in rows]


def get_recall(session: Session, recall_id: int) -> Any:
    return _module("platform_core.calls.recalls").get_recall(session, recall_id=recall_id)


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


def queue_label(settings: Any, queue: str) -> str:
    label: str = _module("platform_core.calls.queues").queue_label(settings, queue)
    return label


def telephony(runtime: Runtime) -> Any:
    return _module("platform_core.telephony.commands").TelephonyClient(runtime)


# --- assessment (GB/T 42195-2022) ------------------------------------------------------------


def assessment_form() -> dict[str, Any]:
    """The standard as the form needs it: dimensions with their items and options, the grade
    bands and the reasons, all from the assessment module's tables."""
    standard = _module("platform_core.assessment.standard")
    return {
        "standard": standard.STANDARD_CODE,
        "total_max": standard.TOTAL_MAX,
        "dimensions": [
            {
                "code": d.code,
                "name": d.name,
                "max": d.max_score,
                "items": [
                    {
                        "code": i.code,
                        "name": i.name,
                        "max": i.max_score,
                        "options": [
                            {"score": score, "text": text}
                            for score, text in sorted(i.options.items(), reverse=True)
                        ],
                    }
                    for i in d.items
                ],
            }
            for d in standard.DIMENSIONS
        ],
        "grades": [
            {"from": lowest, "level": int(grade), "label": grade.label}
            for lowest, grade in standard.GRADE_BANDS
        ],
        "reasons": dict(standard.REASONS),
        "risk_event_threshold": standard.RISK_EVENT_THRESHOLD,
    }


def score_assessment(
    *, items: dict[str, Any], coma: bool, diagnoses: str, risk_events: int
) -> dict[str, Any]:
    """Dimension totals, preliminary and final grade of a complete form, nothing recorded."""
    scoring = _module("platform_core.assessment.scoring")
    problems: list[Any] = []
    facts = scoring.AdjustmentFacts(
        coma=coma,
        diagnoses=scoring.parse_diagnoses(diagnoses, problems),
        risk_events_30d=scoring.parse_risk_events(risk_events, None, problems),
    )
    if problems:
        raise scoring.InvalidAssessmentForm(problems)
    result: dict[str, Any] = scoring.score_items(items, facts).as_dict()
    return result


def record_assessment(session: Session, *, actor: Actor, elder_id: int, **form: Any) -> Any:
    return _module("platform_core.assessment.service").record_assessment(
        session, actor=actor, elder_id=elder_id, **form
    )


def assessment_summary(row: Any) -> dict[str, Any]:
    standard = _module("platform_core.assessment.standard")
    grade = standard.AbilityGrade(row.final_grade)
    return {
        "id": row.id,
        "standard": row.standard,
        "assessed_on": row.assessed_on.isoformat(),
        "reason": row.reason,
        "reason_label": standard.REASONS.get(row.reason, row.reason),
        "assessors": [row.assessor_1, row.assessor_2],
        "dimension_totals": row.dimension_totals,
        "total": row.total,
        "grade_label": row.legacy_grade_label or grade.label,
        "next_due_on": row.next_due_on.isoformat(),
        "is_current": row.is_current,
    }


def list_assessments(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    rows = _module("platform_core.assessment.service").list_assessments(session, elder_id=elder_id)
    return [assessment_summary(r) for r in rows]


def assessment_region(session: Session, assessment_id: int) -> str:
    row = _module("platform_core.assessment.service").get_assessment(
        session, assessment_id=assessment_id
    )
    return str(row.region_code)


def assessment_report_pdf(session: Session, *, actor: Actor, assessment_id: int) -> bytes:
    """The printable report; printing health data is audited as an export by the module."""
    data: bytes = _module("platform_core.assessment.report").render_report(
        session, actor=actor, assessment_id=assessment_id
    )
    return data


def elder_header(session: Session, *, elder_id: int) -> dict[str, Any]:
    """Who a form is about, masked as on the screen pop: name, masked ID number, age, region."""
    service = _module("platform_core.elders.service")
    elder = service.get_elder(session, elder_id=elder_id)
    return {
        "id": elder.id,
        "name": elder.name,
        "id_number_masked": elder.id_number_masked,
        "age": service.age_of(elder, service.today_in(session)),
        "region_name": service.region_name(session, elder.region_code),
        "status": elder.status,
        "ability_grade": elder.ability_grade,
    }


# --- alarms held by a desk ----------------------------------------------------------------------


def alarm_desk(session: Session, *, user_id: int) -> dict[str, Any]:
    """The alarm reserved for this desk and those it is handling (a reload shows them again)."""
    holdings: dict[str, Any] = _module("platform_core.alarms.queue").desk_holdings(
        session, user_id=user_id
    )
    return holdings


def alarm_queue(session: Session, *, region_code: str) -> dict[str, Any]:
    """Every waiting alarm of the region with its age and reservation, and the desks."""
    board: dict[str, Any] = _module("platform_core.alarms.queue").waiting_board(
        session, region_code=region_code
    )
    return board


def alarm_dispatch_board(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    """Alarms whose emergency order waits for a person's decision."""
    board: list[dict[str, Any]] = _module("platform_core.alarms.panel").dispatch_board(
        session, region_code=region_code
    )
    return board


# --- alarm KPIs ----------------------------------------------------------------------------------


def alarm_kpi(
    session: Session, *, start: datetime, end: datetime, region_code: str
) -> dict[str, Any]:
    """Alarms answered within 60 s / 180 s against their targets, time to first action and to
    someone on site, for alarms received in [start, end) in the region."""
    kpi: dict[str, Any] = _module("platform_core.alarms.kpi").kpi(
        session, start=start, end=end, region_code=region_code
    )
    return kpi
