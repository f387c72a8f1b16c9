"""A family care bed's monthly services are service orders: opened from the plan (source
assessment_plan) and sent to the contracted provider, recorded with their orders, settled only
as far as those orders were completed, and cancelled when the bed is withdrawn."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from platform_core import clock
from platform_core.care_beds import jobs as bed_jobs
from platform_core.care_beds import service as beds
from platform_core.errors import DomainError
from platform_core.flows import care_orders
from platform_core.orders import service as orders
from platform_core.regions.service import load_dictionary
from tests.order_steps import time_at_home
from tests.platform_core.care_support import (
    HOME,
    SEVERE_43,
    add_provider,
    agent,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
    provider_staff,
)
from tests.platform_core.test_care_beds import PLAN, assess

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

MONTH = date(2025, 3, 1)
APRIL = date(2025, 4, 1)


def bed_in_service(s, *, contract_from=MONTH, provider=None):
    install_catalogue(s)
    provider = provider or add_provider(s)
    elder = make_elder(s)
    assess(s, elder, SEVERE_43)
    bed = beds.apply_for_bed(s, actor=agent(), elder_id=elder.id, source="referral")
    beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
    beds.sign_contract(
        s,
        actor=officer(),
        care_bed_id=bed.id,
        provider_id=provider.id,
        contract_no="JTCW-2025-007",
        starts_on=contract_from,
        ends_on=contract_from + timedelta(days=364),
    )
    beds.complete_home_adaptation(s, actor=officer(), care_bed_id=bed.id, waived_reason="无需")
    beds.install_devices(s, actor=officer(), care_bed_id=bed.id, devices=["一键呼叫器"])
    beds.set_service_plan(s, actor=officer(), care_bed_id=bed.id, items=PLAN)
    beds.start_service(s, actor=officer(), care_bed_id=bed.id)
    return bed, provider


def finish(s, order_id: int, staff) -> None:
    orders.accept(s, actor=staff, order_id=order_id)
    orders.start_travel(s, actor=staff, order_id=order_id)
    orders.check_in(s, actor=staff, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
    time_at_home(s, order_id)
    orders.check_out(
        s, actor=staff, order_id=order_id, latitude=HOME[0], longitude=HOME[1], report="完成"
    )


def test_the_plan_is_opened_as_orders_for_the_contracted_provider_once(any_runtime) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        bed, provider = bed_in_service(s)
        opened = beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=MONTH)
        planned = sum(p["times_per_month"] for p in PLAN)
        assert len(opened) == planned
        rows = [orders.get_order(s, order_id=r.order_id) for r in opened]
        assert {o.source for o in rows} == {"assessment_plan"}
        assert {(o.status, o.provider_id) for o in rows} == {("dispatched", provider.id)}
        assert sorted(o.service_type_code for o in rows) == sorted(
            p["service_type_code"] for p in PLAN for _ in range(p["times_per_month"])
        )
        assert len({o.source_ref for o in rows}) == planned
        days = sorted(r.on for r in opened)
        assert days[0] == MONTH and all(d.month == 3 for d in days)
        # four baths spread over the month, a week or so apart
        baths = sorted(r.on for r in opened if r.service_type_code == "care_bathing")
        assert min(b - a for a, b in zip(baths, baths[1:], strict=False)) >= timedelta(days=7)
        assert beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=MONTH) == []
        assert len(beds.month_services(s, care_bed_id=bed.id, month=MONTH)) == planned


def test_a_month_opened_late_plans_nothing_in_the_past_and_none_outside_the_contract(
    regions,
) -> None:
    with regions.session() as s:
        bed, _ = bed_in_service(s)
        late = beds.open_month_orders(
            s, actor=agent(), care_bed_id=bed.id, month=MONTH, today=date(2025, 3, 20)
        )
        assert min(r.on for r in late) == date(2025, 3, 20)
        with pytest.raises(DomainError) as err:
            beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=date(2024, 12, 1))
        assert err.value.code == "care_bed_outside_contract"
        with pytest.raises(DomainError) as err:
            beds.open_month_orders(s, actor=officer(), care_bed_id=bed.id, month=APRIL)
        assert err.value.code == "permission_denied"  # officers supervise; they open no orders


def test_a_service_is_recorded_only_with_this_elders_live_order_of_that_service(regions) -> None:
    with regions.session() as s:
        bed, _ = bed_in_service(s)
        stranger = make_elder(s, name="王秀英")
        theirs = orders.open_order(
            s, actor=agent(), elder_id=stranger.id, service_type_code="visit_home", source="call"
        )
        bath = orders.open_order(
            s, actor=agent(), elder_id=bed.elder_id, service_type_code="care_bathing", source="call"
        )
        record = {
            "actor": agent(),
            "care_bed_id": bed.id,
            "service_type_code": "visit_home",
            "on": MONTH,
        }
        for order_id, code in (
            (theirs.id, "care_bed_order_mismatch"),
            (bath.id, "care_bed_order_mismatch"),
        ):
            with pytest.raises(DomainError) as err:
                beds.record_service(s, order_id=order_id, **record)
            assert err.value.code == code
        orders.cancel(s, actor=agent(), order_id=bath.id, reason="改期")
        with pytest.raises(DomainError) as err:
            beds.record_service(
                s, order_id=bath.id, **{**record, "service_type_code": "care_bathing"}
            )
        assert err.value.code == "care_bed_order_cancelled"
        visit = orders.open_order(
            s, actor=agent(), elder_id=bed.elder_id, service_type_code="visit_home", source="call"
        )
        beds.record_service(s, order_id=visit.id, **record)
        with pytest.raises(DomainError) as err:
            beds.record_service(s, order_id=visit.id, **record)
        assert err.value.code == "care_bed_service_duplicate"


def test_settlement_counts_only_services_whose_orders_were_completed(regions) -> None:
    with regions.session() as s:
        bed, provider = bed_in_service(s)
        staff = provider_staff(provider_id=provider.id)
        opened = beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=MONTH)
        baths = [r.order_id for r in opened if r.service_type_code == "care_bathing"]
        visits = [r.order_id for r in opened if r.service_type_code == "visit_home"]
        for order_id in baths[:2] + visits[:1]:
            finish(s, order_id, staff)
        # a third bath under way, the fourth cancelled: neither is delivered
        orders.accept(s, actor=staff, order_id=baths[2])
        care_orders.cancel_care_order(s, actor=agent(), order_id=baths[3], reason="老人住院")
        with pytest.raises(DomainError) as err:
            beds.settle_month(s, actor=officer(), care_bed_id=bed.id, month=MONTH, today=APRIL)
        assert err.value.code == "care_bed_plan_not_met"
        assert (err.value.details["completed"], err.value.details["not_completed"]) == (3, 3)
        orders.start_travel(s, actor=staff, order_id=baths[2])
        orders.check_in(s, actor=staff, order_id=baths[2], latitude=HOME[0], longitude=HOME[1])
        time_at_home(s, baths[2])
        orders.complete(s, actor=staff, order_id=baths[2], report="助浴完成")
        # a complaint about a delivered service does not undo the delivery
        orders.file_complaint(s, actor=agent(), order_id=baths[0], text="水太凉")
        settlement = beds.settle_month(
            s, actor=officer(), care_bed_id=bed.id, month=MONTH, today=APRIL
        )
        assert settlement.services == 4


def test_withdrawal_cancels_the_plans_orders_not_yet_under_way(regions) -> None:
    with regions.session() as s:
        bed, provider = bed_in_service(s)
        staff = provider_staff(provider_id=provider.id)
        opened = beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=MONTH)
        done, at_home, *rest = [r.order_id for r in opened]
        finish(s, done, staff)
        orders.accept(s, actor=staff, order_id=at_home)
        orders.start_travel(s, actor=staff, order_id=at_home)
        orders.check_in(s, actor=staff, order_id=at_home, latitude=HOME[0], longitude=HOME[1])
        beds.withdraw(s, actor=officer(), care_bed_id=bed.id, reason="death")
        status = {i: orders.get_order(s, order_id=i).status for i in [done, at_home, *rest]}
        assert (status[done], status[at_home]) == ("completed", "in_service")
        assert {status[i] for i in rest} == {"cancelled"}
        last = orders.order_history(s, order_id=rest[0])[-1]
        assert last.actor_kind == "system" and "民政李强" in last.actor_name
        assert "老人去世" in last.reason


def test_the_monthly_job_opens_every_bed_in_service_once(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        provider = add_provider(s)
        first, _ = bed_in_service(s, contract_from=clock.today().replace(day=1), provider=provider)
        second, _ = bed_in_service(s, contract_from=clock.today().replace(day=1), provider=provider)
        status = beds.status_for_elder(s, elder_id=first.elder_id)
        assert status["this_month"] == {"planned": 6, "opened": 0, "completed": 0}
    assert bed_jobs.open_month_orders_for_all() == 12
    assert bed_jobs.open_month_orders_for_all() == 0
    with regions.session() as s:
        status = beds.status_for_elder(s, elder_id=second.elder_id)
        assert status["this_month"] == {"planned": 6, "opened": 6, "completed": 0}
