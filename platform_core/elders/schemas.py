"""Validated input shapes of the elder profile (pydantic v2), with Chinese-aware rules.

ID numbers are checked per GB 11643 and phone numbers normalised here, so a form or an import
learns what is wrong before anything is written. A bare local phone number (``6912345``) is
kept as given and completed by the service with the area code of the elder's region.
Use :func:`validate_input` to turn pydantic's errors into a ``ValidationFailed`` with a code.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from platform_core.elders import idcard, phones
from platform_core.elders.ethnicity import ETHNICITIES
from platform_core.elders.vocabulary import (
    CATEGORY_SUBTYPES,
    DISABILITY_GRADES,
    Category,
    IvrLanguage,
    LivingArrangement,
    PhoneUse,
    RiskLevel,
)
from platform_core.errors import ValidationFailed
from platform_core.regions.codes import InvalidRegionCode, normalize_code

# Minority names are written with a middle dot (阿不都·热合曼); people type it in many ways.
_DOT_VARIANTS = re.compile(r"[\u2022\u2027\u30fb\u00b7\uff0e.•・]")
_NAME = re.compile(r"[\u3400-\u9fff\u00b7A-Za-z ]+")

M = TypeVar("M", bound=BaseModel)


def clean_name(raw: str) -> str:
    """Trim, unify full-width forms and the middle dot, drop spaces between Chinese characters."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = _DOT_VARIANTS.sub("\u00b7", text)
    text = re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", text)
    text = re.sub(r"\s+", " ", text)
    if len(text) < 2:
        raise ValueError("姓名至少两个字 / a name has at least two characters")
    if len(text) > 40:
        raise ValueError("姓名过长 / name too long")
    if not _NAME.fullmatch(text) or text.startswith("\u00b7") or text.endswith("\u00b7"):
        raise ValueError(
            f"姓名含有不允许的字符: {text!r} / name contains characters that are not allowed"
        )
    return text


def _phone_digits(raw: str, info: Any) -> str:
    area = (info.context or {}).get("area_code") if info is not None else None
    try:
        return phones.normalize_phone(raw, area_code=area).digits
    except phones.InvalidPhoneNumber as exc:
        if exc.details.get("reason") == "missing_area_code":
            return re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))
        raise _domain(exc) from None


def _domain(exc: ValidationFailed) -> PydanticCustomError:
    """Keep the domain error's stable code (``invalid_id_number`` ...) as the problem's type."""
    return PydanticCustomError(exc.code, exc.message.replace("{", "(").replace("}", ")"))


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class PhoneIn(_In):
    number: str
    kind: PhoneUse = PhoneUse.MOBILE

    @field_validator("number")
    @classmethod
    def _normalise(cls, v: str, info: Any) -> str:
        return _phone_digits(v, info)


class ContactIn(_In):
    name: str
    relation: str = Field(min_length=1, max_length=20)
    phone: str
    priority: int = Field(default=1, ge=1, le=9)
    holds_key: bool = False
    note: str | None = Field(default=None, max_length=255)

    _name = field_validator("name")(classmethod(lambda cls, v: clean_name(v)))

    @field_validator("phone")
    @classmethod
    def _normalise(cls, v: str, info: Any) -> str:
        return _phone_digits(v, info)


class CategoryIn(_In):
    category: Category
    subtype: str | None = None
    grade: int | None = None
    certified_on: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CategoryIn:
        subtypes = CATEGORY_SUBTYPES.get(self.category)
        if self.subtype is not None and (not subtypes or self.subtype not in subtypes):
            allowed = "、".join(subtypes or {}) or "无"
            raise ValueError(
                f"类别 {self.category.value} 的子类不对: {self.subtype} (可选: {allowed}) / wrong subtype"
            )
        if self.category is Category.DISABILITY:
            if self.subtype is None:
                raise ValueError("残疾类别须注明残疾类型 / disability needs its type")
            if self.grade not in DISABILITY_GRADES:
                raise ValueError("残疾等级应为 1-4 级 / disability grade must be 1-4")
        elif self.grade is not None:
            raise ValueError("只有残疾类别有等级 / only a disability has a grade")
        return self


class HealthIn(_In):
    chronic_illnesses: list[str] = Field(default_factory=list)
    allergies: list[str] = Field(default_factory=list)
    medications: list[str] = Field(default_factory=list)
    disabilities: list[str] = Field(default_factory=list)
    notes: str = Field(default="", max_length=2000)


class HousingIn(_In):
    floor: int | None = Field(default=None, ge=-2, le=100)
    has_elevator: bool | None = None
    bathroom: str | None = Field(default=None, max_length=40)
    risks: list[str] = Field(default_factory=list)


class ConsentIn(_In):
    consenter_name: str
    consenter_relation: str = Field(default="本人", max_length=20)
    by_guardian: bool = False
    scope: list[str] = Field(min_length=1)
    consented_on: date

    _name = field_validator("consenter_name")(classmethod(lambda cls, v: clean_name(v)))

    @model_validator(mode="after")
    def _guardian(self) -> ConsentIn:
        if self.by_guardian and self.consenter_relation == "本人":
            raise ValueError(
                "监护人同意须注明与老人的关系 / a guardian's consent names the relation"
            )
        return self


class ProvenanceIn(_In):
    source_department: str = Field(min_length=1, max_length=60)
    batch: str = Field(min_length=1, max_length=60)
    imported_at: datetime


def _region(v: str) -> str:
    try:
        return normalize_code(v)
    except InvalidRegionCode as exc:
        raise _domain(exc) from None


def _ethnicity(v: str) -> str:
    v = v.zfill(2)
    if v not in ETHNICITIES:
        raise ValueError(f"民族代码 {v} 不在 GB/T 3304 中 / unknown ethnicity code")
    return v


def _id_number(v: str) -> str:
    try:
        return idcard.parse_id_number(v).number
    except idcard.InvalidIdNumber as exc:
        raise _domain(exc) from None


class ElderIn(_In):
    """Everything a registration (form or import) supplies."""

    name: str
    id_number: str
    ethnicity_code: str = "01"
    photo_path: str | None = Field(default=None, max_length=255)
    address: str = Field(min_length=2, max_length=255)
    region_code: str
    household_address: str | None = Field(default=None, max_length=255)
    household_region_code: str | None = None
    latitude: float | None = Field(default=None, ge=3.0, le=54.0)  # China's extent
    longitude: float | None = Field(default=None, ge=73.0, le=136.0)
    phones: list[PhoneIn] = Field(default_factory=list)
    contacts: list[ContactIn] = Field(default_factory=list)
    living_arrangement: LivingArrangement = LivingArrangement.WITH_FAMILY
    categories: list[CategoryIn] = Field(default_factory=list)
    health: HealthIn = Field(default_factory=HealthIn)
    housing: HousingIn = Field(default_factory=HousingIn)
    ivr_language: IvrLanguage = IvrLanguage.MANDARIN
    risk_level: RiskLevel = RiskLevel.NORMAL
    consents: list[ConsentIn] = Field(default_factory=list)
    # field name -> where its value came from (imports); "*" covers every field given.
    provenance: dict[str, ProvenanceIn] = Field(default_factory=dict)

    _name = field_validator("name")(classmethod(lambda cls, v: clean_name(v)))
    _idn = field_validator("id_number")(classmethod(lambda cls, v: _id_number(v)))
    _eth = field_validator("ethnicity_code")(classmethod(lambda cls, v: _ethnicity(v)))
    _reg = field_validator("region_code")(classmethod(lambda cls, v: _region(v)))

    @field_validator("household_region_code")
    @classmethod
    def _household_region(cls, v: str | None) -> str | None:
        return None if v in (None, "") else _region(v)

    @model_validator(mode="after")
    def _no_duplicates(self) -> ElderIn:
        numbers = [p.number for p in self.phones]
        if len(numbers) != len(set(numbers)):
            raise ValueError("电话号码重复 / the same phone number is given twice")
        cats = [c.category for c in self.categories]
        if len(cats) != len(set(cats)):
            raise ValueError("类别重复 / the same category is given twice")
        return self


class ElderUpdate(_In):
    """A partial change: only the fields given are changed (lists replace the old lists)."""

    name: str | None = None
    id_number: str | None = None
    ethnicity_code: str | None = None
    photo_path: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, min_length=2, max_length=255)
    region_code: str | None = None
    household_address: str | None = Field(default=None, max_length=255)
    household_region_code: str | None = None
    latitude: float | None = Field(default=None, ge=3.0, le=54.0)
    longitude: float | None = Field(default=None, ge=73.0, le=136.0)
    phones: list[PhoneIn] | None = None
    living_arrangement: LivingArrangement | None = None
    categories: list[CategoryIn] | None = None
    health: HealthIn | None = None
    housing: HousingIn | None = None
    risk_level: RiskLevel | None = None
    ability_grade: str | None = Field(default=None, max_length=20)
    ability_assessed_on: date | None = None
    provenance: ProvenanceIn | None = None

    @field_validator("name")
    @classmethod
    def _n(cls, v: str | None) -> str | None:
        return None if v is None else clean_name(v)

    @field_validator("id_number")
    @classmethod
    def _i(cls, v: str | None) -> str | None:
        return None if v is None else _id_number(v)

    @field_validator("ethnicity_code")
    @classmethod
    def _e(cls, v: str | None) -> str | None:
        return None if v is None else _ethnicity(v)

    @field_validator("region_code", "household_region_code")
    @classmethod
    def _r(cls, v: str | None) -> str | None:
        return None if v is None else _region(v)


def validate_input(model: type[M], data: Any, *, area_code: str | None = None) -> M:
    """Validate ``data`` into ``model``; errors become one ``ValidationFailed`` listing each field."""
    try:
        return model.model_validate(data, context={"area_code": area_code} if area_code else None)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"]),
                "code": err["type"],
                "message": _message(err),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ValidationFailed(f"输入有误 / invalid input: {summary}", problems=problems) from None


def _message(err: Any) -> str:
    msg = str(err.get("msg", ""))
    return msg.removeprefix("Value error, ")
