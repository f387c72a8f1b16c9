"""Catalogue on PostgreSQL and SQLite: defaults, per-league overrides, rule precedence, SLAs."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import event

from platform_core.actors import Actor, Role, system_actor
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.catalogue.defaults import SERVICE_TYPES
from platform_core.catalogue.models import ServiceCategory, SubsidyKind
from platform_core.errors import OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.regions.service import load_dictionary

HOHHOT, ORDOS, BAOTOU = "150100000000", "150600000000", "150200000000"
ADMIN = system_actor("管理员")
ORDOS_OFFICER = Actor(
    kind="user", name="鄂尔多斯民政", region_code=ORDOS, role=Role.OFFICER, user_id=5
)


@pytest.fixture
def cat_rt(any_runtime):
    with any_runtime.session() as s:
        load_dictionary(s)
        assert catalogue.install_defaults(s, actor=ADMIN) == len(SERVICE_TYPES)
    return any_runtime


def test_defaults_cover_the_12349_catalogue(cat_rt) -> None:
    with cat_rt.session() as s:
        assert catalogue.install_defaults(s, actor=ADMIN) == 0  # idempotent
        types = catalogue.list_service_types(s)
        assert {t.category for t in types} == set(ServiceCategory)
        names = {t.name for t in types}
        assert {
            "助洁",
            "助浴",
            "助行",
            "代买代办",
            "维修",
            "开锁",
            "陪同就医",
            "代取药",
            "康复护理",
        } <= names
        emergency = catalogue.list_service_types(s, category=ServiceCategory.EMERGENCY)
        assert {t.code for t in emergency} >= {
            "emergency_sos",
            "emergency_fall",
            "emergency_health_alarm",
        }
        assert all(t.response_minutes == 15 and t.arrival_minutes for t in emergency)
        assert [t.sort_order for t in types] == sorted(t.sort_order for t in types)


def test_league_price_overrides_the_default_only_in_that_league(cat_rt) -> None:
    with cat_rt.session() as s:
        catalogue.set_league_terms(
            s,
            actor=ORDOS_OFFICER,
            league_code=ORDOS,
            service_type_code="care_cleaning",
            price=D("45"),
        )
    with cat_rt.session() as s:
        ordos = catalogue.price_for(
            s, service_type_code="care_cleaning", league_code="150602", categories=[], quantity=2
        )
        hohhot = catalogue.price_for(
            s, service_type_code="care_cleaning", league_code=HOHHOT, categories=[], quantity=2
        )
        assert (ordos.unit_price, ordos.amount, ordos.price_source, ordos.league_code) == (
            D("45.00"),
            D("90.00"),
            "league",
            ORDOS,
        )
        assert (hohhot.unit_price, hohhot.amount, hohhot.price_source) == (
            D("35.00"),
            D("70.00"),
            "default",
        )
        assert ordos.self_pay == ordos.amount and ordos.subsidy == 0
        # an SLA-only override keeps the default price
        catalogue.set_league_terms(
            s,
            actor=ORDOS_OFFICER,
            league_code=ORDOS,
            service_type_code="care_cleaning",
            response_minutes=90,
        )
        again = catalogue.price_for(
            s, service_type_code="care_cleaning", league_code=ORDOS, categories=[]
        )
        assert (again.price_source, again.sla.response_minutes) == ("default", 90)
        changes = audit.list_records(s, action="catalogue.set_league_terms")
        assert [r.actor_name for r in changes] == ["鄂尔多斯民政", "鄂尔多斯民政"]


def test_a_league_officer_edits_only_their_own_league(cat_rt) -> None:
    with cat_rt.session() as s, pytest.raises(OutOfRegion):
        catalogue.set_league_terms(
            s,
            actor=ORDOS_OFFICER,
            league_code=HOHHOT,
            service_type_code="care_cleaning",
            price=D("1"),
        )
    with cat_rt.session() as s, pytest.raises(PermissionDenied) as err:
        catalogue.set_subsidy_rule(
            s,
            actor=ORDOS_OFFICER,
            elder_category="advanced_age",
            kind=SubsidyKind.PERCENT,
            value=D("90"),
        )
    assert err.value.code == "region_default_needs_region_actor"
    with cat_rt.session() as s, pytest.raises(ValidationFailed) as err:
        catalogue.set_league_terms(
            s, actor=ADMIN, league_code="150602", service_type_code="care_cleaning", price=D("1")
        )
    assert err.value.code == "not_a_league"
    with cat_rt.session() as s, pytest.raises(ValidationFailed) as err:
        catalogue.set_league_terms(
            s,
            actor=ADMIN,
            league_code=ORDOS,
            service_type_code="care_cleaning",
            response_minutes=300,
            arrival_minutes=200,
        )
    assert "不能早于响应时限" in err.value.message
    with cat_rt.session() as s:
        quote = catalogue.price_for(
            s, service_type_code="care_cleaning", league_code=HOHHOT, categories=[]
        )
        assert quote.price_source == "default"


def test_subsidy_rule_precedence_league_before_region_type_before_all(cat_rt) -> None:
    with cat_rt.session() as s:
        # region-wide: 高龄 30% on everything, 3 元 a meal (shipped defaults)
        q = catalogue.price_for(
            s,
            service_type_code="meal_delivery",
            league_code=BAOTOU,
            categories=["advanced_age"],
            quantity=2,
        )
        assert (q.amount, q.subsidy, q.subsidy_category) == (D("30.00"), D("6.00"), "advanced_age")
        q = catalogue.price_for(
            s, service_type_code="care_bathing", league_code=BAOTOU, categories=["advanced_age"]
        )
        assert q.subsidy == D("24.00")  # 30% of 80
        # 呼和浩特 pays 5 元 a meal; its rule replaces the region-wide meal rule there only
        catalogue.set_subsidy_rule(
            s,
            actor=ADMIN,
            league_code=HOHHOT,
            elder_category="advanced_age",
            service_type_code="meal_delivery",
            kind=SubsidyKind.FIXED,
            value=D("5"),
        )
        # 鄂尔多斯 switches the 高龄 subsidy off on every service
        catalogue.set_subsidy_rule(
            s,
            actor=ORDOS_OFFICER,
            league_code=ORDOS,
            elder_category="advanced_age",
            kind=SubsidyKind.PERCENT,
            value=D("0"),
        )
    with cat_rt.session() as s:

        def subsidy(service: str, league: str) -> D:
            return catalogue.price_for(
                s,
                service_type_code=service,
                league_code=league,
                categories=["advanced_age"],
                quantity=2,
            ).subsidy

        assert subsidy("meal_delivery", HOHHOT) == D("10.00")
        assert subsidy("meal_delivery", BAOTOU) == D("6.00")
        assert subsidy("care_bathing", HOHHOT) == D("48.00")  # region-wide 30% still applies
        assert subsidy("meal_delivery", ORDOS) == D(
            "0.00"
        )  # league-wide rule beats region meal rule
        assert subsidy("care_bathing", ORDOS) == D("0.00")


def test_price_for_uses_the_most_favourable_category_and_monthly_usage(cat_rt) -> None:
    with cat_rt.session() as s:
        both = catalogue.price_for(
            s,
            service_type_code="care_bathing",
            league_code=BAOTOU,
            categories=["advanced_age", "subsistence"],
        )
        assert (both.subsidy_category, both.subsidy, both.self_pay) == (
            "subsistence",
            D("64.00"),
            D("16.00"),
        )
        rule_id = both.subsidy_rule_id
        nearly_spent = catalogue.price_for(
            s,
            service_type_code="care_bathing",
            league_code=BAOTOU,
            categories=["advanced_age", "subsistence"],
            subsidy_used_this_month={rule_id: D("290")},
        )
        # 低保 has 10 元 left this month, 高龄 pays 24: 高龄 now wins
        assert (nearly_spent.subsidy_category, nearly_spent.subsidy) == ("advanced_age", D("24.00"))
        unknown = catalogue.price_for(
            s, service_type_code="care_bathing", league_code=BAOTOU, categories=["no_such_category"]
        )
        assert (unknown.subsidy, unknown.subsidy_category) == (D("0.00"), None)


def test_sla_league_override_and_emergency_urgency(cat_rt) -> None:
    with cat_rt.session() as s:
        catalogue.set_league_terms(
            s,
            actor=ADMIN,
            league_code="152500",
            service_type_code="emergency_fall",
            arrival_minutes=60,
        )
        xilin = catalogue.sla_for(s, service_type_code="emergency_fall", league_code="152502")
        hohhot = catalogue.sla_for(s, service_type_code="emergency_fall", league_code=HOHHOT)
        assert (xilin.response_minutes, xilin.arrival_minutes) == (15, 60)
        assert (hohhot.response_minutes, hohhot.arrival_minutes) == (15, 30)
        normal = catalogue.sla_for(s, service_type_code="care_unlock", league_code=HOHHOT)
        urgent = catalogue.sla_for(
            s, service_type_code="care_unlock", league_code=HOHHOT, urgency="emergency"
        )
        assert (normal.response_minutes, normal.arrival_minutes) == (15, 60)
        assert (urgent.response_minutes, urgent.arrival_minutes) == (15, 30)
        consult = catalogue.sla_for(
            s, service_type_code="consultation", league_code=HOHHOT, urgency="emergency"
        )
        assert (consult.response_minutes, consult.arrival_minutes) == (15, None)


def test_unknown_service_type_and_bad_definitions(cat_rt) -> None:
    with cat_rt.session() as s:
        with pytest.raises(catalogue.UnknownServiceType) as err:
            catalogue.price_for(s, service_type_code="massage", league_code=HOHHOT, categories=[])
        assert err.value.code == "service_type_not_found"
        with pytest.raises(ValidationFailed) as err:
            catalogue.define_service_type(
                s,
                actor=ADMIN,
                code="Care Cleaning",
                name="x",
                category="daily_care",
                unit="次",
                price=D("1"),
                response_minutes=10,
                arrival_minutes=None,
            )
        assert err.value.code == "invalid_service_type"
        with pytest.raises(ValidationFailed):
            catalogue.define_service_type(
                s,
                actor=ADMIN,
                code="care_x",
                name="x",
                category="daily_care",
                unit="次",
                price=D("-1"),
                response_minutes=10,
                arrival_minutes=None,
            )


def test_demo_catalogue_shows_league_overrides(any_runtime) -> None:
    from hotline.demo_data.catalogue import seed_catalogue

    with any_runtime.session() as s:
        load_dictionary(s)
        assert seed_catalogue(s) == len(SERVICE_TYPES)
        assert seed_catalogue(s) == len(SERVICE_TYPES)  # runs again safely
        ordos = catalogue.price_for(
            s, service_type_code="care_cleaning", league_code=ORDOS, categories=[]
        )
        assert (ordos.unit_price, ordos.price_source) == (D("45.00"), "league")
        meal = catalogue.price_for(
            s, service_type_code="meal_delivery", league_code=HOHHOT, categories=["advanced_age"]
        )
        assert meal.subsidy == D("5.00")
        alxa = catalogue.sla_for(s, service_type_code="emergency_sos", league_code="152921")
        assert (alxa.response_minutes, alxa.arrival_minutes) == (15, 90)


def test_a_quote_reads_the_leagues_terms_once_and_carries_their_sla(cat_rt) -> None:
    with cat_rt.session() as s:
        catalogue.set_league_terms(
            s,
            actor=ADMIN,
            league_code="152500",
            service_type_code="care_unlock",
            price=D("33"),
            arrival_minutes=45,
        )
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "FROM service_league_terms" in statement:
            reads.append(statement)

    event.listen(cat_rt.engine, "before_cursor_execute", count)
    try:
        with cat_rt.session() as s:
            quote = catalogue.price_for(
                s, service_type_code="care_unlock", league_code="152502", categories=[]
            )
    finally:
        event.remove(cat_rt.engine, "before_cursor_execute", count)
    assert quote.unit_price == D("33.00") and quote.sla.arrival_minutes == 45
    assert len(reads) == 1


def test_a_unit_of_work_reads_a_service_type_once(cat_rt) -> None:
    """Opening, pricing, the SLA and the hand-over to dispatch each ask for the order's type;
    the unit of work holds what it read, so nobody's reference is needed to keep it."""
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "FROM service_types" in statement:
            reads.append(statement)

    event.listen(cat_rt.engine, "before_cursor_execute", count)
    try:
        with cat_rt.session() as s:
            for _ in range(3):
                assert catalogue.get_service_type(s, code="care_cleaning").code == "care_cleaning"
            quote = catalogue.price_for(
                s, service_type_code="care_cleaning", league_code="150100", categories=[]
            )
    finally:
        event.remove(cat_rt.engine, "before_cursor_execute", count)
    assert quote.unit_price > 0
    assert len(reads) == 1
