"""Registering a service site of any kind: the registry's own sites, and meal points, which
meal aid opens with their serving times (a meal point is a site with a meal-aid half).

Also the sites an elder's service may happen at, for the order form: the open sites of the
elder's 盟市, nearest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.dispatch.ranking import haversine_km
from platform_core.elders.models import Elder
from platform_core.errors import NotFound, ValidationFailed
from platform_core.meal_aid import service as meal_aid
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.sites import service as sites
from platform_core.sites.models import ServiceSite
from platform_core.sites.vocabulary import KIND_LABELS, SiteKind, SiteStatus


def register_site(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    name: str,
    region_code: str,
    address: str,
    latitude: float | None = None,
    longitude: float | None = None,
    phone: str | None = None,
    opening_hours: Mapping[str, Any] | None = None,
    capacity: int | None = None,
    services: Sequence[str] = (),
    provider_id: int | None = None,
    meal_times: Mapping[str, str] | None = None,
    delivers: bool = False,
) -> ServiceSite:
    """A registry keeper adds a site; a meal point (``meal_times`` required) through meal aid."""
    sites.require_keeper(session, actor, codes.normalize_code(region_code), "site.register")
    if kind == SiteKind.MEAL_POINT:
        if not meal_times:
            raise ValidationFailed(
                "助餐点须填写供餐时间 / a meal point needs its serving times", code="unknown_meal"
            )
        return meal_aid.open_meal_point(
            session,
            actor=actor,
            name=name,
            region_code=region_code,
            address=address,
            meal_times=dict(meal_times),
            delivers=delivers,
            provider_id=provider_id,
            latitude=latitude,
            longitude=longitude,
            phone=phone,
            opening_hours=dict(opening_hours or {}),
            capacity=capacity,
        )
    fields = sites.check_site_fields(
        session,
        kind=kind,
        name=name,
        region_code=region_code,
        address=address,
        latitude=latitude,
        longitude=longitude,
        phone=phone,
        opening_hours=opening_hours,
        capacity=capacity,
        services=services,
        provider_id=provider_id,
    )
    return sites.register_site(session, actor=actor, fields=fields)


def sites_for_elder(
    session: Session, *, elder_id: int, service: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Open sites of the elder's 盟市 where a service may happen, nearest to the elder's home
    first (sites or homes without a position come last)."""
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    rows = session.scalars(
        select(ServiceSite).where(
            within(ServiceSite.region_code, codes.league_of(elder.region_code)),
            ServiceSite.status == SiteStatus.OPEN.value,
        )
    ).all()
    out = []
    for site in rows:
        if service and service not in (site.services or []):
            continue
        distance = None
        if (
            elder.latitude is not None
            and elder.longitude is not None
            and site.latitude is not None
            and site.longitude is not None
        ):
            distance = haversine_km(elder.latitude, elder.longitude, site.latitude, site.longitude)
        out.append(
            {
                "id": site.id,
                "name": site.name,
                "kind_label": KIND_LABELS[SiteKind(site.kind)],
                "address": site.address,
                "distance_km": None if distance is None else round(distance, 2),
                "same_community": site.region_code == elder.region_code,
            }
        )
    out.sort(key=lambda s: (s["distance_km"] is None, s["distance_km"] or 0, s["name"]))
    return out[:limit]
