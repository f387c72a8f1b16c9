"""Family care beds: the chain with dates and owners, services, settlement under the household
cap, withdrawal, and the screen-pop summary of every care module."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from platform_core import clock
from platform_core.assessment import service as assessments
from platform_core.care_beds import service as beds
from platform_core.care_beds.policy import CareBedPolicy
from platform_core.care_policy.service import set_policy
from platform_core.errors import DomainError, IllegalTransition, ValidationFailed
from platform_core.gov_purchase import service as gp
from platform_core.home_adaptation import service as ha
from platform_core.meal_aid import service as meals
from platform_core.orders import service as orders
from tests.order_steps import time_at_home
from tests.platform_core.care_support import (
    HOME,
    MODERATE_46,
    SEVERE_43,
    add_provider,
    agent,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
    provider_staff,
)

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__, "catalogue")


@pytest.fixture
def catalogue(regions):
    """Care-bed services are service orders of the shipped catalogue."""
    with regions.session() as s:
        install_catalogue(s)


MONTH = date(2025, 3, 1)
PLAN = [
    {"service_type_code": "care_bathing", "times_per_month": 4},
    {"service_type_code": "visit_home", "times_per_month": 2},
]


def assess(s, elder, scores):
    assessments.record_assessment(
        s,
        actor=officer(),
        elder_id=elder.id,
        item_scores=scores,
        assessed_on=clock.today(),
        reason="first",
        assessors=["王敏", "赵云"],
    )


def in_service(s, elder, on=MONTH, provider_id=None):
    if provider_id is None:
        provider_id = add_provider(s).id
    bed = beds.apply_for_bed(
        s, actor=agent(), elder_id=elder.id, source="referral", call_id="17000.2", on=on
    )
    beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
    beds.sign_contract(
        s,
        actor=officer(),
        care_bed_id=bed.id,
        provider_id=provider_id,
        contract_no="JTCW-2025-001",
        starts_on=on,
        ends_on=on + timedelta(days=365),
        on=on,
    )
    beds.complete_home_adaptation(
        s, actor=officer(), care_bed_id=bed.id, waived_reason="新装修, 已无障碍", on=on
    )
    beds.install_devices(
        s,
        actor=provider_staff(),
        care_bed_id=bed.id,
        devices=["一键呼叫器 SN001", "智能床垫 SN002"],
        on=on,
    )
    beds.set_service_plan(s, actor=officer(), care_bed_id=bed.id, items=PLAN, on=on)
    beds.start_service(s, actor=officer(), care_bed_id=bed.id, on=on)
    return bed


def complete_order(s, order_id: int) -> None:
    """The contracted provider's staff goes through the order to its check-out."""
    order = orders.get_order(s, order_id=order_id)
    staff = provider_staff(provider_id=order.provider_id)
    orders.accept(s, actor=staff, order_id=order_id)
    orders.start_travel(s, actor=staff, order_id=order_id)
    orders.check_in(s, actor=staff, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
    time_at_home(s, order_id)
    orders.check_out(
        s, actor=staff, order_id=order_id, latitude=HOME[0], longitude=HOME[1], report="服务完成"
    )


def deliver(s, bed, *, baths=4, visits=1):
    """Open the month's plan as orders (again: only what is missing) and complete some."""
    beds.open_month_orders(s, actor=agent(), care_bed_id=bed.id, month=MONTH)
    pending = {"care_bathing": baths, "visit_home": visits}
    for row, done in beds.month_services(s, care_bed_id=bed.id, month=MONTH):
        if not done and pending[row.service_type_code] > 0:
            complete_order(s, row.order_id)
            pending[row.service_type_code] -= 1
    assert not any(pending.values()), "the plan has fewer services than asked to deliver"


def test_the_chain_with_dates_owners_services_and_settlement(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s)
        assess(s, elder, SEVERE_43)
        # the day is read when the step is taken, not when the module was collected (a long
        # run may cross Beijing's midnight in between), and midnight may fall within the chain
        before = clock.today()
        bed = in_service(s, elder)
        assert bed.status == "in_service" and bed.grade == "severe"
        assert [(st.action, st.owner) for st in bed.steps] == [
            ("apply", "坐席王敏"),
            ("assess", "民政李强"),
            ("contract", "民政李强"),
            ("adapt_home", "民政李强"),
            ("install_devices", "服务商赵云"),
            ("plan", "民政李强"),
            ("start_service", "民政李强"),
        ]
        assert bed.steps[2].on == MONTH and bed.steps[1].on in (before, clock.today())
        deliver(s, bed, baths=3, visits=0)
        # six services planned (4 baths, 2 visits), three completed: not enough, and no visit
        with pytest.raises(DomainError) as err:
            beds.settle_month(
                s, actor=officer(), care_bed_id=bed.id, month=MONTH, today=date(2025, 4, 1)
            )
        assert err.value.code == "care_bed_plan_not_met"
        assert (err.value.details["completed"], err.value.details["not_completed"]) == (3, 3)
        deliver(s, bed, baths=0, visits=1)
        cleaning = orders.open_order(
            s,
            actor=agent(),
            elder_id=elder.id,
            service_type_code="care_cleaning",
            source="assessment_plan",
        )
        with pytest.raises(DomainError) as err:
            beds.record_service(
                s,
                actor=provider_staff(),
                care_bed_id=bed.id,
                service_type_code="care_cleaning",
                on=MONTH,
                order_id=cleaning.id,
            )
        assert err.value.code == "not_in_plan"
        settlement = beds.settle_month(
            s, actor=officer(), care_bed_id=bed.id, month=MONTH, today=date(2025, 4, 1)
        )
        # only the four completed services count; 重度 by default
        assert (settlement.services, settlement.subsidy) == (4, Decimal("500.00"))
        with pytest.raises(DomainError) as err:
            beds.settle_month(
                s, actor=officer(), care_bed_id=bed.id, month=MONTH, today=date(2025, 4, 2)
            )
        assert err.value.code == "care_bed_settlement_exists"
        beds.withdraw(
            s, actor=agent(), care_bed_id=bed.id, reason="institution", on=date(2025, 4, 10)
        )
        assert (bed.status, bed.withdrawn_on) == ("withdrawn", date(2025, 4, 10))
        # the plan's orders nobody started are cancelled; delivered ones stay as they were
        statuses = sorted(
            orders.get_order(s, order_id=r.order_id).status
            for r, _ in beds.month_services(s, care_bed_id=bed.id, month=MONTH)
        )
        assert statuses == ["cancelled"] * 2 + ["completed"] * 4
        visit = orders.open_order(
            s,
            actor=agent(),
            elder_id=elder.id,
            service_type_code="visit_home",
            source="assessment_plan",
        )
        with pytest.raises(IllegalTransition):
            beds.record_service(
                s,
                actor=provider_staff(),
                care_bed_id=bed.id,
                service_type_code="visit_home",
                on=clock.today(),
                order_id=visit.id,
            )


def test_household_cap_refuses_the_second_bed_of_a_couple(regions) -> None:
    with regions.session() as s:
        husband = make_elder(s, name="王大爷", address="锡林路 1 号")
        wife = make_elder(s, name="李大娘", address="锡林路1号")
        assess(s, husband, SEVERE_43)
        assess(s, wife, MODERATE_46)
        provider_id = add_provider(s).id
        a, b = (
            in_service(s, husband, provider_id=provider_id),
            in_service(s, wife, provider_id=provider_id),
        )
        deliver(s, a)
        deliver(s, b)
        beds.settle_month(
            s, actor=officer(), care_bed_id=a.id, month=MONTH, today=date(2025, 4, 1)
        )  # 重度: 500
        # 呼和浩特 caps a household at 700 a month: the wife's 300 (中度) would make it 800.
        set_policy(
            s,
            actor=officer(),
            cls=CareBedPolicy,
            league_code="150100",
            values={"household_monthly_cap": "700"},
        )
        with pytest.raises(DomainError) as err:
            beds.settle_month(
                s, actor=officer(), care_bed_id=b.id, month=MONTH, today=date(2025, 4, 1)
            )
        assert (
            err.value.code == "care_bed_household_cap"
            and err.value.details["remaining"] == "200.00"
        )
        set_policy(
            s,
            actor=officer(),
            cls=CareBedPolicy,
            league_code="150100",
            values={"household_monthly_cap": "800"},
        )
        assert beds.settle_month(
            s, actor=officer(), care_bed_id=b.id, month=MONTH, today=date(2025, 4, 1)
        ).subsidy == Decimal("300.00")


def test_illegal_steps_and_thresholds(regions) -> None:
    with regions.session() as s:
        mild = make_elder(s)
        assess(
            s, mild, {**MODERATE_46, "B.1.1": 4, "B.1.2": 4, "B.1.3": 4, "B.1.4": 4, "B.1.5": 4}
        )  # 66 轻度
        bed = beds.apply_for_bed(s, actor=agent(), elder_id=mild.id)
        with pytest.raises(beds.NotEligible) as err:
            beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
        assert err.value.details["rule"] == "min_grade" and "中度失能" in err.value.message
        for call in (
            lambda: beds.sign_contract(
                s,
                actor=officer(),
                care_bed_id=bed.id,
                provider_id=7,
                contract_no="X",
                starts_on=clock.today(),
                ends_on=clock.today() + timedelta(days=1),
            ),
            lambda: beds.start_service(s, actor=officer(), care_bed_id=bed.id),
            lambda: beds.install_devices(s, actor=officer(), care_bed_id=bed.id, devices=["SOS"]),
        ):
            with pytest.raises(IllegalTransition) as err:
                call()
            assert "已申请" in err.value.message
        with pytest.raises(ValidationFailed):
            beds.withdraw(s, actor=agent(), care_bed_id=bed.id, reason="bored")
        beds.withdraw(s, actor=agent(), care_bed_id=bed.id, reason="request")
        with pytest.raises(IllegalTransition):
            beds.withdraw(s, actor=agent(), care_bed_id=bed.id, reason="death")


def test_home_must_be_adapted_by_an_accepted_case_or_waived(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, categories=("subsistence",))
        assess(s, elder, SEVERE_43)
        bed = beds.apply_for_bed(s, actor=agent(), elder_id=elder.id)
        beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
        beds.sign_contract(
            s,
            actor=officer(),
            care_bed_id=bed.id,
            provider_id=add_provider(s).id,
            contract_no="C-1",
            starts_on=clock.today(),
            ends_on=clock.today() + timedelta(days=365),
        )
        case = ha.apply_for_adaptation(s, actor=agent(), elder_id=elder.id)
        ha.check_eligibility(s, actor=officer(), case_id=case.id)
        with pytest.raises(DomainError) as err:
            beds.complete_home_adaptation(
                s, actor=officer(), care_bed_id=bed.id, home_adaptation_id=case.id
            )
        assert err.value.code == "adaptation_not_accepted"
        with pytest.raises(ValidationFailed):
            beds.complete_home_adaptation(s, actor=officer(), care_bed_id=bed.id)


def test_screen_pop_shows_where_each_module_stands(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, categories=("subsistence",))
        assess(s, elder, SEVERE_43)
        beds.apply_for_bed(s, actor=agent(), elder_id=elder.id)
        gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人")
        summary = [
            assessments.status_for_elder(s, elder_id=elder.id),
            gp.status_for_elder(s, elder_id=elder.id),
            meals.status_for_elder(s, elder_id=elder.id),
            beds.status_for_elder(s, elder_id=elder.id),
            ha.status_for_elder(s, elder_id=elder.id),
        ]
    assert [(m["module"], m["state_label"]) for m in summary] == [
        ("assessment", "有效"),
        ("gov_purchase", "已申请"),
        ("meal_aid", "无预订"),
        ("care_beds", "已申请"),
        ("home_adaptation", "未申请"),
    ]
    assert summary[0]["grade_label"] == "重度失能" and summary[3]["owner"] == "坐席王敏"
