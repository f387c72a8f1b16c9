"""Elders from the Excel files departments send: the template, the rules each row must pass, and
the bulk write of the rows that are new.

A row is checked with the same input rules as the registration form (``ElderIn``), plus what a
file adds: the region must be a known 旗县区 (or below) inside the uploader's region, an ID number
may appear once in the file, and an elder already on record must agree with the row (same
name, region and address), in which case the row changes nothing. Rows are read, checked and
written in chunks, so a file of a hundred thousand rows is never held in memory at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from platform_core.db import bulk_insert, reserve_ids, utcnow
from platform_core.elders import idcard, phones
from platform_core.elders.ethnicity import ETHNICITIES
from platform_core.elders.models import (
    Elder,
    ElderCategory,
    ElderPhone,
    EmergencyContact,
    FieldProvenance,
)
from platform_core.elders.schemas import ElderIn, validate_input
from platform_core.elders.service import area_code_for, known_county
from platform_core.elders.vocabulary import (
    CATEGORY_LABELS,
    CATEGORY_SUBTYPES,
    LIVING_LABELS,
    Category,
    ElderStatus,
)
from platform_core.errors import DomainError, ValidationFailed
from platform_core.imports import workbook
from platform_core.imports.workbook import Column, Outcome, RowProblem, Source, chunks, template
from platform_core.regions import codes
from platform_core.regions import service as regions
from platform_core.regions.models import Region
from platform_core.runtime import cipher_of
from platform_core.security.masking import mask_id_number

CHUNK = 1000

COLUMNS = (
    Column("name", "姓名", True, "巴特尔"),
    Column(
        "id_number",
        "身份证号",
        True,
        "150102194103090011",
        text=True,
        note="18 位 (旧式 15 位自动升位), 末位可为 X",
    ),
    Column("ethnicity", "民族", False, "蒙古族", note="民族名称或 GB/T 3304 代码, 默认汉族"),
    Column("address", "居住地址", True, "新城区某街道 1号楼 3单元 502"),
    Column(
        "region_code",
        "区划代码",
        True,
        "150102001001",
        text=True,
        note="12 位区划代码 (旗县区及以下), 须在您的管辖范围内",
    ),
    Column("household_address", "户籍地址", False, ""),
    Column("mobile", "手机", False, "13900471001", text=True),
    Column(
        "home_phone",
        "固定电话",
        False,
        "0471-6912345",
        text=True,
        note="可省略区号, 按区划所在盟市补全",
    ),
    Column("living", "居住情况", False, "独居", note="独居 / 空巢 / 与家人同住"),
    Column(
        "categories",
        "类别",
        False,
        "低保、高龄",
        note="多个用顿号或分号分隔; 特困(三无)、残疾(肢体残疾2级) 这样写子类和等级",
    ),
    Column("contact_name", "紧急联系人", False, "王小明"),
    Column("contact_relation", "联系人关系", False, "儿子"),
    Column("contact_phone", "联系人电话", False, "13800471009", text=True),
    Column("contact_key", "持有钥匙", False, "是", note="是 / 否"),
)
HEADERS = {c.key: c.header for c in COLUMNS}
# ElderIn's field path -> the column a person fixes
_FIELD_COLUMN = {
    "name": "name",
    "id_number": "id_number",
    "ethnicity_code": "ethnicity",
    "address": "address",
    "region_code": "region_code",
    "household_address": "household_address",
    "living_arrangement": "living",
    "categories": "categories",
    "contacts": "contact_name",
    "phones": "mobile",
}
# the column a row filled in -> the profile field whose provenance it sets
_PROFILE_FIELD = {
    "name": "name",
    "id_number": "id_number",
    "ethnicity": "ethnicity_code",
    "address": "address",
    "region_code": "region_code",
    "household_address": "household_address",
    "mobile": "phones",
    "home_phone": "phones",
    "living": "living_arrangement",
    "categories": "categories",
    "contact_name": "contacts",
    "contact_relation": "contacts",
    "contact_phone": "contacts",
    "contact_key": "contacts",
}
_SPLIT = re.compile(r"[、;；,，\s]+")
_WITH_DETAIL = re.compile(r"^(?P<label>[^()（）]+)[(（](?P<detail>[^)）]*)[)）]$")
_YES = {"是", "有", "y", "yes", "true", "1", "√"}
_NO = {"", "否", "无", "n", "no", "false", "0"}
_LIVING = {label: value.value for value, label in LIVING_LABELS.items()}
_CATEGORY = {label: value for value, label in CATEGORY_LABELS.items()}
_ETHNICITY = {name: code for code, name in ETHNICITIES.items()}


def template_bytes() -> bytes:
    return template(
        COLUMNS,
        title="老年人基础信息",
        notes=(
            "带 * 的列必填; 第 2 行是示例, 上传前请删除或覆盖",
            "同一身份证号在文件中只能出现一次; 已在册的老人再次导入时若信息一致则不变, 不一致则报错",
            "先「试导入」查看每一行的问题, 全部无误后再「正式导入」; 有一行错误则整个文件都不写入",
        ),
    )


@dataclass(frozen=True)
class _Checked:
    row: int
    data: ElderIn
    number: str
    index: str
    region_code: str
    area_code: str | None
    fields: frozenset[str]  # the profile fields this row gave (their provenance)


class _Regions:
    """Region codes resolved once per file. What decides a code (its 旗县区 known, an old code's
    alias, the area code) is the county's, so each county is looked up once."""

    def __init__(self, session: Session, scope: str) -> None:
        self.session, self.scope = session, scope
        self._counties: dict[str, tuple[str, str | None] | DomainError] = {}
        self._present: set[str] = set()

    def _county(self, county6: str) -> tuple[str, str | None]:
        found = self._counties.get(county6)
        if found is None:
            try:
                code = known_county(self.session, county6.ljust(12, "0"))
                found = (code[:6], area_code_for(self.session, code))
            except DomainError as err:
                found = err
            self._counties[county6] = found
        if isinstance(found, DomainError):
            raise found
        return found

    def resolve(self, raw: str) -> tuple[str, str | None]:
        """(canonical code, area code), or the refusal: unknown, or outside the scope."""
        code = codes.normalize_code(raw)
        if codes.level_of(code) < 3:
            raise ValidationFailed(
                f"区划不存在或不是旗县区以下: {code} / unknown region (must be a county or below)",
                code="region_not_found",
            )
        county, area = self._county(code[:6])
        code = county + code[6:]
        if not codes.is_within(code, self.scope):
            raise ValidationFailed(
                f"区划 {code} 不在您的管辖范围内 / region outside yours", code="out_of_region"
            )
        return code, area

    def ensure(self, wanted: Iterable[str]) -> None:
        """Create the townships and villages a chunk names that are not on record yet."""
        missing = set(wanted) - self._present
        if not missing:
            return
        present = set(self.session.scalars(select(Region.code).where(Region.code.in_(missing))))
        for code in sorted(missing - present):
            regions.ensure_region(self.session, code)
        self._present |= missing


def _categories(raw: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in (i for i in _SPLIT.split(raw) if i):
        match = _WITH_DETAIL.match(item)
        label, detail = (match["label"], match["detail"]) if match else (item, "")
        category = _CATEGORY.get(label)
        if category is None:
            raise ValueError(f"未知类别: {item}")
        entry: dict[str, Any] = {"category": category.value}
        if detail:
            subtypes = {v: k for k, v in (CATEGORY_SUBTYPES.get(category) or {}).items()}
            grade = re.search(r"([1-4])级$", detail)
            name = detail[: grade.start()] if grade else detail
            if name not in subtypes:
                raise ValueError(f"类别 {label} 的子类不对: {detail}")
            entry["subtype"] = subtypes[name]
            if grade:
                entry["grade"] = int(grade.group(1))
        elif category is Category.DISABILITY:
            raise ValueError("残疾须写明类型和等级, 如 残疾(肢体残疾2级)")
        out.append(entry)
    return out


def _problem(row: int, column: str, code: str, message: str) -> RowProblem:
    return RowProblem(row, HEADERS.get(column, ""), code, message)


def _id_problem(row: int, raw: str, today: date) -> RowProblem:
    try:
        idcard.parse_id_number(raw, today=today)
    except idcard.InvalidIdNumber as err:
        reason = str(err.details.get("reason", ""))
        code = {
            "check_digit": "id_check_digit",
            "birth_date": "impossible_birth_date",
            "future_birth_date": "impossible_birth_date",
        }.get(reason, "invalid_id_number")
        return _problem(row, "id_number", code, err.message)
    return _problem(row, "id_number", "invalid_id_number", "身份证号无效 / invalid ID number")


def _shape(record: dict[str, str]) -> dict[str, Any]:
    """The row as ``ElderIn`` input; a cell that cannot be read raises ValueError naming it."""
    data: dict[str, Any] = {
        "name": record.get("name", ""),
        "id_number": record.get("id_number", ""),
        "address": record.get("address", ""),
        "region_code": record.get("region_code", ""),
    }
    if record.get("household_address"):
        data["household_address"] = record["household_address"]
    eth = record.get("ethnicity", "")
    if eth:
        data["ethnicity_code"] = _ETHNICITY.get(eth, eth)
    living = record.get("living", "")
    if living:
        if living not in _LIVING:
            raise ValueError("living", f"居住情况只能是 独居/空巢/与家人同住: {living}")
        data["living_arrangement"] = _LIVING[living]
    numbers: list[dict[str, str]] = []
    if record.get("mobile"):
        numbers.append({"number": record["mobile"], "kind": "mobile"})
    if record.get("home_phone"):
        numbers.append({"number": record["home_phone"], "kind": "home"})
    data["phones"] = numbers
    if record.get("categories"):
        try:
            data["categories"] = _categories(record["categories"])
        except ValueError as exc:
            raise ValueError("categories", str(exc)) from None
    contact = [record.get(k, "") for k in ("contact_name", "contact_relation", "contact_phone")]
    if any(contact):
        key = record.get("contact_key", "").strip().lower()
        if key not in _YES | _NO:
            raise ValueError("contact_key", f"持有钥匙只能填 是/否: {key}")
        data["contacts"] = [
            {
                "name": contact[0],
                "relation": contact[1] or "其他",
                "phone": contact[2],
                "holds_key": key in _YES,
            }
        ]
    return data


def _check_row(
    number: int, record: dict[str, str], *, regions_: _Regions, today: date, session: Session
) -> _Checked | list[RowProblem]:
    missing = [c for c in COLUMNS if c.required and not record.get(c.key)]
    if missing:
        return [
            _problem(number, c.key, "missing_field", f"{c.header}为必填项 / required")
            for c in missing
        ]
    try:
        data = _shape(record)
    except ValueError as exc:
        column, message = exc.args if len(exc.args) == 2 else ("", str(exc))
        return [_problem(number, column, "invalid_value", message)]
    try:
        region_code, area = regions_.resolve(record["region_code"])
    except (DomainError, codes.InvalidRegionCode) as err:
        message = err.message if isinstance(err, DomainError) else str(err)
        code = "out_of_region" if getattr(err, "code", "") == "out_of_region" else "unknown_region"
        return [_problem(number, "region_code", code, message)]
    data["region_code"] = region_code
    try:
        elder_in = validate_input(ElderIn, data, area_code=area)
    except ValidationFailed as err:
        out = []
        for p in err.details.get("problems", []):
            top = str(p["field"]).split(".")[0]
            column = _FIELD_COLUMN.get(top, "")
            if top == "id_number":
                out.append(_id_problem(number, record.get("id_number", ""), today))
                continue
            if top == "phones":
                index = str(p["field"]).split(".")[1:2]
                column = "home_phone" if index == ["1"] or not record.get("mobile") else "mobile"
                if index == ["0"] and record.get("mobile"):
                    column = "mobile"
            if top == "contacts" and ".phone" in str(p["field"]):
                column = "contact_phone"
            code = "bad_phone" if top == "phones" or column == "contact_phone" else str(p["code"])
            out.append(_problem(number, column, code, str(p["message"])))
        return out
    parsed = idcard.parse_id_number(elder_in.id_number, today=today)
    filled = frozenset(_PROFILE_FIELD[k] for k, v in record.items() if v)
    return _Checked(
        number,
        elder_in,
        parsed.number,
        cipher_of(session).blind_index(parsed.number),
        region_code,
        area,
        filled,
    )


def _existing(session: Session, numbers: Iterable[str]) -> dict[str, Elder]:
    """Elders on record for these ID numbers, by the number (either key during a rotation)."""
    cipher = cipher_of(session)
    by_index: dict[str, str] = {}
    for number in numbers:
        for index in cipher.blind_indexes(number):
            by_index[index] = number
    if not by_index:
        return {}
    rows = session.scalars(select(Elder).where(Elder.id_number_index.in_(list(by_index))))
    return {by_index[e.id_number_index]: e for e in rows}


def _conflicts(elder: Elder, row: _Checked) -> list[str]:
    data = row.data
    out = []
    if elder.name != data.name:
        out.append(f"姓名 (在册: {elder.name})")
    if elder.region_code != row.region_code:
        out.append(f"区划代码 (在册: {elder.region_code})")
    if elder.address != data.address:
        out.append("居住地址")
    return out


def process(session: Session, run: workbook.ImportPass) -> Outcome:
    """Check every row; with ``source``, also insert the new ones (the caller commits only
    when the outcome has no problems, so a file with one bad row writes nothing)."""
    outcome = Outcome()
    seen: dict[str, int] = {}  # blind index -> the first row that had it
    regions_ = _Regions(session, run.scope_region)
    for chunk in chunks(run.rows, CHUNK):
        checked: list[_Checked] = []
        for number, record in chunk:
            outcome.rows += 1
            result = _check_row(number, record, regions_=regions_, today=run.today, session=session)
            if isinstance(result, list):
                outcome.problems.extend(result)
                continue
            first = seen.setdefault(result.index, number)
            if first != number:
                outcome.problems.append(
                    _problem(
                        number,
                        "id_number",
                        "duplicate_in_file",
                        f"与第 {first} 行身份证号重复 / same ID number as row {first}",
                    )
                )
                continue
            checked.append(result)
        existing = _existing(session, [c.number for c in checked])
        fresh: list[_Checked] = []
        for row in checked:
            elder = existing.get(row.number)
            if elder is None:
                fresh.append(row)
                continue
            conflicts = _conflicts(elder, row)
            if conflicts:
                outcome.problems.append(
                    _problem(
                        row.row,
                        "id_number",
                        "conflicts_with_record",
                        f"该身份证号已在册 (档案 {elder.id}), 但以下信息不一致: "
                        f"{'、'.join(conflicts)} / on record with different details",
                    )
                )
            else:
                outcome.unchanged += 1
        outcome.new += len(fresh)
        if run.source is not None and not outcome.problems and fresh:
            regions_.ensure(r.region_code for r in fresh)
            outcome.ids.extend(_write(session, fresh, run.source))
        run.tell(outcome)
    return outcome


def _write(session: Session, rows: list[_Checked], source: Source) -> list[int]:
    """Insert one chunk of new elders and their phones, contact, categories and provenance."""
    cipher = cipher_of(session)
    now = utcnow()
    values = []
    for r in rows:
        d = r.data
        parsed = idcard.parse_id_number(r.number, today=now.date())
        values.append(
            {
                "name": d.name,
                "id_number_sealed": cipher.seal(r.number),
                "id_number_index": r.index,
                "id_number_masked": mask_id_number(r.number),
                "sex": parsed.sex,
                "birth_date": parsed.birth_date,
                "ethnicity_code": d.ethnicity_code,
                "household_address": d.household_address,
                "address": d.address,
                "region_code": r.region_code,
                "living_arrangement": d.living_arrangement.value,
                "housing_risks": [],
                "ivr_language": d.ivr_language.value,
                "risk_level": d.risk_level.value,
                "status": ElderStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = dict(zip([r.index for r in rows], _insert_elders(session, values), strict=True))
    phone_rows: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    provenance: list[dict[str, Any]] = []
    for r in rows:
        elder_id = ids[r.index]
        for p in r.data.phones:
            digits = _local(p.number, r.area_code)
            if all(x["number"] != digits for x in phone_rows if x["elder_id"] == elder_id):
                phone_rows.append({"elder_id": elder_id, "number": digits, "kind": p.kind.value})
        for c in r.data.contacts:
            contacts.append(
                {
                    "elder_id": elder_id,
                    "name": c.name,
                    "relation": c.relation,
                    "phone": _local(c.phone, r.area_code),
                    "priority": c.priority,
                    "holds_key": c.holds_key,
                }
            )
        for cat in r.data.categories:
            categories.append(
                {
                    "elder_id": elder_id,
                    "category": cat.category.value,
                    "subtype": cat.subtype,
                    "grade": cat.grade,
                }
            )
        for column in sorted(r.fields):
            provenance.append(
                {
                    "elder_id": elder_id,
                    "field": column,
                    "source_department": source.source_department,
                    "batch": source.batch,
                    "imported_at": source.imported_at,
                }
            )
    for model, batch in (
        (ElderPhone, phone_rows),
        (EmergencyContact, contacts),
        (ElderCategory, categories),
        (FieldProvenance, provenance),
    ):
        bulk_insert(session, model.__table__, batch)
    return list(ids.values())


def _insert_elders(session: Session, values: list[dict[str, Any]]) -> list[int]:
    """The new elders' ids, in the order of ``values``."""
    if session.get_bind().dialect.name == "postgresql":
        ids = reserve_ids(session, Elder.__table__, len(values))
        bulk_insert(
            session, Elder.__table__, [{"id": i, **v} for i, v in zip(ids, values, strict=True)]
        )
        return ids
    return list(
        session.scalars(insert(Elder).returning(Elder.id, sort_by_parameter_order=True), values)
    )


def _local(number: str, area_code: str | None) -> str:
    """A bare local number completed with the region's area code (the form does the same)."""
    return phones.normalize_phone(number, area_code=area_code).digits
