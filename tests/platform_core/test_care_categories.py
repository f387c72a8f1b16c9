"""One category vocabulary: every elder category a subsidy rule or a care policy names is one
the elders module knows (DOMAIN.md section 4), so no rule waits for a category nobody has."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hotline.demo_data.catalogue import seed_catalogue
from platform_core.actors import system_actor
from platform_core.care_beds.policy import CareBedPolicy
from platform_core.care_policy.service import (
    ELDER_CATEGORY,
    VOCABULARY,
    InvalidPolicy,
    codes_in,
    set_policy,
    vocabulary_codes,
)
from platform_core.catalogue import defaults
from platform_core.catalogue import service as catalogue
from platform_core.catalogue.models import SubsidyKind, SubsidyRule
from platform_core.elders.vocabulary import Category
from platform_core.errors import ValidationFailed
from platform_core.gov_purchase.policy import GovPurchasePolicy
from platform_core.home_adaptation.policy import HomeAdaptationPolicy
from platform_core.meal_aid.policy import MealAidPolicy
from platform_core.regions.service import load_dictionary
from platform_core.settings import Settings
from tests.platform_core.care_support import officer

ELDER_CODES = {c.value for c in Category}
POLICIES = (MealAidPolicy, GovPurchasePolicy, HomeAdaptationPolicy, CareBedPolicy)


def test_every_default_subsidy_rule_names_an_elder_category() -> None:
    named = {str(r.elder_category) for r in defaults.SUBSIDY_RULES}
    assert named and named <= ELDER_CODES, named - ELDER_CODES


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.section)
def test_every_policy_default_is_in_its_vocabulary(policy) -> None:
    checked = 0
    for f in dataclasses.fields(policy):
        vocabulary = f.metadata.get(VOCABULARY)
        if vocabulary is None:
            continue
        named = set(codes_in(getattr(policy(), f.name)))
        assert named <= set(vocabulary_codes(vocabulary)), (f.name, named)
        checked += 1
    assert checked, f"{policy.section} declares no vocabulary field"


def test_category_maps_of_the_policies_use_elder_codes() -> None:
    fields = {
        (p.section, f.name)
        for p in POLICIES
        for f in dataclasses.fields(p)
        if f.metadata.get(VOCABULARY) == ELDER_CATEGORY
    }
    assert fields == {
        ("meal_aid", "subsidy_per_meal"),
        ("gov_purchase", "eligible_categories"),
        ("home_adaptation", "eligible_categories"),
    }
    assert set(vocabulary_codes(ELDER_CATEGORY)) == ELDER_CODES


def test_care_call_categories_setting_uses_elder_codes() -> None:
    assert set(Settings().care_categories.split(",")) <= ELDER_CODES


def test_rules_installed_and_seeded_name_only_elder_categories(any_runtime) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        seed_catalogue(s)
        stored = set(s.scalars(select(SubsidyRule.elder_category).distinct()))
        assert stored and stored <= ELDER_CODES, stored - ELDER_CODES
        # the 呼和浩特 demo override reaches an elder of the elders module's 高龄 category
        quote = catalogue.price_for(
            s,
            service_type_code="meal_delivery",
            league_code="150100000000",
            categories=[Category.ADVANCED_AGE.value],
        )
        assert quote.subsidy_category == "advanced_age" and quote.subsidy > 0


def test_a_rule_for_an_unknown_category_is_refused_and_nothing_written(any_runtime) -> None:
    admin = system_actor("管理员")
    with any_runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=admin)
        before = s.scalar(select(func.count()).select_from(SubsidyRule))
        with pytest.raises(ValidationFailed) as err:
            catalogue.set_subsidy_rule(
                s,
                actor=admin,
                elder_category="dibao",
                kind=SubsidyKind.PERCENT,
                value=Decimal("80"),
            )
        assert err.value.code == "unknown_elder_category"
        assert "subsistence=低保" in err.value.message
        assert s.scalar(select(func.count()).select_from(SubsidyRule)) == before


def test_a_policy_override_with_an_unknown_code_is_refused(regions) -> None:
    with regions.session() as s:
        with pytest.raises(InvalidPolicy) as err:
            set_policy(
                s,
                actor=officer(),
                cls=MealAidPolicy,
                league_code="150100",
                values={"subsidy_per_meal": {"dibao": "6", "subsistence": "6"}},
            )
        assert err.value.details["unknown"] == ["dibao"]
        with pytest.raises(InvalidPolicy):
            set_policy(
                s,
                actor=officer(),
                cls=GovPurchasePolicy,
                league_code="150100",
                values={"monthly_allowance_by_grade": {"很重": "600"}},
            )
        with pytest.raises(InvalidPolicy):
            set_policy(
                s,
                actor=officer(),
                cls=GovPurchasePolicy,
                league_code="150100",
                values={"allowance_service_categories": ["meals", "cleaning"]},
            )
        row = set_policy(
            s,
            actor=officer(),
            cls=MealAidPolicy,
            league_code="150100",
            values={"subsidy_per_meal": {"subsistence": "7"}},
        )
        assert row.values["subsidy_per_meal"] == {"subsistence": "7"}
