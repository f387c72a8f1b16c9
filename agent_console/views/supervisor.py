"""The supervisor's wallboard (live queues, agents and today's KPIs) and call monitoring."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template

from agent_console.realtime import SUPERVISOR_NS, Connection, Realtime
from agent_console.security import current_actor, guard, require_region
from agent_console.views.common import body, queue_name, runtime
from agent_console.views.schemas import MonitorIn, SnapshotIn
from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.accounts.permissions import Permission
from platform_core.actors import Actor
from platform_core.alarms import kpi as alarm_kpi
from platform_core.alarms import panel as alarm_panel
from platform_core.alarms import queue as alarm_queue
from platform_core.calls import desk
from platform_core.calls import queries as calls
from platform_core.chats import kpi as chat_kpi
from platform_core.chats import queue as chat_queue
from platform_core.db import utcnow
from platform_core.errors import Conflict, NotFound
from platform_core.orders.summaries import latest_moves
from platform_core.telephony.commands import TelephonyClient

log = logging.getLogger(__name__)
bp = Blueprint("supervisor", __name__)


def _level(
    value: float | None, *, green_at: float, amber_at: float, higher_is_better: bool = True
) -> str:
    """Green at or beyond the target, amber up to the amber bound, red past it; for a figure
    where lower is better (ASA, abandon rate) the bounds are ceilings."""
    if value is None:
        return "none"
    if not higher_is_better:
        value, green_at, amber_at = -value, -green_at, -amber_at
    if value >= green_at:
        return "green"
    return "amber" if value >= amber_at else "red"


def _kpi_levels(kpis: dict[str, Any], settings: Any) -> dict[str, str]:
    """Each tile's level against its target (HOTLINE_*_TARGET and _AMBER)."""
    return {
        "answer_rate": _level(
            kpis.get("answer_rate"),
            green_at=settings.answer_rate_target,
            amber_at=settings.answer_rate_amber,
        ),
        "service_level": _level(
            kpis.get("service_level"),
            green_at=settings.service_level_target,
            amber_at=settings.service_level_amber,
        ),
        "asa": _level(
            kpis.get("asa_s"),
            green_at=settings.asa_target_s,
            amber_at=settings.asa_amber_s,
            higher_is_better=False,
        ),
        "abandon_rate": _level(
            kpis.get("abandon_rate"),
            green_at=settings.abandon_rate_target,
            amber_at=settings.abandon_rate_amber,
            higher_is_better=False,
        ),
    }


def wallboard_snapshot(actor: Actor) -> dict[str, Any]:
    """Live queues, agents and today's KPIs in the user's region, with traffic-light levels."""
    settings = runtime().settings
    with runtime().session() as s:
        live = calls.live_snapshot(s, region_code=actor.region_code)
    queues = []
    alerts = []
    for q in live.get("queues", []):
        wait = float(q.get("longest_wait_s") or 0)
        level = (
            "green"
            if wait < settings.wait_amber_s
            else "amber"
            if wait <= settings.wait_alert_s
            else "red"
        )
        queues.append(
            {
                "queue": q["queue"],
                "label": queue_name(q["queue"]),
                "waiting_count": q.get("waiting_count", 0),
                "longest_wait_s": wait,
                "waiting": q.get("waiting", []),
                "agents": q.get("agents", {}),
                "level": level,
            }
        )
        if wait > settings.wait_alert_s:
            alerts.append(
                {"queue": q["queue"], "label": queue_name(q["queue"]), "longest_wait_s": wait}
            )
    kpis = dict(live.get("kpi") or {})
    levels = _kpi_levels(kpis, settings)
    return {
        "orders": _latest_orders(actor),
        "alarm_kpi": _alarm_kpi_today(actor),
        "chat_kpi": _chat_kpi_today(actor),
        "chat_queue": _chat_queue(actor),
        "alarm_queue": _alarm_queue(actor),
        "server_time": utcnow().isoformat(),
        "queues": queues,
        "agents": live.get("agents", []),
        "kpis": kpis,
        "open_recalls": live.get("open_recalls", 0),
        "answer_rate_level": levels["answer_rate"],
        "levels": levels,
        "alerts": alerts,
        "thresholds": {
            "answer_rate_target": settings.answer_rate_target,
            "answer_rate_amber": settings.answer_rate_amber,
            "service_level_target": settings.service_level_target,
            "asa_target_s": settings.asa_target_s,
            "abandon_rate_target": settings.abandon_rate_target,
            "wait_amber_s": settings.wait_amber_s,
            "wait_alert_s": settings.wait_alert_s,
            "service_level_s": settings.service_level_s,
        },
    }


def _alarm_queue(actor: Actor) -> dict[str, Any] | None:
    """Every waiting alarm with its age, whom it is offered to, and the desks to assign it to;
    and the dispatch board: alarms whose emergency order waits for a person's decision."""
    try:
        with runtime().session() as s:
            board = alarm_queue.waiting_board(s, region_code=actor.region_code)
            board["dispatch"] = alarm_panel.dispatch_board(s, region_code=actor.region_code)
            return board
    except Exception:
        log.exception("读取待接告警失败 / reading the alarm queue failed")
        return None


def _latest_orders(actor: Actor) -> list[dict[str, Any]] | None:
    """The region's orders that moved last (each step then arrives as it happens)."""
    try:
        with runtime().session() as s:
            return latest_moves(s, region_code=actor.region_code)
    except Exception:
        log.exception("读取工单动态失败 / reading the latest orders failed")
        return None


def _alarm_kpi_today(actor: Actor) -> dict[str, Any] | None:
    """Today's alarm KPIs beside the call KPIs; the wallboard stays up if they cannot be read."""
    tz = runtime().settings.timezone
    start = clock.start_of_day(clock.today(tz), tz)
    try:
        with runtime().session() as s:
            return alarm_kpi.kpi(
                s, start=start, end=start + timedelta(days=1), region_code=actor.region_code
            )
    except Exception:
        log.exception("读取告警指标失败 / reading the alarm KPIs failed")
        return None


def _chat_queue(actor: Actor) -> list[dict[str, Any]] | None:
    """The region's waiting online conversations with their age and reservation."""
    try:
        with runtime().session() as s:
            return chat_queue.waiting_board(s, region_code=actor.region_code)
    except Exception:
        log.exception("读取待接咨询失败 / reading the chat queue failed")
        return None


def _chat_kpi_today(actor: Actor) -> dict[str, Any] | None:
    """Today's online conversations, their own channel beside calls and alarms."""
    tz = runtime().settings.timezone
    start = clock.start_of_day(clock.today(tz), tz)
    try:
        with runtime().session() as s:
            return chat_kpi.kpi(
                s, start=start, end=start + timedelta(days=1), region_code=actor.region_code
            )
    except Exception:
        log.exception("读取在线咨询指标失败 / reading the chat KPIs failed")
        return None


@bp.get("/wallboard")
@guard(Permission.VIEW_WALLBOARD)
def wallboard() -> Any:
    from flask import g

    from agent_console.views.alarms import messages as alarm_messages

    # the alarm panel's words too: the waiting alarms are named on the wallboard
    return render_template("wallboard.html", catalogue=alarm_messages(g.get("lang", "zh")))


@bp.get("/api/wallboard")
@guard(Permission.VIEW_WALLBOARD)
def wallboard_data() -> Any:
    return jsonify(wallboard_snapshot(current_actor()))


@bp.post("/api/monitor")
@guard(Permission.MONITOR_CALLS)
def monitor() -> Any:
    """Listen to, whisper to or barge into an agent's call in the supervisor's region."""
    data = body(MonitorIn)
    actor = current_actor()
    with runtime().session() as s:
        agent = accounts.find_user_by_interface(s, data.agent_interface)
        if agent is None:
            raise NotFound(
                "没有使用该分机的坐席 / no agent on that extension", code="agent_not_found"
            )
        require_region(agent.region_code, target_type="agent", target_id=data.agent_interface)
        call = desk.desk_call(s, interface=data.agent_interface)
        if call is None or call["status"] != "on_call":
            raise Conflict(
                "该坐席当前没有通话, 无法监听 / that agent is not on a call",
                code="agent_not_on_call",
            )
        me = accounts.get_user(s, actor.user_id or 0)
    if not me.sip_interface:
        raise NotFound(
            "值班主管账号未绑定分机 / your account has no extension", code="no_interface"
        )
    supervisor = me.sip_interface
    client = TelephonyClient(runtime())
    spy = {"listen": client.listen, "whisper": client.whisper, "barge": client.barge}[data.mode]
    result = spy(supervisor_interface=supervisor, agent_interface=data.agent_interface, actor=actor)
    return jsonify({"ok": bool(result.ok), "mode": data.mode, "message": result.message})


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)

    def snapshot(conn: Connection) -> dict[str, Any]:
        return wallboard_snapshot(conn.actor)

    realtime.set_snapshot(SUPERVISOR_NS, snapshot)

    @realtime.on(SUPERVISOR_NS, "snapshot", Permission.VIEW_WALLBOARD, SnapshotIn)
    def socket_snapshot(conn: Connection, _payload: SnapshotIn) -> dict[str, Any]:
        return {"snapshot": wallboard_snapshot(conn.actor)}
