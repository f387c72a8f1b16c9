"""Government-purchased services: the application chain, its notices, and the allowance."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from platform_core import clock
from platform_core.assessment import service as assessments
from platform_core.care_policy.service import set_policy
from platform_core.errors import DomainError, IllegalTransition
from platform_core.gov_purchase import service as gp
from platform_core.gov_purchase.notices import render_notice
from platform_core.gov_purchase.policy import GovPurchasePolicy
from tests.platform_core.care_support import (
    BAOTOU_VILLAGE,
    FULL_MARKS,
    MODERATE_46,
    agent,
    make_elder,
    officer,
)

DAY0 = clock.today() - timedelta(days=40)


def assessed_elder(
    s, *, scores=MODERATE_46, categories=("subsistence",), region_code="150102003001"
):
    elder = make_elder(s, categories=categories, region_code=region_code)
    assessments.record_assessment(
        s,
        actor=officer(),
        elder_id=elder.id,
        item_scores=scores,
        assessed_on=DAY0,
        reason="first",
        assessors=["王敏", "赵云"],
    )
    return elder


def through_publicity(s, elder_id: int, league: str = "150100000000") -> int:
    app = gp.apply(
        s,
        actor=agent(league),
        elder_id=elder_id,
        applicant_name="张强",
        applicant_relation="子女",
        applied_on=DAY0,
        source="call",
        call_id="1700000000.12",
    )
    gp.accept(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=1))
    gp.pass_first_review(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=3))
    gp.record_assessment(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=5))
    gp.start_publicity(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=6))
    return app.id


def test_the_whole_chain_with_a_correction_and_its_notices(regions) -> None:
    with regions.session() as s:
        elder = assessed_elder(s)
        app = gp.apply(
            s,
            actor=agent(),
            elder_id=elder.id,
            applicant_name="张强",
            applicant_relation="子女",
            applied_on=DAY0,
        )
        gp.accept(s, actor=officer(), application_id=app.id, on=DAY0)
        gp.request_correction(
            s,
            actor=officer(),
            application_id=app.id,
            missing="低保证复印件",
            on=DAY0 + timedelta(days=1),
        )
        gp.resubmit(s, actor=agent(), application_id=app.id, on=DAY0 + timedelta(days=4))
        gp.pass_first_review(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=5))
        gp.record_assessment(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=6))
        gp.start_publicity(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=7))
        assert app.publicity_ends_on == DAY0 + timedelta(days=13)  # 7 days, the start day counted
        gp.approve(s, actor=officer(), application_id=app.id, on=DAY0 + timedelta(days=14))
        assert app.status == "approved"
        assert app.monthly_allowance == Decimal("200.00")  # 中度失能 by the default policy
        assert [n.title for n in app.notices] == [
            "申请回执",
            "受理通知书",
            "补正材料通知书",
            "补正材料回执",
            "初审意见书",
            "评估结果告知书",
            "公示",
            "审批决定书",
        ]
        assert "低保证复印件" in app.notices[2].body
        assert "中度失能" in app.notices[5].body
        assert "每月服务补贴 200.00 元" in app.notices[-1].body
        assert len({n.number for n in app.notices}) == 8
        assert [(st.action, st.owner) for st in app.steps][:3] == [
            ("apply", "坐席王敏"),
            ("accept", "民政李强"),
            ("request_correction", "民政李强"),
        ]
        assert app.steps[-1].on == DAY0 + timedelta(days=14)
        status = gp.status_for_elder(s, elder_id=elder.id, on=DAY0 + timedelta(days=14))
        assert status["state_label"] == "已批准" and status["allowance_remaining"] == "200.00"
        pdf = render_notice(s, actor=officer(), notice_id=app.notices[-1].id)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "审批决定书" in text and "200.00" in text


def test_steps_out_of_order_are_refused_and_change_nothing(regions) -> None:
    with regions.session() as s:
        elder = assessed_elder(s)
        app = gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人", applied_on=DAY0)
        for step in (gp.start_publicity, gp.approve, gp.pass_first_review, gp.resubmit):
            with pytest.raises(IllegalTransition) as err:
                step(s, actor=officer(), application_id=app.id, on=DAY0)
            assert err.value.code == "illegal_transition" and "已申请" in err.value.message
        assert app.status == "submitted" and len(app.notices) == 1 and len(app.steps) == 1
        with pytest.raises(DomainError) as err:
            gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人")
        assert err.value.code == "application_already_open"


def test_first_review_needs_an_eligible_category(regions) -> None:
    with regions.session() as s:
        elder = assessed_elder(
            s, categories=("advanced_age",)
        )  # 高龄 alone is not bought for by default
        app = gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人", applied_on=DAY0)
        gp.accept(s, actor=officer(), application_id=app.id, on=DAY0)
        with pytest.raises(gp.NotEligible) as err:
            gp.pass_first_review(s, actor=officer(), application_id=app.id, on=DAY0)
        assert err.value.details["rule"] == "eligible_categories"
        gp.reject(
            s,
            actor=officer(),
            application_id=app.id,
            reason="不属于服务对象",
            on=DAY0 + timedelta(days=1),
        )
        assert app.notices[-1].title == "不予批准决定书"
        assert str(DAY0 + timedelta(days=31)) in app.notices[-1].body  # review deadline: 30 days


def test_no_valid_assessment_blocks_the_assessment_step(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, categories=("subsistence",))
        app = gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人", applied_on=DAY0)
        gp.accept(s, actor=officer(), application_id=app.id, on=DAY0)
        gp.pass_first_review(s, actor=officer(), application_id=app.id, on=DAY0)
        with pytest.raises(DomainError) as err:
            gp.record_assessment(s, actor=officer(), application_id=app.id, on=DAY0)
        assert err.value.code == "assessment_required" and app.status == "first_reviewed"


def test_approval_waits_for_the_publicity_and_the_grade_threshold(regions) -> None:
    with regions.session() as s:
        intact = assessed_elder(s, scores=FULL_MARKS)
        app_id = through_publicity(s, intact.id)
        with pytest.raises(IllegalTransition) as err:
            gp.approve(
                s, actor=officer(), application_id=app_id, on=DAY0 + timedelta(days=12)
            )  # ends day 12
        assert err.value.code == "publicity_not_over"
        with pytest.raises(gp.NotEligible) as err:
            gp.approve(s, actor=officer(), application_id=app_id, on=DAY0 + timedelta(days=13))
        assert err.value.details["rule"] == "min_grade"


def test_objection_review_and_final_refusal(regions) -> None:
    with regions.session() as s:
        elder = assessed_elder(s)
        app_id = through_publicity(s, elder.id)
        gp.raise_objection(
            s,
            actor=officer(),
            application_id=app_id,
            objection="邻居反映家庭收入不符",
            on=DAY0 + timedelta(days=8),
        )
        gp.uphold_refusal(
            s,
            actor=officer(),
            application_id=app_id,
            reason="收入超过低保标准",
            on=DAY0 + timedelta(days=20),
        )
        app = gp.get_application(s, application_id=app_id)
        assert app.status == "refused" and app.notices[-1].title == "复核决定书"
        for step in (gp.approve, gp.start_publicity):
            with pytest.raises(IllegalTransition):
                step(s, actor=officer(), application_id=app_id, on=DAY0 + timedelta(days=21))


def test_review_after_refusal_within_the_deadline_only(regions) -> None:
    with regions.session() as s:
        elder = assessed_elder(s)
        app_id = through_publicity(s, elder.id)
        gp.reject(
            s,
            actor=officer(),
            application_id=app_id,
            reason="材料存疑",
            on=DAY0 + timedelta(days=13),
        )
        with pytest.raises(IllegalTransition) as err:
            gp.request_review(
                s,
                actor=agent(),
                application_id=app_id,
                reason="补充收入证明",
                on=DAY0 + timedelta(days=44),
            )
        assert err.value.code == "review_deadline_passed"
        gp.request_review(
            s,
            actor=agent(),
            application_id=app_id,
            reason="补充收入证明",
            on=DAY0 + timedelta(days=43),
        )
        gp.approve(s, actor=officer(), application_id=app_id, on=DAY0 + timedelta(days=43))
        assert gp.get_application(s, application_id=app_id).status == "approved"


def test_allowance_is_drawn_by_orders_up_to_its_cap(regions) -> None:
    seen: list[dict] = []
    regions.event_bus.subscribe(seen.append)
    today = clock.today()
    with regions.session() as s:
        elder = assessed_elder(s)
        app_id = through_publicity(s, elder.id)
        gp.approve(s, actor=officer(), application_id=app_id, on=today)
        elder_id = elder.id
        gp.charge_allowance(
            s, actor=agent(), elder_id=elder_id, order_id=501, amount=Decimal("150"), on=today
        )
        again = gp.charge_allowance(
            s, actor=agent(), elder_id=elder_id, order_id=501, amount=Decimal("150"), on=today
        )
        assert gp.allowance_remaining(s, elder_id=elder_id, on=today) == Decimal("50.00")
        assert again.amount == Decimal("150.00")
    with pytest.raises(gp.AllowanceExceeded) as err, regions.session() as s:
        gp.charge_allowance(
            s, actor=agent(), elder_id=elder_id, order_id=502, amount=Decimal("60"), on=today
        )
    assert err.value.details["remaining"] == "50.00" and "剩余 50.00 元" in err.value.message
    with regions.session() as s:
        assert gp.allowance_remaining(s, elder_id=elder_id, on=today) == Decimal("50.00")
        assert gp.release_allowance(s, actor=agent(), order_id=501) == Decimal("150.00")
        assert gp.release_allowance(s, actor=agent(), order_id=501) == Decimal("0.00")
        gp.charge_allowance(
            s, actor=agent(), elder_id=elder_id, order_id=502, amount=Decimal("200"), on=today
        )
        assert gp.allowance_remaining(s, elder_id=elder_id, on=today) == Decimal("0.00")
        with pytest.raises(gp.NoAllowance):
            gp.charge_allowance(
                s,
                actor=agent(),
                elder_id=elder_id,
                order_id=503,
                amount=Decimal("1"),
                on=today.replace(day=1) - timedelta(days=1),
            )
    regions.event_bus.drain()
    assert [e["type"] for e in seen].count("AllowanceCharged") == 2


def test_league_policy_sets_the_allowance(regions) -> None:
    with regions.session() as s:
        set_policy(
            s,
            actor=officer(),
            cls=GovPurchasePolicy,
            league_code="150200",
            values={"monthly_allowance_by_grade": {"moderate": "320"}, "publicity_days": 5},
        )
        elder = assessed_elder(s, region_code=BAOTOU_VILLAGE)
        app_id = through_publicity(s, elder.id, "150200000000")
        app = gp.get_application(s, application_id=app_id)
        assert app.publicity_ends_on == DAY0 + timedelta(days=10)
        gp.approve(s, actor=officer(), application_id=app_id, on=DAY0 + timedelta(days=11))
        assert app.monthly_allowance == Decimal("320.00")
        gp.terminate(
            s,
            actor=officer(),
            application_id=app_id,
            reason="迁居外地",
            on=DAY0 + timedelta(days=12),
        )
        assert app.status == "terminated" and app.notices[-1].title == "终止服务通知书"
        assert app.allowance_until.month == (DAY0 + timedelta(days=12)).month
