"""Shared set-up for the order tests: a region with a catalogue, elders and providers.

(No tests here; the order test modules import these helpers and fixtures.)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from platform_core.actors import Actor, Role, system_actor
from platform_core.catalogue import service as catalogue
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.elders.schemas import CategoryIn, ElderIn
from platform_core.jobs import InProcessJobQueue
from platform_core.orders import service as orders
from platform_core.providers import service as providers
from platform_core.providers.credit_code import make_credit_code
from platform_core.regions.service import load_dictionary
from tests.order_steps import confirm_by_elder, time_at_home

ADMIN = system_actor("管理员")
XINCHENG_VILLAGE = "150102003001"  # 新城区 某街道 某社区
AGENT = Actor(kind="user", name="坐席07", region_code="150100000000", role=Role.AGENT, user_id=7)
SUPERVISOR = Actor(
    kind="user", name="值班主管", region_code="150000000000", role=Role.SUPERVISOR, user_id=2
)
BAOTOU_AGENT = Actor(
    kind="user", name="包头坐席", region_code="150200000000", role=Role.AGENT, user_id=8
)
HOME = (40.8414, 111.7519)
ELDER_NAMES = ("张秀英", "王桂兰", "李建国", "巴特尔", "刘玉兰", "赵志强", "其其格", "陈淑珍")


def provider_actor(provider_id: int, name: str = "服务商操作员") -> Actor:
    return Actor(
        kind="user",
        name=name,
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=100 + provider_id,
        provider_id=provider_id,
    )


def add_elder(s, n: int, *, categories=(), region: str = XINCHENG_VILLAGE, lat_lon=HOME) -> int:
    elder = elders.register_elder(
        s,
        actor=ADMIN,
        data=ElderIn(
            name=ELDER_NAMES[n % len(ELDER_NAMES)],
            id_number=make_id_number("150102", date(1940, 1, 1 + n % 28), n),
            address=f"呼和浩特市新城区海东路{n}号",
            region_code=region,
            latitude=lat_lon[0],
            longitude=lat_lon[1],
            categories=[CategoryIn(category=c) for c in categories],
        ),
    )
    return elder.id


def add_provider(
    s, n: int, *, coverage=("150102",), services=("care_cleaning", "emergency_fall")
) -> SimpleNamespace:
    p = providers.register_provider(
        s,
        actor=ADMIN,
        name=f"新城区{n}号居家养老服务中心",
        credit_code=make_credit_code("52", "150102", f"MJ{n:06d}"),
        region_code="150102",
        contact_phone="04716912345",
        service_types=list(services),
        coverage=list(coverage),
    )
    staff = providers.add_staff(
        s,
        actor=ADMIN,
        provider_id=p.id,
        name=f"护理员{n}",
        phone="13947100001",
        id_number=make_id_number("150102", date(1980, 5, 5), n),
        skills=list(services),
        qualifications=[{"name": "养老护理员", "level": "四级", "valid_until": "2099-12-31"}],
    )
    return SimpleNamespace(id=p.id, staff_id=staff.id, actor=provider_actor(p.id))


class HeldJobs(InProcessJobQueue):
    """Keeps the jobs that follow each step (dispatch, SMS, SLA timers) without running them:
    these tests drive every step by hand and must see the order stay where they left it."""

    def __init__(self) -> None:
        super().__init__(start=False)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return True


@pytest.fixture
def world(any_runtime):
    """Two elders (one 低保 + 高龄), two providers covering 新城区, one covering only 赛罕区."""
    running, any_runtime.jobs = any_runtime.jobs, HeldJobs()
    running.close()
    with any_runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=ADMIN)
        w = SimpleNamespace(
            rt=any_runtime,
            elder=add_elder(s, 1),
            poor_elder=add_elder(s, 2, categories=["subsistence", "advanced_age"]),
            provider=add_provider(s, 1),
            other=add_provider(s, 2),
            saihan=add_provider(s, 3, coverage=("150105",)),
        )
    return w


def walk(s, order_id: int, provider, *, until: str, actor: Actor = AGENT) -> None:
    """Drive an order along the main path up to (and including) the status ``until``."""
    p = provider.actor
    steps = [
        ("pending_dispatch", lambda: orders.submit_for_dispatch(s, actor=actor, order_id=order_id)),
        (
            "dispatched",
            lambda: orders.dispatch_to(s, actor=actor, order_id=order_id, provider_id=provider.id),
        ),
        (
            "accepted",
            lambda: orders.accept(s, actor=p, order_id=order_id, staff_id=provider.staff_id),
        ),
        ("en_route", lambda: orders.start_travel(s, actor=p, order_id=order_id)),
        (
            "in_service",
            lambda: orders.check_in(
                s, actor=p, order_id=order_id, latitude=HOME[0], longitude=HOME[1]
            ),
        ),
        (
            "completed",
            lambda: (
                time_at_home(s, order_id),
                orders.check_out(
                    s,
                    actor=p,
                    order_id=order_id,
                    latitude=HOME[0],
                    longitude=HOME[1],
                    report="打扫完毕",
                ),
            )[1],
        ),
        ("confirmed", lambda: confirm_by_elder(s, actor=p, order_id=order_id)),
        ("rated", lambda: orders.rate(s, actor=actor, order_id=order_id, score=5)),
        (
            "return_visited",
            lambda: orders.record_return_visit(
                s, actor=actor, order_id=order_id, result="satisfied"
            ),
        ),
        (
            "settled",
            lambda: orders.settle(
                s, actor=SUPERVISOR, order_id=order_id, settlement_ref="JS202501-001"
            ),
        ),
        ("closed", lambda: orders.close(s, actor=SUPERVISOR, order_id=order_id)),
    ]
    for status, step in steps:
        assert step().status == status
        if status == until:
            return
    raise AssertionError(f"unknown status {until}")


def money(value: str) -> Decimal:
    return Decimal(value)
