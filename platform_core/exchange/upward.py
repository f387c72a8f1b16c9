"""The export upward (standard 5.2): a league's platform sends its data to the region's, the
region's to the national 金民工程 system, as a versioned export that the receiver
acknowledges; and the receiving side, so one deployment can take its leagues' exports.

Format ``hotline12349-exchange`` schema version 1.0 (README, "Registries"): UTF-8 CSV files
with a header row of field codes, and a manifest naming each file's columns, row count and
SHA-256. The export is built once, in one transaction, and kept (its files sealed, they hold ID
numbers); sending is a job taking the export's committed id and the attempt's number, retried
with back-off until the receiver acknowledges, so a receiver that is down gets the batch when it
is back. The receiver checks every file against the manifest (a mismatch is refused and the
sender stops: the same bytes would be refused again) and acknowledges a batch number once: a
batch sent again is answered with the first receipt.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.elders.models import Elder, ElderCategory
from platform_core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from platform_core.exchange.client import ExchangeClient, ProviderApiError
from platform_core.exchange.keys import PLATFORM
from platform_core.exchange.models import ExchangeKey, ExportFile, ReceivedExport, UpwardExport
from platform_core.orders.models import ServiceOrder
from platform_core.outbox.service import enqueue_on_commit
from platform_core.providers.models import Provider
from platform_core.regions.codes import is_within
from platform_core.regions.service import within
from platform_core.runtime import cipher_of, settings_of

FORMAT = "hotline12349-exchange"
SCHEMA_VERSION = "1.0"
SUPPORTED_VERSIONS = frozenset({"1.0"})
SEND_JOB = "platform_core.exchange.jobs:send_export_job"
OFFICE_ROLES = frozenset({Role.OFFICER, Role.ADMIN})
MAX_EXPORT_BYTES = 64 * 1024 * 1024

# The datasets of schema 1.0: file name -> columns, in order.
DATASETS: dict[str, tuple[str, ...]] = {
    "elders.csv": (
        "id_number",
        "name",
        "sex",
        "birth_date",
        "ethnicity_code",
        "region_code",
        "address",
        "living_arrangement",
        "status",
        "deceased_on",
        "categories",
    ),
    "providers.csv": (
        "credit_code",
        "name",
        "region_code",
        "status",
        "grade",
        "credit_score",
    ),
    "service_orders.csv": (
        "order_no",
        "id_number",
        "region_code",
        "service_type_code",
        "status",
        "provider_credit_code",
        "opened_at",
        "completed_at",
        "price",
        "subsidy",
    ),
}


class ExportRefused(ValidationFailed):
    code = "export_refused"


# ---------------------------------------------------------------- building an export


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        count += 1
    return buf.getvalue().encode("utf-8"), count


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _elders(session: Session, region: str) -> Iterable[Sequence[Any]]:
    cipher = cipher_of(session)
    categories: dict[int, list[str]] = {}
    for elder_id, category in session.execute(
        select(ElderCategory.elder_id, ElderCategory.category)
        .join(Elder, Elder.id == ElderCategory.elder_id)
        .where(within(Elder.region_code, region))
    ):
        categories.setdefault(elder_id, []).append(category)
    for e in session.scalars(
        select(Elder).where(within(Elder.region_code, region)).order_by(Elder.id)
    ).yield_per(1000):
        yield (
            cipher.open(e.id_number_sealed),
            e.name,
            e.sex,
            e.birth_date.isoformat(),
            e.ethnicity_code,
            e.region_code,
            e.address,
            e.living_arrangement,
            e.status,
            e.deceased_on.isoformat() if e.deceased_on else "",
            ";".join(sorted(categories.get(e.id, []))),
        )


def _providers(session: Session, region: str) -> Iterable[Sequence[Any]]:
    for p in session.scalars(
        select(Provider).where(within(Provider.region_code, region)).order_by(Provider.id)
    ):
        yield (p.credit_code, p.name, p.region_code, p.status, p.grade, p.credit_score)


def _orders(session: Session, region: str) -> Iterable[Sequence[Any]]:
    cipher = cipher_of(session)
    credit = {pid: code for pid, code in session.execute(select(Provider.id, Provider.credit_code))}
    numbers: dict[int, str] = {}
    q = (
        select(ServiceOrder, Elder.id_number_sealed)
        .join(Elder, Elder.id == ServiceOrder.elder_id)
        .where(within(ServiceOrder.region_code, region))
        .order_by(ServiceOrder.id)
    )
    for o, sealed in session.execute(q).yield_per(1000):
        if o.elder_id not in numbers:
            numbers[o.elder_id] = cipher.open(sealed)
        yield (
            o.order_no,
            numbers[o.elder_id],
            o.region_code,
            o.service_type_code,
            o.status,
            credit.get(o.provider_id, "") if o.provider_id else "",
            _iso(o.opened_at),
            _iso(o.completed_at),
            o.price,
            o.subsidy,
        )


def _require_office(session: Session, actor: Actor, region: str, action: str) -> None:
    if actor.kind == "system" or (
        actor.role in OFFICE_ROLES and is_within(region, actor.region_code)
    ):
        return
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="exchange_export",
        detail={"reason": "permission_denied", "region": region},
    )
    raise PermissionDenied(
        "只有本平台所辖地区的民政监管或系统管理员可以上报数据 / only officers and administrators "
        "of the platform's region send exports"
    )


def create_export(session: Session, *, actor: Actor) -> UpwardExport:
    """Build this platform's export now and queue its sending (after the commit)."""
    settings = settings_of(session)
    region = settings.home_region_code
    _require_office(session, actor, region, "exchange.create_export")
    if not (settings.exchange_upstream_url and settings.exchange_upstream_key_id):
        raise ValidationFailed(
            "未配置上级平台地址或密钥 (HOTLINE_EXCHANGE_UPSTREAM_*) / no upstream configured",
            code="no_upstream",
        )
    now = clock.now()
    batch_no = f"{region}-{clock.local(now, settings.timezone):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    files = []
    total = 0
    for name, rows in (
        ("elders.csv", _elders(session, region)),
        ("providers.csv", _providers(session, region)),
        ("service_orders.csv", _orders(session, region)),
    ):
        content, count = _csv(DATASETS[name], rows)
        total += len(content)
        if total > MAX_EXPORT_BYTES:
            raise ValidationFailed("导出数据过大 / export too large", code="export_too_large")
        files.append((name, content, count))
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "batch_no": batch_no,
        "sender_region": region,
        "created_at": now.isoformat(),
        "files": [
            {
                "name": name,
                "columns": list(DATASETS[name]),
                "rows": count,
                "sha256": hashlib.sha256(content).hexdigest(),
                "bytes": len(content),
            }
            for name, content, count in files
        ],
    }
    export = UpwardExport(
        batch_no=batch_no,
        schema_version=SCHEMA_VERSION,
        region_code=region,
        target_url=settings.exchange_upstream_url,
        status="pending",
        manifest=manifest,
        created_by=actor.label[:80],
    )
    session.add(export)
    session.flush()
    cipher = cipher_of(session)
    for name, content, count in files:
        session.add(
            ExportFile(
                export_id=export.id,
                name=name,
                rows=count,
                sha256=hashlib.sha256(content).hexdigest(),
                content_sealed=cipher.seal(base64.b64encode(content).decode()),
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="exchange.create_export",
        target_type="exchange_export",
        target_id=export.id,
        detail={"batch_no": batch_no, "rows": {name: count for name, _, count in files}},
    )
    _send_later(session, export.id, 1, None)
    return export


def _send_later(session: Session, export_id: int, attempt: int, at: datetime | None) -> None:
    enqueue_on_commit(
        session,
        SEND_JOB,
        export_id,
        attempt,
        job_id=f"exchange-export-{export_id}-{attempt}",
        at=at,
    )


def export_payload(session: Session, export: UpwardExport) -> dict[str, Any]:
    cipher = cipher_of(session)
    files = session.scalars(select(ExportFile).where(ExportFile.export_id == export.id))
    return {
        "batch_no": export.batch_no,
        "schema_version": export.schema_version,
        "manifest": export.manifest,
        "files": {f.name: cipher.open(f.content_sealed) for f in files},
    }


def _refused_for_good(err: ProviderApiError) -> bool:
    """The receiver refused what it was sent (the same bytes would be refused again); a
    replayed nonce, a clock off or a receiver not yet serving the path (404, a platform being
    deployed) is worth another attempt."""
    return (
        400 <= err.status < 500
        and err.status not in (401, 404, 408, 429)
        and err.code not in ("replayed_request",)
    )


def send_export(session: Session, *, export_id: int, attempt: int) -> str:
    """Attempt ``attempt`` of sending an export; its status afterwards. Runs once per attempt."""
    export = session.scalar(
        select(UpwardExport).where(UpwardExport.id == export_id).with_for_update()
    )
    if export is None:
        return "missing"
    if export.status != "pending" or export.attempts >= attempt:
        return export.status
    settings = settings_of(session)
    export.attempts = attempt
    client = ExchangeClient(
        export.target_url,
        settings.exchange_upstream_key_id,
        settings.exchange_upstream_secret,
        cipher=settings.exchange_upstream_cipher,
        timeout=30.0,
    )
    system = Actor(kind="system", name="数据上报", region_code=export.region_code)
    try:
        ack = client.send_export(
            export_payload(session, export), timestamp=int(clock.now().timestamp())
        )
    except ProviderApiError as err:
        if _refused_for_good(err):
            export.status, export.next_attempt_at = "refused", None
            export.last_error = f"上级拒收: {err.message}"[:300]
            audit.record(
                session,
                actor=system,
                action="exchange.export_refused",
                target_type="exchange_export",
                target_id=export.id,
                result="denied",
                detail={"code": err.code, "status": err.status, "attempt": attempt},
            )
            session.flush()
            return export.status
        _retry(session, export, attempt, f"上级返回 {err.status} {err.code}")
        return export.status
    except (requests.RequestException, ValueError) as exc:
        _retry(session, export, attempt, f"无法连接上级平台: {type(exc).__name__}")
        return export.status
    if ack.get("batch_no") != export.batch_no or not ack.get("receipt_no"):
        _retry(session, export, attempt, "上级回执不完整")
        return export.status
    export.status, export.receipt, export.acknowledged_at = "acknowledged", ack, utcnow()
    export.next_attempt_at, export.last_error = None, ""
    audit.record(
        session,
        actor=system,
        action="exchange.export_acknowledged",
        target_type="exchange_export",
        target_id=export.id,
        detail={"receipt_no": ack.get("receipt_no"), "attempt": attempt},
    )
    session.flush()
    return export.status


def _retry(session: Session, export: UpwardExport, attempt: int, why: str) -> None:
    settings = settings_of(session)
    delay = min(settings.exchange_retry_base_s * 2 ** (attempt - 1), settings.exchange_retry_max_s)
    export.next_attempt_at = utcnow() + timedelta(seconds=delay)
    export.last_error = why[:300]
    _send_later(session, export.id, attempt + 1, export.next_attempt_at)
    session.flush()


def may_send(session: Session, actor: Actor) -> bool:
    """Whether ``actor`` keeps this platform's exports: an officer or administrator whose region
    covers the whole platform's (a county's officer does not send the league's data)."""
    region = settings_of(session).home_region_code
    return actor.kind == "system" or (
        actor.role in OFFICE_ROLES and is_within(region, actor.region_code)
    )


def list_exports(session: Session, *, actor: Actor, limit: int = 20) -> list[UpwardExport]:
    region = settings_of(session).home_region_code
    _require_office(session, actor, region, "exchange.list_exports")
    return list(session.scalars(select(UpwardExport).order_by(UpwardExport.id.desc()).limit(limit)))


# ---------------------------------------------------------------- receiving


def _refuse(session: Session, key: ExchangeKey, batch_no: str, error: DomainError) -> DomainError:
    audit.record_refusal(
        session,
        actor=Actor(kind="exchange_api", name=key.party_name[:64], region_code=key.region_code),
        action="exchange.receive_export",
        target_type="exchange_key",
        target_id=key.key_id,
        detail={"reason": error.code, "batch_no": batch_no[:64]},
    )
    return error


def _checked_files(manifest: Any, files: Any) -> list[tuple[str, bytes, int, str]]:
    """Each file of the manifest, present and matching its checksum and row count."""
    if not isinstance(manifest, dict) or not isinstance(files, dict):
        raise ExportRefused("清单或文件缺失 / manifest or files missing", code="malformed_export")
    listed = manifest.get("files")
    if not isinstance(listed, list) or not listed:
        raise ExportRefused("清单未列出文件 / the manifest lists no file", code="malformed_export")
    names = [f.get("name") if isinstance(f, dict) else None for f in listed]
    if sorted(str(n) for n in names) != sorted(str(n) for n in files):
        raise ExportRefused(
            "文件与清单不一致 / files differ from the manifest", code="manifest_mismatch"
        )
    out = []
    for entry in listed:
        name = str(entry["name"])
        try:
            content = base64.b64decode(str(files[name]), validate=True)
        except ValueError:
            raise ExportRefused(
                f"文件 {name[:60]} 无法解码 / undecodable file", code="malformed_export"
            ) from None
        digest = hashlib.sha256(content).hexdigest()
        if digest != entry.get("sha256"):
            raise ExportRefused(
                f"文件 {name[:60]} 校验和不符 / checksum mismatch", code="checksum_mismatch"
            )
        try:
            rows = sum(1 for _ in csv.reader(io.StringIO(content.decode("utf-8")))) - 1
        except (UnicodeDecodeError, csv.Error):
            raise ExportRefused(
                f"文件 {name[:60]} 不是 UTF-8 CSV / not UTF-8 CSV", code="malformed_export"
            ) from None
        if rows != entry.get("rows"):
            raise ExportRefused(
                f"文件 {name[:60]} 行数与清单不符 ({rows}) / row count mismatch",
                code="row_count_mismatch",
            )
        out.append((name, content, rows, digest))
    return out


def receive_export(session: Session, *, key: ExchangeKey, payload: Any) -> dict[str, Any]:
    """Take a lower platform's export; the acknowledgement (the first one again for a batch
    sent twice)."""
    payload = payload if isinstance(payload, dict) else {}
    batch_no = str(payload.get("batch_no") or "")[:64]
    if key.party != PLATFORM:
        raise _refuse(
            session,
            key,
            batch_no,
            PermissionDenied("该密钥不能上报平台数据 / not a platform's key", code="wrong_party"),
        )
    manifest = payload.get("manifest")
    version = str(payload.get("schema_version") or "")
    try:
        if version not in SUPPORTED_VERSIONS:
            raise ExportRefused(
                f"不支持的格式版本 {version[:10]} / unsupported schema version",
                code="unsupported_schema",
            )
        if (
            not batch_no
            or not isinstance(manifest, dict)
            or manifest.get("batch_no") != batch_no
            or manifest.get("schema_version") != version
            or manifest.get("format") != FORMAT
        ):
            raise ExportRefused("清单与批次不符 / manifest does not match", code="malformed_export")
        if manifest.get("sender_region") != key.region_code:
            raise ExportRefused(
                "清单的报送地区与密钥不符 / sender region differs from the key's",
                code="wrong_region",
            )
        files = _checked_files(manifest, payload.get("files"))
    except DomainError as err:
        raise _refuse(session, key, batch_no, err) from None
    digest = hashlib.sha256(
        json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    done = session.scalar(
        select(ReceivedExport).where(
            ReceivedExport.sender_region == key.region_code, ReceivedExport.batch_no == batch_no
        )
    )
    if done is not None:
        if done.manifest_sha256 != digest:
            raise _refuse(
                session,
                key,
                batch_no,
                Conflict("批次号已用于不同内容 / batch number reused", code="batch_no_reused"),
            )
        return _ack(done, duplicate=True)
    received = ReceivedExport(
        sender_region=key.region_code,
        key_id=key.key_id,
        batch_no=batch_no,
        schema_version=version,
        manifest=manifest,
        manifest_sha256=digest,
        receipt_no=f"RC{clock.now():%Y%m%d}{secrets.token_hex(5).upper()}",
    )
    try:
        with session.begin_nested():
            session.add(received)
            session.flush()
    except IntegrityError:
        # the same batch sent twice at once: the first one's receipt answers both
        done = session.scalar(
            select(ReceivedExport).where(
                ReceivedExport.sender_region == key.region_code,
                ReceivedExport.batch_no == batch_no,
            )
        )
        if done is None or done.manifest_sha256 != digest:
            raise
        return _ack(done, duplicate=True)
    cipher = cipher_of(session)
    for name, content, rows, sha in files:
        session.add(
            ExportFile(
                received_id=received.id,
                name=name,
                rows=rows,
                sha256=sha,
                content_sealed=cipher.seal(base64.b64encode(content).decode()),
            )
        )
    session.flush()
    audit.record(
        session,
        actor=Actor(kind="exchange_api", name=key.party_name[:64], region_code=key.region_code),
        action="exchange.receive_export",
        target_type="exchange_received",
        target_id=received.id,
        detail={"batch_no": batch_no, "rows": {n: r for n, _, r, _ in files}},
    )
    return _ack(received, duplicate=False)


def _ack(received: ReceivedExport, *, duplicate: bool) -> dict[str, Any]:
    return {
        "status": "accepted",
        "batch_no": received.batch_no,
        "receipt_no": received.receipt_no,
        "received_at": received.received_at.isoformat(),
        "schema_version": received.schema_version,
        "duplicate": duplicate,
    }


def list_received(session: Session, *, actor: Actor, limit: int = 20) -> list[ReceivedExport]:
    """The exports received from the lower platforms within the actor's region."""
    if actor.kind != "system" and actor.role not in OFFICE_ROLES:
        return []
    return list(
        session.scalars(
            select(ReceivedExport)
            .where(within(ReceivedExport.sender_region, actor.region_code))
            .order_by(ReceivedExport.id.desc())
            .limit(limit)
        )
    )


def received_file(
    session: Session, *, actor: Actor, received_id: int, name: str
) -> tuple[ReceivedExport, bytes]:
    """A file of an export received from a lower platform within the actor's region, for an
    officer or administrator; each download audited (the files hold ID numbers)."""
    received = session.get(ReceivedExport, received_id)
    allowed = actor.kind == "system" or actor.role in OFFICE_ROLES
    if received is None or not allowed or not is_within(received.sender_region, actor.region_code):
        audit.record_refusal(
            session,
            actor=actor,
            action="exchange.download_received",
            target_type="exchange_received",
            target_id=received_id,
            detail={"reason": "not_found_or_out_of_region"},
        )
        raise NotFound("报送批次不存在 / no such export", code="export_not_found")
    file = session.scalar(
        select(ExportFile).where(ExportFile.received_id == received.id, ExportFile.name == name)
    )
    if file is None:
        raise NotFound("文件不存在 / no such file", code="file_not_found")
    audit.record(
        session,
        actor=actor,
        action="exchange.download_received",
        target_type="exchange_received",
        target_id=received.id,
        detail={"batch_no": received.batch_no, "file": name, "rows": file.rows},
    )
    return received, base64.b64decode(cipher_of(session).open(file.content_sealed))
