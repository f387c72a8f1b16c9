"""Account administration, the audit review and one's own logins, as pages (Chinese first,
forms with CSRF tokens, no script needed).

- ``/account/sessions``: everyone sees their open logins and ends the others.
- ``/admin/users``: the system and security administrators of a region (``list_users``); each
  action is checked again by the domain (disable, unlock, reset: ``manage_users``; role:
  ``assign_roles``), refused and audited otherwise.
- ``/audit``: the auditor's search, CSV export and chain verification.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts import administration, second_factor
from platform_core.accounts.permissions import Permission
from platform_core.actors import ROLE_LABELS, Role
from platform_core.errors import ValidationFailed
from platform_core.flows import audit_review as review

bp = Blueprint("admin", __name__)
ACTIONS = ("disable", "enable", "unlock", "reset_password", "reset_second_factor")
PAGE = 50


def _close(login_ids: list[str] | str | None) -> None:
    realtime = current_app.extensions["hotline_realtime"]
    for sid in [login_ids] if isinstance(login_ids, str) else (login_ids or []):
        realtime.close_login(sid)


# ---------------------------------------------------------------- one's own logins


@bp.get("/account/sessions")
@guard()
def my_sessions() -> Any:
    actor = current_actor()
    with runtime().session() as s:
        rows = administration.list_logins(s, actor=actor, user_id=actor.user_id or 0)
    return render_template("sessions.html", rows=rows, current=g.session_id[:16], user=None)


@bp.post("/account/sessions/end")
@guard()
def end_my_session() -> Any:
    actor = current_actor()
    prefix = request.form.get("login", "")[:64]
    if g.session_id.startswith(prefix):
        raise ValidationFailed(
            "当前登录请用「退出」/ use log out for this login", code="current_login"
        )
    with runtime().session() as s:
        ended = administration.end_login(
            s, actor=actor, user_id=actor.user_id or 0, login_prefix=prefix
        )
    _close(ended)
    return redirect(url_for("admin.my_sessions"))


# ---------------------------------------------------------------- accounts


@bp.get("/admin/users")
@guard(Permission.LIST_USERS)
def users() -> Any:
    role = request.args.get("role", "")[:20]
    query = request.args.get("q", "")[:64]
    with runtime().session() as s:
        rows = administration.list_accounts(
            s, actor=current_actor(), role=role or None, query=query
        )
    return render_template(
        "admin_users.html", rows=rows, role=role, q=query, roles=ROLE_LABELS, shown=None
    )


@bp.post("/admin/users/<int:user_id>/<action>")
@guard(Permission.LIST_USERS)
def user_action(user_id: int, action: str) -> Any:
    if action not in ACTIONS:
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    actor = current_actor()
    shown = None
    with runtime().session() as s:
        if action in ("disable", "enable"):
            _close(
                administration.set_active(
                    s, actor=actor, user_id=user_id, active=action == "enable"
                )
            )
        elif action == "unlock":
            administration.unlock(s, actor=actor, user_id=user_id)
        elif action == "reset_password":
            reset = administration.reset_password(s, actor=actor, user_id=user_id)
            _close(reset.ended_sessions)
            shown = {"user_id": user_id, "password": reset.temporary_password}
        else:
            second_factor.reset(s, actor=actor, user_id=user_id)
        rows = administration.list_accounts(s, actor=actor)
    if shown is None:
        return redirect(url_for("admin.users"))
    response = Response(
        render_template(
            "admin_users.html", rows=rows, role="", q="", roles=ROLE_LABELS, shown=shown
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/admin/users/<int:user_id>/role")
@guard(Permission.LIST_USERS)
def change_role(user_id: int) -> Any:
    role = request.form.get("role", "")[:20]
    if role not in {r.value for r in Role}:
        raise ValidationFailed("未知角色 / unknown role", code="invalid_role")
    with runtime().session() as s:
        _close(administration.change_role(s, actor=current_actor(), user_id=user_id, role=role))
    return redirect(url_for("admin.users"))


@bp.get("/admin/users/<int:user_id>/sessions")
@guard(Permission.END_SESSIONS)
def user_sessions(user_id: int) -> Any:
    with runtime().session() as s:
        rows = administration.list_logins(s, actor=current_actor(), user_id=user_id)
    return render_template("sessions.html", rows=rows, current=g.session_id[:16], user=user_id)


@bp.post("/admin/users/<int:user_id>/sessions/end")
@guard(Permission.END_SESSIONS)
def end_user_session(user_id: int) -> Any:
    with runtime().session() as s:
        ended = administration.end_login(
            s,
            actor=current_actor(),
            user_id=user_id,
            login_prefix=request.form.get("login", "")[:64],
        )
    _close(ended)
    return redirect(url_for("admin.user_sessions", user_id=user_id))


# ---------------------------------------------------------------- audit review


def _day(name: str) -> date | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValidationFailed(
            f"日期格式应为 YYYY-MM-DD: {raw[:10]} / bad date", code="invalid_date"
        ) from None


def _audit_query() -> review.AuditQuery:
    elder = request.args.get("elder", "")
    if elder and not (elder.isascii() and elder.isdigit() and len(elder) <= 10):
        raise ValidationFailed("老人编号应为数字 / elder id is a number", code="invalid_elder")
    since, until = _day("from"), _day("to")
    tz = runtime().settings.timezone
    return review.AuditQuery(
        person=request.args.get("person", "")[:64],
        elder_id=int(elder) if elder else None,
        action=request.args.get("action", "")[:60],
        start=clock.start_of_day(since, tz) if since else None,
        end=clock.start_of_day(until, tz) if until else None,
        result=request.args.get("result", "")
        if request.args.get("result") in ("ok", "denied", "failed")
        else "",
    )


@bp.get("/audit")
@guard(Permission.VIEW_AUDIT)
def audit_page() -> Any:
    query = _audit_query()
    page = max(
        0,
        min(
            int(request.args.get("page", "0")) if request.args.get("page", "0").isdigit() else 0,
            10_000,
        ),
    )
    tz = runtime().settings.timezone
    with runtime().session() as s:
        rows, total = review.search(
            s, actor=current_actor(), query=query, limit=PAGE, offset=page * PAGE
        )
        table = [review.row_of(r, tz) for r in rows]
    return render_template(
        "audit.html",
        rows=table,
        total=total,
        page=page,
        pages=(total + PAGE - 1) // PAGE,
        args=request.args,
        columns=review.COLUMNS,
        report=None,
    )


@bp.get("/audit/export.csv")
@guard(Permission.VIEW_AUDIT)
def audit_export() -> Any:
    with runtime().session() as s:
        data = review.export_csv(
            s, actor=current_actor(), query=_audit_query(), tz=runtime().settings.timezone
        )
    response = Response(data, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = "attachment; filename=audit.csv"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/audit/verify")
@guard(Permission.VIEW_AUDIT)
def audit_verify() -> Any:
    with runtime().session() as s:
        report = review.verify(s, actor=current_actor())
    return render_template(
        "audit.html",
        rows=[],
        total=0,
        page=0,
        pages=0,
        args={},
        columns=review.COLUMNS,
        report=report,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
