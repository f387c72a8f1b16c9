"""Care budgets per 盟市 and year, and each programme's spent and committed money against them:
set only by officers of the region, read from the programmes' own records, flagged once when
a programme passes the bureau's warning share."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from platform_core import clock
from platform_core.audit.models import AuditRecord
from platform_core.budgets import service as budgets
from platform_core.budgets.policy import BudgetPolicy
from platform_core.care_beds import service as beds
from platform_core.care_policy.service import set_policy
from platform_core.errors import DomainError, OutOfRegion, PermissionDenied
from platform_core.flows import care_money, care_orders
from platform_core.home_adaptation import service as ha
from platform_core.meal_aid import service as meals
from platform_core.orders.models import ServiceOrder
from platform_core.periodic import PERIODIC
from tests.platform_core.care_support import (
    MODERATE_46,
    add_provider,
    agent,
    approved_elder,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
    provider_staff,
)
from tests.platform_core.test_care_beds import PLAN, assess
from tests.platform_core.test_meal_aid import setup_point

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

HOHHOT = "150100000000"
TZ = ZoneInfo("Asia/Shanghai")
JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10


def line(lines, programme: str, region: str = HOHHOT):
    return next(x for x in lines if x.programme == programme and x.region_code == region)


def test_only_officers_of_the_region_set_budgets_and_every_change_is_audited(regions) -> None:
    with regions.session() as s:
        with pytest.raises(PermissionDenied):
            budgets.set_budget(
                s, actor=agent(), programme="meal_aid", league_code=HOHHOT, year=2026, amount=1
            )
        with pytest.raises(OutOfRegion):
            budgets.set_budget(
                s,
                actor=officer(HOHHOT),
                programme="meal_aid",
                league_code="150200",
                year=2026,
                amount=1,
            )
        for bad in (
            {"programme": "fireworks"},
            {"league_code": "150102"},  # a banner: budgets are per league
            {"amount": "-5"},
            {"amount": "NaN"},
            {"warn_share": "1.5"},
        ):
            args = {"programme": "meal_aid", "league_code": HOHHOT, "amount": "100", **bad}
            with pytest.raises(DomainError) as err:
                budgets.set_budget(s, actor=officer(), year=2026, **args)
            assert err.value.code in ("invalid_care_budget", "invalid_region_code"), bad
        row = budgets.set_budget(
            s,
            actor=officer(HOHHOT),
            programme="meal_aid",
            league_code="1501",
            year=2026,
            amount="500000",
            warn_share="0.9",
        )
        again = budgets.set_budget(
            s,
            actor=officer(),
            programme="meal_aid",
            league_code=HOHHOT,
            year=2026,
            amount="600000",
        )
        assert again.id == row.id and again.amount == D("600000.00")
        # without its own share the league's policy decides
        assert budgets.warn_share_of(s, again) == D("0.8")
        set_policy(
            s, actor=officer(), cls=BudgetPolicy, league_code="150100", values={"warn_share": "0.7"}
        )
        assert budgets.warn_share_of(s, again) == D("0.7")
        audits = s.scalars(select(AuditRecord).where(AuditRecord.action == "care_budget.set")).all()
        assert [a.detail["amount"] for a in audits] == ["500000.00", "600000.00"]
        assert audits[1].detail["before"] == {"amount": "500000.00", "warn_share": "0.900"}


def test_each_programme_reports_spent_and_committed_money(regions) -> None:
    year = clock.today().year  # the approved elder's allowance month is this one
    with regions.session() as s:
        install_catalogue(s)
        # government purchase: two orders draw the allowance, one of them is settled
        elder = approved_elder(s)
        first = care_orders.open_care_order(
            s, actor=agent(), elder_id=elder.id, service_type_code="care_bathing", source="call"
        )
        second = care_orders.open_care_order(
            s, actor=agent(), elder_id=elder.id, service_type_code="care_cleaning", source="call"
        )
        s.get(ServiceOrder, first.id).settled_at = clock.now()  # paid on a statement
        s.flush()
        money = care_money.budget_lines(s, region_code=HOHHOT, year=year)
        gp = line(money, "gov_purchase")
        assert (gp.spent, gp.committed) == (first.self_pay, second.self_pay)
        assert (
            line(
                care_money.budget_lines(s, region_code="150200000000", year=year),
                "gov_purchase",
                "150200000000",
            ).committed
            == 0
        )  # another league's money is not Hohhot's

        # family care bed: a year's contract of a 中度 bed commits 12 months, one settled
        provider = add_provider(s)
        bed_elder = make_elder(s, name="李秀英")
        assessments_on = clock.today()
        assess(s, bed_elder, MODERATE_46)
        bed = beds.apply_for_bed(s, actor=agent(), elder_id=bed_elder.id, on=assessments_on)
        beds.record_bed_assessment(s, actor=officer(), care_bed_id=bed.id)
        beds.sign_contract(
            s,
            actor=officer(),
            care_bed_id=bed.id,
            provider_id=provider.id,
            contract_no="JTCW-1",
            starts_on=date(year, 1, 1),
            ends_on=date(year, 12, 31),
        )
        beds.complete_home_adaptation(s, actor=officer(), care_bed_id=bed.id, waived_reason="无需")
        beds.install_devices(s, actor=provider_staff(), care_bed_id=bed.id, devices=["一键呼叫器"])
        beds.set_service_plan(s, actor=officer(), care_bed_id=bed.id, items=PLAN)
        beds.start_service(s, actor=officer(), care_bed_id=bed.id)
        cb = line(care_money.budget_lines(s, region_code=HOHHOT, year=year), "care_beds")
        assert (cb.spent, cb.committed) == (D("0.00"), D("3600.00"))  # 12 x 300 元

        # home adaptation: a signed plan commits its basic items, its self-paid ones never
        case_elder = make_elder(s, name="赵凤兰", categories=("subsistence",))
        case = ha.apply_for_adaptation(s, actor=agent(), elder_id=case_elder.id)
        ha.check_eligibility(s, actor=officer(), case_id=case.id)
        ha.assess_home(s, actor=officer(), case_id=case.id, findings=["卫生间地面湿滑"])
        ha.propose_plan(
            s,
            actor=officer(),
            case_id=case.id,
            items=[
                {"name": "防滑地面", "cost": "1200", "basic": True},
                {"name": "智能马桶", "cost": "2000", "basic": False},
            ],
        )
        planned = line(care_money.budget_lines(s, region_code=HOHHOT, year=year), "home_adaptation")
        assert planned.committed == 0  # not signed yet
        ha.sign_plan(s, actor=officer(), case_id=case.id, signer_name="赵凤兰")
        signed = line(care_money.budget_lines(s, region_code=HOHHOT, year=year), "home_adaptation")
        assert (signed.spent, signed.committed) == (D("0.00"), D("1200.00"))
        ha.start_works(
            s,
            actor=provider_staff(),
            case_id=case.id,
            provider_id=provider.id,
            before_photos={i.id: ha.Photo("b.jpg", JPEG) for i in case.items},
        )
        ha.complete_works(
            s,
            actor=provider_staff(),
            case_id=case.id,
            after_photos={i.id: ha.Photo("a.jpg", JPEG) for i in case.items},
        )
        ha.inspect_works(s, actor=officer(), case_id=case.id, passed=True)
        ha.settle(s, actor=officer(), case_id=case.id)
        paid = line(care_money.budget_lines(s, region_code=HOHHOT, year=year), "home_adaptation")
        assert (paid.spent, paid.committed) == (D("1200.00"), D("0.00"))


def test_meals_booked_commit_their_subsidy_and_a_settlement_spends_it(regions) -> None:
    day = date(2025, 3, 10)
    with regions.session() as s:
        point = setup_point(s, days=(day,))
        elder = make_elder(s, categories=("subsistence",))  # 6 元 a meal by default
        early = datetime(2025, 3, 9, 12, 0, tzinfo=TZ)
        for meal in ("lunch", "dinner"):
            meals.book_meal(
                s,
                actor=agent(),
                elder_id=elder.id,
                meal_point_id=point.id,
                served_on=day,
                meal=meal,
                now=early,
            )
        booked = line(care_money.budget_lines(s, region_code=HOHHOT, year=2025), "meal_aid")
        assert (booked.spent, booked.committed) == (D("0.00"), D("12.00"))
        lunch = s.scalar(select(meals.MealBooking).where(meals.MealBooking.meal == "lunch"))
        meals.redeem_meal(
            s,
            actor=provider_staff(),
            booking_id=lunch.id,
            id_number=None,
            method="face",
            verified_elder_id=elder.id,
            now=datetime(2025, 3, 10, 11, 40, tzinfo=TZ),
        )
        meals.settle_month(
            s, actor=officer(), meal_point_id=point.id, month=day, today=date(2025, 4, 1)
        )
        settled = line(care_money.budget_lines(s, region_code=HOHHOT, year=2025), "meal_aid")
        # the dinner nobody ate became a no-show: neither spent nor committed
        assert (settled.spent, settled.committed) == (D("6.00"), D("0.00"))


def test_a_programme_past_its_warning_share_is_flagged_once(regions) -> None:
    day = date(2025, 3, 10)
    seen: list[dict] = []
    regions.event_bus.subscribe(seen.append)
    with regions.session() as s:
        point = setup_point(s, days=(day,))
        elder = make_elder(s, categories=("subsistence",))
        budgets.set_budget(
            s,
            actor=officer(),
            programme="meal_aid",
            league_code=HOHHOT,
            year=2025,
            amount="10",
            warn_share="0.5",
        )
        assert not line(
            care_money.budget_lines(s, region_code=HOHHOT, year=2025), "meal_aid"
        ).warning
        meals.book_meal(
            s,
            actor=agent(),
            elder_id=elder.id,
            meal_point_id=point.id,
            served_on=day,
            meal="lunch",
            now=datetime(2025, 3, 9, 12, tzinfo=TZ),
        )
        flagged = line(care_money.budget_lines(s, region_code=HOHHOT, year=2025), "meal_aid")
        assert flagged.warning and flagged.used_share == D("0.600")
        assert flagged.remaining == D("4.00")
        assert [w.programme for w in care_money.check_budget_warnings(s, year=2025)] == ["meal_aid"]
        assert care_money.check_budget_warnings(s, year=2025) == []  # once per crossing
    regions.event_bus.drain()
    warnings = [e for e in seen if e["type"] == "CareBudgetWarning"]
    assert len(warnings) == 1 and warnings[0]["data"]["committed"] == "6.00"


def test_an_officer_below_a_league_sees_the_money_of_their_area_without_a_budget(regions):
    with regions.session() as s:
        budgets.set_budget(
            s, actor=officer(), programme="meal_aid", league_code=HOHHOT, year=2025, amount="10"
        )
        lines = care_money.budget_lines(s, region_code="150102000000", year=2025)
        assert {x.region_code for x in lines} == {"150102000000"}
        assert all(x.budget is None and not x.warning for x in lines)
        whole = care_money.budget_lines(s, region_code="150000000000", year=2025)
        assert line(whole, "meal_aid").budget == D("10.00")
        assert len({x.region_code for x in whole}) == 13  # the region and its 12 leagues


def test_the_warning_check_runs_daily(runtime) -> None:
    assert any(p.func_path == "platform_core.flows.care_money:warn_budgets" for p in PERIODIC)
