"""Per-盟市 care policy: subsidy amounts, caps, eligible categories and intervals.

Each care module declares its policy as a frozen dataclass whose field defaults are the
region-wide starting values. An administrator overrides any field for the whole autonomous
region or for one 盟市 (rows of ``care_policies``); the most specific value wins. Money is
``Decimal``; maps from elder category or ability grade to an amount are ``dict[str, Decimal]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, ClassVar, Protocol, TypeVar, get_args, get_origin, get_type_hints

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.care_policy.models import CarePolicyRow
from platform_core.catalogue.models import CATEGORY_LABELS as SERVICE_CATEGORY_LABELS
from platform_core.catalogue.models import ServiceCategory
from platform_core.elders.vocabulary import (
    CATEGORY_LABELS,
    GRADE_ENGLISH,
    GRADE_LABELS,
    AbilityGrade,
)
from platform_core.errors import PermissionDenied, ValidationFailed
from platform_core.regions import codes
from platform_core.regions.service import get_region, require_within


class Policy(Protocol):
    section: ClassVar[str]


P = TypeVar("P")


class InvalidPolicy(ValidationFailed):
    code = "invalid_care_policy"


def _coerce(name: str, hint: Any, raw: Any) -> Any:
    origin = get_origin(hint)
    try:
        if hint is Decimal:
            value = Decimal(str(raw))
            if value < 0 or not value.is_finite():
                raise InvalidOperation
            return value
        if hint is int:
            if isinstance(raw, bool) or int(raw) != float(raw) or int(raw) < 0:
                raise ValueError
            return int(raw)
        if hint is bool:
            if not isinstance(raw, bool):
                raise ValueError
            return raw
        if hint is str:
            return str(raw)
        if origin is dict:
            _, value_hint = get_args(hint)
            if not isinstance(raw, Mapping):
                raise ValueError
            return {str(k): _coerce(f"{name}.{k}", value_hint, v) for k, v in raw.items()}
        if origin is tuple:
            if isinstance(raw, str) or not isinstance(raw, list | tuple):
                raise ValueError
            return tuple(str(v) for v in raw)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise InvalidPolicy(
            f"配置项 {name} 的值 {raw!r} 不合法 / invalid value for {name}", key=name
        ) from exc
    raise InvalidPolicy(f"配置项 {name} 的类型不受支持 / unsupported type", key=name)


# Field metadata naming the closed vocabulary a policy value is made of: an override that names
# a category or grade the rest of the platform does not know would silently never apply.
VOCABULARY = "vocabulary"
ELDER_CATEGORY = "elder_category"  # platform_core.elders.vocabulary.Category
ABILITY_GRADE = "ability_grade"  # grade keys as the elder profile stores them (moderate ...)
SERVICE_CATEGORY = "service_category"  # platform_core.catalogue.models.ServiceCategory


def vocabulary_codes(name: str) -> dict[str, str]:
    """code -> Chinese label of a vocabulary policy values are checked against."""
    if name == ELDER_CATEGORY:
        return {c.value: label for c, label in CATEGORY_LABELS.items()}
    if name == ABILITY_GRADE:
        return {GRADE_ENGLISH[g]: GRADE_LABELS[g] for g in AbilityGrade}
    if name == SERVICE_CATEGORY:
        return {c.value: SERVICE_CATEGORY_LABELS[c] for c in ServiceCategory}
    raise KeyError(name)


def vocabulary_field(vocabulary: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A policy field whose codes (keys of a map, items of a tuple, or the value) must be in
    ``vocabulary``."""
    return dataclasses.field(default=default, metadata={VOCABULARY: vocabulary}, **kwargs)


def codes_in(value: Any) -> list[str]:
    """The codes a policy value names: a map's keys, a tuple's items, or the value itself."""
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return [str(value)]


def _check_vocabulary(section: str, field: dataclasses.Field[Any], value: Any) -> None:
    vocabulary = field.metadata.get(VOCABULARY)
    if vocabulary is None:
        return
    known = vocabulary_codes(vocabulary)
    unknown = [c for c in codes_in(value) if c not in known]
    if unknown:
        raise InvalidPolicy(
            f"{section}.{field.name} 含有未知代码 {', '.join(unknown)} "
            f"(可选: {'、'.join(f'{k}={v}' for k, v in known.items())}) / unknown {vocabulary} code",
            key=field.name,
            unknown=unknown,
            allowed=list(known),
        )


def _parse(cls: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, raw in values.items():
        if key not in by_name:
            raise InvalidPolicy(f"{cls.section} 没有配置项 {key} / unknown policy key", key=key)
        out[key] = _coerce(key, hints[key], raw)
        _check_vocabulary(cls.section, by_name[key], out[key])
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


@lru_cache(maxsize=1)
def _policy_rows() -> Select[CarePolicyRow]:
    """A section's overrides for the region-wide and league ``codes``, built once: the care
    status beside every screen pop reads the meal aid policy."""
    return select(CarePolicyRow).where(
        CarePolicyRow.section == bindparam("section"),
        CarePolicyRow.league_code.in_(bindparam("codes", expanding=True)),
    )


def policy_for(session: Session, cls: type[P], *, region_code: str, base: P | None = None) -> P:
    """The policy in force for a record in ``region_code``: defaults (or ``base``), then the
    region-wide overrides, then the league's."""
    league = codes.league_of(codes.normalize_code(region_code))
    province = codes.normalize_code(league[:2])
    section = cls.section  # type: ignore[attr-defined]
    rows = {
        r.league_code: r
        for r in session.scalars(
            _policy_rows(), {"section": section, "codes": sorted({province, league})}
        )
    }
    policy = base if base is not None else cls()
    for code in (province, league):
        row = rows.get(code)
        if row is not None:
            policy = dataclasses.replace(policy, **_parse(cls, row.values))  # type: ignore[type-var]
    return policy


def set_policy(
    session: Session, *, actor: Actor, cls: type[Any], league_code: str, values: Mapping[str, Any]
) -> CarePolicyRow:
    """Override fields of one section for a league (or the province code for every league)."""
    code = codes.normalize_code(league_code)
    if codes.level_of(code) > 2:
        raise InvalidPolicy(
            f"补贴政策按盟市或全区配置, {code} 不是盟市 / policy is set per league",
            key="league_code",
        )
    if actor.role not in (Role.ADMIN, Role.OFFICER):
        raise PermissionDenied(
            "只有管理员或民政监管人员可以修改补贴政策 / only administrators and officers set policy"
        )
    require_within(code, actor.region_code)
    get_region(session, code)
    parsed = _parse(cls, values)
    row = session.scalar(
        select(CarePolicyRow).where(
            CarePolicyRow.league_code == code, CarePolicyRow.section == cls.section
        )
    )
    if row is None:
        row = CarePolicyRow(league_code=code, section=cls.section, values={})
        session.add(row)
    row.values = {**row.values, **{k: _plain(v) for k, v in parsed.items()}}
    row.updated_by = actor.name
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="care_policy.set",
        target_type="care_policy",
        target_id=f"{code}/{cls.section}",
        detail={"values": _plain(parsed)},
    )
    return row


def as_dict(policy: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(policy, f.name)) for f in dataclasses.fields(policy)}
