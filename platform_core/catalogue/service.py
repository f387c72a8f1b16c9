"""Catalogue use cases: service types, per-league terms, subsidy rules and price quotes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.catalogue import defaults
from platform_core.catalogue.events import ServiceTermsChanged, SubsidyRuleChanged
from platform_core.catalogue.models import (
    CATEGORY_LABELS,
    Fulfilment,
    LeagueServiceTerms,
    ServiceCategory,
    ServiceType,
    SubsidyKind,
    SubsidyRule,
)
from platform_core.catalogue.subsidy import (
    Split,
    SubsidyTerms,
    split_amount,
    to_money,
    validate_terms,
)
from platform_core.elders.vocabulary import CATEGORY_LABELS as ELDER_CATEGORY_LABELS
from platform_core.elders.vocabulary import Category
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import get_region, require_within


class UnknownServiceType(NotFound):
    code = "service_type_not_found"


@dataclass(frozen=True)
class Sla:
    response_minutes: int
    arrival_minutes: int | None


@dataclass(frozen=True)
class PriceQuote:
    service_type_code: str
    service_name: str
    league_code: str
    unit: str
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal
    subsidy: Decimal
    self_pay: Decimal
    subsidy_category: str | None
    subsidy_rule_id: int | None
    capped_by: str | None
    price_source: str  # "league" when the league overrides the price, else "default"
    sla: Sla


# ---------------------------------------------------------------- service types


# The service types a unit of work has read, held for its lifetime: the session's identity map
# keeps only what something references, and an order's opening, pricing, SLA and hand-over to
# dispatch each ask for its type (three reads of the same row per order before).
_HELD_TYPES = "catalogue.service_types"


def get_service_type(session: Session, *, code: str) -> ServiceType:
    st = find_service_type(session, code=code)
    if st is None:
        raise UnknownServiceType(f"服务类型不存在: {code} / unknown service type")
    return st


def find_service_type(session: Session, *, code: str) -> ServiceType | None:
    held: dict[str, ServiceType] = session.info.setdefault(_HELD_TYPES, {})
    st = held.get(code)
    if st is not None and st in session:
        return st
    st = session.get(ServiceType, code)
    if st is not None:
        held[code] = st
    return st


def list_service_types(
    session: Session, *, category: str | None = None, include_inactive: bool = False
) -> list[ServiceType]:
    q = select(ServiceType).order_by(ServiceType.sort_order, ServiceType.code)
    if category:
        q = q.where(ServiceType.category == category)
    if not include_inactive:
        q = q.where(ServiceType.active.is_(True))
    return list(session.scalars(q))


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


# Service type names by code, read once per process (the catalogue's names rarely change; a code
# not seen yet is read when it first appears).
_SERVICE_TYPE_NAMES: dict[str, str] = {}


def service_type_name(session: Session | None, code: str) -> str:
    """The catalogue's name of a service type (助洁, not care_cleaning); the code itself when the
    catalogue does not know it (or no session is at hand to read it)."""
    name = _SERVICE_TYPE_NAMES.get(code)
    if name is None and session is not None:
        found = session.get(ServiceType, code)
        if found is not None:
            name = _SERVICE_TYPE_NAMES[code] = str(found.name)
    return name or code


def define_service_type(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    category: str,
    unit: str,
    price: Decimal,
    response_minutes: int,
    arrival_minutes: int | None,
    fulfilment: str = Fulfilment.PROVIDER,
    description: str = "",
    sort_order: int | None = None,
    active: bool = True,
) -> ServiceType:
    """Create or update a service type with its region-wide default price and SLA."""
    if (
        not code
        or not code.replace("_", "").isalnum()
        or not code.isascii()
        or code.lower() != code
    ):
        raise ValidationFailed(
            f"服务类型代码只能用小写字母、数字和下划线: {code!r} / invalid code",
            code="invalid_service_type",
        )
    if category not in set(ServiceCategory):
        raise ValidationFailed(
            f"未知服务类别: {category} / unknown category", code="invalid_service_type"
        )
    if fulfilment not in set(Fulfilment):
        raise ValidationFailed(
            f"未知履约方式: {fulfilment} / unknown fulfilment", code="invalid_service_type"
        )
    _check_terms(price, response_minutes, arrival_minutes)
    _require_region_level(actor)
    if (
        fulfilment == Fulfilment.PROVIDER
        and arrival_minutes is None
        and category == ServiceCategory.EMERGENCY
    ):
        raise ValidationFailed(
            "紧急救援必须有到场时限 / emergency services need an arrival SLA",
            code="invalid_service_type",
        )
    st = session.get(ServiceType, code)
    if st is None:
        st = ServiceType(code=code)
        session.add(st)
        if sort_order is None:
            sort_order = (
                session.scalar(
                    select(ServiceType.sort_order).order_by(ServiceType.sort_order.desc()).limit(1)
                )
                or 0
            ) + 10
    st.name, st.category, st.unit, st.price = name, category, unit, to_money(price)
    st.response_minutes, st.arrival_minutes = response_minutes, arrival_minutes
    st.fulfilment, st.description, st.active = fulfilment, description, active
    if sort_order is not None:
        st.sort_order = sort_order
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="catalogue.define_service_type",
        target_type="service_type",
        target_id=code,
        detail={
            "price": str(st.price),
            "response_minutes": response_minutes,
            "arrival_minutes": arrival_minutes,
            "active": active,
        },
    )
    publish_on_commit(
        session,
        ServiceTermsChanged(
            region_code=_province_of(actor),
            service_type_code=code,
            price=st.price,
            response_minutes=response_minutes,
            arrival_minutes=arrival_minutes,
        ),
    )
    return st


def _province_of(actor: Actor) -> str:
    return codes.normalize_code(actor.region_code)[:2].ljust(12, "0")


def _require_region_level(actor: Actor) -> None:
    """Region-wide defaults belong to the autonomous region; a league edits only its overrides."""
    if codes.level_of(codes.normalize_code(actor.region_code)) > 1:
        raise PermissionDenied(
            "全区默认值只能由自治区级用户设置 / only region-level users set the defaults",
            code="region_default_needs_region_actor",
        )


def _check_terms(price: Decimal | None, response: int | None, arrival: int | None) -> None:
    if price is not None and Decimal(price) < 0:
        raise ValidationFailed(
            f"价格不能为负: {price} / price cannot be negative", code="invalid_service_terms"
        )
    if response is not None and response <= 0:
        raise ValidationFailed(
            f"响应时限必须大于 0 分钟: {response} / response SLA must be positive",
            code="invalid_service_terms",
        )
    if arrival is not None and arrival <= 0:
        raise ValidationFailed(
            f"到场时限必须大于 0 分钟: {arrival} / arrival SLA must be positive",
            code="invalid_service_terms",
        )
    if response is not None and arrival is not None and arrival < response:
        raise ValidationFailed(
            f"到场时限 ({arrival} 分钟) 不能早于响应时限 ({response} 分钟) / arrival SLA before response SLA",
            code="invalid_service_terms",
        )


# ---------------------------------------------------------------- per-league terms


def league_code_of(region_code: str) -> str:
    """The 盟市 a region code belongs to (accepts any level and the short forms)."""
    return codes.league_of(codes.normalize_code(region_code))


def set_league_terms(
    session: Session,
    *,
    actor: Actor,
    league_code: str,
    service_type_code: str,
    price: Decimal | None = None,
    response_minutes: int | None = None,
    arrival_minutes: int | None = None,
) -> LeagueServiceTerms:
    """Override a service type's price and/or SLA in one league; None keeps the default."""
    league = codes.normalize_code(league_code)
    if codes.level_of(league) != 2:
        raise ValidationFailed(
            f"只能按盟市设置: {league_code} / terms are set per league", code="not_a_league"
        )
    get_region(session, league)
    require_within(league, actor.region_code)
    st = get_service_type(session, code=service_type_code)
    _check_terms(
        price,
        response_minutes or st.response_minutes,
        arrival_minutes if arrival_minutes is not None else st.arrival_minutes,
    )
    terms = session.scalar(
        select(LeagueServiceTerms).where(
            LeagueServiceTerms.league_code == league,
            LeagueServiceTerms.service_type_code == st.code,
        )
    )
    if terms is None:
        terms = LeagueServiceTerms(league_code=league, service_type_code=st.code)
        session.add(terms)
    terms.price = None if price is None else to_money(price)
    terms.response_minutes, terms.arrival_minutes = response_minutes, arrival_minutes
    terms.updated_by = actor.name
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="catalogue.set_league_terms",
        target_type="service_type",
        target_id=st.code,
        detail={
            "league_code": league,
            "price": None if price is None else str(terms.price),
            "response_minutes": response_minutes,
            "arrival_minutes": arrival_minutes,
        },
    )
    publish_on_commit(
        session,
        ServiceTermsChanged(
            region_code=league,
            service_type_code=st.code,
            price=terms.price,
            response_minutes=response_minutes,
            arrival_minutes=arrival_minutes,
        ),
    )
    return terms


def _league_terms(
    session: Session, league: str, service_type_code: str
) -> LeagueServiceTerms | None:
    return session.scalar(
        select(LeagueServiceTerms).where(
            LeagueServiceTerms.league_code == league,
            LeagueServiceTerms.service_type_code == service_type_code,
        )
    )


def sla_for(
    session: Session, *, service_type_code: str, league_code: str, urgency: str = "normal"
) -> Sla:
    """The SLA in force for a service type in a league.

    An order marked emergency is held to the strictest emergency SLA of its league even when
    its own service type allows longer: an agent who judges a call an emergency is overruling
    the catalogue on purpose.
    """
    league = league_code_of(league_code)
    st = get_service_type(session, code=service_type_code)
    return _sla(session, st, league, urgency, _league_terms(session, league, st.code))


def _sla(
    session: Session,
    st: ServiceType,
    league: str,
    urgency: str,
    own_terms: LeagueServiceTerms | None,
) -> Sla:
    sla = _own_sla(st, own_terms)
    if urgency != "emergency" or st.category == ServiceCategory.EMERGENCY:
        return sla
    strictest = [
        _own_sla(e, _league_terms(session, league, e.code))
        for e in list_service_types(session, category=ServiceCategory.EMERGENCY)
    ]
    if not strictest:
        return sla
    response = min([sla.response_minutes] + [s.response_minutes for s in strictest])
    if st.fulfilment == Fulfilment.HOTLINE:
        return Sla(response, sla.arrival_minutes)  # nobody is sent: no arrival to hold it to
    arrivals = [
        a for a in [sla.arrival_minutes] + [s.arrival_minutes for s in strictest] if a is not None
    ]
    return Sla(response, min(arrivals) if arrivals else None)


def _own_sla(st: ServiceType, terms: LeagueServiceTerms | None) -> Sla:
    response = (
        terms.response_minutes
        if terms and terms.response_minutes is not None
        else st.response_minutes
    )
    arrival = (
        terms.arrival_minutes if terms and terms.arrival_minutes is not None else st.arrival_minutes
    )
    return Sla(response, arrival)


# ---------------------------------------------------------------- subsidy rules


def set_subsidy_rule(
    session: Session,
    *,
    actor: Actor,
    elder_category: str,
    kind: str,
    value: Decimal,
    league_code: str | None = None,
    service_type_code: str | None = None,
    per_order_cap: Decimal | None = None,
    monthly_cap: Decimal | None = None,
    active: bool = True,
    note: str = "",
) -> SubsidyRule:
    """Create or replace the rule for (league or region-wide, service type or all, category)."""
    league = None
    if league_code is not None:
        league = codes.normalize_code(league_code)
        if codes.level_of(league) != 2:
            raise ValidationFailed(
                f"只能按盟市设置: {league_code} / rules are set per league", code="not_a_league"
            )
        get_region(session, league)
        require_within(league, actor.region_code)
    else:
        _require_region_level(actor)
    if service_type_code is not None:
        get_service_type(session, code=service_type_code)
    elder_category = _elder_category(elder_category)
    value = to_money(value)
    validate_terms(SubsidyTerms(elder_category, kind, value, per_order_cap, monthly_cap))
    rule = session.scalar(
        select(SubsidyRule).where(
            SubsidyRule.elder_category == elder_category,
            SubsidyRule.league_code.is_(None)
            if league is None
            else SubsidyRule.league_code == league,
            SubsidyRule.service_type_code.is_(None)
            if service_type_code is None
            else SubsidyRule.service_type_code == service_type_code,
        )
    )
    if rule is None:
        rule = SubsidyRule(
            elder_category=elder_category, league_code=league, service_type_code=service_type_code
        )
        session.add(rule)
    rule.kind, rule.value, rule.active, rule.note, rule.updated_by = (
        kind,
        value,
        active,
        note,
        actor.name,
    )
    rule.per_order_cap = None if per_order_cap is None else to_money(per_order_cap)
    rule.monthly_cap = None if monthly_cap is None else to_money(monthly_cap)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="catalogue.set_subsidy_rule",
        target_type="subsidy_rule",
        target_id=rule.id,
        detail={
            "league_code": league,
            "service_type_code": service_type_code,
            "elder_category": elder_category,
            "kind": kind,
            "value": str(value),
            "per_order_cap": _s(rule.per_order_cap),
            "monthly_cap": _s(rule.monthly_cap),
            "active": active,
        },
    )
    publish_on_commit(
        session,
        SubsidyRuleChanged(
            region_code=league or _province_of(actor),
            rule_id=rule.id,
            elder_category=elder_category,
            service_type_code=service_type_code,
            kind=kind,
            value=value,
            active=active,
        ),
    )
    return rule


def _elder_category(code: str) -> str:
    """The elders module's category code; a rule for a category no elder can have would never
    pay (``dibao`` for ``subsistence``), so it is refused, naming the codes that exist."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailed(
            "补贴规则必须指定老人类别 / a rule needs an elder category", code="invalid_subsidy_rule"
        )
    if code not in set(Category):
        raise ValidationFailed(
            f"未知老人类别: {code} (可选: {'、'.join(f'{c.value}={ELDER_CATEGORY_LABELS[c]}' for c in Category)})"
            " / unknown elder category",
            code="unknown_elder_category",
            allowed=[c.value for c in Category],
        )
    return Category(code).value


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def rules_for(
    session: Session, *, service_type_code: str, league_code: str, categories: Iterable[str]
) -> list[SubsidyRule]:
    """The rule in force for each of the elder's categories (at most one per category).

    Most specific first: the league's rule for this service type, the league's rule for every
    service type, the region-wide rule for this service type, the region-wide rule for every
    type. A league rule replaces the region-wide one for its category entirely, so a league
    can also switch a subsidy off (value 0).
    """
    cats = sorted(set(categories))
    if not cats:
        return []
    league = league_code_of(league_code)
    rows = session.scalars(
        select(SubsidyRule).where(
            SubsidyRule.elder_category.in_(cats),
            or_(SubsidyRule.league_code == league, SubsidyRule.league_code.is_(None)),
            or_(
                SubsidyRule.service_type_code == service_type_code,
                SubsidyRule.service_type_code.is_(None),
            ),
        )
    )
    best: dict[str, tuple[int, SubsidyRule]] = {}
    for rule in rows:
        rank = (0 if rule.league_code else 2) + (0 if rule.service_type_code else 1)
        if rule.elder_category not in best or rank < best[rule.elder_category][0]:
            best[rule.elder_category] = (rank, rule)
    return [rule for _, rule in (best[c] for c in cats if c in best) if rule.active]


def list_subsidy_rules(session: Session, *, league_code: str | None = None) -> list[SubsidyRule]:
    q = select(SubsidyRule).order_by(
        SubsidyRule.league_code, SubsidyRule.elder_category, SubsidyRule.id
    )
    if league_code is not None:
        q = q.where(SubsidyRule.league_code == league_code_of(league_code))
    return list(session.scalars(q))


def _terms(rule: SubsidyRule) -> SubsidyTerms:
    return SubsidyTerms(
        rule.elder_category,
        SubsidyKind(rule.kind),
        rule.value,
        rule.per_order_cap,
        rule.monthly_cap,
        rule.id,
    )


# ---------------------------------------------------------------- quotes


def price_for(
    session: Session,
    *,
    service_type_code: str,
    league_code: str,
    categories: Iterable[str],
    quantity: Decimal | int = 1,
    subsidy_used_this_month: Mapping[int, Decimal] | None = None,
    urgency: str = "normal",
) -> PriceQuote:
    """Price, subsidy and self-pay of ``quantity`` units for an elder of ``categories`` in a
    league. ``subsidy_used_this_month`` (rule id -> amount) lets monthly caps count what the
    elder already received; the orders module supplies it."""
    league = league_code_of(league_code)
    st = get_service_type(session, code=service_type_code)
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ValidationFailed(
            f"数量必须大于 0: {quantity} / quantity must be positive", code="invalid_quantity"
        )
    terms = _league_terms(session, league, st.code)
    if terms is not None and terms.price is not None:
        unit_price, source = terms.price, "league"
    else:
        unit_price, source = st.price, "default"
    rules = rules_for(session, service_type_code=st.code, league_code=league, categories=categories)
    split: Split = split_amount(
        to_money(unit_price * quantity),
        quantity=quantity,
        rules=[_terms(r) for r in rules],
        used_this_month=subsidy_used_this_month,
    )
    return PriceQuote(
        service_type_code=st.code,
        service_name=st.name,
        league_code=league,
        unit=st.unit,
        unit_price=to_money(unit_price),
        quantity=quantity,
        amount=split.amount,
        subsidy=split.subsidy,
        self_pay=split.self_pay,
        subsidy_category=split.category,
        subsidy_rule_id=split.rule_id,
        capped_by=split.capped_by,
        price_source=source,
        # the league's terms read above give the SLA too: one query fewer per quote
        sla=_sla(session, st, league, urgency, terms),
    )


# ---------------------------------------------------------------- defaults


def install_defaults(session: Session, *, actor: Actor) -> int:
    """Load the shipped catalogue and region-wide subsidy rules; returns the service types
    defined. Existing service types keep an administrator's later edits: only missing ones
    are added, and a default rule is written only where none exists yet."""
    added = 0
    for i, d in enumerate(defaults.SERVICE_TYPES):
        if session.get(ServiceType, d.code) is not None:
            continue
        define_service_type(
            session,
            actor=actor,
            code=d.code,
            name=d.name,
            category=d.category,
            unit=d.unit,
            price=d.price,
            response_minutes=d.response_minutes,
            arrival_minutes=d.arrival_minutes,
            fulfilment=d.fulfilment,
            description=d.description,
            sort_order=(i + 1) * 10,
        )
        added += 1
    for r in defaults.SUBSIDY_RULES:
        exists = session.scalar(
            select(SubsidyRule.id).where(
                SubsidyRule.elder_category == r.elder_category,
                SubsidyRule.league_code.is_(None),
                SubsidyRule.service_type_code.is_(None)
                if r.service_type_code is None
                else SubsidyRule.service_type_code == r.service_type_code,
            )
        )
        if exists is None:
            set_subsidy_rule(
                session,
                actor=actor,
                elder_category=r.elder_category,
                kind=r.kind,
                value=r.value,
                service_type_code=r.service_type_code,
                per_order_cap=r.per_order_cap,
                monthly_cap=r.monthly_cap,
                note=r.note,
            )
    return added
