"""What the family care bed desk shows and prints: the beds a page at a time, one bed with its
plan, this month's services and the orders that carry them, the contract as a printable PDF,
and a provider's month (each of its beds, what was delivered, what was settled) with its
settlement and export. Names come masked in lists and exports; printing and exporting are
audited and the files say who made them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.assessment.pdf import ChineseDocument
from platform_core.assessment.standard import GRADE_ENGLISH, GRADE_LABELS
from platform_core.audit import service as audit
from platform_core.care_beds.models import CareBed, CareBedSettlement
from platform_core.care_beds.service import (
    ACTION_LABELS,
    CHAIN,
    STATUS_LABELS,
    get_care_bed,
    month_services,
    settle_month,
)
from platform_core.catalogue.models import ServiceType
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, DomainError, PermissionDenied
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import STATUS_LABELS as ORDER_STATUS_LABELS
from platform_core.paging import Page, fetch_page, fetch_page_of_ids
from platform_core.providers.models import Provider
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of
from platform_core.security.exports import watermark
from platform_core.security.masking import mask_name
from platform_core.step_chain import records_in

GRADE_NAMES = {GRADE_ENGLISH[g]: GRADE_LABELS[g] for g in GRADE_ENGLISH}


@dataclass(frozen=True)
class BedRow:
    care_bed_id: int
    status: str
    status_label: str
    elder_id: int
    elder_name: str  # masked
    region_code: str
    grade: str
    provider: str
    contract_no: str


def beds(
    session: Session,
    *,
    region_code: str,
    statuses: Sequence[str] = (),
    provider_id: int | None = None,
    elder_ids: Sequence[int] | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[BedRow]:
    q = records_in(CareBed, region_code=region_code, statuses=statuses, elder_ids=elder_ids)
    if provider_id is not None:
        q = q.where(CareBed.provider_id == provider_id)
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(CareBed, Elder.name, Provider.name)
            .join(Elder, Elder.id == CareBed.elder_id)
            .outerjoin(Provider, Provider.id == CareBed.provider_id)
            .where(CareBed.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    return Page(
        rows=[
            BedRow(
                care_bed_id=bed.id,
                status=bed.status,
                status_label=STATUS_LABELS[bed.status],
                elder_id=bed.elder_id,
                elder_name=mask_name(name),
                region_code=bed.region_code,
                grade=GRADE_NAMES.get(bed.grade or "", ""),
                provider=provider or "",
                contract_no=bed.contract_no or "",
            )
            for bed, name, provider in found.rows
        ],
        total=found.total,
        page=found.page,
        size=found.size,
    )


@dataclass(frozen=True)
class PlannedService:
    on: date
    service: str
    is_visit: bool
    order_id: int | None
    order_no: str
    order_status: str
    delivered: bool


@dataclass(frozen=True)
class BedView:
    bed: CareBed
    elder: Elder
    status_label: str
    grade_label: str
    provider: Provider | None
    actions: list[tuple[str, str]]
    month: date
    services: list[PlannedService]
    settlements: list[CareBedSettlement]

    @property
    def delivered(self) -> int:
        return sum(1 for s in self.services if s.delivered)

    @property
    def visits(self) -> int:
        return sum(1 for s in self.services if s.delivered and s.is_visit)


def service_names(session: Session) -> dict[str, str]:
    return {
        code: name for code, name in session.execute(select(ServiceType.code, ServiceType.name))
    }


def bed_view(session: Session, *, care_bed_id: int, month: date) -> BedView:
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    elder = session.get(Elder, bed.elder_id)
    assert elder is not None
    names = service_names(session)
    orders = {
        o.id: o
        for o in session.scalars(
            select(ServiceOrder).where(
                ServiceOrder.id.in_(
                    [
                        r.order_id
                        for r, _ in month_services(session, care_bed_id=bed.id, month=month)
                    ]
                    or [0]
                )
            )
        )
    }
    services = []
    for row, delivered in month_services(session, care_bed_id=bed.id, month=month):
        order = orders.get(row.order_id or 0)
        services.append(
            PlannedService(
                on=row.on,
                service=names.get(row.service_type_code, row.service_type_code),
                is_visit=row.is_visit,
                order_id=row.order_id,
                order_no=order.order_no if order else "",
                order_status=ORDER_STATUS_LABELS.get(order.status, "") if order else "",
                delivered=delivered,
            )
        )
    return BedView(
        bed=bed,
        elder=elder,
        status_label=STATUS_LABELS[bed.status],
        grade_label=GRADE_NAMES.get(bed.grade or "", ""),
        provider=session.get(Provider, bed.provider_id) if bed.provider_id else None,
        actions=[(a, ACTION_LABELS[a]) for (st, a) in CHAIN.transitions if st == bed.status],
        month=month.replace(day=1),
        services=services,
        settlements=list(
            session.scalars(
                select(CareBedSettlement)
                .where(CareBedSettlement.care_bed_id == bed.id)
                .order_by(CareBedSettlement.month.desc())
            )
        ),
    )


def render_contract(session: Session, *, actor: Actor, care_bed_id: int) -> bytes:
    """The service contract of a bed as a printable PDF (audited; it names the elder)."""
    bed = get_care_bed(session, care_bed_id=care_bed_id)
    require_within(bed.region_code, actor.region_code)
    if bed.contract_no is None:
        raise Conflict("床位尚未签约 / the bed has no contract yet", code="care_bed_no_contract")
    elder = session.get(Elder, bed.elder_id)
    provider = session.get(Provider, bed.provider_id) if bed.provider_id else None
    names = service_names(session)
    mark = watermark(actor, settings_of(session).timezone)
    doc = ChineseDocument(
        "家庭养老床位服务协议",
        font_path=settings_of(session).report_font_path,
        subtitle=f"协议编号 {bed.contract_no}",
        watermark=mark,
    )
    doc.fields(
        [
            ("甲方 (服务对象)", elder.name if elder else ""),
            ("身份证号", elder.id_number_masked if elder else ""),
            ("居住地址", elder.address if elder else ""),
            ("能力等级", GRADE_NAMES.get(bed.grade or "", "")),
            ("乙方 (服务机构)", provider.name if provider else ""),
            ("服务期限", f"{bed.contract_starts_on} 至 {bed.contract_ends_on}"),
            ("床位编号", str(bed.id)),
        ]
    )
    doc.heading("服务内容 (每月)")
    doc.table(
        ["服务项目", "每月次数"],
        [
            [names.get(p["service_type_code"], p["service_type_code"]), str(p["times_per_month"])]
            for p in bed.service_plan
        ]
        or [["(服务计划签约后制定)", ""]],
        [120, 50],
    )
    doc.paragraph(
        "乙方按服务计划上门提供服务, 每次服务由甲方或其家属确认; 民政部门按月核定服务并结算运营补贴。"
        "甲方去世、入住养老机构、本人申请或复评后不再符合条件的, 床位退出, 协议终止。"
    )
    doc.signatures(["甲方 (签字)", "乙方 (盖章)", "街道 (乡镇) 经办人"])
    audit.record(
        session,
        actor=actor,
        action="care_bed.print_contract",
        target_type="elder",
        target_id=bed.elder_id,
        detail={"care_bed_id": bed.id, "contract_no": bed.contract_no},
    )
    return doc.output()


# ---------------------------------------------------------------- a provider's month


@dataclass(frozen=True)
class ProviderMonthRow:
    care_bed_id: int
    elder_name: str  # masked
    grade: str
    planned: int
    delivered: int
    visits: int
    settlement: CareBedSettlement | None


def _month_beds_query(*, provider_id: int, month: date, region_code: str) -> Any:
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return (
        select(CareBed)
        .where(
            within(CareBed.region_code, region_code),
            CareBed.provider_id == provider_id,
            CareBed.status.in_(("in_service", "withdrawn")),
            CareBed.contract_starts_on < end,
            CareBed.contract_ends_on >= start,
        )
        .order_by(CareBed.id)
    )


def _beds_of_month(
    session: Session, *, provider_id: int, month: date, region_code: str
) -> list[CareBed]:
    query = _month_beds_query(provider_id=provider_id, month=month, region_code=region_code)
    return list(session.scalars(query))


def _month_row(session: Session, bed: CareBed, start: date) -> ProviderMonthRow:
    recorded = month_services(session, care_bed_id=bed.id, month=start)
    elder = session.get(Elder, bed.elder_id)
    return ProviderMonthRow(
        care_bed_id=bed.id,
        elder_name=mask_name(elder.name if elder else ""),
        grade=GRADE_NAMES.get(bed.grade or "", ""),
        planned=len(recorded),
        delivered=sum(1 for _, done in recorded if done),
        visits=sum(1 for r, done in recorded if done and r.is_visit),
        settlement=session.scalar(
            select(CareBedSettlement).where(
                CareBedSettlement.care_bed_id == bed.id, CareBedSettlement.month == start
            )
        ),
    )


def provider_month(
    session: Session, *, provider_id: int, month: date, region_code: str
) -> list[ProviderMonthRow]:
    """Each bed the provider served in ``month`` (in the region): planned, delivered, settled
    (the whole month, for its export)."""
    start = month.replace(day=1)
    return [
        _month_row(session, bed, start)
        for bed in _beds_of_month(
            session, provider_id=provider_id, month=start, region_code=region_code
        )
    ]


def provider_month_page(
    session: Session,
    *,
    provider_id: int,
    month: date,
    region_code: str,
    page: int = 1,
    size: int = 50,
) -> Page[ProviderMonthRow]:
    """One page of :func:`provider_month` for the screen: a provider with hundreds of beds is
    read a page of beds at a time, each bed's month only for the beds on it."""
    start = month.replace(day=1)
    query = _month_beds_query(provider_id=provider_id, month=start, region_code=region_code)
    found = fetch_page(session, query, page=page, size=size)
    return Page(
        rows=[_month_row(session, bed, start) for (bed,) in found.rows],
        total=found.total,
        page=found.page,
        size=found.size,
    )


@dataclass(frozen=True)
class SettleOutcome:
    care_bed_id: int
    settled: bool
    subsidy: Decimal | None
    reason: str


def settle_provider_month(
    session: Session, *, actor: Actor, provider_id: int, month: date, region_code: str
) -> list[SettleOutcome]:
    """Settle each of the provider's beds of ``month`` not settled yet; a bed whose plan was not
    delivered (or over its household's cap) stays unsettled with the reason, the others settle."""
    if actor.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("只有民政监管人员可以结算 / only officers settle")
    require_within(region_code, actor.region_code)
    start = month.replace(day=1)
    out = []
    for bed in _beds_of_month(
        session, provider_id=provider_id, month=start, region_code=region_code
    ):
        already = session.scalar(
            select(CareBedSettlement).where(
                CareBedSettlement.care_bed_id == bed.id, CareBedSettlement.month == start
            )
        )
        if already is not None:
            continue
        try:
            with session.begin_nested():
                done = settle_month(session, actor=actor, care_bed_id=bed.id, month=start)
            out.append(SettleOutcome(bed.id, True, done.subsidy, ""))
        except DomainError as err:
            out.append(SettleOutcome(bed.id, False, None, err.message))
    return out


EXPORT_HEADER = [
    "床位编号",
    "老人",
    "能力等级",
    "计划服务",
    "完成服务",
    "其中探访",
    "运营补贴",
    "结算人",
]


def _export_rows(
    session: Session, *, actor: Actor, provider_id: int, month: date, region_code: str
) -> tuple[Provider, list[list[Any]], Decimal]:
    require_within(region_code, actor.region_code)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise Conflict("服务商不存在 / no such provider", code="provider_not_found")
    rows, total = [], Decimal("0.00")
    for r in provider_month(session, provider_id=provider_id, month=month, region_code=region_code):
        subsidy = r.settlement.subsidy if r.settlement else None
        total += subsidy or Decimal("0")
        rows.append(
            [
                r.care_bed_id,
                r.elder_name,
                r.grade,
                r.planned,
                r.delivered,
                r.visits,
                subsidy if subsidy is not None else "未结算",
                r.settlement.settled_by if r.settlement else "",
            ]
        )
    return provider, rows, total


def _exported(session: Session, actor: Actor, provider_id: int, month: date, fmt: str) -> None:
    audit.record(
        session,
        actor=actor,
        action="care_bed.export_settlement",
        target_type="provider",
        target_id=provider_id,
        detail={"month": month.strftime("%Y-%m"), "format": fmt},
    )


def export_csv(
    session: Session, *, actor: Actor, provider_id: int, month: date, region_code: str
) -> bytes:
    provider, rows, total = _export_rows(
        session, actor=actor, provider_id=provider_id, month=month, region_code=region_code
    )
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([watermark(actor, settings_of(session).timezone)])
    writer.writerow(["家庭养老床位运营补贴结算", provider.name, month.strftime("%Y-%m")])
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
    writer.writerow(["合计", "", "", "", "", "", total, ""])
    _exported(session, actor, provider_id, month, "csv")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(
    session: Session, *, actor: Actor, provider_id: int, month: date, region_code: str
) -> bytes:
    provider, rows, total = _export_rows(
        session, actor=actor, provider_id=provider_id, month=month, region_code=region_code
    )
    mark = watermark(actor, settings_of(session).timezone)
    wb = Workbook()
    ws = wb.active
    ws.title = "床位补贴结算"
    ws.append([f"家庭养老床位运营补贴结算 {month:%Y-%m}", provider.name])
    ws.append(EXPORT_HEADER)
    for r in rows:
        ws.append([float(v) if isinstance(v, Decimal) else v for v in r])
    ws.append(["合计", "", "", "", "", "", float(total), ""])
    ws.append([mark])
    ws.oddFooter.center.text = mark
    wb.properties.creator = mark
    buf = io.BytesIO()
    wb.save(buf)
    _exported(session, actor, provider_id, month, "xlsx")
    return buf.getvalue()
