"""A provider's onboarding (服务商入驻) as the regional standard describes it: its licences and
certificates with their expiry, its service area, the catalogue of services it delivers with the
prices agreed, its capacity and its service agreement; and the checklist that says what is
missing or expired.

Kept by officers and administrators of the provider's region (``require_office``); every change
is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import Conflict, ValidationFailed
from platform_core.providers import service as providers
from platform_core.providers.models import (
    Provider,
    ProviderAgreement,
    ProviderLicence,
    ProviderStatus,
)
from platform_core.providers.qualifications import EXPIRY_WARNING_DAYS

# The registration of the organisation itself: one of these is required.
REGISTRATION_KINDS = ("营业执照", "民办非企业单位登记证书", "事业单位法人证书")
LICENCE_KINDS = (
    *REGISTRATION_KINDS,
    "养老机构备案回执",
    "食品经营许可证",
    "医疗机构执业许可证",
    "消防安全检查合格证",
    "其他",
)
_MAX_PRICE = Decimal("100000")


def _require(session: Session, actor: Actor, provider: Provider, action: str) -> None:
    providers.require_manager(
        session, actor, action=action, provider=provider, region_code=provider.region_code
    )


def _text(raw: Any, limit: int) -> str:
    return " ".join(str(raw or "").split())[:limit]


def _day(raw: Any, what: str, *, required: bool = False) -> date | None:
    if raw in (None, ""):
        if required:
            raise ValidationFailed(f"请填写{what} / {what} is required", code="date_required")
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationFailed(f"{what}不是日期: {raw} / not a date", code="invalid_date") from None


def expiry_state(valid_until: date | None, today: date) -> str:
    """ "expired", "expiring" (within the warning window) or "valid" (also without an end)."""
    if valid_until is None:
        return "valid"
    if valid_until < today:
        return "expired"
    if valid_until <= today + timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def _open(provider: Provider) -> None:
    if provider.status == ProviderStatus.TERMINATED:
        raise Conflict(
            "服务商已终止合作, 不能再修改 / the provider's contract is terminated",
            code="provider_terminated",
        )


def add_licence(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    kind: str,
    number: str,
    valid_until: date | str | None,
    valid_from: date | str | None = None,
    issuer: str = "",
    note: str = "",
) -> ProviderLicence:
    """Record a licence or certificate of the provider (a renewal is a new row)."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require(session, actor, provider, "provider.add_licence")
    _open(provider)
    kind = _text(kind, 40)
    if kind not in LICENCE_KINDS:
        raise ValidationFailed(
            f"证照类型须为: {'、'.join(LICENCE_KINDS)} / unknown licence kind",
            code="invalid_licence",
        )
    number = _text(number, 60)
    if not number:
        raise ValidationFailed("请填写证照编号 / the licence's number", code="invalid_licence")
    start = _day(valid_from, "生效日期")
    until = _day(valid_until, "有效期")
    if start and until and until < start:
        raise ValidationFailed(
            "有效期早于生效日期 / valid until is before valid from", code="invalid_licence"
        )
    row = ProviderLicence(
        kind=kind,
        number=number,
        issuer=_text(issuer, 100),
        valid_from=start,
        valid_until=until,
        note=_text(note, 255),
        recorded_by=actor.label,
    )
    provider.licences.append(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.add_licence",
        target_type="provider",
        target_id=provider.id,
        detail={
            "licence_id": row.id,
            "kind": kind,
            "valid_until": until.isoformat() if until else None,
        },
    )
    return row


def add_agreement(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    number: str,
    signed_on: date | str,
    valid_from: date | str,
    valid_until: date | str,
    terms: str = "",
) -> ProviderAgreement:
    """Record the service agreement (or its renewal) with its period."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require(session, actor, provider, "provider.add_agreement")
    _open(provider)
    number = _text(number, 60)
    if not number:
        raise ValidationFailed("请填写协议编号 / the agreement's number", code="invalid_agreement")
    signed = _day(signed_on, "签订日期", required=True)
    start = _day(valid_from, "协议开始日期", required=True)
    until = _day(valid_until, "协议截止日期", required=True)
    assert signed and start and until
    if until < start:
        raise ValidationFailed(
            "协议截止日期早于开始日期 / the agreement ends before it starts",
            code="invalid_agreement",
        )
    if signed > clock.today_in(session):
        raise ValidationFailed(
            "签订日期不能晚于今天 / signed on a day after today", code="invalid_agreement"
        )
    row = ProviderAgreement(
        number=number,
        signed_on=signed,
        valid_from=start,
        valid_until=until,
        terms=str(terms or "").strip()[:4000],
        recorded_by=actor.label,
    )
    provider.agreements.append(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.add_agreement",
        target_type="provider",
        target_id=provider.id,
        detail={
            "agreement_id": row.id,
            "number": number,
            "valid": [start.isoformat(), until.isoformat()],
        },
    )
    return row


def _price(raw: Any, code: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationFailed(
            f"价格须为金额: {raw} / a price is an amount", code="invalid_price", service=code
        ) from None
    if not Decimal(0) <= value < _MAX_PRICE:
        raise ValidationFailed(
            f"价格超出范围: {raw} / price out of range", code="invalid_price", service=code
        )
    return value


def set_prices(
    session: Session, *, actor: Actor, provider_id: int, prices: Mapping[str, Any]
) -> Provider:
    """The prices agreed for the services the provider offers (empty: the catalogue's)."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require(session, actor, provider, "provider.set_prices")
    _open(provider)
    offered = {o.service_type_code: o for o in provider.offerings}
    unknown = sorted(set(prices) - set(offered))
    if unknown:
        raise ValidationFailed(
            f"服务商未提供这些服务: {', '.join(unknown)} / not offered",
            code="skill_not_offered",
            services=unknown,
        )
    changed = {}
    for code, raw in prices.items():
        value = _price(raw, code)
        if offered[code].agreed_price != value:
            offered[code].agreed_price = value
            changed[code] = str(value) if value is not None else None
    session.flush()
    if changed:
        audit.record(
            session,
            actor=actor,
            action="provider.set_prices",
            target_type="provider",
            target_id=provider.id,
            detail={"prices": changed},
        )
    return provider


def current_agreement(provider: Provider, today: date) -> ProviderAgreement | None:
    """The agreement in force today (the latest-starting one), or None."""
    live = [a for a in provider.agreements if a.valid_from <= today <= a.valid_until]
    return max(live, key=lambda a: (a.valid_from, a.id)) if live else None


@dataclass(frozen=True)
class CheckItem:
    item: str
    ok: bool
    detail: str


def checklist(session: Session, provider: Provider) -> list[CheckItem]:
    """What onboarding asks for, each with whether it is in order now."""
    today = clock.today_in(session)
    registrations = [lic for lic in provider.licences if lic.kind in REGISTRATION_KINDS]
    valid_registration = [
        lic for lic in registrations if expiry_state(lic.valid_until, today) != "expired"
    ]
    expired = [
        lic for lic in provider.licences if expiry_state(lic.valid_until, today) == "expired"
    ]
    agreement = current_agreement(provider, today)
    active_staff = [st for st in provider.staff if st.active]
    return [
        CheckItem(
            "登记证照",
            bool(valid_registration),
            valid_registration[0].kind if valid_registration else "缺少有效的营业执照或登记证书",
        ),
        CheckItem(
            "证照有效",
            not expired,
            "全部有效" if not expired else "已过期: " + "、".join(lic.kind for lic in expired),
        ),
        CheckItem(
            "服务协议",
            agreement is not None,
            f"{agreement.number} 至 {agreement.valid_until}"
            if agreement
            else "没有在有效期内的服务协议",
        ),
        CheckItem("服务区域", bool(provider.coverage), f"{len(provider.coverage)} 个区域"),
        CheckItem("服务项目与价格", bool(provider.offerings), f"{len(provider.offerings)} 项服务"),
        CheckItem("接单容量", provider.capacity >= 1, f"同时 {provider.capacity} 单"),
        CheckItem("从业人员", bool(active_staff), f"在岗 {len(active_staff)} 人"),
    ]
