"""Data exchange over HTTP: the signed interface departments send their batches to and lower
platforms send their exports to (the provider interface's protocol and checks), and the
officers' page of exchange batches (数据交换): the batches with each row's result, a file to
upload, the exports sent upward with the receiver's acknowledgement, the exports received."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from pydantic import BaseModel, Field

from agent_console import csrf
from agent_console.security import current_actor, guard
from agent_console.views.common import body, runtime
from agent_console.views.provider_api import _nonces, _received, _refused
from agent_console.views.registry import XLSX, upload_limit
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.errors import DomainError, ValidationFailed
from platform_core.exchange import keys, upward
from platform_core.exchange.client import EXCHANGE_PREFIX
from platform_core.exchange.vocabulary import (
    CHANNEL_LABELS,
    DEPARTMENTS,
    EXPORT_STATUS_LABELS,
    OUTCOME_LABELS,
)
from platform_core.flows import department_batches as batches
from platform_core.imports.workbook import template
from platform_core.provider_api import wire

bp = Blueprint("exchange", __name__)


def _authenticated(s: Any) -> tuple[Any, Any]:
    rt = runtime()
    received = _received(rt, max_bytes=upward.MAX_EXPORT_BYTES * 2)
    return keys.authenticate(s, received, nonces=_nonces(rt))


def _sealed(signed: Any, payload: Any) -> Response:
    return Response(signed.seal_reply(payload), status=200, mimetype="application/json")


def _large(view: Any) -> Any:
    view.hotline_upload_bytes = lambda settings: upward.MAX_EXPORT_BYTES * 2
    return view


@bp.post(f"{EXCHANGE_PREFIX}/batches")
@csrf.exempt
@guard(public=True)
@_large
def receive_batch() -> Any:
    """A department's batch: each row's result comes back (the same again for a resend)."""
    try:
        with runtime().session() as s:
            key, signed = _authenticated(s)
            payload = signed.payload if isinstance(signed.payload, dict) else {}
            raw_rows = payload.get("rows")
            if not isinstance(raw_rows, list) or not all(isinstance(r, dict) for r in raw_rows):
                raise ValidationFailed("rows 应为对象列表 / rows must be objects", code="bad_rows")
            sender = batches.Sender(
                key.party,
                key.region_code,
                batches.department_actor(key.party_name, key.region_code),
                "api",
            )
            batch, duplicate = batches.receive_batch(
                s,
                sender=sender,
                kind=str(payload.get("kind") or ""),
                batch_no=str(payload.get("batch_no") or ""),
                rows=list(enumerate(raw_rows, start=1)),
            )
            reply = _sealed(signed, batches.batch_result(s, batch, duplicate=duplicate))
    except DomainError as err:
        return _refused(err)
    return reply


@bp.post(f"{EXCHANGE_PREFIX}/exports")
@csrf.exempt
@guard(public=True)
@_large
def receive_export() -> Any:
    """A lower platform's export; the answer is the acknowledgement (receipt number)."""
    try:
        with runtime().session() as s:
            key, signed = _authenticated(s)
            reply = _sealed(signed, upward.receive_export(s, key=key, payload=signed.payload))
    except DomainError as err:
        return _refused(err)
    return reply


# ---------------------------------------------------------------- officers' page


def _when(value: Any) -> str:
    return (
        clock.local(value, runtime().settings.timezone).strftime("%Y-%m-%d %H:%M") if value else ""
    )


@bp.get("/registry/exchange")
@guard(Permission.DATA_EXCHANGE)
def exchange_page() -> Any:
    actor = current_actor()
    with runtime().session() as s:
        may_send = upward.may_send(s, actor)
        rows = [
            {
                "id": b.id,
                "batch_no": b.batch_no,
                "kind": batches.KINDS[b.kind].label,
                "department": DEPARTMENTS.get(b.department, b.department),
                "channel": CHANNEL_LABELS.get(b.channel, b.channel),
                "filename": b.filename,
                "total": b.total_rows,
                "accepted": b.accepted_rows,
                "repeated": b.repeated_rows,
                "refused": b.refused_rows,
                "unknown": b.unknown_rows,
                "received_by": b.received_by,
                "received_at": _when(b.received_at),
            }
            for b in batches.list_batches(s, actor=actor)
        ]
        exports = [
            {
                "id": e.id,
                "batch_no": e.batch_no,
                "status": EXPORT_STATUS_LABELS.get(e.status, e.status),
                "status_code": e.status,
                "attempts": e.attempts,
                "rows": {f["name"]: f["rows"] for f in e.manifest.get("files", [])},
                "receipt_no": (e.receipt or {}).get("receipt_no", ""),
                "last_error": e.last_error,
                "next_attempt_at": _when(e.next_attempt_at),
                "created_at": _when(e.created_at),
            }
            for e in (upward.list_exports(s, actor=actor) if may_send else [])
        ]
        party_keys = [_key_view(k) for k in keys.list_keys(s, actor=actor)]
        received = [
            {
                "id": r.id,
                "files": [f["name"] for f in r.manifest.get("files", [])],
                "batch_no": r.batch_no,
                "sender_region": r.sender_region,
                "receipt_no": r.receipt_no,
                "rows": {f["name"]: f["rows"] for f in r.manifest.get("files", [])},
                "received_at": _when(r.received_at),
            }
            for r in upward.list_received(s, actor=actor)
        ]
    return render_template(
        "registry/exchange.html",
        batches=rows,
        exports=exports,
        received=received,
        kinds={k: v.label for k, v in batches.KINDS.items()},
        departments=DEPARTMENTS,
        kind_department={k: v.department for k, v in batches.KINDS.items()},
        upstream=bool(runtime().settings.exchange_upstream_url),
        may_send=may_send,
        party_keys=party_keys,
        max_mb=batches.MAX_FILE_BYTES // (1024 * 1024),
    )


@bp.get("/registry/exchange/template/<kind>.xlsx")
@guard(Permission.DATA_EXCHANGE)
def exchange_template(kind: str) -> Any:
    spec = batches.kind_of(kind)
    data = template(spec.columns, title=spec.label)
    response = Response(data, mimetype=XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename={kind}-template.xlsx"
    return response


@bp.post("/registry/exchange/upload")
@guard(Permission.DATA_EXCHANGE)
@upload_limit
def exchange_upload() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("请选择要上传的文件 / choose a file", code="file_required")
    kind = request.form.get("kind", "")
    spec = batches.kind_of(kind)
    department = request.form.get("department", "") or spec.department
    content = upload.read(batches.MAX_FILE_BYTES + 1)
    with runtime().session() as s:
        batch, _ = batches.import_file(
            s,
            actor=current_actor(),
            department=department,
            kind=kind,
            filename=upload.filename,
            content=content,
        )
        batch_id = batch.id
    return redirect(url_for("exchange.batch_page", batch_id=batch_id))


@bp.get("/registry/exchange/batches/<int:batch_id>")
@guard(Permission.DATA_EXCHANGE)
def batch_page(batch_id: int) -> Any:
    with runtime().session() as s:
        batch = batches.get_batch(s, actor=current_actor(), batch_id=batch_id)
        view = {
            "id": batch.id,
            "batch_no": batch.batch_no,
            "kind": batches.KINDS[batch.kind].label,
            "department": DEPARTMENTS.get(batch.department, batch.department),
            "channel": CHANNEL_LABELS.get(batch.channel, batch.channel),
            "filename": batch.filename,
            "total": batch.total_rows,
            "accepted": batch.accepted_rows,
            "repeated": batch.repeated_rows,
            "refused": batch.refused_rows,
            "unknown": batch.unknown_rows,
            "received_by": batch.received_by,
            "received_at": _when(batch.received_at),
        }
        rows = [
            {
                "row": r.row_no,
                "record_no": r.row_key,
                "id_number": r.id_number_masked,
                "outcome": r.outcome,
                "outcome_label": OUTCOME_LABELS.get(r.outcome, r.outcome),
                "reason": r.reason,
                "elder_id": r.elder_id,
            }
            for r in batches.batch_rows(s, batch_id=batch.id)
        ]
    return render_template("registry/exchange_batch.html", b=view, rows=rows)


class KeyIn(BaseModel):
    party: str = Field(max_length=30)
    party_name: str = Field(default="", max_length=60)
    region_code: str = Field(min_length=12, max_length=12, pattern=r"^[0-9]{12}$")
    cipher: str = Field(default=wire.AES_GCM, max_length=16)


def _key_view(k: Any) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "party": k.party,
        "party_label": DEPARTMENTS.get(k.party, "下级平台"),
        "party_name": k.party_name,
        "region_code": k.region_code,
        "cipher": k.cipher,
        "status": k.status,
        "created_at": _when(k.created_at),
        "last_used_at": _when(k.last_used_at),
    }


@bp.get("/api/exchange/keys")
@guard(Permission.DATA_EXCHANGE)
def list_keys() -> Any:
    with runtime().session() as s:
        return jsonify({"keys": [_key_view(k) for k in keys.list_keys(s, actor=current_actor())]})


@bp.post("/api/exchange/keys")
@guard(Permission.DATA_EXCHANGE)
def issue_key() -> Any:
    """A department's (or a lower platform's) key; the secret is shown this once."""
    data = body(KeyIn)
    with runtime().session() as s:
        issued = keys.issue_key(
            s,
            actor=current_actor(),
            party=data.party,
            party_name=data.party_name,
            region_code=data.region_code,
            cipher=data.cipher,
        )
    response = jsonify({"key_id": issued.key_id, "secret": issued.secret, "cipher": issued.cipher})
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/api/exchange/keys/<key_id>/revoke")
@guard(Permission.DATA_EXCHANGE)
def revoke_key(key_id: str) -> Any:
    with runtime().session() as s:
        key = keys.revoke_key(s, actor=current_actor(), key_id=key_id[:40])
        return jsonify({"key_id": key.key_id, "status": key.status})


@bp.get("/registry/exchange/received/<int:received_id>/<name>")
@guard(Permission.DATA_EXCHANGE)
def received_download(received_id: int, name: str) -> Any:
    """A file of an export received from a lower platform (audited)."""
    with runtime().session() as s:
        received, data = upward.received_file(
            s, actor=current_actor(), received_id=received_id, name=name[:60]
        )
        filename = f"{received.batch_no}-{name[:60]}"
    response = Response(data, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/registry/exchange/exports")
@guard(Permission.DATA_EXCHANGE)
def create_export() -> Any:
    with runtime().session() as s:
        upward.create_export(s, actor=current_actor())
    return redirect(url_for("exchange.exchange_page") + "#exports")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
