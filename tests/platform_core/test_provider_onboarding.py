"""A provider's onboarding records in the domain: licences with expiry, the agreement in force,
agreed prices only for services offered and within range, the checklist, status changes kept
with their reasons (an evaluation's too), and a terminated provider's records closed; only
officers of the provider's region keep them. On PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from platform_core import clock
from platform_core.errors import Conflict, OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.providers import onboarding
from platform_core.providers import service as providers
from platform_core.providers.models import ProviderStatusChange
from tests.platform_core.test_providers import (  # noqa: F401 - the fixture
    AGENT,
    BAOTOU_OFFICER,
    HOHHOT_OFFICER,
    register,
    world,
)


def test_licences_agreements_prices_and_the_checklist(world) -> None:  # noqa: F811
    today = clock.today()
    with world.session() as s:
        p = register(s, 1, coverage=["150102"], services=["care_cleaning", "care_bathing"])
        items = {c.item: c.ok for c in onboarding.checklist(s, p)}
        assert items == {
            "登记证照": False,
            "证照有效": True,
            "服务协议": False,
            "服务区域": True,
            "服务项目与价格": True,
            "接单容量": True,
            "从业人员": False,
        }
        onboarding.add_licence(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            kind="营业执照",
            number="91150102MA0001",
            valid_until=None,
        )
        onboarding.add_licence(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            kind="食品经营许可证",
            number="JY1",
            valid_until=today - timedelta(days=1),
        )
        old = onboarding.add_agreement(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            number="A-1",
            signed_on=today - timedelta(days=400),
            valid_from=today - timedelta(days=400),
            valid_until=today - timedelta(days=35),
        )
        new = onboarding.add_agreement(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            number="A-2",
            signed_on=today,
            valid_from=today - timedelta(days=34),
            valid_until=today + timedelta(days=20),
        )
        assert onboarding.current_agreement(p, today) is new and old is not new
        assert onboarding.expiry_state(new.valid_until, today) == "expiring"
        checks = {c.item: c for c in onboarding.checklist(s, p)}
        assert checks["登记证照"].ok and checks["服务协议"].ok
        assert not checks["证照有效"].ok and "食品经营许可证" in checks["证照有效"].detail
        onboarding.set_prices(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            prices={"care_cleaning": "38.5", "care_bathing": ""},
        )
        assert {o.service_type_code: o.agreed_price for o in p.offerings} == {
            "care_bathing": None,
            "care_cleaning": Decimal("38.50"),
        }
        for prices, code in (
            ({"medical_rehab": "10"}, "skill_not_offered"),
            ({"care_cleaning": "-1"}, "invalid_price"),
            ({"care_cleaning": "1e9"}, "invalid_price"),
        ):
            with pytest.raises(ValidationFailed) as err:
                onboarding.set_prices(s, actor=HOHHOT_OFFICER, provider_id=p.id, prices=prices)
            assert err.value.code == code
        with pytest.raises(ValidationFailed):
            onboarding.add_agreement(
                s,
                actor=HOHHOT_OFFICER,
                provider_id=p.id,
                number="A-3",
                signed_on=today + timedelta(days=1),
                valid_from=today,
                valid_until=today + timedelta(days=9),
            )


def test_status_changes_are_kept_and_a_termination_closes_the_records(world) -> None:  # noqa: F811
    with world.session() as s:
        p = register(s, 2, coverage=["150102"])
        providers.set_status(
            s, actor=HOHHOT_OFFICER, provider_id=p.id, status="warning", reason="投诉较多"
        )
        providers.set_status(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            status="terminated",
            reason="协议到期不再续签",
        )
        rows = (
            s.query(ProviderStatusChange)
            .filter_by(provider_id=p.id)
            .order_by(ProviderStatusChange.id)
            .all()
        )
        assert [(r.from_status, r.to_status, r.reason) for r in rows] == [
            ("normal", "warning", "投诉较多"),
            ("warning", "terminated", "协议到期不再续签"),
        ]
        with pytest.raises(Conflict):
            onboarding.add_licence(
                s, actor=HOHHOT_OFFICER, provider_id=p.id, kind="其他", number="X", valid_until=None
            )


def test_only_officers_of_the_providers_region(world) -> None:  # noqa: F811
    with world.session() as s:
        p = register(s, 3, coverage=["150102"])
        with pytest.raises(OutOfRegion):
            onboarding.add_licence(
                s, actor=BAOTOU_OFFICER, provider_id=p.id, kind="其他", number="X", valid_until=None
            )
        with pytest.raises(PermissionDenied):
            onboarding.set_prices(s, actor=AGENT, provider_id=p.id, prices={})
