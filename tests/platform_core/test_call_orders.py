"""One order per call and service: the agent who opens a service the call already has (the
caller's choice in the IVR's menu left a draft, or the agent opened it a moment ago) gets that
order, not a second one; the draft becomes the agent's order with what it draws on the
allowance, and two openings at the same moment leave one order."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from platform_core.errors import DomainError
from platform_core.flows import care_orders
from platform_core.gov_purchase import service as gp
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.regions.service import load_dictionary
from tests.platform_core.care_support import agent, approved_elder, install_catalogue, jobs_settled

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

AGENT = agent()
CALL = "1741900000.12"


def _ivr_draft(s, elder_id: int, code: str = "care_bathing") -> ServiceOrder:
    """What the IVR leaves when the caller picks a service in its menu."""
    return orders.open_order(
        s,
        actor=AGENT,
        elder_id=elder_id,
        service_type_code=code,
        source="ivr",
        notes="IVR 来电按键预填, 待坐席确认",
        source_ref=CALL,
    )


def _from_call(s, elder_id: int, code: str = "care_bathing", **kw) -> care_orders.CallOrder:
    return care_orders.open_call_order(
        s, actor=AGENT, elder_id=elder_id, service_type_code=code, linkedid=CALL, **kw
    )


def _live(s, elder_id: int) -> list[tuple[str, str, str]]:
    return [
        (o.service_type_code, o.source, o.status)
        for o in s.scalars(
            select(ServiceOrder)
            .where(ServiceOrder.elder_id == elder_id, ServiceOrder.status != "cancelled")
            .order_by(ServiceOrder.id)
        )
    ]


def test_the_ivr_draft_is_the_order_the_agent_opens_and_a_second_opening_names_it(
    any_runtime,
) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        install_catalogue(s)
        elder = approved_elder(s)  # an allowance this month: the draft must draw it once
        granted = gp.allowance_remaining(s, elder_id=elder.id)
        draft = _ivr_draft(s, elder.id)
        first = care_orders.open_call_order(
            s,
            actor=AGENT,
            elder_id=elder.id,
            service_type_code="care_bathing",
            notes="老人腿脚不便, 请带洗浴椅",
            linkedid=CALL,
        ).order
        assert first.id == draft.id
        assert first.status == "pending_dispatch"
        assert first.notes == "老人腿脚不便, 请带洗浴椅"
        drawn = care_orders.order_allowance(s, order_id=draft.id)
        assert drawn == first.self_pay > 0
        again = care_orders.open_call_order(
            s, actor=AGENT, elder_id=elder.id, service_type_code="care_bathing", linkedid=CALL
        ).order
        assert again.id == draft.id
        assert care_orders.order_allowance(s, order_id=draft.id) == drawn
        assert gp.allowance_remaining(s, elder_id=elder.id) == granted - drawn
        # another service on the same call is another order
        cleaning = care_orders.open_call_order(
            s, actor=AGENT, elder_id=elder.id, service_type_code="care_cleaning", linkedid=CALL
        ).order
        assert cleaning.id != draft.id
        assert _live(s, elder.id) == [
            ("care_bathing", "ivr", "pending_dispatch"),
            ("care_cleaning", "call", "pending_dispatch"),
        ]
        history = [t.command for t in orders.order_history(s, order_id=draft.id)]
        assert history == ["open_order", "submit_for_dispatch"]


def test_the_agents_own_opening_is_not_repeated_and_a_cancelled_one_can_be_opened_again(
    any_runtime,
) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        install_catalogue(s)
        elder = approved_elder(s)
        first = _from_call(s, elder.id)
        assert not first.already_open
        second = _from_call(s, elder.id)
        assert (second.order.id, second.already_open) == (first.order.id, True)
        care_orders.cancel_care_order(s, actor=AGENT, order_id=first.order.id, reason="老人改主意")
        third = _from_call(s, elder.id)
        assert third.order.id != first.order.id and not third.already_open
        # an order opened without a call has nothing to be the same as
        loose = [
            care_orders.open_call_order(
                s, actor=AGENT, elder_id=elder.id, service_type_code="care_cleaning", linkedid=None
            )
            for _ in range(2)
        ]
        assert loose[0].order.id != loose[1].order.id
        assert len(_live(s, elder.id)) == 3


def test_an_agent_who_changes_the_drafts_terms_replaces_it(any_runtime) -> None:
    """The draft was priced as a routine order at the elder's home: an urgent one, or one at
    another address, is priced and timed anew, and the draft is cancelled (nothing it drew
    stays drawn)."""
    with any_runtime.session() as s:
        load_dictionary(s)
        install_catalogue(s)
        elder = approved_elder(s)
        granted = gp.allowance_remaining(s, elder_id=elder.id)
        draft = _ivr_draft(s, elder.id)
        gp.charge_for_order(s, actor=AGENT, order_id=draft.id)  # as the nightly job would
        urgent = _from_call(s, elder.id, urgency="urgent", address="赛罕区大学西街 9 号")
        assert urgent.order.id != draft.id and not urgent.already_open
        assert (urgent.order.urgency, urgent.order.address) == ("urgent", "赛罕区大学西街 9 号")
        replaced = orders.get_order(s, order_id=draft.id)
        assert replaced.status == "cancelled" and "坐席" in replaced.cancel_reason
        assert care_orders.order_allowance(s, order_id=draft.id) == D("0.00")
        assert gp.allowance_remaining(s, elder_id=elder.id) == granted - min(
            granted, urgent.order.self_pay
        )
        assert _live(s, elder.id) == [("care_bathing", "call", "pending_dispatch")]


def test_two_openings_of_one_service_at_once_leave_one_order(regions) -> None:
    """Two agents' clicks (or one agent's double click) reach two workers at the same moment."""
    with regions.session() as s:
        install_catalogue(s)
        elder_id = approved_elder(s).id
    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            with regions.session() as s:
                barrier.wait(5)
                opened = _from_call(s, elder_id)
                results.append((opened.order.id, opened.already_open))
        except (DomainError, threading.BrokenBarrierError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 2
    assert len({order_id for order_id, _ in results}) == 1
    assert sorted(already for _, already in results) == [False, True]
    with regions.session() as s:
        count = s.scalar(select(func.count()).select_from(ServiceOrder))
        assert count == 1
