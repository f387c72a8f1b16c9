"""Paper assessment forms keyed in as JSON or CSV, one form per record.

A record names items by code (``B.1.1``) or by name (``进食``), either flat beside the other
fields (the natural CSV layout) or under ``items``. Every problem of a form is collected so the
assessor fixes them all in one pass; a bad form never stops the others.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from platform_core.assessment.scoring import (
    AdjustmentFacts,
    InvalidAssessmentForm,
    Problem,
    ScoreResult,
    parse_diagnoses,
    parse_flag,
    parse_risk_events,
    score_items,
    validate_items,
)
from platform_core.assessment.standard import REASONS, find_item, looks_like_item_code, parse_reason
from platform_core.errors import ValidationFailed

# Field names a form may use for everything that is not an item (first one is canonical).
_ALIASES: dict[str, tuple[str, ...]] = {
    "form_id": ("form_id", "id", "表单编号", "编号"),
    "elder_id": ("elder_id", "老年人编号"),
    "elder_name": ("elder_name", "elder", "name", "姓名"),
    "assessed_on": ("assessed_on", "date", "评估日期"),
    "reason": ("reason", "评估原因"),
    "assessors": ("assessors", "评估员"),
    "assessor_1": ("assessor_1", "评估员1", "评估员一"),
    "assessor_2": ("assessor_2", "评估员2", "评估员二"),
    "coma": ("coma", "昏迷"),
    "diagnoses": ("diagnoses", "icd10", "诊断"),
    "risk_events": ("risk_events", "risk_events_30d", "近30天照护风险事件", "照护风险事件"),
}
_FIELD_OF = {alias.lower(): canon for canon, names in _ALIASES.items() for alias in names}


class UnreadableFormFile(ValidationFailed):
    code = "unreadable_form_file"


@dataclass
class PaperForm:
    """One record of a batch, parsed but not yet scored."""

    index: int
    form_id: str
    elder_id: int | None = None
    elder_name: str = ""
    assessed_on: date | None = None
    reason: str | None = None
    assessors: tuple[str, ...] = ()
    items: dict[str, Any] = field(default_factory=dict)
    facts: AdjustmentFacts = field(default_factory=AdjustmentFacts)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class FormOutcome:
    form: PaperForm
    result: ScoreResult | None
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"form_id": self.form.form_id, "ok": self.ok}
        if self.form.elder_name:
            out["elder_name"] = self.form.elder_name
        if self.result is not None:
            out.update(self.result.as_dict())
        else:
            out["errors"] = [p.as_dict() for p in self.problems]
        return out


def parse_record(record: Mapping[str, Any], index: int) -> PaperForm:
    problems: list[Problem] = []
    meta: dict[str, Any] = {}
    items: dict[str, Any] = {}
    for key, value in record.items():
        k = str(key).strip()
        canon = _FIELD_OF.get(k.lower())
        if canon is not None:
            meta[canon] = value
        elif k == "items" and isinstance(value, Mapping):
            items.update({str(ik): iv for ik, iv in value.items()})
        elif find_item(k) is not None or looks_like_item_code(k):
            items[k] = value
        # any other column (remarks, address ...) is the assessor's business, not scoring's
    form = PaperForm(
        index=index, form_id=str(meta.get("form_id") or f"#{index}"), items=items, problems=problems
    )
    form.elder_name = str(meta.get("elder_name") or "")
    if meta.get("elder_id") not in (None, ""):
        try:
            form.elder_id = int(meta["elder_id"])
        except (TypeError, ValueError):
            problems.append(
                Problem(
                    "elder_id",
                    "not_integer",
                    f"老年人编号 {meta['elder_id']!r} 不是整数 / elder id must be a number",
                )
            )
    if meta.get("assessed_on") not in (None, ""):
        try:
            form.assessed_on = date.fromisoformat(str(meta["assessed_on"]).strip())
        except ValueError:
            problems.append(
                Problem(
                    "assessed_on",
                    "invalid_date",
                    f"评估日期 {meta['assessed_on']!r} 应为 YYYY-MM-DD / date must be YYYY-MM-DD",
                )
            )
    if meta.get("reason") not in (None, ""):
        form.reason = parse_reason(str(meta["reason"]))
        if form.reason is None:
            problems.append(
                Problem(
                    "reason",
                    "unknown_reason",
                    f"评估原因 {meta['reason']!r} 应为 {'/'.join(REASONS.values())} / unknown reason",
                )
            )
    form.assessors = _assessors(meta, problems)
    form.facts = AdjustmentFacts(
        coma=parse_flag(meta.get("coma"), "coma", problems),
        diagnoses=parse_diagnoses(meta.get("diagnoses"), problems),
        risk_events_30d=parse_risk_events(meta.get("risk_events"), form.assessed_on, problems),
    )
    return form


def _assessors(meta: Mapping[str, Any], problems: list[Problem]) -> tuple[str, ...]:
    raw = meta.get("assessors")
    names: list[str] = []
    if isinstance(raw, list | tuple):
        names = [str(n).strip() for n in raw if str(n).strip()]
    elif raw not in (None, ""):
        names = [
            n.strip()
            for n in str(raw).replace("，", ",").replace("、", ",").replace(";", ",").split(",")
            if n.strip()
        ]
    for key in ("assessor_1", "assessor_2"):
        if meta.get(key) not in (None, ""):
            names.append(str(meta[key]).strip())
    if names and (len(names) != 2 or names[0] == names[1]):
        problems.append(
            Problem(
                "assessors",
                "two_distinct_assessors",
                f"评估员应为两名不同人员, 填写的是 {'、'.join(names)} / two distinct assessors "
                "required",
            )
        )
    return tuple(names)


def score_form(form: PaperForm) -> FormOutcome:
    """Score one parsed form; its problems (items and other fields) come back all together."""
    _, item_problems = validate_items(form.items)
    problems = list(form.problems) + item_problems
    if problems:
        return FormOutcome(form, None, tuple(problems))
    try:
        result = score_items(form.items, form.facts)
    except InvalidAssessmentForm as exc:  # pragma: no cover - validate_items found none above
        return FormOutcome(form, None, tuple(exc.problems))
    return FormOutcome(form, result)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON (list, ``{"forms": [...]}`` or one object) or CSV file (header row)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFormFile(f"无法读取 {path}: {exc.strerror} / cannot read the file") from exc
    text = raw.decode("utf-8-sig")  # Excel saves CSV with a BOM
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableFormFile(
                f"{path} 不是合法的 JSON (第 {exc.lineno} 行) / invalid JSON: {exc.msg}"
            ) from exc
        if isinstance(data, Mapping):
            data = data.get("forms", [data])
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise UnreadableFormFile(
                f"{path}: JSON 应为评估表对象的列表 / expected a list of form objects"
            )
        return [dict(r) for r in data]
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise UnreadableFormFile(f"{path}: CSV 没有数据行 / no data rows under the header")
    return [{k: v for k, v in row.items() if k is not None} for row in rows]


def score_file(path: Path) -> list[FormOutcome]:
    return [score_form(parse_record(rec, i + 1)) for i, rec in enumerate(read_records(path))]
