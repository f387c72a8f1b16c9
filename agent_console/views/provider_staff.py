"""A provider's practitioners (从业人员), kept by the provider's administrator: each person with
their sealed ID number (revealed with an audit record), skills, qualifications and certificates
with expiry, training records, their own login on the portal (a temporary password shown once)
and deactivation, which ends that login at once.

Commands go to ``platform_core.providers.service`` and ``platform_core.flows.staff_accounts``,
which check again that the person belongs to the administrator's provider and audit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core.accounts.permissions import Permission
from platform_core.catalogue import service as catalogue
from platform_core.errors import PermissionDenied, ValidationFailed
from platform_core.flows import staff_accounts
from platform_core.providers import service as providers

bp = Blueprint("provider_staff", __name__)
_QUALIFICATION_FIELDS = ("name", "level", "number", "issuer", "valid_from", "valid_until")


def _own_provider_id() -> int:
    actor = current_actor()
    if actor.provider_id is None:
        raise PermissionDenied("不是服务商账号 / not a provider account", code="not_a_provider")
    return actor.provider_id


def _close(login_ids: list[str]) -> None:
    realtime = current_app.extensions["hotline_realtime"]
    for sid in login_ids:
        realtime.close_login(sid)


def _qualification_form() -> dict[str, str]:
    return {k: request.form.get(f"q_{k}", "").strip()[:100] for k in _QUALIFICATION_FIELDS}


def _service_names(s: Any, codes: list[str]) -> dict[str, str]:
    return {c: catalogue.get_service_type(s, code=c).name for c in codes}


@bp.get("/provider/staff")
@guard(Permission.PROVIDER_ADMIN)
def staff_page() -> Any:
    provider_id = _own_provider_id()
    with runtime().session() as s:
        rows = staff_accounts.roster(s, actor=current_actor(), provider_id=provider_id)
        provider = providers.get_provider(s, provider_id=provider_id)
        services = _service_names(s, provider.service_type_codes)
    return render_template("provider/staff.html", rows=rows, services=services)


@bp.post("/provider/staff")
@guard(Permission.PROVIDER_ADMIN)
def staff_add() -> Any:
    quals = _qualification_form()
    with runtime().session() as s:
        staff_id = providers.add_staff(
            s,
            actor=current_actor(),
            provider_id=_own_provider_id(),
            name=request.form.get("name", "")[:64],
            phone=request.form.get("phone", "")[:20],
            id_number=request.form.get("id_number", "")[:20],
            skills=[c[:40] for c in request.form.getlist("skills")[:40]],
            qualifications=[quals] if quals["name"] else [],
        ).id
    return redirect(url_for("provider_staff.staff_card", staff_id=staff_id))


def _card_page(staff_id: int, **extra: Any) -> Any:
    with runtime().session() as s:
        data = staff_accounts.card(s, actor=current_actor(), staff_id=staff_id)
        services = _service_names(s, data["offered"])
    return render_template("provider/staff_card.html", p=data, services=services, **extra)


@bp.get("/provider/staff/<int:staff_id>")
@guard(Permission.PROVIDER_ADMIN)
def staff_card(staff_id: int) -> Any:
    return _card_page(staff_id)


@bp.post("/provider/staff/<int:staff_id>/<action>")
@guard(Permission.PROVIDER_ADMIN)
def staff_action(staff_id: int, action: str) -> Any:
    """One step on a practitioner; opening a login or resetting its password answers with the
    temporary password on the page (shown once, never in a URL)."""
    actor = current_actor()
    shown: dict[str, Any] = {}
    with runtime().session() as s:
        if action == "edit":
            providers.update_staff(
                s,
                actor=actor,
                staff_id=staff_id,
                phone=request.form.get("phone", "").strip()[:20] or None,
                skills=[c[:40] for c in request.form.getlist("skills")[:40]],
            )
        elif action == "qualifications":
            providers.add_qualification(
                s, actor=actor, staff_id=staff_id, fields=_qualification_form()
            )
        elif action == "trainings":
            raw_hours = request.form.get("hours", "").strip()[:6]
            try:
                hours = float(raw_hours)
            except ValueError:
                raise ValidationFailed(
                    "学时须为数字 / hours must be a number", code="invalid_training"
                ) from None
            providers.add_training(
                s,
                actor=actor,
                staff_id=staff_id,
                course=request.form.get("course", "")[:100],
                hours=hours,
                completed_on=request.form.get("completed_on", "")[:10],
                organiser=request.form.get("organiser", "")[:100],
                certificate_no=request.form.get("certificate_no", "")[:60],
            )
        elif action == "login":
            opened = staff_accounts.open_login(
                s, actor=actor, staff_id=staff_id, username=request.form.get("username", "")[:64]
            )
            shown = {"temporary": opened.temporary_password, "username": opened.username}
        elif action == "reset":
            reset = staff_accounts.reset_password(s, actor=actor, staff_id=staff_id)
            shown = {"temporary": reset.temporary_password, "username": reset.username}
            _close(reset.ended_sessions)
        elif action == "deactivate":
            _close(
                staff_accounts.deactivate_staff(
                    s, actor=actor, staff_id=staff_id, reason=request.form.get("reason", "")[:255]
                )
            )
        elif action == "reactivate":
            staff_accounts.reactivate_staff(s, actor=actor, staff_id=staff_id)
        elif action == "reveal":
            shown = {
                "id_number": providers.reveal_staff_id_number(
                    s, actor=actor, staff_id=staff_id, reason=request.form.get("reason", "")[:100]
                )
            }
        else:
            raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    if shown:
        return _card_page(staff_id, shown=shown)
    return redirect(url_for("provider_staff.staff_card", staff_id=staff_id))


@bp.post("/provider/staff/qualifications/<int:qualification_id>/remove")
@guard(Permission.PROVIDER_ADMIN)
def qualification_remove(qualification_id: int) -> Any:
    with runtime().session() as s:
        staff_id = providers.remove_qualification(
            s, actor=current_actor(), qualification_id=qualification_id
        ).id
    return redirect(url_for("provider_staff.staff_card", staff_id=staff_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
