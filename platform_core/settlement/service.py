"""Settlement (结算): per provider and month, the orders it completed that month, their amounts
split into the public subsidy and the elder's self-pay as the catalogue fixed them when each
order was opened, on one statement; each order moves to settled and is settled once.

An order enters a settlement when its service was confirmed with the elder's evidence (the SMS
code, a signature or an identity check: ``orders/evidence.py``) and visited back (the lifecycle
settles from "return visited"); one visited back without that evidence is held, never paid.
Orders of the month still waiting for that are listed as pending and go into a further
statement of the same month later. Orders with nothing to pay are closed
without settlement.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, NotFound
from platform_core.orders import evidence
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.periods import month_bounds
from platform_core.orders.states import OrderStatus
from platform_core.providers import service as providers
from platform_core.providers.access import is_practitioner, require_office
from platform_core.providers.models import Provider
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.security.exports import watermark
from platform_core.security.masking import mask_name
from platform_core.settlement.models import Settlement, SettlementLine

SETTLERS = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.OFFICER})
ZERO = Decimal("0.00")
# Not yet settleable: the service is done but the elder's confirmation or return visit is missing.
PENDING = (OrderStatus.COMPLETED, OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.COMPLAINT)


class SettlementNotFound(NotFound):
    code = "settlement_not_found"


@dataclass(frozen=True)
class Preview:
    provider_id: int
    month: str
    settleable: list[ServiceOrder]
    pending: list[ServiceOrder]
    # visited back, but confirmed without the elder's evidence (or never confirmed): not paid
    held: list[ServiceOrder] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Decimal]:
        return {
            "amount": sum((o.price for o in self.settleable), ZERO),
            "subsidy": sum((o.subsidy for o in self.settleable), ZERO),
            "self_pay": sum((o.self_pay for o in self.settleable), ZERO),
        }


def _require_settler(session: Session, actor: Actor, provider: Provider, action: str) -> None:
    require_office(
        session,
        actor,
        roles=SETTLERS,
        action=action,
        refused="只有值班主管、管理员或民政监管可以结算 / you may not settle",
        provider=provider,
        out_of_region="无权结算其他地区的服务商 / outside your region",
    )


def _orders(
    session: Session, provider_id: int, month: str, statuses: tuple[str, ...], lock: bool = False
) -> list[ServiceOrder]:
    start, end = month_bounds(month, settings_of(session).timezone)
    q = (
        select(ServiceOrder)
        .where(
            ServiceOrder.provider_id == provider_id,
            ServiceOrder.status.in_([str(s) for s in statuses]),
            ServiceOrder.completed_at >= start,
            ServiceOrder.completed_at < end,
            ServiceOrder.price > 0,
        )
        .order_by(ServiceOrder.completed_at, ServiceOrder.id)
    )
    if lock:
        q = q.with_for_update()
    return list(session.scalars(q))


def _split(rows: list[ServiceOrder]) -> tuple[list[ServiceOrder], list[ServiceOrder]]:
    """(payable, held): only a confirmation with the elder's evidence is paid."""
    payable = [o for o in rows if evidence.is_evidenced(o)]
    return payable, [o for o in rows if not evidence.is_evidenced(o)]


def preview(session: Session, *, actor: Actor, provider_id: int, month: str) -> Preview:
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_settler(session, actor, provider, "settlement.preview")
    payable, held = _split(_orders(session, provider.id, month, (OrderStatus.RETURN_VISITED,)))
    return Preview(provider.id, month, payable, _orders(session, provider.id, month, PENDING), held)


def settle_month(session: Session, *, actor: Actor, provider_id: int, month: str) -> Settlement:
    """One statement for the provider's settleable orders of the month; each order settles."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_settler(session, actor, provider, "settlement.settle")
    # one settlement of a provider at a time: the second waits and finds the orders settled
    session.execute(select(Provider.id).where(Provider.id == provider.id).with_for_update()).first()
    due, held = _split(
        _orders(session, provider.id, month, (OrderStatus.RETURN_VISITED,), lock=True)
    )
    if held:
        audit.record(
            session,
            actor=actor,
            action="settlement.held",
            target_type="provider",
            target_id=provider.id,
            detail={"month": month, "orders": [o.order_no for o in held][:200]},
        )
    if not due:
        raise Conflict(
            f"{month} 没有可结算的工单 / nothing to settle for {month}", code="nothing_to_settle"
        )
    seq = (
        session.scalar(
            select(func.max(Settlement.seq)).where(
                Settlement.provider_id == provider.id, Settlement.month == month
            )
        )
        or 0
    ) + 1
    ref = f"JS{month.replace('-', '')}-{provider.id:05d}-{seq:02d}"
    settlement = Settlement(
        ref=ref,
        provider_id=provider.id,
        region_code=provider.region_code,
        month=month,
        seq=seq,
        order_count=len(due),
        amount=ZERO,
        subsidy=ZERO,
        self_pay=ZERO,
        created_by=actor.label,
    )
    session.add(settlement)
    session.flush()
    names = {
        st.code: st.name for st in catalogue.list_service_types(session, include_inactive=True)
    }
    for o in due:
        orders.settle(session, actor=actor, order_id=o.id, settlement_ref=ref)
        assert o.completed_at is not None
        settlement.lines.append(
            SettlementLine(
                order_id=o.id,
                order_no=o.order_no,
                service_type_code=o.service_type_code,
                service_name=names.get(o.service_type_code, o.service_type_code),
                elder_id=o.elder_id,
                completed_at=o.completed_at,
                quantity=o.quantity,
                unit=o.unit,
                unit_price=o.unit_price,
                amount=o.price,
                subsidy=o.subsidy,
                self_pay=o.self_pay,
                subsidy_category=o.subsidy_category,
            )
        )
        settlement.amount += o.price
        settlement.subsidy += o.subsidy
        settlement.self_pay += o.self_pay
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="settlement.settle",
        target_type="provider",
        target_id=provider.id,
        detail={
            "ref": ref,
            "month": month,
            "orders": len(due),
            "amount": str(settlement.amount),
            "subsidy": str(settlement.subsidy),
            "self_pay": str(settlement.self_pay),
        },
    )
    return settlement


def get_settlement(session: Session, *, actor: Actor, settlement_id: int) -> Settlement:
    row = session.get(Settlement, settlement_id)
    if row is None:
        raise SettlementNotFound(f"结算单不存在: {settlement_id} / unknown settlement")
    provider = providers.get_provider(session, provider_id=row.provider_id)
    own_provider = (
        actor.provider_id is not None
        and actor.provider_id == row.provider_id
        and not is_practitioner(actor)
    )
    if not own_provider:
        _require_settler(session, actor, provider, "settlement.view")
    return row


def list_settlements(
    session: Session, *, region_code: str, provider_id: int | None = None
) -> list[Settlement]:
    q = (
        select(Settlement)
        .where(within(Settlement.region_code, region_code))
        .order_by(Settlement.id.desc())
    )
    if provider_id is not None:
        q = q.where(Settlement.provider_id == provider_id)
    return list(session.scalars(q))


def summary(row: Settlement) -> dict[str, Any]:
    return {
        "id": row.id,
        "ref": row.ref,
        "provider_id": row.provider_id,
        "month": row.month,
        "seq": row.seq,
        "order_count": row.order_count,
        "amount": str(row.amount),
        "subsidy": str(row.subsidy),
        "self_pay": str(row.self_pay),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


# ---------------------------------------------------------------- exports

HEADER = [
    "工单号",
    "服务",
    "老人",
    "完成时间",
    "数量",
    "单位",
    "单价",
    "金额",
    "补贴",
    "自付",
    "补贴类别",
]


def _rows(session: Session, row: Settlement) -> list[list[Any]]:
    tz = settings_of(session).timezone

    out = []
    for line in row.lines:
        elder = session.get(Elder, line.elder_id)
        out.append(
            [
                line.order_no,
                line.service_name,
                mask_name(elder.name) if elder else "",
                line.completed_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
                line.quantity,
                line.unit,
                line.unit_price,
                line.amount,
                line.subsidy,
                line.self_pay,
                line.subsidy_category or "",
            ]
        )
    return out


def _exported(session: Session, actor: Actor, row: Settlement, fmt: str) -> None:
    audit.record(
        session,
        actor=actor,
        action="settlement.export",
        target_type="settlement",
        target_id=row.id,
        detail={"ref": row.ref, "format": fmt},
    )


def export_csv(session: Session, *, actor: Actor, settlement_id: int) -> bytes:
    """The statement as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese)."""
    row = get_settlement(session, actor=actor, settlement_id=settlement_id)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([watermark(actor, settings_of(session).timezone)])
    writer.writerow(["结算单号", row.ref, "月份", row.month, "服务商编号", row.provider_id])
    writer.writerow(HEADER)
    writer.writerows(_rows(session, row))
    writer.writerow(["合计", "", "", "", "", "", "", row.amount, row.subsidy, row.self_pay, ""])
    _exported(session, actor, row, "csv")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(session: Session, *, actor: Actor, settlement_id: int) -> bytes:
    row = get_settlement(session, actor=actor, settlement_id=settlement_id)
    provider = session.get(Provider, row.provider_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "结算明细"
    ws.append([f"结算单 {row.ref}", provider.name if provider else "", f"{row.month}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(HEADER)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    for r in _rows(session, row):
        ws.append([float(v) if isinstance(v, Decimal) else v for v in r])
    ws.append(
        [
            "合计",
            "",
            "",
            "",
            "",
            "",
            "",
            float(row.amount),
            float(row.subsidy),
            float(row.self_pay),
            "",
        ]
    )
    ws.cell(ws.max_row, 1).font = Font(bold=True)
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 14
    ws.column_dimensions["A"].width = 20
    mark = watermark(actor, settings_of(session).timezone)
    ws.append([mark])
    ws.oddFooter.center.text = mark
    wb.properties.creator = mark
    buf = io.BytesIO()
    wb.save(buf)
    _exported(session, actor, row, "xlsx")
    return buf.getvalue()
