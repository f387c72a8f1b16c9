"""Providers, their users and dispatched orders on top of the console's world (no tests here)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.catalogue import service as catalogue
from platform_core.elders.idcard import make_id_number
from platform_core.orders import service as orders
from platform_core.providers import service as providers
from platform_core.providers.credit_code import make_credit_code
from tests.agent_console.conftest import PASSWORD

ADMIN = system_actor("管理员")
AGENT = Actor(
    kind="user", name="agent_hhht", region_code="150100000000", role=Role.AGENT, user_id=1
)
HOME = (40.8414, 111.7519)


def _provider(s, n: int, *, coverage: str = "150102") -> SimpleNamespace:
    p = providers.register_provider(
        s,
        actor=ADMIN,
        name=f"新城区{n}号居家养老服务中心",
        credit_code=make_credit_code("52", "150102", f"PA{n:06d}"),
        region_code="150102",
        contact_phone=f"1394710000{n}",
        service_types=["care_cleaning", "emergency_fall"],
        coverage=[coverage],
        latitude=HOME[0] + n / 111.2,
        longitude=HOME[1],
    )
    staff = providers.add_staff(
        s,
        actor=ADMIN,
        provider_id=p.id,
        name=f"护理员{n}",
        phone=f"1370471000{n}",
        id_number=make_id_number("150102", date(1980, 5, 5), 700 + n),
        skills=["care_cleaning", "emergency_fall"],
        qualifications=[{"name": "养老护理员", "level": "四级", "valid_until": "2099-12-31"}],
    )
    username = f"provider_{n}"
    accounts.create_user(
        s,
        actor=system_actor(),
        username=username,
        password=PASSWORD,
        role=Role.PROVIDER,
        region_code="150102000000",
        display_name=f"服务商{n}",
        provider_id=p.id,
    )
    return SimpleNamespace(id=p.id, staff_id=staff.id, username=username, name=p.name)


@pytest.fixture
def provider_world(world) -> SimpleNamespace:
    """Two providers of 新城区 with a user each, and an order dispatched to the first."""
    rt = world.runtime
    with rt.session() as s:
        catalogue.install_defaults(s, actor=ADMIN)
        first, second = _provider(s, 1), _provider(s, 2)
    w = SimpleNamespace(console=world, rt=rt, first=first, second=second)
    w.order_id = dispatched_order(w, first.id)
    return w


def dispatched_order(w: SimpleNamespace, provider_id: int, service: str = "care_cleaning") -> int:
    with w.rt.session() as s:
        order = orders.open_order(
            s,
            actor=AGENT,
            elder_id=w.console.elders["hhht"],
            service_type_code=service,
            source="call",
        )
        orders.submit_for_dispatch(s, actor=AGENT, order_id=order.id)
        orders.dispatch_to(s, actor=AGENT, order_id=order.id, provider_id=provider_id)
        return order.id


def order(w: SimpleNamespace, order_id: int):
    with w.rt.session() as s:
        return orders.get_order(s, order_id=order_id)
