"""The alarm panel: SOS, fall and sensor alarms offered to agents with their own clock, the
escalation ladder one button per step, and the outcome that closes each alarm.

Guarded, CSRF-protected and audited like the rest of the console. Who is offered which alarm is
decided by the alarm queue (platform_core.alarms.queue), routed by this process's
:class:`~platform_core.alarms.router.AlarmRouter`: the relay wakes it when an alarm is raised,
taken or closed and when a desk becomes ready, and hands each reservation to the desk it names
(``alarm_offered``, ``alarm_offer_ended``); everybody in the region sees the list change, and
supervisors are told when a reservation lapses. Taking an alarm and dialling the ladder's
numbers are :mod:`platform_core.flows.alarm_calls` (the desk paused in the voice queues, the
device rung back, each dial an attempt recorded as a step).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, g, jsonify, render_template, request
from pydantic import Field

from agent_console import i18n
from agent_console.realtime import AGENT_NS, SUPERVISOR_NS, Realtime
from agent_console.security import current_actor, guard, require_region
from agent_console.views.common import body, check_note, runtime
from agent_console.views.schemas import Strict
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.alarms import kpi as alarm_kpi
from platform_core.alarms import panel, queue, service
from platform_core.alarms.router import AlarmRouter
from platform_core.alarms.vocabulary import (
    EMERGENCY_NUMBERS,
    Outcome,
    Step,
)
from platform_core.errors import ValidationFailed
from platform_core.flows import alarm_calls

log = logging.getLogger(__name__)
bp = Blueprint("alarms", __name__)
_MESSAGES = Path(__file__).resolve().parents[1] / "templates" / "alarms"
# the ladder steps an agent records by hand (taking, dispatching and SMS have their own buttons)
MANUAL_STEPS = tuple(
    s.value
    for s in Step
    if s not in (Step.TAKE, Step.TRANSFER, Step.DISPATCH_PROVIDER, Step.NOTIFY_FAMILY)
)
DIALLED_STEPS = (
    Step.TALK_TO_ELDER,
    Step.CALL_LANDLINE,
    Step.CALL_CONTACT,
    *EMERGENCY_NUMBERS,
)


class TakeIn(Strict):
    take_over: bool = False
    call_back: bool = True


class DialIn(Strict):
    step: str = Field(
        pattern=r"^(talk_to_elder|call_landline|call_contact|call_120|call_110|call_119)$"
    )
    contact_id: int | None = Field(default=None, ge=1)


class StepIn(Strict):
    step: str = Field(min_length=1, max_length=20)
    result: str = Field(default="done", pattern=r"^(reached|no_answer|busy|failed|done)$")
    contact_id: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=100_000)


class NoteIn(Strict):
    note: str = Field(default="", max_length=100_000)


class CloseIn(Strict):
    outcome: str = Field(min_length=1, max_length=20)
    note: str = Field(default="", max_length=100_000)


class WiderIn(Strict):
    provider_id: int = Field(ge=1)


class AssignIn(Strict):
    user_id: int = Field(ge=1)


class RevealIn(Strict):
    field: str = Field(pattern=r"^(health|contact_phone)$")
    contact_id: int | None = Field(default=None, ge=1)


@cache
def messages(lang: str) -> dict[str, str]:
    """The panel's own message catalogue, laid over the console's."""
    name = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
    own: dict[str, str] = json.loads((_MESSAGES / f"{name}.json").read_text(encoding="utf-8"))
    return {**i18n.catalogue(name), **own}


@bp.context_processor
def panel_messages() -> dict[str, Any]:
    lang = g.get("lang", i18n.DEFAULT)
    catalogue = messages(lang)

    def t(key: str, **values: Any) -> str:
        text = catalogue.get(key) or messages(i18n.DEFAULT).get(key) or key
        return text.format(**values) if values else text

    return {"t": t, "catalogue": catalogue}


def _alarm_in_region(s: Any, alarm_id: int) -> Any:
    alarm = service.get_alarm(s, alarm_id=alarm_id)
    require_region(alarm.region_code, target_type="alarm", target_id=alarm_id)
    return alarm


def _interface() -> str | None:
    interface = g.user.get("sip_interface")
    return str(interface) if interface else None


# --- pages and reads ---------------------------------------------------------------------------


@bp.get("/alarms")
@guard(Permission.TAKE_CALLS)
def page() -> Any:
    return render_template(
        "alarms/panel.html", manual_steps=MANUAL_STEPS, outcomes=[o.value for o in Outcome]
    )


@bp.get("/api/alarms")
@guard(Permission.TAKE_CALLS)
def open_alarms() -> Any:
    actor = current_actor()
    with runtime().session() as s:
        return jsonify(panel.open_alarms(s, region_code=actor.region_code))


@bp.get("/api/alarms/<int:alarm_id>")
@guard(Permission.VIEW_ELDER)
def detail(alarm_id: int) -> Any:
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        return jsonify(
            {
                "alarm": panel.alarm_detail(
                    s, alarm_id=alarm_id, actor=current_actor(), source_ip=request.remote_addr
                )
            }
        )


@bp.get("/api/alarms/kpi")
@guard(Permission.VIEW_REPORTS)
def kpi() -> Any:
    """Alarm KPIs of the user's region for a day range (default today), beside the call KPIs."""
    tz = runtime().settings.timezone
    today = clock.today(tz)
    try:
        first = datetime.fromisoformat(request.args.get("start") or today.isoformat()).date()
        last = datetime.fromisoformat(request.args.get("end") or first.isoformat()).date()
    except ValueError:
        raise ValidationFailed(
            "日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD", code="invalid_date"
        ) from None
    if last < first or (last - first).days > 366:
        raise ValidationFailed("日期范围无效 / invalid date range", code="invalid_range")
    start, _ = clock.day_bounds(first, tz)
    _, end = clock.day_bounds(last, tz)
    with runtime().session() as s:
        return jsonify(
            alarm_kpi.kpi(s, start=start, end=end, region_code=current_actor().region_code)
        )


# --- commands ------------------------------------------------------------------------------------


@bp.post("/api/alarms/<int:alarm_id>/take")
@guard(Permission.TAKE_CALLS)
def take(alarm_id: int) -> Any:
    data = body(TakeIn)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
    taken = alarm_calls.take_alarm_at_desk(
        runtime(),
        alarm_id=alarm_id,
        actor=current_actor(),
        interface=_interface(),
        take_over=data.take_over,
        call_back=data.call_back,
    )
    out: dict[str, Any] = {
        "ok": True,
        "alarm_id": alarm_id,
        "waited_s": taken.waited_s,
        "paused": taken.paused,
    }
    if taken.call_back is not None:
        out["call_back"] = taken.call_back
    return jsonify(out)


@bp.post("/api/alarms/<int:alarm_id>/dial")
@guard(Permission.TAKE_CALLS)
def dial(alarm_id: int) -> Any:
    data = body(DialIn)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
    return jsonify(
        alarm_calls.dial_for_alarm(
            runtime(),
            alarm_id=alarm_id,
            step=Step(data.step),
            actor=current_actor(),
            interface=_interface(),
            contact_id=data.contact_id,
        )
    )


@bp.post("/api/alarms/<int:alarm_id>/steps")
@guard(Permission.TAKE_CALLS)
def record_step(alarm_id: int) -> Any:
    data = body(StepIn)
    check_note(data.note)
    if data.step not in MANUAL_STEPS:
        raise ValidationFailed(
            "不能手工记录此步骤 / this step has its own button", code="invalid_step"
        )
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        row = service.record_step(
            s,
            alarm_id=alarm_id,
            step=data.step,
            result=data.result,
            contact_id=data.contact_id,
            note=data.note,
            actor=current_actor(),
        )
        return jsonify({"ok": True, "seq": row.seq})


@bp.post("/api/alarms/<int:alarm_id>/dispatch")
@guard(Permission.OPEN_ORDER)
def dispatch(alarm_id: int) -> Any:
    data = body(NoteIn)
    check_note(data.note)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        row = service.dispatch_provider(
            s, alarm_id=alarm_id, actor=current_actor(), notes=data.note
        )
        return jsonify({"ok": True, "order_id": row.order_id, "detail": row.detail}), 201


@bp.post("/api/alarms/<int:alarm_id>/dispatch-wider")
@guard(Permission.OPEN_ORDER)
def dispatch_wider(alarm_id: int) -> Any:
    """The decision of an emergency order nobody within reach took: send it to this provider."""
    data = body(WiderIn)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        row = service.dispatch_wider(
            s, alarm_id=alarm_id, provider_id=data.provider_id, actor=current_actor()
        )
        return jsonify({"ok": True, "order_id": row.order_id, "detail": row.detail})


@bp.get("/api/alarms/dispatch-board")
@guard(Permission.VIEW_WALLBOARD)
def dispatch_board() -> Any:
    """Alarms whose emergency order waits for a person's decision."""
    with runtime().session() as s:
        return jsonify({"alarms": panel.dispatch_board(s, region_code=current_actor().region_code)})


@bp.post("/api/alarms/<int:alarm_id>/notify-family")
@guard(Permission.TAKE_CALLS)
def notify_family(alarm_id: int) -> Any:
    data = body(NoteIn)
    check_note(data.note)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        notices = service.notify_family(s, alarm_id=alarm_id, actor=current_actor(), note=data.note)
        return jsonify({"ok": True, "sent": len(notices)})


@bp.post("/api/alarms/<int:alarm_id>/close")
@guard(Permission.TAKE_CALLS)
def close(alarm_id: int) -> Any:
    data = body(CloseIn)
    check_note(data.note)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        alarm = service.close_alarm(
            s, alarm_id=alarm_id, outcome=data.outcome, note=data.note, actor=current_actor()
        )
        return jsonify({"ok": True, "outcome": alarm.outcome})


@bp.post("/api/alarms/<int:alarm_id>/assign")
@guard(Permission.ASSIGN_ALARMS)
def assign(alarm_id: int) -> Any:
    """A supervisor reserves a waiting alarm for the agent they choose."""
    data = body(AssignIn)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        offer = queue.assign(s, alarm_id=alarm_id, user_id=data.user_id, actor=current_actor())
        out = {"ok": True, "offer_id": offer.id, "agent": offer.agent_name}
    _router().wake()  # the desk's pause, and the release of the one it was taken from
    return jsonify(out)


@bp.get("/api/alarms/queue")
@guard(Permission.VIEW_WALLBOARD)
def waiting() -> Any:
    """Every waiting alarm of the region with its age and reservation, and the desks."""
    with runtime().session() as s:
        return jsonify(queue.waiting_board(s, region_code=current_actor().region_code))


@bp.post("/api/alarms/<int:alarm_id>/reveal")
@guard(Permission.REVEAL_PERSONAL)
def reveal(alarm_id: int) -> Any:
    """Medical notes or a contact's number in clear: a deliberate click, audited."""
    data = body(RevealIn)
    with runtime().session() as s:
        _alarm_in_region(s, alarm_id)
        value = panel.reveal(
            s,
            alarm_id=alarm_id,
            field=data.field,
            contact_id=data.contact_id,
            actor=current_actor(),
            source_ip=request.remote_addr,
        )
    return jsonify({"field": data.field, "value": value})


# --- the relay -------------------------------------------------------------------------------------


def _router() -> AlarmRouter:
    from flask import current_app

    router: AlarmRouter = current_app.extensions["hotline_alarm_router"]
    return router


def _relay_handlers(realtime: Realtime, router: AlarmRouter) -> None:
    def to_region(event: str, env: dict[str, Any]) -> None:
        realtime.emit_to_region(event, env, namespace=AGENT_NS)
        realtime.tell_supervisors(env)

    def changed(env: dict[str, Any]) -> None:
        router.wake()
        to_region("alarm_changed", env)

    def offered(env: dict[str, Any]) -> None:
        to = f"user:{env['data']['user_id']}"
        realtime.emit_local("alarm_offered", env, namespace=AGENT_NS, to=to)
        to_region("alarm_changed", env)

    def offer_ended(env: dict[str, Any]) -> None:
        data = env["data"]
        realtime.emit_local(
            "alarm_offer_ended", env, namespace=AGENT_NS, to=f"user:{data['user_id']}"
        )
        if data.get("outcome") == queue.LAPSED:
            realtime.emit_to_region("alarm_escalated", env, namespace=SUPERVISOR_NS)
        changed(env)

    def timer(env: dict[str, Any]) -> None:
        data = env["data"]
        if data.get("level") == "agent" and data.get("handler_user_id"):
            realtime.emit_local(
                "alarm_prompt", env, namespace=AGENT_NS, to=f"user:{data['handler_user_id']}"
            )
        else:
            realtime.emit_to_region("alarm_prompt", env, namespace=SUPERVISOR_NS)
            realtime.emit_to_region("alarm_prompt", env, namespace=AGENT_NS)
        to_region("alarm_changed", env)

    def dispatch_decision(env: dict[str, Any]) -> None:
        data = env["data"]
        realtime.emit_to_region("alarm_dispatch_decision", env, namespace=SUPERVISOR_NS)
        if data.get("handler_user_id"):
            realtime.emit_local(
                "alarm_dispatch_decision",
                env,
                namespace=AGENT_NS,
                to=f"user:{data['handler_user_id']}",
            )
        to_region("alarm_changed", env)

    def desk_state(env: dict[str, Any]) -> None:
        if env["data"].get("state") == "ready":
            router.wake()  # a desk is free: the oldest waiting alarm is offered to it now

    realtime.on_domain_event("AlarmOffered", offered)
    realtime.on_domain_event("AlarmOfferEnded", offer_ended)
    realtime.on_domain_event("AlarmTimerExpired", timer)
    realtime.on_domain_event("AgentStateChanged", desk_state)
    realtime.on_domain_event("AlarmDispatchNeedsDecision", dispatch_decision)
    for name in ("AlarmRaised", "AlarmTaken", "AlarmClosed"):
        realtime.on_domain_event(name, changed)
    for name in ("AlarmRepeated", "AlarmRestored", "AlarmStepRecorded"):
        realtime.on_domain_event(name, lambda env: to_region("alarm_changed", env))
    for name in ("MaintenanceTicketOpened", "MaintenanceTicketOverdue", "DeviceStatusChanged"):
        realtime.on_domain_event(name, realtime.tell_supervisors)


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    router = AlarmRouter(realtime.runtime)
    app.extensions["hotline_alarm_router"] = router
    realtime.add_companion(router.start, router.stop)
    _relay_handlers(realtime, router)
