"""What the home-adaptation desk shows: cases a page at a time, one case with its items, their
photos before and after, the household's cap and what is left of it; a photo read back
(audited: it shows the inside of an elder's home)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.care_policy.service import policy_for
from platform_core.elders.models import Elder
from platform_core.errors import NotFound
from platform_core.home_adaptation.models import AdaptationCase, AdaptationItem
from platform_core.home_adaptation.policy import HomeAdaptationPolicy
from platform_core.home_adaptation.service import (
    ACTION_LABELS,
    CHAIN,
    STATUS_LABELS,
    get_case,
    used_by_household,
)
from platform_core.paging import Page, fetch_page_of_ids
from platform_core.providers.models import Provider
from platform_core.regions.service import require_within
from platform_core.security.masking import mask_name
from platform_core.step_chain import records_in


@dataclass(frozen=True)
class CaseRow:
    case_id: int
    status: str
    status_label: str
    elder_id: int
    elder_name: str  # masked
    region_code: str


def cases(
    session: Session,
    *,
    region_code: str,
    statuses: Sequence[str] = (),
    elder_ids: Sequence[int] | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[CaseRow]:
    q = records_in(AdaptationCase, region_code=region_code, statuses=statuses, elder_ids=elder_ids)
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(AdaptationCase, Elder.name)
            .join(Elder, Elder.id == AdaptationCase.elder_id)
            .where(AdaptationCase.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    return Page(
        rows=[
            CaseRow(
                c.id, c.status, STATUS_LABELS[c.status], c.elder_id, mask_name(n), c.region_code
            )
            for c, n in found.rows
        ],
        total=found.total,
        page=found.page,
        size=found.size,
    )


@dataclass(frozen=True)
class CaseView:
    case: AdaptationCase
    elder: Elder
    status_label: str
    provider: Provider | None
    actions: list[tuple[str, str]]
    cap: Decimal
    used_by_household: Decimal  # other cases at the address

    @property
    def basic(self) -> Decimal:
        return sum((i.cost for i in self.case.items if i.basic), Decimal("0.00"))

    @property
    def self_paid(self) -> Decimal:
        return sum((i.cost for i in self.case.items if not i.basic), Decimal("0.00"))

    @property
    def cap_left(self) -> Decimal:
        return self.cap - self.used_by_household


def case_view(session: Session, *, case_id: int) -> CaseView:
    case = get_case(session, case_id=case_id)
    elder = session.get(Elder, case.elder_id)
    assert elder is not None
    policy = policy_for(session, HomeAdaptationPolicy, region_code=case.region_code)
    return CaseView(
        case=case,
        elder=elder,
        status_label=STATUS_LABELS[case.status],
        provider=session.get(Provider, case.provider_id) if case.provider_id else None,
        actions=[(a, ACTION_LABELS[a]) for (st, a) in CHAIN.transitions if st == case.status],
        cap=Decimal(policy.household_subsidy_cap).quantize(Decimal("0.01")),
        used_by_household=used_by_household(session, case),
    )


def case_of_item(session: Session, *, item_id: int) -> AdaptationCase:
    item = session.get(AdaptationItem, item_id)
    if item is None:
        raise NotFound("照片不存在 / no such photo", code="photo_not_found")
    return get_case(session, case_id=item.case_id)


def read_photo(session: Session, *, actor: Actor, item_id: int, which: str) -> tuple[bytes, str]:
    """An item's photo before or after the works, and its type; audited as a view of the elder."""
    item = session.get(AdaptationItem, item_id)
    if item is None or which not in ("before", "after"):
        raise NotFound("照片不存在 / no such photo", code="photo_not_found")
    case = get_case(session, case_id=item.case_id)
    require_within(case.region_code, actor.region_code)
    stored = getattr(item, f"{which}_photo")
    if not stored or not Path(stored).is_file():
        raise NotFound("照片不存在 / no such photo", code="photo_not_found")
    audit.record(
        session,
        actor=actor,
        action="home_adaptation.view_photo",
        target_type="elder",
        target_id=case.elder_id,
        detail={"case_id": case.id, "item_id": item.id, "which": which},
    )
    return Path(stored).read_bytes(), "image/png" if stored.endswith(".png") else "image/jpeg"
