"""Demo catalogue: the shipped defaults plus a few league overrides that show the mechanism."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import system_actor
from platform_core.catalogue import service
from platform_core.catalogue.models import ServiceType, SubsidyKind
from platform_core.elders.vocabulary import Category
from platform_core.regions.service import find_region

# league -> overrides that a real 盟市 might set: dearer services in 鄂尔多斯, longer arrival
# targets where a banner is the size of a small country.
_LEAGUE_TERMS: dict[str, list[tuple[str, Decimal | None, int | None, int | None]]] = {
    "150600000000": [
        ("care_cleaning", Decimal("45"), None, None),
        ("care_bathing", Decimal("100"), None, None),
        ("meal_delivery", Decimal("18"), None, None),
    ],
    "152500000000": [
        ("emergency_sos", None, 15, 60),
        ("emergency_fall", None, 15, 60),
        ("emergency_health_alarm", None, 15, 60),
        ("care_cleaning", None, 240, 2 * 24 * 60),
    ],
    "152900000000": [
        ("emergency_sos", None, 15, 90),
        ("emergency_fall", None, 15, 90),
        ("emergency_health_alarm", None, 15, 90),
    ],
}


def seed_catalogue(session: Session) -> int:
    """Install the catalogue with demo league overrides; returns how many service types exist."""
    actor = system_actor("演示数据")
    service.install_defaults(session, actor=actor)
    for league, items in _LEAGUE_TERMS.items():
        if find_region(session, league) is None:
            continue  # the region dictionary is not loaded: keep the region-wide defaults
        for code, price, response, arrival in items:
            service.set_league_terms(
                session,
                actor=actor,
                league_code=league,
                service_type_code=code,
                price=price,
                response_minutes=response,
                arrival_minutes=arrival,
            )
    if find_region(session, "150100000000") is not None:
        service.set_subsidy_rule(
            session,
            actor=actor,
            league_code="150100000000",
            elder_category=Category.ADVANCED_AGE,
            service_type_code="meal_delivery",
            kind=SubsidyKind.FIXED,
            value=Decimal("5"),
            monthly_cap=Decimal("150"),
            note="呼和浩特市高龄助餐每餐补贴 5 元",
        )
    return session.scalar(select(func.count()).select_from(ServiceType)) or 0
