"""Authentication, authorization and refusals for HTTP views.

Every view is wrapped by :func:`guard`, which names the permission it needs (or declares it
public). A test walks the URL map and fails on any view without a guard, so a new endpoint
cannot ship without a check. Region checks happen where the record is known
(:func:`require_region`); every refusal is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, jsonify, redirect, render_template, request, url_for

from agent_console import i18n
from platform_core.accounts.permissions import Permission, allows
from platform_core.accounts.service import NotAuthenticated
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import DomainError, OutOfRegion, PermissionDenied
from platform_core.regions import codes

F = TypeVar("F", bound=Callable[..., Any])
GUARD_ATTR = "hotline_guard"
ANONYMOUS_REGION = "000000000000"


def current_actor() -> Actor:
    actor: Actor | None = g.get("actor")
    if actor is None:
        raise NotAuthenticated("请先登录 / please log in")
    return actor


def audit_refusal(
    action: str,
    *,
    target_type: str = "endpoint",
    target_id: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    actor = g.get("actor") or Actor(
        kind="anonymous", name="anonymous", region_code=ANONYMOUS_REGION
    )
    runtime = current_app.extensions["hotline_runtime"]
    audit.record_separately(
        runtime.session_factory,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id or request.path[:64],
        result="denied",
        detail={
            "reason": reason,
            "method": request.method,
            "path": request.path[:200],
            **(detail or {}),
        },
        source_ip=request.remote_addr,
    )


def wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def refusal_response(err: DomainError) -> Any:
    if wants_json():
        return jsonify(i18n.error_dict(err)), err.http_status
    if err.code in ("not_authenticated", "session_expired"):
        return redirect(url_for("auth.login", next=request.path))
    if err.code == "login_incomplete":
        return redirect(url_for("auth.login_step"))
    return render_template(
        "error.html", error=err, message=i18n.error_dict(err)["message"], status=err.http_status
    ), err.http_status


def error_page(status: int, code: str, message: str) -> Any:
    """An HTTP error as the user reads it: JSON for the API, otherwise the console's error page
    in the user's language (404, 403, 405, 500)."""
    text = i18n.localize(i18n.current_language(), message)
    if wants_json():
        return jsonify({"code": code, "message": text}), status
    return render_template("error.html", error={"code": code}, message=text, status=status), status


def guard(permission: Permission | None = None, *, public: bool = False) -> Callable[[F], F]:
    """Require a logged-in user holding ``permission`` (``public`` views need neither)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not public:
                if g.get("actor") is None:
                    audit_refusal("http.unauthenticated", reason="no session")
                    err = g.get("auth_error") or NotAuthenticated("请先登录 / please log in")
                    if g.get("pending_step"):
                        err = NotAuthenticated(
                            "请先完成登录 (动态口令或新密码) / finish logging in first",
                            code="login_incomplete",
                        )
                    return refusal_response(err)
                if permission is not None and not allows(g.actor.role, permission):
                    audit_refusal("http.forbidden", reason=f"role lacks {permission.value}")
                    return refusal_response(
                        PermissionDenied(
                            "当前角色无权访问 / your role may not use this",
                            permission=permission.value,
                        )
                    )
            return view(*args, **kwargs)

        setattr(wrapper, GUARD_ATTR, {"permission": permission, "public": public})
        return cast(F, wrapper)

    return decorate


def require_region(record_region: str | None, *, target_type: str, target_id: Any) -> None:
    """Refuse (and audit) a record that lies outside the user's region."""
    actor = current_actor()
    if record_region is None or not codes.is_within(record_region, actor.region_code):
        audit_refusal(
            "http.out_of_region",
            target_type=target_type,
            target_id=str(target_id),
            reason="outside the user's region",
        )
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
