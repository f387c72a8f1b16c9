"""Helpers shared by the blueprints: the runtime, request bodies, note limits, order openings,
a report's period."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import current_app, g, request
from pydantic import BaseModel, ValidationError

from agent_console import i18n
from agent_console.security import audit_refusal, current_actor, require_region
from platform_core import clock
from platform_core.calls import desk
from platform_core.calls import queries as calls
from platform_core.calls.queues import queue_label
from platform_core.elders import service as elders
from platform_core.elders.models import Elder
from platform_core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from platform_core.runtime import Runtime

M = TypeVar("M", bound=BaseModel)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hotline_runtime"]
    return rt


def body(schema: type[M]) -> M:
    """The JSON body as ``schema``; a wrong shape is refused, audited and names the fields."""
    data: Any = request.get_json(silent=True)
    if data is None and request.form:
        data = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        audit_refusal("http.malformed", reason="malformed request", detail={"fields": fields})
        raise ValidationFailed(
            f"请求格式不正确: {', '.join(fields)} / malformed request",
            code="malformed_payload",
            fields=fields,
        ) from None


def check_note(text: str) -> str:
    limit = runtime().settings.note_max_chars
    if len(text) > limit:
        audit_refusal("http.note_too_long", reason="note too long", detail={"length": len(text)})
        raise ValidationFailed(
            f"备注不能超过 {limit} 字 / note longer than {limit} characters",
            code="note_too_long",
            limit=limit,
        )
    return text


class ConsoleBusy(DomainError):
    code = "console_busy"
    http_status = 503


# How long an opening waits for its turn before the agent is told to try again.
ORDER_SLOT_WAIT_S = 30.0


@contextmanager
def order_opening() -> Iterator[None]:
    """One of the few service-order openings this process runs at once.

    An opening is the console's longest unit of work (price, allowance, order, dispatch, audit)
    and takes a second connection for a moment to draw its number. Without a bound, a burst of
    openings can hold every pooled connection and screen pops wait for one; with it, the burst
    queues here and the pool stays free for the pops.
    """
    slots: threading.BoundedSemaphore = current_app.extensions["hotline_order_slots"]
    if not slots.acquire(timeout=ORDER_SLOT_WAIT_S):
        raise ConsoleBusy("系统繁忙, 请稍后重试建单 / too many orders at once, try again shortly")
    try:
        yield
    finally:
        slots.release()


def require_elder_in_region(session: Any, elder_id: int) -> Elder:
    """Refuse (and audit) an elder outside the user's region, or one that does not exist; the
    elder otherwise. A view that goes on with the elder keeps it: the session's identity map
    holds loaded rows only while something refers to them, and the domain's own lookup of the
    same elder then costs no second query."""
    elder = elders.get_elder(session, elder_id=elder_id)
    require_region(elder.region_code, target_type="elder", target_id=elder_id)
    return elder


def require_own_call(session: Any, linkedid: str | None) -> None:
    """An order or a care process names a call only if the call is the user's own: answered at
    their desk (a call that rang there and a colleague answered is the colleague's). A supervisor
    may name any call of their region. Refusals are audited."""
    if not linkedid:
        return
    call = calls.find_call(session, linkedid=linkedid)
    if call is None:
        raise NotFound("通话不存在 / no such call", code="call_not_found")
    interface = (g.get("user") or {}).get("sip_interface")
    if interface and desk.agent_took_call(session, linkedid=linkedid, interface=interface):
        return
    if current_actor().role == "supervisor":
        require_region(call.region_code, target_type="call", target_id=linkedid)
        return
    audit_refusal(
        "http.not_your_call", target_type="call", target_id=linkedid, reason="not own call"
    )
    raise PermissionDenied(
        "该来电不是您接听的, 不能为它建单 / this call was not answered at your desk",
        code="not_your_call",
    )


def queue_name(code: str) -> str:
    """A queue as the user reads it: the English catalogue's name in English, else the name the
    settings give it (HOTLINE_QUEUE_LABELS), never the dialplan's code where a name exists."""
    lang = g.get("lang", i18n.DEFAULT)
    translated = i18n.catalogue(lang).get(f"queue.{code}") if lang != i18n.DEFAULT else None
    return translated or queue_label(runtime().settings, code)


@dataclass(frozen=True)
class DayRange:
    """The days a report asks for (``start`` and ``end`` query arguments, local days,
    both included) and the UTC instants that bound them."""

    start_day: date
    end_day: date
    start: datetime
    end: datetime


def requested_days(*, max_days: int) -> DayRange:
    """The ``start``/``end`` days of the query string (today when absent), refused when they
    are not dates, run backwards or span more than ``max_days``; the reports and the
    supervision dashboards read a period the same way."""
    timezone = runtime().settings.timezone
    today = clock.today(timezone)
    try:
        start_day = date.fromisoformat(request.args.get("start") or today.isoformat())
        end_day = date.fromisoformat(request.args.get("end") or start_day.isoformat())
    except ValueError as exc:
        raise ValidationFailed(
            "日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD", code="invalid_date"
        ) from exc
    if end_day < start_day:
        raise ValidationFailed(
            "结束日期早于开始日期 / the end date is before the start date", code="invalid_range"
        )
    if (end_day - start_day).days > max_days:
        raise ValidationFailed(
            f"一次最多统计 {max_days} 天 / at most {max_days} days at once", code="range_too_long"
        )
    tz = ZoneInfo(timezone)
    start = datetime.combine(start_day, time.min, tz).astimezone(UTC)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tz).astimezone(UTC)
    return DayRange(start_day, end_day, start, end)
