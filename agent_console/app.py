"""The Flask application factory: one runtime, one Socket.IO server, the blueprints."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask, g, request
from flask_socketio import SocketIO
from werkzeug.routing import IntegerConverter, ValidationError

from agent_console import csrf, i18n, json_limits, operations
from agent_console.realtime import SESSION_COOKIE, Realtime
from agent_console.security import (
    ANONYMOUS_REGION,
    audit_refusal,
    error_page,
    refusal_response,
)
from platform_core.accounts import service as accounts
from platform_core.errors import DomainError, OutOfRegion, PermissionDenied
from platform_core.regions.service import region_label
from platform_core.runtime import Runtime
from platform_core.security import json_input
from platform_core.security.throttle import AttemptThrottle, MemoryThrottle, RedisThrottle

LANG_COOKIE = i18n.LANG_COOKIE
# Requests larger than this are refused before any handler reads them (notes are capped far
# lower by settings.note_max_chars; this only stops a flood).
MAX_REQUEST_BYTES = 256 * 1024


class AsciiIntConverter(IntegerConverter):
    r"""``<int:...>`` in URLs: ASCII digits only (``\d`` also matches ``٣`` and ``²``), and no
    larger than a database key, so an absurd id finds nothing instead of failing."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > 2**31 - 1:
            raise ValidationError()
        return number


def create_app(runtime: Runtime, *, relay: bool = True) -> Flask:
    """Build the console for ``runtime``; ``relay`` subscribes it to the domain-event bus."""
    settings = runtime.settings
    # Every model is imported and mapped before the first request: a model module imported
    # lazily by one request thread while another configures the mappers fails half-defined.
    from sqlalchemy.orm import configure_mappers

    import platform_core.models  # noqa: F401

    configure_mappers()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
        JSON_AS_ASCII=False,
    )
    socket_json = json_limits.install(app, settings)
    app.url_map.converters["int"] = AsciiIntConverter
    app.extensions["hotline_runtime"] = runtime
    app.extensions["hotline_login_throttle"] = login_throttle(runtime)
    # bounds the service orders this process opens at once (views.common.order_opening)
    app.extensions["hotline_order_slots"] = threading.BoundedSemaphore(settings.console_order_slots)

    socketio_kwargs: dict[str, Any] = {
        "async_mode": "threading",
        "manage_session": False,
        "ping_interval": 20,
        "ping_timeout": 20,
        **socket_json,
    }
    if settings.redis_url:
        socketio_kwargs.update(
            message_queue=settings.redis_url, channel=f"{settings.redis_namespace}:socketio"
        )
    socketio = SocketIO(app, **socketio_kwargs)
    realtime = Realtime(socketio, runtime)
    app.extensions["hotline_realtime"] = realtime

    _install_request_hooks(app, runtime)
    operations.init_app(app, runtime)

    from agent_console.views import (
        agent,
        alarms,
        assessment,
        auth,
        care,
        regions,
        reports,
        supervisor,
    )

    auth.init_app(app)
    agent.init_app(app, realtime)
    care.init_app(app)
    assessment.init_app(app)
    supervisor.init_app(app, realtime)
    reports.init_app(app)
    regions.init_app(app)
    alarms.init_app(app, realtime)
    from agent_console.views import (
        casework,
        chats,
        orders_desk,
        provider_api,
        provider_portal,
        sites,
        supervision,
        volunteering,
    )

    supervision.init_app(app)
    provider_api.init_app(app)
    provider_portal.init_app(app, realtime)
    orders_desk.init_app(app)
    from agent_console.views import (
        administration,
        care_office,
        exchange,
        family,
        provider_records,
        provider_staff,
        registry,
        registry_devices,
        registry_providers,
    )

    administration.init_app(app)
    registry.init_app(app)
    registry_devices.init_app(app)
    registry_providers.init_app(app)
    exchange.init_app(app)
    provider_records.init_app(app)
    provider_staff.init_app(app)
    family.init_app(app)
    care_office.init_app(app, realtime)
    sites.init_app(app, realtime)
    casework.init_app(app, realtime)
    volunteering.init_app(app, realtime)
    chats.init_app(app, realtime)

    if relay:
        realtime.start_relay()
    return app


def login_throttle(runtime: Runtime) -> AttemptThrottle:
    """Failed logins per address: shared in Redis when configured, else in this process."""
    settings = runtime.settings
    limit, window_s = settings.login_address_max_failures, settings.login_address_window_min * 60
    if settings.redis_url:
        return RedisThrottle(
            runtime.redis(), settings.redis_namespace, limit=limit, window_s=window_s
        )
    return MemoryThrottle(limit=limit, window_s=window_s)


def _install_request_hooks(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings

    @app.before_request
    def load_login() -> Any:
        g.lang = i18n.pick_language(request.cookies.get(LANG_COOKIE))
        g.actor = None
        g.user = None
        g.session_id = None
        g.auth_error = None
        g.pending_step = None
        if request.endpoint == "static":
            return None
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            realtime: Realtime = app.extensions["hotline_realtime"]
            cached = realtime.cached_login(accounts.session_id_of(token))
            if cached is not None:
                g.user, g.actor = cached
                g.session_id = accounts.session_id_of(token)
            else:
                try:
                    with runtime.session() as s:
                        login = accounts.resume_session(
                            s, token=token, source_ip=request.remote_addr
                        )
                        g.session_id = login.id
                        if login.pending_step is None:
                            g.user = accounts.user_summary(login.user)
                            g.actor = accounts.actor_for(login.user)
                        else:  # owes a step: that step's page and nothing else
                            g.pending_step = login.pending_step
                    if g.actor is not None:
                        realtime.remember_login(g.session_id, g.user, g.actor)
                except DomainError as err:
                    g.auth_error = err
        view = app.view_functions.get(request.endpoint or "")
        upload_bytes = getattr(view, "hotline_upload_bytes", None)
        if upload_bytes is not None:  # before the CSRF check reads the form
            request.max_content_length = upload_bytes(settings)
        if request.method not in csrf.SAFE_METHODS and not getattr(view, csrf.EXEMPT_ATTR, False):
            binding = g.session_id or request.cookies.get(csrf.PRE_COOKIE)
            if not csrf.is_valid(settings.secret_key, binding, csrf.submitted_token(request)):
                audit_refusal("http.csrf", reason="missing or forged CSRF token")
                return refusal_response(
                    DomainError(
                        "请求校验失败, 请刷新页面后重试 / security token missing or invalid, reload the page",
                        code="csrf_failed",
                    )
                )
        return None

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            # same-origin WebSockets are 'self' (CSP Level 3): no other host is reachable
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        sets_login = any(
            c.startswith(f"{SESSION_COOKIE}=") for c in response.headers.getlist("Set-Cookie")
        )
        if g.get("auth_error") is not None and not sets_login:
            # a stale cookie goes, unless this very response brings the new login's
            response.delete_cookie(SESSION_COOKIE)
        if request.cookies.get(csrf.PRE_COOKIE) is None and g.get("session_id") is None:
            response.set_cookie(
                csrf.PRE_COOKIE,
                g.get("pre_session") or csrf.new_pre_session(),
                httponly=True,
                samesite="Lax",
            )
        return response

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError) -> Any:
        if isinstance(err, PermissionDenied | OutOfRegion) and err.code not in ("out_of_region",):
            audit_refusal("http.forbidden", reason=err.code)
        return refusal_response(err)

    @app.errorhandler(413)
    def too_large(_err: Any) -> Any:
        audit_refusal("http.too_large", reason="request body too large")
        limit = request.max_content_length or MAX_REQUEST_BYTES
        return refusal_response(
            json_input.MalformedJson(
                f"请求内容超过 {limit // 1024} KB / request too large",
                code="body_too_large",
            )
        )

    @app.errorhandler(404)
    def not_found(_err: Any) -> Any:
        return error_page(404, "not_found", "未找到 / not found")

    @app.errorhandler(405)
    def not_allowed(_err: Any) -> Any:
        return error_page(405, "method_not_allowed", "不支持的请求方式 / method not allowed")

    @app.errorhandler(403)
    def forbidden(_err: Any) -> Any:
        return error_page(403, "permission_denied", "无权访问 / forbidden")

    @app.errorhandler(500)
    def server_error(_err: Any) -> Any:
        # the exception itself is logged by Flask; the user gets a page, never a stack trace
        return error_page(500, "server_error", "系统内部错误 / internal error")

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        lang = g.get("lang", i18n.DEFAULT)
        binding = g.get("session_id") or request.cookies.get(csrf.PRE_COOKIE)
        if binding is None:
            binding = g.pre_session = csrf.new_pre_session()
        return {
            "t": lambda key, **kw: i18n.translate(lang, key, **kw),
            "lang": lang,
            "catalogue": i18n.catalogue(lang),
            "csrf_token": csrf.token_for(settings.secret_key, binding),
            "current_user": g.get("user"),
            "anonymous_region": ANONYMOUS_REGION,
            "timezone": settings.timezone,
            "region_name": lambda code: region_label(runtime.session, code),
        }
