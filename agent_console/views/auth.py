"""Login, logout, language choice and the landing redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import segno
from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for

from agent_console.realtime import SESSION_COOKIE
from agent_console.security import guard
from agent_console.views.common import runtime
from platform_core.accounts import login_steps, second_factor
from platform_core.accounts import service as accounts
from platform_core.accounts.models import LoginSession
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Role
from platform_core.errors import DomainError, ValidationFailed

bp = Blueprint("auth", __name__)
LANG_COOKIE = "hotline_lang"


def home_for(role: str) -> str:
    if role == Role.AUDITOR:
        return url_for("admin.audit_page")
    if role == Role.SECURITY_ADMIN:
        return url_for("admin.users")
    if role == Role.FAMILY:
        return url_for("family.home")
    if allows(role, Permission.PROVIDER_PORTAL):
        return url_for("provider.inbox")
    if role == Role.SITE_MANAGER:
        return url_for("sites.desk_page")
    if role == Role.SOCIAL_WORKER:
        return url_for("casework.page")
    if role == Role.VOLUNTEER:
        return url_for("volunteering.page")
    if allows(role, Permission.TAKE_CALLS) and role == Role.AGENT:
        return url_for("agent.console")
    if allows(role, Permission.VIEW_WALLBOARD) and role != Role.OFFICER:
        return url_for("supervisor.wallboard")
    if allows(role, Permission.VIEW_REPORTS):
        return url_for("reports.page")
    if allows(role, Permission.CARE_CASEWORK):
        return url_for("care_office.home")
    return url_for("auth.no_console")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/login")
@guard(public=True)
def login() -> Any:
    if g.actor is not None:
        return redirect(home_for(g.user["role"]))
    if g.get("pending_step"):
        return redirect(url_for("auth.login_step"))
    notice = g.auth_error.message if g.auth_error is not None else None
    return render_template(
        "login.html", error=None, notice=notice, username="", next=request.args.get("next", "")
    )


@bp.post("/login")
@guard(public=True)
def login_submit() -> Any:
    runtime = current_app.extensions["hotline_runtime"]
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    try:
        with runtime.session() as s:
            granted = accounts.log_in(
                s,
                username=username,
                password=password,
                source_ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""),
                throttle=current_app.extensions["hotline_login_throttle"],
            )
            role = granted.user.role
            pending = s.get(LoginSession, granted.session_id).pending_step  # type: ignore[union-attr]
    except accounts.LoginRefused as err:
        return render_template(
            "login.html",
            error=err.message,
            notice=None,
            username=username,
            next=request.form.get("next", ""),
        ), err.http_status
    target = (
        url_for("auth.login_step")
        if pending
        else _safe_next(request.form.get("next")) or home_for(role)
    )
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE, granted.token, httponly=True, samesite="Lax", secure=request.is_secure
    )
    return response


def _step_page(step: str, **context: Any) -> Any:
    label = login_steps.STEP_LABELS.get(step, "备用码")
    return render_template("login_step.html", step=step, step_label=label, **context)


@bp.get("/login/step")
@guard(public=True)
def login_step() -> Any:
    """What the login still owes: the second factor (enrolment first), or a new password."""
    step = g.get("pending_step")
    if not step:
        return redirect(url_for("auth.login"))
    if step == login_steps.TOTP_ENROLL:
        return _enrol_page(None)
    return _step_page(step, error=None)


def _enrol_page(error: str | None) -> Any:
    with runtime().session() as s:
        enrolment = second_factor.enrolment_for(s, session_id=g.session_id)
    qr = segno.make(enrolment.uri, error="m").svg_data_uri(scale=5)
    secret = " ".join(enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4))
    return _step_page(login_steps.TOTP_ENROLL, qr=qr, secret=secret, error=error)


@bp.post("/login/step")
@guard(public=True)
def login_step_submit() -> Any:
    step = g.get("pending_step")
    if not step:
        return redirect(url_for("auth.login"))
    ip = request.remote_addr
    try:
        with runtime().session() as s:
            if step == login_steps.TOTP_ENROLL:
                codes = second_factor.confirm_enrolment(
                    s, session_id=g.session_id, code=request.form.get("code", "")[:20], source_ip=ip
                )
                return _step_page("recovery_codes", codes=codes, error=None)
            if step == login_steps.TOTP:
                second_factor.verify(
                    s, session_id=g.session_id, code=request.form.get("code", "")[:20], source_ip=ip
                )
            elif step == login_steps.PASSWORD_CHANGE:
                if request.form.get("password", "") != request.form.get("confirm", ""):
                    raise ValidationFailed(
                        "两次输入的密码不一致 / the passwords differ", code="password_mismatch"
                    )
                second_factor.change_password_now(
                    s,
                    session_id=g.session_id,
                    new_password=request.form.get("password", "")[:256],
                    source_ip=ip,
                )
    except DomainError as err:
        if step == login_steps.TOTP_ENROLL:
            return _enrol_page(err.message), err.http_status
        return _step_page(step, error=err.message), err.http_status
    return redirect(url_for("auth.login_step_done"))


@bp.get("/login/done")
@guard(public=True)
def login_step_done() -> Any:
    """After a step: the next one, or the user's home."""
    if g.get("pending_step"):
        return redirect(url_for("auth.login_step"))
    if g.actor is None:
        return redirect(url_for("auth.login"))
    return redirect(home_for(g.user["role"]))


@bp.post("/logout")
@guard(public=True)  # a login that still owes a step may be abandoned too
def logout() -> Any:
    family = (g.get("user") or {}).get("role") == Role.FAMILY
    if g.session_id:
        with runtime().session() as s:
            accounts.log_out(s, session_id=g.session_id, source_ip=request.remote_addr)
        current_app.extensions["hotline_realtime"].close_login(g.session_id)
    response = redirect(url_for("family.login_page" if family else "auth.login"))
    response.delete_cookie(SESSION_COOKIE)
    return response


@bp.post("/lang")
@guard(public=True)
def set_language() -> Any:
    lang = request.form.get("lang", "zh")
    response = redirect(_safe_next(request.form.get("next")) or url_for("auth.index"))
    response.set_cookie(
        LANG_COOKIE, lang if lang in ("zh", "en") else "zh", samesite="Lax", max_age=3600 * 24 * 365
    )
    return response


@bp.get("/")
@guard()
def index() -> Any:
    return redirect(home_for(g.user["role"]))


@bp.get("/no-console")
@guard()
def no_console() -> Any:
    return render_template("no_console.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
