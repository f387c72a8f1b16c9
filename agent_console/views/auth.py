"""Login, logout, language choice and the landing redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for

from agent_console.realtime import SESSION_COOKIE
from agent_console.security import guard
from platform_core.accounts import service as accounts
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Role

bp = Blueprint("auth", __name__)
LANG_COOKIE = "hotline_lang"


def home_for(role: str) -> str:
    if allows(role, Permission.PROVIDER_PORTAL):
        return url_for("provider.inbox")
    if allows(role, Permission.TAKE_CALLS) and role == Role.AGENT:
        return url_for("agent.console")
    if allows(role, Permission.VIEW_WALLBOARD) and role != Role.OFFICER:
        return url_for("supervisor.wallboard")
    if allows(role, Permission.VIEW_REPORTS):
        return url_for("reports.page")
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
            )
            role = granted.user.role
    except accounts.LoginRefused as err:
        return render_template(
            "login.html",
            error=err.message,
            notice=None,
            username=username,
            next=request.form.get("next", ""),
        ), 401
    response = redirect(_safe_next(request.form.get("next")) or home_for(role))
    response.set_cookie(
        SESSION_COOKIE, granted.token, httponly=True, samesite="Lax", secure=request.is_secure
    )
    return response


@bp.post("/logout")
@guard()
def logout() -> Any:
    runtime = current_app.extensions["hotline_runtime"]
    with runtime.session() as s:
        accounts.log_out(s, session_id=g.session_id, source_ip=request.remote_addr)
    current_app.extensions["hotline_realtime"].close_login(g.session_id)
    response = redirect(url_for("auth.login"))
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
