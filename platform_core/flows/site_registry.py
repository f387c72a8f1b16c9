"""Registering a service site of any kind: the registry's own sites, and meal points, which
meal aid opens with their serving times (a meal point is a site with a meal-aid half).

Also the sites an elder's service may happen at, for the order form: the open sites of the
elder's 盟市, nearest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

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
    meal_times: Mapping[str, str] | None = None,
    delivers: bool = False,
    **site: Unpack[sites.SiteInput],
) -> ServiceSite:
    """A registry keeper adds a site; a meal point (``meal_times`` required) through meal aid."""
    sites.require_keeper(session, actor, codes.normalize_code(site["region_code"]), "site.register")
    if site["kind"] == SiteKind.MEAL_POINT:
        if not meal_times:
            raise ValidationFailed(
                "助餐点须填写供餐时间 / a meal point needs its serving times", code="unknown_meal"
            )
        return meal_aid.open_meal_point(
            session,
            actor=actor,
            name=site["name"],
            region_code=site["region_code"],
            address=site["address"],
            meal_times=dict(meal_times),
            delivers=delivers,
            provider_id=site.get("provider_id"),
            latitude=site.get("latitude"),
            longitude=site.get("longitude"),
            phone=site.get("phone"),
            opening_hours=dict(site.get("opening_hours") or {}),
            capacity=site.get("capacity"),
        )
    fields = sites.check_site_fields(session, **site)
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
