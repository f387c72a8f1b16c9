"""Departments' batches in (standard 5.2): deaths from public security, disability from the
disabled persons' federation, medical insurance status from the insurer.

A batch arrives through the signed interface, as a file an officer uploads, or by the
``hotline exchange import`` command; all three end in :func:`receive_batch`, which:

- is idempotent: a batch is known by (department, batch number); sent again with the same
  content it is answered with the results kept the first time, with other content it is
  refused. A row whose key the department already had accepted in an earlier batch changes
  nothing and is reported ``repeated``;
- keeps every row's result: accepted, repeated, refused (with the Chinese reason) or unknown
  elder;
- writes nothing by halves: each row is applied on its own savepoint (a row the domain refuses
  leaves nothing), and the batch with its results commits in the caller's one transaction;
- matches people by the keyed hash of the ID number (the elders service), keeps only the masked
  number and never logs one.

A death goes through the existing death flow (``platform_core.flows.death``): devices stop,
orders and care end, as when an agent records it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role, system_actor
from platform_core.audit import service as audit
from platform_core.elders import idcard
from platform_core.elders import service as elders
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import CATEGORY_SUBTYPES, Category, ElderStatus
from platform_core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from platform_core.exchange.models import ExchangeBatch, ExchangeRow, MedicalInsuranceStatus
from platform_core.exchange.vocabulary import DEPARTMENTS
from platform_core.flows.death import record_death_of_elder
from platform_core.imports.workbook import Column, WrongHeaders, check_size, open_rows
from platform_core.regions.codes import is_within
from platform_core.regions.service import within
from platform_core.security.masking import mask_id_number

OFFICE_ROLES = frozenset({Role.OFFICER, Role.ADMIN})
MAX_ROWS = 20_000
MAX_FILE_BYTES = 10 * 1024 * 1024

INSURANCE_SCHEMES = {"职工医保": "employee", "居民医保": "resident"}
INSURANCE_STATUSES = {"参保": "insured", "暂停": "suspended", "终止": "ended"}
DISABILITY_TYPES = {
    label.removesuffix("残疾"): code
    for code, label in (CATEGORY_SUBTYPES[Category.DISABILITY] or {}).items()
}


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    department: str
    columns: tuple[Column, ...]


_IDENTITY = (
    Column("id_number", "身份证号", required=True, example="150102194103090113", text=True),
    Column("name", "姓名", required=True, example="巴特尔", note="须与档案姓名一致"),
)
KINDS = {
    "deaths": Kind(
        "deaths",
        "死亡信息",
        "public_security",
        (
            Column(
                "record_no", "死亡注销编号", required=True, example="SW2026120700001", text=True
            ),
            *_IDENTITY,
            Column("died_on", "死亡日期", required=True, example="2026-12-01", note="YYYY-MM-DD"),
        ),
    ),
    "disability": Kind(
        "disability",
        "残疾信息",
        "disabled_federation",
        (
            Column(
                "record_no", "残疾证号", required=True, example="15010219410309011342", text=True
            ),
            *_IDENTITY,
            Column(
                "disability_type",
                "残疾类别",
                required=True,
                example="肢体",
                note="、".join(DISABILITY_TYPES),
            ),
            Column("grade", "残疾等级", required=True, example="2", note="1-4 级"),
            Column("certified_on", "发证日期", example="2020-05-01", note="YYYY-MM-DD"),
        ),
    ),
    "insurance": Kind(
        "insurance",
        "医保参保状态",
        "medical_insurance",
        (
            Column("record_no", "参保记录号", required=True, example="YB2026000123", text=True),
            *_IDENTITY,
            Column(
                "scheme",
                "险种",
                required=True,
                example="居民医保",
                note="、".join(INSURANCE_SCHEMES),
            ),
            Column(
                "status",
                "参保状态",
                required=True,
                example="参保",
                note="、".join(INSURANCE_STATUSES),
            ),
            Column("as_of", "状态日期", required=True, example="2026-12-01", note="YYYY-MM-DD"),
        ),
    ),
}
_DATE = re.compile(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})")


class RowRefused(Exception):
    """A row that cannot be taken, with its Chinese reason."""

    def __init__(self, code: str, reason: str, outcome: str = "refused") -> None:
        super().__init__(reason)
        self.code, self.reason, self.outcome = code, reason, outcome


@dataclass(frozen=True)
class Sender:
    """Who sent a batch: a department's key (its area), or an officer (their region)."""

    department: str
    region_code: str
    actor: Actor
    channel: str  # api / file / command


def kind_of(code: str) -> Kind:
    kind = KINDS.get(code)
    if kind is None:
        raise ValidationFailed(f"未知的数据类型: {code[:20]} / unknown kind", code="unknown_kind")
    return kind


def chinese(message: str) -> str:
    """The Chinese half of a "中文 / English" message (what an officer's page shows)."""
    return message.split(" / ", 1)[0][:200]


def _date(text: str, field: str) -> date:
    m = _DATE.fullmatch(text.strip())
    try:
        if m is None:
            raise ValueError
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise RowRefused("invalid_date", f"{field}格式不正确, 应为 YYYY-MM-DD") from None


# ---------------------------------------------------------------- rows


def _content_hash(kind: str, rows: list[dict[str, str]]) -> str:
    data = json.dumps([kind, rows], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else " ".join(str(value).split())[:100]


def _find_elder(session: Session, id_number: str) -> tuple[Elder | None, str]:
    try:
        parsed = idcard.parse_id_number(id_number)
    except idcard.InvalidIdNumber as err:
        raise RowRefused("invalid_id_number", "身份证号不正确: " + chinese(err.message)) from None
    return elders.find_elder_by_id_number(session, id_number=parsed.number), parsed.number


def _apply(
    session: Session, kind: Kind, row: Mapping[str, str], elder: Elder, sender: Sender, batch: str
) -> dict[str, Any]:
    source = f"{DEPARTMENTS[kind.department]} {batch}"[:60]
    if kind.code == "deaths":
        died_on = _date(row["died_on"], "死亡日期")
        if died_on > clock.today_in(session) or died_on < elder.birth_date:
            raise RowRefused("invalid_death_date", "死亡日期不合理 (晚于今天或早于出生日期)")
        record_death_of_elder(
            session, elder_id=elder.id, died_on=died_on, actor=sender.actor, source=source
        )
        return {"died_on": died_on.isoformat()}
    if kind.code == "disability":
        subtype = DISABILITY_TYPES.get(row["disability_type"].removesuffix("残疾"))
        if subtype is None:
            raise RowRefused(
                "invalid_disability_type", "残疾类别应为 " + "、".join(DISABILITY_TYPES)
            )
        grade = row["grade"].removesuffix("级")
        if grade not in ("1", "2", "3", "4"):
            raise RowRefused("invalid_grade", "残疾等级应为 1-4")
        certified = _date(row["certified_on"], "发证日期") if row.get("certified_on") else None
        elders.record_category(
            session,
            elder_id=elder.id,
            category=Category.DISABILITY,
            subtype=subtype,
            grade=int(grade),
            certified_on=certified,
            actor=sender.actor,
            source=source,
        )
        return {"type": subtype, "grade": int(grade)}
    scheme = INSURANCE_SCHEMES.get(row["scheme"])
    status = INSURANCE_STATUSES.get(row["status"])
    if scheme is None:
        raise RowRefused("invalid_scheme", "险种应为 " + "、".join(INSURANCE_SCHEMES))
    if status is None:
        raise RowRefused("invalid_status", "参保状态应为 " + "、".join(INSURANCE_STATUSES))
    as_of = _date(row["as_of"], "状态日期")
    return {"scheme": scheme, "status": status, "as_of": as_of.isoformat()}


def _keep_insurance(session: Session, elder_id: int, detail: dict[str, Any], batch_id: int) -> None:
    as_of = date.fromisoformat(detail["as_of"])
    kept = session.scalar(
        select(MedicalInsuranceStatus).where(MedicalInsuranceStatus.elder_id == elder_id)
    )
    if kept is None:
        kept = MedicalInsuranceStatus(elder_id=elder_id, as_of=as_of)
        session.add(kept)
    elif kept.as_of > as_of:
        return  # an older report arriving late does not overwrite a newer one
    kept.scheme, kept.status, kept.as_of, kept.batch_id = (
        detail["scheme"],
        detail["status"],
        as_of,
        batch_id,
    )


def _accepted_before(session: Session, department: str, row_key: str) -> bool:
    return (
        session.scalar(
            select(ExchangeRow.id).where(
                ExchangeRow.department == department,
                ExchangeRow.row_key == row_key,
                ExchangeRow.outcome == "accepted",
            )
        )
        is not None
    )


def _one_row(
    session: Session,
    kind: Kind,
    sender: Sender,
    batch: ExchangeBatch,
    number: int,
    row: Mapping[str, str],
    seen: dict[str, int],
) -> ExchangeRow:
    out = ExchangeRow(batch_id=batch.id, row_no=number, department=kind.department, detail={})
    out.row_key = _text(row, "record_no")[:64]
    try:
        missing = [c.header for c in kind.columns if c.required and not _text(row, c.key)]
        if missing:
            raise RowRefused("missing_field", "缺少必填项: " + "、".join(missing))
        elder, number_ = _find_elder(session, _text(row, "id_number"))
        out.id_number_masked = mask_id_number(number_)
        # a record key twice is always wrong; a person twice only after one of the rows was
        # taken (a refused row may be followed by its corrected version)
        key, person = f"key:{out.row_key}", f"person:{number_}"
        for mark in (key, person):
            if mark in seen:
                raise RowRefused("duplicate_row", f"与本批第 {seen[mark]} 行重复")
        seen[key] = number
        if elder is None:
            raise RowRefused("unknown_elder", "平台无此身份证号的老人档案", "unknown_elder")
        out.elder_id = elder.id
        if not is_within(elder.region_code, sender.region_code):
            raise RowRefused("out_of_area", "老人不在该部门 (上传人) 的辖区内")
        if _text(row, "name") != elder.name:
            raise RowRefused("name_mismatch", "姓名与档案不一致")
        if _accepted_before(session, kind.department, out.row_key):
            out.outcome, out.code, out.reason = "repeated", "repeated", "此前批次已接收, 未重复写入"
            return out
        if elder.status == ElderStatus.DECEASED and kind.code != "deaths":
            raise RowRefused("elder_deceased", f"老人已故 ({elder.deceased_on}), 不再变更档案")
        try:
            with session.begin_nested():
                out.detail = _apply(session, kind, row, elder, sender, batch.batch_no)
                if kind.code == "insurance":
                    _keep_insurance(session, elder.id, out.detail, batch.id)
        except DomainError as err:
            raise RowRefused(err.code, chinese(err.message)) from None
        out.outcome = "accepted"
        seen[person] = number
    except RowRefused as refusal:
        out.outcome, out.code, out.reason = refusal.outcome, refusal.code, refusal.reason[:200]
    return out


# ---------------------------------------------------------------- batches


def _check_sender(session: Session, kind: Kind, sender: Sender, batch_no: str) -> None:
    if sender.department != kind.department:
        audit.record_refusal(
            session,
            actor=sender.actor,
            action="exchange.receive",
            target_type="exchange_batch",
            detail={"reason": "wrong_department", "kind": kind.code, "batch_no": batch_no},
        )
        raise PermissionDenied(
            f"{kind.label}只能由{DEPARTMENTS[kind.department]}报送, "
            f"不能由{DEPARTMENTS.get(sender.department, sender.department)}报送 / wrong department",
            code="wrong_department",
        )


def receive_batch(
    session: Session,
    *,
    sender: Sender,
    kind: str,
    batch_no: str,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    filename: str = "",
) -> tuple[ExchangeBatch, bool]:
    """Take one batch; ``(batch, True)`` when it had been taken before (nothing done again)."""
    spec = kind_of(kind)
    batch_no = batch_no.strip()[:64]
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", batch_no):
        raise ValidationFailed(
            "批次号只能由字母、数字和 _ . : - 组成 (1-64 位) / malformed batch number",
            code="invalid_batch_no",
        )
    _check_sender(session, spec, sender, batch_no)
    known = {c.key for c in spec.columns}
    listed: list[tuple[int, dict[str, str]]] = []
    for number, row in rows:
        listed.append((number, {k: _text(row, k) for k in known}))
        if len(listed) > MAX_ROWS:
            raise ValidationFailed(
                f"一个批次最多 {MAX_ROWS} 行, 请分批报送 / too many rows", code="too_many_rows"
            )
    digest = _content_hash(kind, [r for _, r in listed])

    def taken_before() -> tuple[ExchangeBatch, bool] | None:
        done = session.scalar(
            select(ExchangeBatch).where(
                ExchangeBatch.department == spec.department, ExchangeBatch.batch_no == batch_no
            )
        )
        if done is None:
            return None
        if done.content_sha256 != digest:
            raise Conflict(
                f"批次号 {batch_no} 已用于内容不同的批次 / batch number used for other content",
                code="batch_no_reused",
            )
        return done, True

    before = taken_before()
    if before is not None:
        return before
    batch = ExchangeBatch(
        department=spec.department,
        kind=kind,
        batch_no=batch_no,
        channel=sender.channel,
        region_code=sender.region_code,
        filename=filename[-200:],
        content_sha256=digest,
        received_by=sender.actor.name[:80],
    )
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:
        # the same batch sent twice at once: the other request took it (its unique row made
        # this insert wait until it committed), so this one answers with its results
        before = taken_before()
        if before is None:
            raise
        return before
    seen: dict[str, int] = {}
    counts = {"accepted": 0, "repeated": 0, "refused": 0, "unknown_elder": 0}
    for number, row in listed:
        result = _one_row(session, spec, sender, batch, number, row, seen)
        session.add(result)
        counts[result.outcome] += 1
    batch.total_rows = len(listed)
    batch.accepted_rows, batch.repeated_rows = counts["accepted"], counts["repeated"]
    batch.refused_rows, batch.unknown_rows = counts["refused"], counts["unknown_elder"]
    session.flush()
    audit.record(
        session,
        actor=sender.actor,
        action="exchange.receive",
        target_type="exchange_batch",
        target_id=batch.id,
        detail={"kind": kind, "batch_no": batch_no, "channel": sender.channel, **counts},
    )
    return batch, False


def batch_rows(session: Session, *, batch_id: int) -> list[ExchangeRow]:
    return list(
        session.scalars(
            select(ExchangeRow).where(ExchangeRow.batch_id == batch_id).order_by(ExchangeRow.row_no)
        )
    )


def batch_result(session: Session, batch: ExchangeBatch, *, duplicate: bool) -> dict[str, Any]:
    """The answer to the sender: the counts and each row's result (no personal data)."""
    return {
        "batch_no": batch.batch_no,
        "kind": batch.kind,
        "duplicate": duplicate,
        "rows": batch.total_rows,
        "accepted": batch.accepted_rows,
        "repeated": batch.repeated_rows,
        "refused": batch.refused_rows,
        "unknown_elder": batch.unknown_rows,
        "results": [
            {
                "row": r.row_no,
                "record_no": r.row_key,
                "outcome": r.outcome,
                "code": r.code,
                "reason": r.reason,
            }
            for r in batch_rows(session, batch_id=batch.id)
        ],
    }


# ---------------------------------------------------------------- files and officers


def officer_sender(session: Session, actor: Actor, department: str, channel: str) -> Sender:
    if department not in DEPARTMENTS:
        raise ValidationFailed("未知的报送部门 / unknown department", code="unknown_department")
    if actor.kind != "system" and actor.role not in OFFICE_ROLES:
        audit.record_refusal(
            session,
            actor=actor,
            action="exchange.upload",
            target_type="exchange_batch",
            detail={"reason": "permission_denied"},
        )
        raise PermissionDenied(
            "只有民政监管或系统管理员可以导入部门数据 / only officers and administrators import "
            "departments' data"
        )
    return Sender(department, actor.region_code, actor, channel)


def file_rows(content: bytes, filename: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of an uploaded .xlsx or .csv file (UTF-8, with or without BOM, or GB18030)."""
    spec = kind_of(kind)
    check_size(len(content), MAX_FILE_BYTES)
    if not filename.lower().endswith(".csv"):
        return list(open_rows(content, spec.columns, max_bytes=MAX_FILE_BYTES))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed("无法识别文件编码 / unreadable CSV", code="not_csv")
    reader = csv.reader(io.StringIO(text))
    header = ["".join(h.split()).rstrip("*＊") for h in next(reader, [])]
    by_header = {c.header: c for c in spec.columns}
    missing = [c.header for c in spec.columns if c.required and c.header not in header]
    unknown = [h for h in header if h and h not in by_header]
    if missing or unknown:
        raise WrongHeaders(
            "表头与模板不符 ("
            + "; ".join(
                p
                for p in (
                    "缺少必填列: " + "、".join(missing) if missing else "",
                    "无法识别的列: " + "、".join(unknown) if unknown else "",
                )
                if p
            )
            + ") / headers do not match the template",
            missing=missing,
            unknown=unknown,
        )
    keys = [by_header[h].key if h in by_header else None for h in header]
    out = []
    for number, values in enumerate(reader, start=2):
        record = {k: v.strip() for k, v in zip(keys, values, strict=False) if k is not None}
        if any(record.values()):
            out.append((number, record))
    return out


def import_file(
    session: Session,
    *,
    actor: Actor,
    department: str,
    kind: str,
    filename: str,
    content: bytes,
    channel: str = "file",
) -> tuple[ExchangeBatch, bool]:
    """An officer's file (or the command's): the batch number is the file's checksum, so the
    same file taken twice is one batch."""
    sender = officer_sender(session, actor, department, channel)
    rows = file_rows(content, filename, kind)
    batch_no = "file-" + hashlib.sha256(content).hexdigest()[:32]
    return receive_batch(
        session, sender=sender, kind=kind, batch_no=batch_no, rows=rows, filename=filename
    )


def list_batches(session: Session, *, actor: Actor, limit: int = 50) -> list[ExchangeBatch]:
    officer_sender(session, actor, "public_security", "file")  # the role check
    return list(
        session.scalars(
            select(ExchangeBatch)
            .where(within(ExchangeBatch.region_code, actor.region_code))
            .order_by(ExchangeBatch.id.desc())
            .limit(limit)
        )
    )


def get_batch(session: Session, *, actor: Actor, batch_id: int) -> ExchangeBatch:
    """A batch of the officer's region (a batch of a region above it is not theirs to see)."""
    officer_sender(session, actor, "public_security", "file")
    batch = session.get(ExchangeBatch, batch_id)
    if batch is None or not is_within(batch.region_code, actor.region_code):
        raise NotFound(f"交换批次不存在: {batch_id} / no such batch", code="batch_not_found")
    audit.record(
        session,
        actor=actor,
        action="exchange.view_batch",
        target_type="exchange_batch",
        target_id=batch.id,
    )
    return batch


def department_actor(name: str, region_code: str) -> Actor:
    return system_actor(f"{name[:40]}接口", region_code=region_code, kind="exchange_api")


def department_facts(session: Session, *, elder_id: int, tz: str) -> dict[str, Any]:
    """What departments reported of an elder, for the registry's page (whose caller has
    already checked the keeper's region): medical insurance, and the last rows taken."""
    kept = session.scalar(
        select(MedicalInsuranceStatus).where(MedicalInsuranceStatus.elder_id == elder_id)
    )
    schemes = {v: k for k, v in INSURANCE_SCHEMES.items()}
    statuses = {v: k for k, v in INSURANCE_STATUSES.items()}
    rows = session.execute(
        select(ExchangeRow, ExchangeBatch)
        .join(ExchangeBatch, ExchangeBatch.id == ExchangeRow.batch_id)
        .where(ExchangeRow.elder_id == elder_id, ExchangeRow.outcome == "accepted")
        .order_by(ExchangeRow.id.desc())
        .limit(10)
    ).all()
    return {
        "insurance": (
            {
                "scheme": schemes.get(kept.scheme, kept.scheme),
                "status": statuses.get(kept.status, kept.status),
                "as_of": kept.as_of.isoformat(),
            }
            if kept is not None
            else None
        ),
        "reports": [
            {
                "department": DEPARTMENTS.get(b.department, b.department),
                "kind": KINDS[b.kind].label,
                "batch_no": b.batch_no,
                "at": clock.local(b.received_at, tz).strftime("%Y-%m-%d %H:%M"),
            }
            for r, b in rows
        ],
    }
