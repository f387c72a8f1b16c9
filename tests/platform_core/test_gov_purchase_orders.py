"""Government-purchase allowances consumed by service orders: drawn when an order is opened,
given back when it is cancelled, never over what is left, only for the services the league
buys, and put right for orders opened or cancelled around the flow."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest

from platform_core import clock
from platform_core.care_policy.service import set_policy
from platform_core.errors import DomainError
from platform_core.flows import care_orders
from platform_core.gov_purchase import jobs as gp_jobs
from platform_core.gov_purchase import service as gp
from platform_core.gov_purchase.policy import GovPurchasePolicy
from platform_core.orders import service as orders
from platform_core.regions.service import load_dictionary
from tests.platform_core.care_support import (
    agent,
    approved_elder,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
)

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

AGENT = agent()


def open_(s, elder_id: int, code: str, **kw):
    return care_orders.open_care_order(
        s, actor=AGENT, elder_id=elder_id, service_type_code=code, source="call", **kw
    )


def remaining(s, elder_id: int) -> D:
    return gp.allowance_remaining(s, elder_id=elder_id)


def test_orders_draw_their_self_pay_when_opened_and_give_it_back_when_cancelled(
    any_runtime,
) -> None:
    seen: list[dict] = []
    any_runtime.event_bus.subscribe(seen.append)
    with any_runtime.session() as s:
        load_dictionary(s)
        install_catalogue(s)
        elder = approved_elder(s)  # 低保边缘, 中度失能: 200 元 a month by default
        granted = remaining(s, elder.id)
        assert granted == D("200.00")
        bathing = open_(s, elder.id, "care_bathing")
        cleaning = open_(s, elder.id, "care_cleaning", quantity=2)
        meal = open_(s, elder.id, "meal_delivery")
        fall = open_(s, elder.id, "emergency_fall")
        # the catalogue's 低保边缘 rule paid half; the allowance pays the elder's half
        assert bathing.subsidy > 0 and bathing.self_pay == bathing.price - bathing.subsidy
        drawn = {o.id: care_orders.order_allowance(s, order_id=o.id) for o in (bathing, cleaning)}
        assert drawn == {bathing.id: bathing.self_pay, cleaning.id: cleaning.self_pay}
        # meals have meal aid's own subsidy; an emergency costs the elder nothing
        assert care_orders.order_allowance(s, order_id=meal.id) == 0
        assert care_orders.order_allowance(s, order_id=fall.id) == 0
        assert remaining(s, elder.id) == granted - bathing.self_pay - cleaning.self_pay
        ids = (elder.id, bathing.id, cleaning.self_pay)
    with any_runtime.session() as s:
        elder_id, bathing_id, cleaning_pay = ids
        cancelled = care_orders.cancel_care_order(
            s, actor=AGENT, order_id=bathing_id, reason="老人住院"
        )
        assert cancelled.status == "cancelled"
        assert care_orders.order_allowance(s, order_id=bathing_id) == 0
        assert remaining(s, elder_id) == granted - cleaning_pay
    any_runtime.event_bus.drain()
    types = [e["type"] for e in seen]
    assert types.count("AllowanceCharged") == 2 and types.count("AllowanceReleased") == 1


def test_an_elder_without_an_approved_application_draws_nothing(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        elder = make_elder(s, categories=("near_subsistence",))
        order = open_(s, elder.id, "care_bathing")
        assert order.self_pay > 0
        assert care_orders.order_allowance(s, order_id=order.id) == 0
        assert gp.status_for_elder(s, elder_id=elder.id)["state"] == "none"


def test_the_allowance_pays_what_is_left_and_the_elder_the_rest(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        set_policy(
            s,
            actor=officer(),
            cls=GovPurchasePolicy,
            league_code="150100",
            values={"monthly_allowance_by_grade": {"moderate": "50"}},
        )
        elder = approved_elder(s)
        first = open_(s, elder.id, "care_bathing")
        second = open_(s, elder.id, "care_bathing")
        third = open_(s, elder.id, "care_bathing")
        assert care_orders.order_allowance(s, order_id=first.id) == first.self_pay
        assert care_orders.order_allowance(s, order_id=second.id) == D("50.00") - first.self_pay
        assert care_orders.order_allowance(s, order_id=third.id) == 0
        assert remaining(s, elder.id) == 0
        # the charge itself still refuses more than is left, naming the rule
        with pytest.raises(gp.AllowanceExceeded) as err:
            gp.charge_allowance(s, actor=AGENT, elder_id=elder.id, order_id=third.id, amount=D("1"))
        assert err.value.details["rule"] == "monthly_allowance"
        care_orders.cancel_care_order(s, actor=AGENT, order_id=second.id, reason="改约")
        assert remaining(s, elder.id) == D("50.00") - first.self_pay


def test_the_league_decides_which_services_the_allowance_buys(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        set_policy(
            s,
            actor=officer(),
            cls=GovPurchasePolicy,
            league_code="150100",
            values={"allowance_service_categories": ["meals"]},
        )
        elder = approved_elder(s, categories=("family_planning",))
        meal = open_(s, elder.id, "meal_delivery")
        bathing = open_(s, elder.id, "care_bathing")
        assert meal.self_pay > 0 and bathing.self_pay > 0
        assert care_orders.order_allowance(s, order_id=meal.id) == meal.self_pay
        assert care_orders.order_allowance(s, order_id=bathing.id) == 0


def test_reconciliation_puts_right_orders_that_went_around_the_flow(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        elder = approved_elder(s)
        around = orders.open_order(
            s, actor=AGENT, elder_id=elder.id, service_type_code="care_bathing", source="call"
        )
        through = open_(s, elder.id, "care_cleaning")
        orders.cancel(s, actor=AGENT, order_id=through.id, reason="老人取消")
        assert care_orders.order_allowance(s, order_id=through.id) == through.self_pay
        other = make_elder(s, name="未申请的老人", categories=("near_subsistence",))
        orders.open_order(
            s, actor=AGENT, elder_id=other.id, service_type_code="care_bathing", source="call"
        )
        done = gp.reconcile_allowances(s, actor=officer(), month=clock.today())
        assert done == {"elders": 1, "released": [through.id], "charged": [around.id]}
        assert care_orders.order_allowance(s, order_id=around.id) == around.self_pay
        assert remaining(s, elder.id) == D("200.00") - around.self_pay
        again = gp.reconcile_allowances(s, actor=officer(), month=clock.today())
        assert (again["released"], again["charged"]) == ([], [])


def test_the_nightly_job_charges_what_the_console_opened_directly(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        elder = approved_elder(s)
        order = orders.open_order(
            s, actor=AGENT, elder_id=elder.id, service_type_code="care_bathing", source="call"
        )
        ids = (elder.id, order.id, order.self_pay)
    assert gp_jobs.reconcile_allowances()["charged"] == [ids[1]]
    assert gp_jobs.reconcile_allowances()["charged"] == []
    with regions.session() as s:
        assert remaining(s, ids[0]) == D("200.00") - ids[2]


def test_two_orders_opened_at_once_never_overdraw(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        set_policy(
            s,
            actor=officer(),
            cls=GovPurchasePolicy,
            league_code="150100",
            values={"monthly_allowance_by_grade": {"moderate": "50"}},
        )
        elder_id = approved_elder(s).id
    barrier = threading.Barrier(2)
    opened: list[int] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            with regions.session() as s:
                barrier.wait(5)
                opened.append(open_(s, elder_id, "care_bathing").id)
        except (DomainError, threading.BrokenBarrierError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(opened) == 2
    with regions.session() as s:
        drawn = [care_orders.order_allowance(s, order_id=i) for i in opened]
        self_pay = orders.get_order(s, order_id=opened[0]).self_pay
        assert sorted(drawn) == sorted([self_pay, D("50.00") - self_pay])
        assert remaining(s, elder_id) == 0
