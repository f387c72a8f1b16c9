"""The provider reporting interface over HTTP (a machine interface: signed requests, encrypted
bodies, no cookies and so no CSRF token), its OpenAPI description, and the administrators'
endpoints that issue, rotate and revoke providers' keys."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import BaseModel, Field

from agent_console import csrf
from agent_console.security import current_actor, guard
from agent_console.views.common import body, runtime
from platform_core.accounts.permissions import Permission
from platform_core.errors import DomainError
from platform_core.provider_api import service, signed, wire
from platform_core.provider_api.nonces import DatabaseNonceStore, NonceStore, RedisNonceStore
from platform_core.providers import service as providers
from platform_core.runtime import Runtime
from platform_core.security import json_input

bp = Blueprint("provider_api", __name__)
PREFIX = "/provider-api/v1"
OPENAPI = Path(service.__file__).with_name("openapi.yaml")


@cache
def _openapi() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return spec


def _nonces(rt: Runtime) -> NonceStore:
    if rt.settings.redis_url:
        return RedisNonceStore(rt.redis(), rt.settings.redis_namespace)
    return DatabaseNonceStore(rt.engine)


def _signed_path() -> str:
    # the path as the client signed it: with "?query" only when there is a query
    query = request.query_string.decode()
    return request.path + (f"?{query}" if query else "")


def _received(rt: Runtime, *, max_bytes: int) -> signed.Received:
    """The signed request as received; its body held to ``max_bytes`` and the JSON nesting
    limit before any work."""
    body = request.get_data(cache=True)
    if body:
        json_input.check(body, max_bytes=max_bytes, max_depth=rt.settings.json_max_depth)
    return signed.Received(
        method=request.method,
        path=_signed_path(),
        headers=request.headers,
        body=body,
        source_ip=request.remote_addr,
    )


def _refused(err: DomainError) -> Any:
    return jsonify(err.to_dict()), err.http_status


def _sealed(caller: service.Caller, payload: Any) -> Response:
    data = wire.seal(caller.secret, caller.key.cipher, payload, caller.reply_aad())
    return Response(data, status=200, mimetype="application/json")


def _authenticate(s: Any, rt: Runtime) -> service.Caller:
    received = _received(rt, max_bytes=rt.settings.json_max_bytes)
    return service.authenticate(s, received, nonces=_nonces(rt))


@bp.post(f"{PREFIX}/events")
@csrf.exempt
@guard(public=True)
def report_event() -> Any:
    """A provider reports one service event of one of its orders."""
    rt = runtime()
    try:
        with rt.session() as s:
            caller = _authenticate(s, rt)
            result = service.report_event(s, caller=caller, report=service.parse_report(s, caller))
            reply = _sealed(caller, result)
    except DomainError as err:
        return _refused(err)
    return reply


@bp.get(f"{PREFIX}/orders")
@guard(public=True)
def list_orders() -> Any:
    """The provider's orders under way (signed GET with an empty body)."""
    rt = runtime()
    try:
        with rt.session() as s:
            caller = _authenticate(s, rt)
            rows = service.open_orders(s, caller=caller, status=request.args.get("status") or None)
            reply = _sealed(caller, {"orders": rows})
    except DomainError as err:
        return _refused(err)
    return reply


@bp.get(f"{PREFIX}/openapi.yaml")
@guard(public=True)
def openapi_yaml() -> Any:
    return Response(OPENAPI.read_text(encoding="utf-8"), mimetype="application/yaml")


@bp.get(f"{PREFIX}/openapi.json")
@guard(public=True)
def openapi_json() -> Any:
    return jsonify(_openapi())


# ---------------------------------------------------------------- keys (administrators, officers)


class KeyIn(BaseModel):
    cipher: str = Field(default=wire.AES_GCM, max_length=16)
    rotate: bool = False


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


def _provider_in_scope(provider_id: int) -> None:
    with runtime().session() as s:
        providers.get_provider(s, provider_id=provider_id, within=current_actor().region_code)


@bp.get("/api/providers/<int:provider_id>/api-keys")
@guard(Permission.MANAGE_PROVIDERS)
def keys(provider_id: int) -> Any:
    _provider_in_scope(provider_id)
    with runtime().session() as s:
        return jsonify({"keys": service.list_keys(s, provider_id=provider_id)})


@bp.post("/api/providers/<int:provider_id>/api-keys")
@guard(Permission.MANAGE_PROVIDERS)
def issue_key(provider_id: int) -> Any:
    """Issue (or with ``rotate`` replace) the provider's key; the secret is shown this once."""
    data = body(KeyIn)
    _provider_in_scope(provider_id)
    with runtime().session() as s:
        if data.rotate:
            issued = service.rotate_key(
                s, actor=current_actor(), provider_id=provider_id, cipher=data.cipher
            )
        else:
            issued = service.issue_key(
                s, actor=current_actor(), provider_id=provider_id, cipher=data.cipher
            )
    response = jsonify(
        {
            "key_id": issued.key_id,
            "secret": issued.secret,
            "cipher": issued.cipher,
            "provider_id": provider_id,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/api/provider-api-keys/<key_id>/revoke")
@guard(Permission.MANAGE_PROVIDERS)
def revoke_key(key_id: str) -> Any:
    data = body(RevokeIn)
    with runtime().session() as s:
        key = service.revoke_key(s, actor=current_actor(), key_id=key_id, reason=data.reason)
        return jsonify({"key_id": key.key_id, "status": key.status})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
