"""Region use cases: load the dictionary, resolve codes and aliases, scope queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from platform_core.errors import DomainError, NotFound, OutOfRegion
from platform_core.regions import codes
from platform_core.regions.dictionary import ALIASES, DICTIONARY_VERSION, LEAGUES, PROVINCE
from platform_core.regions.models import Region, RegionAlias


def load_dictionary(session: Session) -> int:
    """Insert or refresh the shipped dictionary; returns how many regions it holds."""
    existing = {r.code: r for r in session.scalars(select(Region))}

    def upsert(code6: str, name: str, parent: str | None, area: str | None) -> None:
        code = codes.normalize_code(code6)
        row = existing.get(code)
        if row is None:
            row = Region(code=code)
            session.add(row)
            existing[code] = row
        row.name, row.level, row.parent_code = name, codes.level_of(code), parent
        row.area_code, row.dictionary_version = area, DICTIONARY_VERSION

    province = codes.normalize_code(PROVINCE[0])
    upsert(PROVINCE[0], PROVINCE[1], None, None)
    session.flush()
    for league, (name, area, counties) in LEAGUES.items():
        upsert(league, name, province, area)
        session.flush()
        for county, cname in counties.items():
            upsert(county, cname, codes.normalize_code(league), area)
    session.flush()
    aliases = {a.old_code: a for a in session.scalars(select(RegionAlias))}
    for old, (new, note) in ALIASES.items():
        old12, new12 = codes.normalize_code(old), codes.normalize_code(new)
        alias = aliases.get(old12) or RegionAlias(old_code=old12)
        alias.code, alias.note, alias.dictionary_version = new12, note, DICTIONARY_VERSION
        session.add(alias)
    session.flush()
    return len(existing)


def canonical_code(session: Session, raw: str | int) -> str:
    """Normalise a code and map old codes to today's (keeping the township/village segments)."""
    code = codes.normalize_code(raw)
    for length in (6, 4):
        alias = session.get(RegionAlias, code[:length].ljust(12, "0"))
        if alias is not None:
            return alias.code[:length] + code[length:]
    return code


def get_region(session: Session, code: str) -> Region:
    region = session.get(Region, codes.normalize_code(code))
    if region is None:
        raise NotFound(f"区划不存在: {code} / unknown region", code="region_not_found")
    return region


def find_region(session: Session, code: str) -> Region | None:
    return session.get(Region, codes.normalize_code(code))


# Region names by code, read once per process (the dictionary changes with a release).
_NAMES: dict[str, str] = {}


def region_label(open_session: Callable[[], AbstractContextManager[Session]], code: str) -> str:
    """A region as people name it (呼和浩特市, 内蒙古自治区), never its 12-digit code on screen;
    the code itself when it names no region. A session is opened only for a name not known yet."""
    name = _NAMES.get(code)
    if name is None:
        try:
            with open_session() as s:
                found = find_region(s, code)
        except DomainError:  # not a region code at all
            return code
        name = str(found.name) if found is not None else code
        if found is not None:
            _NAMES[code] = name
    return name


def ensure_region(session: Session, code: str, name: str | None = None) -> Region:
    """Return the region, creating a township or village under a known county when needed."""
    code = canonical_code(session, code)
    region = session.get(Region, code)
    if region is not None:
        return region
    parent = codes.parent_of(code)
    if parent is None:
        raise NotFound(f"区划不存在: {code} / unknown region", code="region_not_found")
    parent_region = ensure_region(session, parent)
    region = Region(
        code=code,
        name=name
        or f"{parent_region.name}{codes.township_kind(code) or codes.village_kind(code)}{code[-3:]}",
        level=codes.level_of(code),
        parent_code=parent_region.code,
        area_code=parent_region.area_code,
        dictionary_version=DICTIONARY_VERSION,
    )
    session.add(region)
    session.flush()
    return region


def ensure_many(session: Session, wanted: Iterable[str]) -> None:
    """:func:`ensure_region` for many canonical codes at once (an import names thousands of
    villages): one query finds what is on record, the rest is created parents first."""
    targets = {codes.normalize_code(c) for c in wanted}
    needed: set[str] = set()
    for code in targets:
        current: str | None = code
        while current:
            needed.add(current)
            current = codes.parent_of(current)
    known = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(needed)))}
    for code in sorted(needed - set(known), key=codes.level_of):
        parent_code = codes.parent_of(code)
        parent = known.get(parent_code or "")
        if parent is None or codes.level_of(code) < 4:
            raise NotFound(f"区划不存在: {code} / unknown region", code="region_not_found")
        region = Region(
            code=code,
            name=f"{parent.name}{codes.township_kind(code) or codes.village_kind(code)}{code[-3:]}",
            level=codes.level_of(code),
            parent_code=parent.code,
            area_code=parent.area_code,
            dictionary_version=DICTIONARY_VERSION,
        )
        session.add(region)
        known[code] = region
    session.flush()


def list_children(session: Session, code: str) -> list[Region]:
    return list(
        session.scalars(
            select(Region)
            .where(Region.parent_code == codes.normalize_code(code))
            .order_by(Region.code)
        )
    )


def picker_options(session: Session, *, parent_code: str, scope_code: str) -> list[Region]:
    """The regions a cascading picker (盟市 -> 旗县区 -> 苏木乡镇 -> 嘎查村) offers below
    ``parent_code`` to a user of ``scope_code``: every child inside the scope; above the scope,
    only the one child on the way down to it (a Hohhot agent picks no other 盟市). A parent
    beside the scope is refused."""
    parent = codes.normalize_code(parent_code)
    scope = codes.normalize_code(scope_code)
    if codes.is_within(parent, scope):
        return list_children(session, parent)
    if codes.is_within(scope, parent):
        return [r for r in list_children(session, parent) if codes.is_within(scope, r.code)]
    raise OutOfRegion("无权访问其他地区的数据 / outside your region")


def regions_within(session: Session, code: str, *, max_level: int) -> list[Region]:
    """``code`` and the regions below it down to ``max_level``, in code order (a tree's
    depth-first order: a parent comes before its children)."""
    scope = codes.normalize_code(code)
    return list(
        session.scalars(
            select(Region)
            .where(within(Region.code, scope), Region.level <= max_level)
            .order_by(Region.code)
        )
    )


def list_leagues(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).where(Region.level == 2).order_by(Region.code)))


def region_path(session: Session, code: str) -> list[Region]:
    """From the autonomous region down to ``code``."""
    out: list[Region] = []
    current: str | None = codes.normalize_code(code)
    while current:
        region = session.get(Region, current)
        if region is not None:
            out.append(region)
        current = codes.parent_of(current)
    return list(reversed(out))


def full_name(session: Session, code: str) -> str:
    return "".join(r.name for r in region_path(session, code)[1:])


def within(column: Any, scope_code: str) -> ColumnElement[bool]:
    """SQL condition: ``column`` is ``scope_code`` or any region below it."""
    prefix = codes.scope_prefix(scope_code)
    if len(prefix) == 12:
        return column == prefix  # type: ignore[no-any-return]
    return column.startswith(prefix, autoescape=False)  # type: ignore[no-any-return]


def require_within(record_region: str, scope_code: str) -> None:
    """Raise when a record lies outside the user's region (no hint of what it holds)."""
    if not codes.is_within(record_region, scope_code):
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
