"""Home adaptation: the chain with its photos, the per-household cap, illegal steps."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from platform_core import clock
from platform_core.assessment import service as assessments
from platform_core.care_policy.service import set_policy
from platform_core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from platform_core.home_adaptation import service as ha
from platform_core.home_adaptation.policy import HomeAdaptationPolicy
from tests.platform_core.care_support import SEVERE_43, agent, make_elder, officer, provider_staff

JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10
PNG = b"\x89PNG\r\n\x1a\n" + b"after-bytes" * 10
ITEMS = [
    {"name": "卫生间扶手", "cost": "800", "basic": True},
    {"name": "防滑地面", "cost": "1200", "basic": True},
    {"name": "智能马桶", "cost": "2500", "basic": False},
]


def planned_case(s, elder_id: int):
    case = ha.apply_for_adaptation(
        s, actor=agent(), elder_id=elder_id, source="call", call_id="17000.1"
    )
    ha.check_eligibility(s, actor=officer(), case_id=case.id)
    ha.assess_home(s, actor=officer(), case_id=case.id, findings=["卫生间无扶手", "地面湿滑"])
    ha.propose_plan(s, actor=officer(), case_id=case.id, items=ITEMS)
    return case


def test_the_whole_chain_with_photos_rework_and_return_visit(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, categories=("subsistence",))
        case = planned_case(s, elder.id)
        assert case.eligibility_basis == "category:subsistence"
        ha.sign_plan(s, actor=agent(), case_id=case.id, signer_name="张强", signer_relation="子女")
        ids = [i.id for i in case.items]
        with pytest.raises(ValidationFailed) as err:
            ha.start_works(
                s,
                actor=provider_staff(),
                case_id=case.id,
                provider_id=1,
                before_photos={ids[0]: ha.Photo("a.jpg", JPEG)},
            )
        assert err.value.code == "before_photos_required" and "防滑地面" in err.value.message
        with pytest.raises(ValidationFailed) as err:
            ha.start_works(
                s,
                actor=provider_staff(),
                case_id=case.id,
                provider_id=1,
                before_photos={i: ha.Photo("a.txt", b"not an image") for i in ids},
            )
        assert err.value.code == "photo_not_image"
        ha.start_works(
            s,
            actor=provider_staff(),
            case_id=case.id,
            provider_id=1,
            before_photos={i: ha.Photo(f"{i}.jpg", JPEG) for i in ids},
        )
        ha.complete_works(
            s,
            actor=provider_staff(),
            case_id=case.id,
            after_photos={i: ha.Photo(f"{i}.png", PNG) for i in ids},
        )
        ha.inspect_works(s, actor=officer(), case_id=case.id, passed=False, note="扶手高度不符")
        assert case.status == "works_started"
        ha.complete_works(
            s,
            actor=provider_staff(),
            case_id=case.id,
            after_photos={i: ha.Photo(f"{i}.png", PNG) for i in ids},
        )
        ha.inspect_works(s, actor=officer(), case_id=case.id, passed=True)
        with pytest.raises(PermissionDenied):
            ha.settle(s, actor=agent(), case_id=case.id)
        ha.settle(s, actor=officer(), case_id=case.id)
        assert (case.subsidy, case.self_paid) == (Decimal("2000.00"), Decimal("2500.00"))
        ha.record_return_visit(s, actor=agent(), case_id=case.id, satisfaction=5, note="老人满意")
        assert case.status == "return_visited"
        assert all(
            Path(i.before_photo).read_bytes() == JPEG and Path(i.after_photo).read_bytes() == PNG
            for i in case.items
        )
        assert [st.action for st in case.steps] == [
            "apply",
            "find_eligible",
            "assess_home",
            "plan",
            "sign",
            "start_works",
            "complete_works",
            "require_rework",
            "complete_works",
            "accept",
            "settle",
            "return_visit",
        ]
        assert ha.status_for_elder(s, elder_id=elder.id)["state_label"] == "已回访"


def test_grade_qualifies_without_a_category_and_neither_closes_the_case(regions) -> None:
    with regions.session() as s:
        severe = make_elder(s, name="重度")
        assessments.record_assessment(
            s,
            actor=officer(),
            elder_id=severe.id,
            item_scores=SEVERE_43,
            assessed_on=clock.today(),
            reason="first",
            assessors=["王敏", "赵云"],
        )
        fine = make_elder(s, name="健康", address="另一处 5 号")
        a = ha.apply_for_adaptation(s, actor=agent(), elder_id=severe.id)
        b = ha.apply_for_adaptation(s, actor=agent(), elder_id=fine.id)
        assert (
            ha.check_eligibility(s, actor=officer(), case_id=a.id).eligibility_basis
            == "grade:重度失能"
        )
        assert ha.check_eligibility(s, actor=officer(), case_id=b.id).status == "ineligible"
        with pytest.raises(IllegalTransition):
            ha.assess_home(s, actor=officer(), case_id=b.id, findings=["x"])


def test_household_cap_counts_every_case_at_the_address(regions) -> None:
    with regions.session() as s:
        set_policy(
            s,
            actor=officer(),
            cls=HomeAdaptationPolicy,
            league_code="150100",
            values={"household_subsidy_cap": "2500"},
        )
        husband = make_elder(
            s, name="王大爷", categories=("subsistence",), address="锡林路 1 号 2 单元 301"
        )
        wife = make_elder(
            s, name="李大娘", categories=("subsistence",), address="锡林路1号2单元301"
        )
        planned_case(s, husband.id)  # 2000 of basic items against the household's 2500
        case = ha.apply_for_adaptation(s, actor=agent(), elder_id=wife.id)
        ha.check_eligibility(s, actor=officer(), case_id=case.id)
        ha.assess_home(s, actor=officer(), case_id=case.id, findings=["卧室无夜灯"])
        with pytest.raises(ha.OverHouseholdCap) as err:
            ha.propose_plan(
                s,
                actor=officer(),
                case_id=case.id,
                items=[{"name": "感应夜灯", "cost": "600", "basic": True}],
            )
        assert err.value.details == {"rule": "household_subsidy_cap", "remaining": "500.00"}
        assert (
            "2500.00" in err.value.message and case.status == "home_assessed" and case.items == []
        )
        ha.propose_plan(
            s,
            actor=officer(),
            case_id=case.id,
            items=[
                {"name": "感应夜灯", "cost": "500", "basic": True},
                {"name": "床边护栏", "cost": "100", "basic": False},
            ],
        )
        assert case.status == "planned"


def test_steps_out_of_order_are_refused(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, categories=("subsistence",))
        case = ha.apply_for_adaptation(s, actor=agent(), elder_id=elder.id)
        for call in (
            lambda: ha.assess_home(s, actor=officer(), case_id=case.id, findings=["x"]),
            lambda: ha.sign_plan(s, actor=agent(), case_id=case.id, signer_name="张强"),
            lambda: ha.settle(s, actor=officer(), case_id=case.id),
            lambda: ha.record_return_visit(s, actor=agent(), case_id=case.id, satisfaction=4),
        ):
            with pytest.raises(IllegalTransition) as err:
                call()
            assert "已申请" in err.value.message
        assert case.status == "applied" and len(case.steps) == 1
        ha.cancel(s, actor=agent(), case_id=case.id, reason="家属放弃")
        with pytest.raises(IllegalTransition):
            ha.check_eligibility(s, actor=officer(), case_id=case.id)
