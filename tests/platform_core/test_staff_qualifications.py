"""A practitioner with missing or expired qualifications is refused an assignment, with the
reason, by the domain (so the portal, the provider interface and commands all refuse alike)."""

from __future__ import annotations

import pytest

from platform_core.errors import ValidationFailed
from platform_core.orders import service as orders
from platform_core.providers import service as providers
from platform_core.providers.models import ProviderStaff
from tests.platform_core.test_orders_support import ADMIN, AGENT, walk, world  # noqa: F401


def _dispatched(s, w) -> int:
    order = orders.open_order(
        s, actor=AGENT, elder_id=w.elder, service_type_code="care_cleaning", source="call"
    )
    walk(s, order.id, w.provider, until="dispatched")
    return order.id


@pytest.mark.parametrize(
    ("qualifications", "words"),
    [
        ([], "未登记任何资质证书"),
        ([{"name": "养老护理员", "valid_until": "2020-06-30"}], "均已过期 (最近到期 2020-06-30)"),
    ],
)
def test_missing_or_expired_qualifications_refuse_the_assignment(world, qualifications, words):  # noqa: F811
    with world.rt.session() as s:
        order_id = _dispatched(s, world)
        providers.update_staff(
            s, actor=ADMIN, staff_id=world.provider.staff_id, qualifications=qualifications
        )
        with pytest.raises(ValidationFailed) as err:
            orders.accept(
                s, actor=world.provider.actor, order_id=order_id, staff_id=world.provider.staff_id
            )
        assert err.value.code == "staff_not_qualified" and words in err.value.message
        orders.accept(s, actor=world.provider.actor, order_id=order_id)
        with pytest.raises(ValidationFailed) as err:
            orders.assign_staff(
                s, actor=world.provider.actor, order_id=order_id, staff_id=world.provider.staff_id
            )
        assert err.value.code == "staff_not_qualified"


def test_a_service_may_require_a_named_qualification(world):  # noqa: F811
    world.rt.settings = world.rt.settings.with_overrides(
        staff_required_qualifications="care_cleaning=健康证"
    )
    with world.rt.session() as s:
        s.info["settings"] = world.rt.settings
        order_id = _dispatched(s, world)
        with pytest.raises(ValidationFailed) as err:
            orders.accept(
                s, actor=world.provider.actor, order_id=order_id, staff_id=world.provider.staff_id
            )
        assert "缺少「健康证」资质" in err.value.message
        staff = s.get(ProviderStaff, world.provider.staff_id)
        providers.update_staff(
            s,
            actor=ADMIN,
            staff_id=staff.id,
            qualifications=[*staff.qualifications, {"name": "健康证", "valid_until": "2099-01-01"}],
        )
        order = orders.accept(s, actor=world.provider.actor, order_id=order_id, staff_id=staff.id)
        assert order.staff_id == staff.id
