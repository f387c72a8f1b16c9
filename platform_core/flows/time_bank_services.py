"""Redeeming time-bank hours for a service an elder receives: a service order is opened for the
elder (dispatched like any other) and the hours are taken in the same unit of work, so there is
never an order paid in hours the ledger does not show, nor hours spent without an order. The
order's cancellation gives the hours back (``flows.care_orders.cancel_care_order``).

Who pays: a volunteer from their own account for an elder of their family, or the elder's own
account (hours the family gave) when the site's staff redeem for the elder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.elders.models import Elder
from platform_core.elders.service import refuse_on_elder
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.flows import care_orders
from platform_core.orders import service as orders
from platform_core.orders.models import OrderSource, ServiceOrder
from platform_core.regions.service import require_within
from platform_core.time_bank import service as time_bank
from platform_core.time_bank.models import TimeTransaction
from platform_core.volunteers import service as volunteers
from platform_core.volunteers.vocabulary import REDEEMABLE


@dataclass(frozen=True)
class Redemption:
    order: ServiceOrder
    transaction: TimeTransaction
    paid_by: str  # "volunteer" or "elder"


def _on_behalf(region_code: str) -> Actor:
    """Orders paid in hours are opened by the time bank on the member's behalf."""
    return Actor(kind="system", name="时间银行兑换", region_code=region_code)


def redeem_for_service(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    service_type_code: str,
    hours: Decimal | str,
    key: str,
    notes: str = "",
    now: datetime | None = None,
) -> Redemption:
    if service_type_code not in REDEEMABLE:
        raise ValidationFailed(
            f"该服务不能用时间兑换: {service_type_code} / not redeemable",
            code="not_redeemable",
            allowed=list(REDEEMABLE),
        )
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    amount = time_bank.hours_of(hours)
    if allows(actor.role, Permission.VOLUNTEER_PORTAL):
        volunteer = volunteers.require_volunteer(session, actor, "redeem")
        if elder.id not in {f.elder.id for f in volunteers.family_of(session, volunteer)}:
            refuse_on_elder(
                session,
                actor=actor,
                action="time_bank.redeem",
                elder_id=elder.id,
                reason="not_family",
            )
            raise PermissionDenied(
                "只能为档案中登记的家人兑换 / your own family only", code="not_family"
            )
        account, paid_by = volunteers.account_of(session, volunteer), "volunteer"
        txn_key = f"redeem:v{volunteer.id}:{key}"
    elif allows(actor.role, Permission.MANAGE_VOLUNTEERS) or actor.kind == "system":
        if actor.kind != "system":
            require_within(elder.region_code, actor.region_code)
        account, paid_by = volunteers.elder_account(session, elder), "elder"
        txn_key = f"redeem:e{elder.id}:{key}"
    else:
        raise PermissionDenied("当前角色不能兑换时间 / your role may not redeem hours")
    existing = time_bank.find_by_key(session, key=txn_key)
    if existing is not None and existing.ref_id:
        return Redemption(
            orders.get_order(session, order_id=int(existing.ref_id)), existing, paid_by
        )
    on_behalf = _on_behalf(elder.region_code)
    order = care_orders.open_care_order(
        session,
        actor=on_behalf,
        elder_id=elder.id,
        service_type_code=service_type_code,
        source=OrderSource.APP.value,
        notes=f"时间银行兑换 {amount} 小时" + (f"; {notes.strip()[:500]}" if notes.strip() else ""),
        source_ref=f"timebank:{txn_key}"[:150],
    )
    txn = time_bank.redeem(
        session,
        actor=actor,
        account=account,
        hours=amount,
        key=txn_key,
        at=now,
        memo=f"兑换{REDEEMABLE[service_type_code]} (工单{order.order_no})",
        ref=("service_order", str(order.id)),
    )
    orders.submit_for_dispatch(session, actor=on_behalf, order_id=order.id, reason="时间银行兑换")
    return Redemption(order, txn, paid_by)
