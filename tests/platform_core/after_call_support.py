"""Shared set-up for the tests of the order's life after the call: dispatch, SLA timers, SMS,
the provider API and portal, evaluation and settlement.

A 新城区 village with two elders (each with a son's mobile), three providers of 新城区 at
different distances from the elders' home and one provider of 赛罕区. (No tests here.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from platform_core.actors import Actor, Role, system_actor
from platform_core.catalogue import service as catalogue
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.elders.schemas import CategoryIn, ContactIn, ElderIn, PhoneIn
from platform_core.orders import service as orders
from platform_core.outbox.models import OutboxEntry
from platform_core.providers import service as providers
from platform_core.providers.credit_code import make_credit_code
from platform_core.regions.service import load_dictionary
from platform_core.runtime import Runtime

ADMIN = system_actor("管理员")
VILLAGE = "150102003001"  # 新城区 某街道 某社区
HOME = (40.8414, 111.7519)
AGENT = Actor(kind="user", name="坐席07", region_code="150100000000", role=Role.AGENT, user_id=7)
SUPERVISOR = Actor(
    kind="user", name="值班主管", region_code="150000000000", role=Role.SUPERVISOR, user_id=2
)
OFFICER = Actor(
    kind="user", name="民政监管", region_code="150100000000", role=Role.OFFICER, user_id=3
)
SON_MOBILE = "13800471009"
ELDER_MOBILE = "13900471001"


def provider_actor(provider_id: int, name: str = "服务商操作员") -> Actor:
    return Actor(
        kind="user",
        name=name,
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=100 + provider_id,
        provider_id=provider_id,
    )


def add_elder(s, n: int, *, categories=(), mobile: str | None = ELDER_MOBILE, lat_lon=HOME) -> int:
    return elders.register_elder(
        s,
        actor=ADMIN,
        data=ElderIn(
            name=("张秀英", "王桂兰", "李建国", "巴特尔")[n % 4],
            id_number=make_id_number("150102", date(1940, 1, 1 + n % 28), n),
            address=f"呼和浩特市新城区海东路{n}号",
            region_code=VILLAGE,
            latitude=lat_lon[0],
            longitude=lat_lon[1],
            phones=[PhoneIn(number=mobile)] if mobile else [],
            contacts=[ContactIn(name="王小明", relation="儿子", phone=SON_MOBILE, holds_key=True)],
            categories=[CategoryIn(category=c) for c in categories],
        ),
    ).id


def add_provider(
    s,
    n: int,
    *,
    km_north: float,
    coverage=("150102",),
    services=("care_cleaning", "emergency_fall"),
    capacity: int = 10,
    grade: str = "B",
    credit: float = 80.0,
    phone: str = "13947100000",
) -> SimpleNamespace:
    """A provider ``km_north`` kilometres north of the elders' home, with one staff member."""
    p = providers.register_provider(
        s,
        actor=ADMIN,
        name=f"新城区{n}号居家养老服务中心",
        credit_code=make_credit_code("52", "150102", f"MJ{n:06d}"),
        region_code="150102",
        contact_phone=phone[:-1] + str(n % 10),
        contact_name=f"站长{n}",
        service_types=list(services),
        coverage=list(coverage),
        capacity=capacity,
        grade=grade,
        credit_score=credit,
        latitude=HOME[0] + km_north / 111.2,
        longitude=HOME[1],
    )
    staff = providers.add_staff(
        s,
        actor=ADMIN,
        provider_id=p.id,
        name=f"护理员{n}",
        phone=f"1370471{n:04d}",
        id_number=make_id_number("150102", date(1980, 5, 5), 500 + n),
        skills=list(services),
        qualifications=[{"name": "养老护理员", "level": "四级", "valid_until": "2099-12-31"}],
    )
    return SimpleNamespace(id=p.id, staff_id=staff.id, actor=provider_actor(p.id), name=p.name)


def build_world(rt: Runtime, **provider_overrides: dict) -> SimpleNamespace:
    with rt.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=ADMIN)
        w = SimpleNamespace(
            rt=rt,
            elder=add_elder(s, 1),
            poor_elder=add_elder(s, 2, categories=["subsistence", "advanced_age"]),
            near=add_provider(s, 1, km_north=1, **provider_overrides.get("near", {})),
            middle=add_provider(s, 2, km_north=5, **provider_overrides.get("middle", {})),
            far=add_provider(s, 3, km_north=12, **provider_overrides.get("far", {})),
            saihan=add_provider(s, 4, km_north=2, coverage=("150105",)),
        )
    return w


@pytest.fixture
def rt(runtime: Runtime) -> Iterator[Runtime]:
    """The PostgreSQL runtime; jobs still running when the test ends finish before teardown."""
    yield runtime
    runtime.jobs.wait_idle(15)


@pytest.fixture
def world(rt: Runtime) -> SimpleNamespace:
    return build_world(rt)


def open_order(rt: Runtime, elder_id: int, service: str = "care_cleaning", **kw) -> int:
    with rt.session() as s:
        return orders.open_order(
            s, actor=AGENT, elder_id=elder_id, service_type_code=service, source="call", **kw
        ).id


def submit(rt: Runtime, order_id: int) -> None:
    with rt.session() as s:
        orders.submit_for_dispatch(s, actor=AGENT, order_id=order_id)


def settle_jobs(rt: Runtime) -> None:
    """Wait until the in-process job queue has nothing due (jobs due later stay scheduled)."""
    rt.event_bus.drain() if hasattr(rt.event_bus, "drain") else None
    assert rt.jobs.wait_idle(15), "jobs did not finish"


def scheduled(rt: Runtime, prefix: str) -> dict[str, OutboxEntry]:
    """Jobs waiting in the outbox for their time (timers), by job id."""
    with rt.session() as s:
        rows = s.scalars(
            select(OutboxEntry).where(
                OutboxEntry.job_id.startswith(prefix), OutboxEntry.due_at.is_not(None)
            )
        )
        return {r.job_id: r for r in rows}


def order_of(rt: Runtime, order_id: int):
    with rt.session() as s:
        return orders.get_order(s, order_id=order_id)


def history(rt: Runtime, order_id: int):
    with rt.session() as s:
        return orders.order_history(s, order_id=order_id)


def backdate(rt: Runtime, order_id: int, *fields: str, minutes: float) -> None:
    """Move the order's timestamps ``minutes`` into the past (as if that much time went by)."""
    with rt.session() as s:
        order = orders.get_order(s, order_id=order_id)
        for f in fields:
            value = getattr(order, f)
            if value is not None:
                setattr(order, f, value - timedelta(minutes=minutes))
