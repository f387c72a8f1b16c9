"""Who may act on a provider: its own users for itself, the civil-affairs side within its region.

One check for every desk that acts on a provider (registration, credit and evaluation,
settlement, API keys), so a refusal reads, is coded and is audited the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.errors import OutOfRegion, PermissionDenied
from platform_core.providers.models import Provider
from platform_core.regions import codes

OUT_OF_REGION = "无权管理其他地区的服务商 / outside your region"


def is_provider_actor(actor: Actor) -> bool:
    return actor.role == Role.PROVIDER or actor.provider_id is not None


def is_practitioner(actor: Actor) -> bool:
    """A provider's practitioner with a login of their own (their own orders, nothing else)."""
    return actor.role == Role.STAFF or actor.staff_id is not None


def refuse_on_provider(
    session: Session,
    *,
    actor: Actor,
    action: str,
    provider_id: int | None,
    error: PermissionDenied,
) -> NoReturn:
    """Audit the refusal of an action on a provider (None: on one not registered yet), then
    raise it."""
    audit.refuse(
        session,
        actor=actor,
        action=action,
        target_type="provider",
        target_id=provider_id,
        reason=error.code,
    )
    raise error


def require_office(
    session: Session,
    actor: Actor,
    *,
    roles: Collection[Role],
    action: str,
    refused: str,
    provider: Provider | None = None,
    region_code: str | None = None,
    out_of_region: str = OUT_OF_REGION,
) -> None:
    """Refuse unless the actor is the system, or staff in one of ``roles`` on the civil-affairs
    side (never a provider's own user) whose region holds ``provider`` (or ``region_code``)."""
    allowed = actor.role in roles if actor.role is not None else actor.kind == "system"
    if region_code is None and provider is not None:
        region_code = provider.region_code
    error: PermissionDenied | None = None
    if not allowed or is_provider_actor(actor):
        error = PermissionDenied(refused)
    elif region_code is not None and not codes.is_within(region_code, actor.region_code):
        error = OutOfRegion(out_of_region)
    if error is not None:
        refuse_on_provider(
            session,
            actor=actor,
            action=action,
            provider_id=provider.id if provider is not None else None,
            error=error,
        )
