"""The device registry's pages (智能设备管理): the region's devices a page at a time, one device
with its history, registration, binding, installation, a fault report, the 48-hour repair
board, return visits due, and retirement. Commands go to ``platform_core.devices.registry``,
which checks the keeper's permission and region again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core.accounts.permissions import Permission
from platform_core.devices import registry
from platform_core.devices.lifecycle import DEVICE_TYPE_LABELS, STATUS_LABELS
from platform_core.devices.return_visits import DEVICE_USE_LABELS, RESULT_LABELS
from platform_core.devices.schemas import DeviceIn
from platform_core.errors import ValidationFailed

bp = Blueprint("devices_registry", __name__)


def _page_number() -> int:
    raw = request.args.get("page", "0")
    return min(int(raw), 100_000) if raw.isascii() and raw.isdigit() else 0


@bp.get("/registry/devices")
@guard(Permission.MANAGE_DEVICES)
def devices_page() -> Any:
    query = registry.DeviceQuery(
        text=request.args.get("q", "")[:64],
        status=request.args.get("status", "")[:20],
        device_type=request.args.get("type", "")[:20],
    )
    with runtime().session() as s:
        rows, total, page, pages = registry.search(
            s,
            actor=current_actor(),
            query=query,
            page=_page_number(),
            per_page=runtime().settings.registry_page_size,
        )
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "registry/devices.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        args=args,
        statuses=STATUS_LABELS,
        types=DEVICE_TYPE_LABELS,
    )


@bp.post("/registry/devices")
@guard(Permission.MANAGE_DEVICES)
def device_register() -> Any:
    form = {
        k: request.form.get(k, "").strip()[:64]
        for k in ("device_type", "serial", "imei", "sim_number", "vendor", "model")
    }
    data = DeviceIn.model_validate({k: v for k, v in form.items() if v})
    with runtime().session() as s:
        device_id = registry.register(s, actor=current_actor(), data=data).id
    return redirect(url_for("devices_registry.device_page", device_id=device_id))


@bp.get("/registry/devices/<int:device_id>")
@guard(Permission.MANAGE_DEVICES)
def device_page(device_id: int) -> Any:
    with runtime().session() as s:
        d = registry.detail(s, actor=current_actor(), device_id=device_id)
    return render_template("registry/device.html", d=d)


@bp.post("/registry/devices/<int:device_id>/<action>")
@guard(Permission.MANAGE_DEVICES)
def device_action(device_id: int, action: str) -> Any:
    actor = current_actor()
    with runtime().session() as s:
        if action == "bind":
            raw = request.form.get("elder_id", "")
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
                raise ValidationFailed(
                    "请填写老人档案号 / give the elder's number", code="invalid_elder"
                )
            registry.bind(s, actor=actor, device_id=device_id, elder_id=int(raw))
        elif action == "install":
            registry.install(s, actor=actor, device_id=device_id)
        elif action == "fault":
            registry.report_fault(
                s, actor=actor, device_id=device_id, fault=request.form.get("fault", "")[:500]
            )
        elif action == "retire":
            registry.retire(
                s, actor=actor, device_id=device_id, reason=request.form.get("reason", "")[:255]
            )
        else:
            raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    return redirect(url_for("devices_registry.device_page", device_id=device_id))


@bp.get("/registry/repairs")
@guard(Permission.MANAGE_DEVICES)
def repair_board() -> Any:
    with runtime().session() as s:
        rows = registry.repair_board(s, actor=current_actor())
    return render_template(
        "registry/repairs.html", rows=rows, hours=runtime().settings.maintenance_onsite_hours
    )


@bp.post("/registry/repairs/<int:ticket_id>/<step>")
@guard(Permission.MANAGE_DEVICES)
def repair_step(ticket_id: int, step: str) -> Any:
    with runtime().session() as s:
        registry.work_ticket(
            s,
            actor=current_actor(),
            ticket_id=ticket_id,
            step=step,
            technician=request.form.get("technician", "")[:64],
            note=request.form.get("note", "")[:500],
            replacement_serial=request.form.get("serial", "")[:64],
        )
    return redirect(url_for("devices_registry.repair_board"))


@bp.get("/registry/visits")
@guard(Permission.MANAGE_DEVICES)
def visits_page() -> Any:
    with runtime().session() as s:
        due = registry.visits_due(s, actor=current_actor())
        devices = registry.elders_devices(s, elder_ids=[v.elder_id for v in due])
        visits = [
            {
                "id": v.id,
                "elder_id": v.elder_id,
                "due_on": v.due_on.isoformat(),
                "devices": devices.get(v.elder_id, []),
            }
            for v in due
        ]
    return render_template(
        "registry/visits.html", visits=visits, results=RESULT_LABELS, uses=DEVICE_USE_LABELS
    )


def _device_uses() -> dict[int, str]:
    """``use-<device id>`` fields of the visit form: how each device in the home is used."""
    uses = {}
    for name, value in request.form.items():
        raw = name.removeprefix("use-")
        if raw != name and raw.isascii() and raw.isdigit() and len(raw) <= 10 and value:
            uses[int(raw)] = value[:20]
    return uses


@bp.post("/registry/visits/<int:visit_id>")
@guard(Permission.MANAGE_DEVICES)
def visit_record(visit_id: int) -> Any:
    with runtime().session() as s:
        registry.record_visit(
            s,
            actor=current_actor(),
            visit_id=visit_id,
            result=request.form.get("result", "")[:20],
            note=request.form.get("note", "")[:1000],
            devices=_device_uses(),
        )
    return redirect(url_for("devices_registry.visits_page"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
