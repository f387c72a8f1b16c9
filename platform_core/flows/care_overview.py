"""The care processes as an agent sees them on a call: where each stands for the elder, and
starting any of them with one confirmation.

:func:`care_status_for_elder` gathers every care module's ``status_for_elder`` for the screen
pop, each with whether it can be started now (and why not). :func:`start_care_process` starts
one of them for the caller with the defaults a call implies: the call is the source and its id
the reference, an application is made by the elder themselves, a meal is the soonest one the
nearest meal point can still take, delivered where the point delivers. ``options`` overrides a
default where the agent knows better (the daughter applies, another point, dine-in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.assessment import requests as assessment_requests
from platform_core.assessment import service as assessments
from platform_core.care_beds import service as care_beds
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import NotFound, ValidationFailed
from platform_core.gov_purchase import service as gov_purchase
from platform_core.home_adaptation import service as home_adaptation
from platform_core.meal_aid import service as meal_aid
from platform_core.orders import states as order_states
from platform_core.orders.models import ServiceOrder
from platform_core.social_work import service as social_work

# The processes in the order the screen pop lists them, with the button's label.
PROCESSES: dict[str, str] = {
    "assessment": "申请能力评估",
    "meal_aid": "预订助餐",
    "care_bed": "申请家庭养老床位",
    "home_adaptation": "申请适老化改造",
    "gov_purchase": "申请政府购买服务",
    "social_work": "转介社工",
}
# Statuses of a case after which a new one may be started.
_CLOSED_BED = {"none", "withdrawn"}
_CLOSED_ADAPTATION = {"none", "ineligible", "cancelled", "settled", "return_visited"}


@lru_cache(maxsize=1)
def _programmes_held() -> Select[bool, bool, bool, bool, bool]:
    """Which programmes hold anything for an elder (``elder_id``), one EXISTS each, in a
    statement built once: it runs beside every screen pop."""
    elder_id = bindparam("elder_id", type_=Integer)
    return select(
        assessments.has_status(elder_id),
        care_beds.has_status(elder_id),
        home_adaptation.has_status(elder_id),
        gov_purchase.has_status(elder_id),
        social_work.has_status(elder_id),
    )


def _elder(session: Session, elder_id: int) -> Elder:
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"老年人档案不存在: {elder_id} / no such elder", code="elder_not_found")
    return elder


def _entry(process: str, status: dict[str, Any], why_not: str | None) -> dict[str, Any]:
    return {
        **status,
        "process": process,
        "start_label": PROCESSES[process],
        "can_start": why_not is None,
        "why_not": why_not,
    }


def care_status_for_elder(
    session: Session, *, elder_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Where each care process stands for the elder, for the screen pop: every module's
    ``status_for_elder`` plus ``process``, ``start_label``, ``can_start`` and ``why_not``."""
    elder = _elder(session, elder_id)
    tz = clock.timezone_of(session)
    today = clock.local_date(now, tz) if now else clock.today(tz)
    inactive = None if elder.status == ElderStatus.ACTIVE else "老人档案非在册状态"

    # which programmes hold anything for the elder, in one statement: those that do not
    # answer "none" without a query of their own (most elders are in few programmes)
    held = session.execute(_programmes_held(), {"elder_id": elder.id}).one()
    in_assessment, in_bed, in_adaptation, in_purchase, in_social_work = (bool(h) for h in held)

    status = assessments.status_for_elder(
        session, elder_id=elder.id, on=today, has_any=in_assessment
    )
    asked = "已有待上门的评估申请" if status.get("request") else None
    modules = [_entry("assessment", status, inactive or asked)]

    status = meal_aid.status_for_elder(session, elder_id=elder.id, on=today)
    nothing = (
        None
        if inactive or meal_aid.next_bookable_meal(session, elder_id=elder.id, now=now)
        else "附近助餐点暂无可预订的餐次"
    )
    modules.append(_entry("meal_aid", status, inactive or nothing))

    status = care_beds.status_for_elder(session, elder_id=elder.id, has_any=in_bed)
    busy = None if status["state"] in _CLOSED_BED else "已有进行中的家庭养老床位"
    modules.append(_entry("care_bed", status, inactive or busy))

    status = home_adaptation.status_for_elder(session, elder_id=elder.id, has_any=in_adaptation)
    busy = None if status["state"] in _CLOSED_ADAPTATION else "已有进行中的改造案"
    modules.append(_entry("home_adaptation", status, inactive or busy))

    status = gov_purchase.status_for_elder(
        session, elder_id=elder.id, on=today, has_any=in_purchase
    )
    busy = None if status["state"] not in gov_purchase.OPEN_STATUSES else "已有进行中的申请"
    modules.append(_entry("gov_purchase", status, inactive or busy))

    status = social_work.status_for_elder(session, elder_id=elder.id, has_any=in_social_work)
    busy = None if status["state"] == "none" else "已有进行中的社工个案"
    modules.append(_entry("social_work", status, inactive or busy))

    return {
        "elder_id": elder.id,
        "elder_status": elder.status,
        "modules": modules,
    }


def start_care_process(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    process: str,
    source_ref: str | None = None,
    options: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Start ``process`` (one of :data:`PROCESSES`) for the elder from a call whose id is
    ``source_ref``; returns what was started and the process's new status for the screen pop.
    A refusal (a case already open, an elder not eligible) is the module's own error."""
    if process not in PROCESSES:
        raise ValidationFailed(
            f"未知的服务流程: {process} (可选: {'、'.join(PROCESSES)}) / unknown care process",
            code="unknown_care_process",
            allowed=list(PROCESSES),
        )
    elder = _elder(session, elder_id)
    started = _STARTERS[process](
        _Start(session, actor, elder, source_ref, dict(options or {}), now)
    )
    status = next(
        m
        for m in care_status_for_elder(session, elder_id=elder.id, now=now)["modules"]
        if m["process"] == process
    )
    return {"process": process, "label": PROCESSES[process], "started": started, "status": status}


@dataclass(frozen=True)
class _Start:
    """What every process starter is given: the unit of work, who starts it, for whom, from
    which call (``ref``), the screen's options, and the time the caller sees."""

    session: Session
    actor: Actor
    elder: Elder
    ref: str | None
    options: dict[str, Any]
    now: datetime | None


Starter = Callable[[_Start], dict[str, Any]]


def _assessment(s: _Start) -> dict[str, Any]:
    row = assessment_requests.request_assessment(
        s.session,
        actor=s.actor,
        elder_id=s.elder.id,
        reason=s.options.get("reason"),
        source="call",
        source_ref=s.ref,
        note=str(s.options.get("note", "")),
    )
    return assessment_requests.request_summary(row)


def _meal(s: _Start) -> dict[str, Any]:
    if {"meal_point_id", "served_on", "meal"} <= s.options.keys():
        point = meal_aid.get_meal_point(s.session, meal_point_id=int(s.options["meal_point_id"]))
        served_on = date.fromisoformat(str(s.options["served_on"]))
        meal = str(s.options["meal"])
    else:
        found = meal_aid.next_bookable_meal(
            s.session, elder_id=s.elder.id, meal_point_id=s.options.get("meal_point_id"), now=s.now
        )
        if found is None:
            raise meal_aid.MealAidError(
                "附近助餐点暂无可预订的餐次 / no meal nearby can still be booked",
                code="no_bookable_meal",
            )
        point, served_on, meal = found
    mode = str(s.options.get("mode") or ("delivery" if point.delivers else "dine_in"))
    booking = meal_aid.book_meal(
        s.session,
        actor=s.actor,
        elder_id=s.elder.id,
        meal_point_id=point.id,
        served_on=served_on,
        meal=meal,
        mode=mode,
        source="hotline",
        delivery_address=s.options.get("delivery_address"),
        call_id=s.ref,
        now=s.now,
    )
    order = s.session.get(ServiceOrder, booking.order_id) if booking.order_id else None
    return {
        "booking_id": booking.id,
        "code": booking.code,  # the agent reads it to the caller: said at the point's counter
        "meal_point_id": point.id,
        "meal_point": point.name,
        "served_on": served_on.isoformat(),
        "meal": meal_aid.MEALS[meal],
        "mode": meal_aid.MODES[mode],
        "subsidy": str(booking.subsidy),
        "self_pay": str(booking.self_pay),
        **(
            {
                "order_id": order.id,
                "order_no": order.order_no,
                "order_status_label": order_states.STATUS_LABELS[order.status],
            }
            if order
            else {}
        ),
    }


def _care_bed(s: _Start) -> dict[str, Any]:
    bed = care_beds.apply_for_bed(
        s.session, actor=s.actor, elder_id=s.elder.id, source="referral", call_id=s.ref
    )
    return {"care_bed_id": bed.id, "state": bed.status}


def _home_adaptation(s: _Start) -> dict[str, Any]:
    case = home_adaptation.apply_for_adaptation(
        s.session, actor=s.actor, elder_id=s.elder.id, source="referral", call_id=s.ref
    )
    return {"case_id": case.id, "state": case.status}


def _gov_purchase(s: _Start) -> dict[str, Any]:
    app = gov_purchase.apply(
        s.session,
        actor=s.actor,
        elder_id=s.elder.id,
        applicant_name=str(s.options.get("applicant_name") or s.elder.name),
        applicant_relation=str(s.options.get("applicant_relation") or "本人"),
        source="call",
        call_id=s.ref,
    )
    notice = app.notices[-1] if app.notices else None
    return {
        "application_id": app.id,
        "state": app.status,
        **({"notice_no": notice.number, "notice_title": notice.title} if notice else {}),
    }


def _social_work(s: _Start) -> dict[str, Any]:
    case = social_work.refer_case(
        s.session,
        actor=s.actor,
        elder_id=s.elder.id,
        reason=str(s.options.get("note") or f"热线来电转介 ({s.actor.name})"),
        source="hotline",
        source_ref=s.ref,
        urgency=str(s.options.get("urgency") or "normal"),
    )
    return {"case_id": case.id, "case_no": case.case_no, "state": case.status}


_STARTERS: dict[str, Starter] = {
    "assessment": _assessment,
    "meal_aid": _meal,
    "care_bed": _care_bed,
    "home_adaptation": _home_adaptation,
    "gov_purchase": _gov_purchase,
    "social_work": _social_work,
}
