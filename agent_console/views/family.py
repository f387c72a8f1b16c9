"""The family (用户端): a family member's own phone pages (log in with the mobile, accept an
invitation, the elders they follow: orders, alarms, devices, rating a service) and the
hotline's page that invites family members of an elder and ends their access.

Commands go to ``platform_core.family.service`` and ``platform_core.flows.family_portal``,
which check the link to the elder (or the inviter's role and region) again and audit.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from agent_console.realtime import SESSION_COOKIE
from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core.accounts import service as accounts
from platform_core.accounts.models import LoginSession
from platform_core.accounts.permissions import Permission
from platform_core.actors import Role
from platform_core.errors import DomainError, ValidationFailed
from platform_core.family import service as family
from platform_core.flows import family_portal

bp = Blueprint("family", __name__)


def _logged_in(granted: accounts.LoginGranted, pending: str | None) -> Any:
    response = redirect(url_for("auth.login_step") if pending else url_for("family.home"))
    response.set_cookie(
        SESSION_COOKIE, granted.token, httponly=True, samesite="Lax", secure=request.is_secure
    )
    return response


def _pending_step(s: Any, session_id: str) -> str | None:
    login = s.get(LoginSession, session_id)
    return login.pending_step if login is not None else None


# ---------------------------------------------------------------- the family member's pages


@bp.get("/family/login")
@guard(public=True)
def login_page() -> Any:
    if g.actor is not None and g.actor.role == Role.FAMILY:
        return redirect(url_for("family.home"))
    return render_template("family/login.html", error=None, phone="")


@bp.post("/family/login")
@guard(public=True)
def login_submit() -> Any:
    phone = request.form.get("phone", "").strip()[:20]
    try:
        with runtime().session() as s:
            granted = family.log_in(
                s,
                phone=phone,
                password=request.form.get("password", "")[:256],
                source_ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""),
                throttle=current_app.extensions["hotline_login_throttle"],
            )
            pending = _pending_step(s, granted.session_id)
    except accounts.LoginRefused as err:
        return render_template("family/login.html", error=err.message, phone=phone), err.http_status
    return _logged_in(granted, pending)


def _describe(code: str, *, count_failure: bool) -> family.InvitationView:
    with runtime().session() as s:
        return family.describe_invitation(
            s,
            code=code,
            source_ip=request.remote_addr,
            throttle=current_app.extensions["hotline_login_throttle"] if count_failure else None,
        )


@bp.get("/family/join")
@guard(public=True)
def join_page() -> Any:
    """The invitation's page: the code from the text's link (or typed in), then a password."""
    code = family.normalize_code(request.args.get("code", ""))
    if not code:
        return render_template("family/join.html", code="", view=None, error=None)
    try:
        view = _describe(code, count_failure=True)
    except DomainError as err:
        return render_template(
            "family/join.html", code="", view=None, error=err.message
        ), err.http_status
    return render_template("family/join.html", code=code, view=view, error=None)


@bp.post("/family/join")
@guard(public=True)
def join_submit() -> Any:
    code = family.normalize_code(request.form.get("code", ""))
    password = request.form.get("password", "")[:256]
    confirm = request.form.get("confirm")
    throttle = current_app.extensions["hotline_login_throttle"]
    try:
        if confirm is not None and confirm[:256] != password:
            raise ValidationFailed(
                "两次输入的密码不一致 / the passwords differ", code="password_mismatch"
            )
        with runtime().session() as s:
            phone = family.accept_invitation(
                s, code=code, password=password, source_ip=request.remote_addr, throttle=throttle
            ).phone
        with runtime().session() as s:
            granted = family.log_in(
                s,
                phone=phone,
                password=password,
                source_ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""),
                throttle=throttle,
            )
            pending = _pending_step(s, granted.session_id)
    except (family.InvitationInvalid, accounts.LoginThrottled) as err:
        return render_template(
            "family/join.html", code="", view=None, error=err.message
        ), err.http_status
    except DomainError as err:
        # the invitation still stands: show it again with why the password was refused
        try:
            view = _describe(code, count_failure=False)
        except DomainError:
            view, code = None, ""
        return render_template(
            "family/join.html", code=code, view=view, error=err.message
        ), err.http_status
    return _logged_in(granted, pending)


@bp.get("/family")
@guard(Permission.FAMILY_PORTAL)
def home() -> Any:
    with runtime().session() as s:
        elders = family_portal.home(s, actor=current_actor())
    return render_template("family/home.html", elders=elders)


@bp.get("/family/elders/<int:elder_id>")
@guard(Permission.FAMILY_PORTAL)
def elder_page(elder_id: int) -> Any:
    with runtime().session() as s:
        data = family_portal.elder_overview(s, actor=current_actor(), elder_id=elder_id)
    return render_template("family/elder.html", d=data, rated=request.args.get("rated"))


@bp.post("/family/orders/<int:order_id>/rate")
@guard(Permission.FAMILY_PORTAL)
def rate(order_id: int) -> Any:
    raw = request.form.get("score", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) == 1):
        raise ValidationFailed("请选择 1-5 星 / choose 1 to 5 stars", code="invalid_rating")
    with runtime().session() as s:
        elder_id = family_portal.rate_order(
            s,
            actor=current_actor(),
            order_id=order_id,
            score=int(raw),
            comment=request.form.get("comment", "")[:500],
        )
    return redirect(url_for("family.elder_page", elder_id=elder_id, rated=order_id))


# ---------------------------------------------------------------- the hotline's page


@bp.get("/elders/<int:elder_id>/family")
@guard(Permission.INVITE_FAMILY)
def family_of_elder(elder_id: int) -> Any:
    with runtime().session() as s:
        data = family.list_for_elder(s, actor=current_actor(), elder_id=elder_id)
    return render_template(
        "family/staff.html",
        elder_id=elder_id,
        d=data,
        relations=family.RELATIONS,
        sent_to=request.args.get("sent", "")[:20],
    )


@bp.post("/elders/<int:elder_id>/family")
@guard(Permission.INVITE_FAMILY)
def invite(elder_id: int) -> Any:
    with runtime().session() as s:
        invited = family.invite(
            s,
            actor=current_actor(),
            elder_id=elder_id,
            name=request.form.get("name", "")[:64],
            phone=request.form.get("phone", "")[:20],
            relation=request.form.get("relation", "")[:20],
        )
        sent_to = invited.sent_to
    return redirect(url_for("family.family_of_elder", elder_id=elder_id, sent=sent_to))


@bp.post("/family-links/<int:link_id>/revoke")
@guard(Permission.INVITE_FAMILY)
def revoke_link(link_id: int) -> Any:
    with runtime().session() as s:
        link = family.revoke_link(
            s, actor=current_actor(), link_id=link_id, reason=request.form.get("reason", "")[:255]
        )
        elder_id = link.elder_id
    return redirect(url_for("family.family_of_elder", elder_id=elder_id))


@bp.post("/family-invitations/<int:invitation_id>/revoke")
@guard(Permission.INVITE_FAMILY)
def revoke_invitation(invitation_id: int) -> Any:
    with runtime().session() as s:
        elder_id = family.revoke_invitation(
            s, actor=current_actor(), invitation_id=invitation_id
        ).elder_id
    return redirect(url_for("family.family_of_elder", elder_id=elder_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
