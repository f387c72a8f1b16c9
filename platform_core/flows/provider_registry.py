"""The provider registry as the civil-affairs officer keeps it (服务商管理): onboarding in one
step, and what the officer's pages show of a provider: its licences and agreement with their
expiry, the onboarding checklist, services with catalogue and agreed prices, service area,
capacity, status with every change and its reason, the credit record and score, the evaluation
reports, and its practitioners.

Spans providers, evaluation, catalogue and the practitioners' logins, so it lives here; every
read and command checks the officer's role and region again (``providers.require_manager``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.catalogue.models import Fulfilment
from platform_core.evaluation import service as evaluation
from platform_core.flows import staff_accounts
from platform_core.providers import onboarding
from platform_core.providers import service as providers
from platform_core.providers.models import (
    STATUS_LABELS,
    Provider,
    ProviderStatus,
    ProviderStatusChange,
)
from platform_core.regions import codes
from platform_core.regions import service as regions


@dataclass(frozen=True)
class Onboarding:
    """What the onboarding form gives (one provider, all of it in one unit of work)."""

    name: str
    credit_code: str
    region_code: str
    contact_phone: str
    service_types: Sequence[str]
    coverage: Sequence[str]
    capacity: int = 10
    kind: str = ""
    address: str = ""
    contact_name: str = ""
    prices: Mapping[str, Any] = field(default_factory=dict)
    licence_kind: str = ""
    licence_number: str = ""
    licence_valid_until: str = ""
    agreement_number: str = ""
    agreement_signed_on: str = ""
    agreement_valid_from: str = ""
    agreement_valid_until: str = ""


def onboard(session: Session, *, actor: Actor, data: Onboarding) -> Provider:
    """Register the provider with its first licence, its agreement and its prices: nothing is
    kept when any part is refused."""
    provider = providers.register_provider(
        session,
        actor=actor,
        name=data.name,
        credit_code=data.credit_code,
        region_code=data.region_code,
        contact_phone=data.contact_phone,
        service_types=data.service_types,
        coverage=data.coverage,
        capacity=data.capacity,
        kind=data.kind,
        address=data.address,
        contact_name=data.contact_name,
    )
    if data.licence_kind or data.licence_number:
        onboarding.add_licence(
            session,
            actor=actor,
            provider_id=provider.id,
            kind=data.licence_kind,
            number=data.licence_number,
            valid_until=data.licence_valid_until or None,
        )
    if data.agreement_number:
        onboarding.add_agreement(
            session,
            actor=actor,
            provider_id=provider.id,
            number=data.agreement_number,
            signed_on=data.agreement_signed_on,
            valid_from=data.agreement_valid_from,
            valid_until=data.agreement_valid_until,
        )
    prices = {k: v for k, v in data.prices.items() if v not in (None, "")}
    if prices:
        onboarding.set_prices(session, actor=actor, provider_id=provider.id, prices=prices)
    return provider


# ---------------------------------------------------------------- the list


def provider_rows(
    session: Session, *, actor: Actor, text: str = "", status: str = ""
) -> list[dict[str, Any]]:
    """The providers registered in the officer's region, with what needs their attention."""
    providers.require_manager(
        session, actor, action="provider.list", provider=None, region_code=actor.region_code
    )
    today = clock.today_in(session)
    needle = text.strip().upper()
    out = []
    for p in providers.list_providers(
        session,
        region_code=actor.region_code,
        status=status or None,
        include_terminated=True,
    ):
        if not codes.is_within(p.region_code, actor.region_code):
            continue  # serves here, registered elsewhere: kept by that region
        if needle and needle not in p.name.upper() and needle not in p.credit_code:
            continue
        states = [onboarding.expiry_state(lic.valid_until, today) for lic in p.licences]
        agreement = onboarding.current_agreement(p, today)
        out.append(
            {
                "id": p.id,
                "name": p.name,
                "credit_code": p.credit_code,
                "region": regions.full_name(session, p.region_code),
                "status": p.status,
                "status_label": STATUS_LABELS[ProviderStatus(p.status)],
                "grade": p.grade,
                "credit_score": p.credit_score,
                "capacity": p.capacity,
                "licences_expired": states.count("expired"),
                "licences_expiring": states.count("expiring"),
                "agreement_until": agreement.valid_until if agreement else None,
            }
        )
    return out


# ---------------------------------------------------------------- one provider


def _prices(session: Session, provider: Provider) -> list[dict[str, Any]]:
    rows = []
    for o in provider.offerings:
        quote = catalogue.price_for(
            session,
            service_type_code=o.service_type_code,
            league_code=provider.region_code,
            categories=(),
        )
        rows.append(
            {
                "code": o.service_type_code,
                "name": quote.service_name,
                "unit": quote.unit,
                "catalogue_price": quote.unit_price,
                "agreed_price": o.agreed_price,
            }
        )
    return rows


def provider_page(session: Session, *, actor: Actor, provider_id: int) -> dict[str, Any]:
    """Everything the officer's provider page shows; the look is audited."""
    provider = providers.get_provider(session, provider_id=provider_id)
    providers.require_manager(
        session, actor, action="provider.view", provider=provider, region_code=provider.region_code
    )
    tz = clock.timezone_of(session)
    today = clock.today_in(session)
    now = clock.now()
    history = session.scalars(
        select(ProviderStatusChange)
        .where(ProviderStatusChange.provider_id == provider.id)
        .order_by(ProviderStatusChange.at.desc(), ProviderStatusChange.id.desc())
    )
    audit.record(
        session, actor=actor, action="provider.view", target_type="provider", target_id=provider.id
    )
    return {
        "id": provider.id,
        "name": provider.name,
        "credit_code": provider.credit_code,
        "kind": provider.kind,
        "region_code": provider.region_code,
        "region": regions.full_name(session, provider.region_code),
        "address": provider.address,
        "contact_name": provider.contact_name,
        "contact_phone": provider.contact_phone,
        "capacity": provider.capacity,
        "grade": provider.grade,
        "status": provider.status,
        "status_label": STATUS_LABELS[ProviderStatus(provider.status)],
        "status_reason": provider.status_reason,
        "terminated": provider.status == ProviderStatus.TERMINATED,
        "coverage": [
            {"code": c, "name": regions.full_name(session, c)} for c in provider.coverage_codes
        ],
        "checklist": onboarding.checklist(session, provider),
        "licences": [
            {
                "kind": lic.kind,
                "number": lic.number,
                "issuer": lic.issuer,
                "valid_from": lic.valid_from,
                "valid_until": lic.valid_until,
                "state": onboarding.expiry_state(lic.valid_until, today),
            }
            for lic in sorted(provider.licences, key=lambda x: x.id, reverse=True)
        ],
        "agreements": [
            {
                "number": a.number,
                "signed_on": a.signed_on,
                "valid_from": a.valid_from,
                "valid_until": a.valid_until,
                "terms": a.terms,
                "in_force": a.valid_from <= today <= a.valid_until,
                "state": onboarding.expiry_state(a.valid_until, today),
            }
            for a in provider.agreements
        ],
        "prices": _prices(session, provider),
        "status_history": [
            {
                "at": clock.local(h.at, tz).strftime("%Y-%m-%d %H:%M"),
                "from": STATUS_LABELS.get(ProviderStatus(h.from_status), h.from_status),
                "to": STATUS_LABELS.get(ProviderStatus(h.to_status), h.to_status),
                "reason": h.reason,
                "by": h.by,
            }
            for h in history
        ],
        "credit_score": evaluation.credit_score(session, provider_id=provider.id, at=now),
        "credit_events": [
            evaluation.credit_event_row(e, tz)
            for e in evaluation.list_credit_events(session, provider_id=provider.id)
        ],
        "evaluations": [
            evaluation.summary(session, e)
            for e in evaluation.list_evaluations(
                session, region_code=provider.region_code, provider_id=provider.id
            )
        ],
        "staff": staff_accounts.roster(session, actor=actor, provider_id=provider.id),
    }


def offered_choices(session: Session) -> list[tuple[str, str]]:
    """The catalogue's services a provider may be contracted for (code, name)."""
    return [
        (st.code, st.name)
        for st in catalogue.list_service_types(session)
        if st.fulfilment == Fulfilment.PROVIDER
    ]
