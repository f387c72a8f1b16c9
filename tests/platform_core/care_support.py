"""Helpers shared by the care-module tests: elders written straight into the profile tables
(the elders module's own tests cover registration), actors of each role, the shipped
catalogue and real providers for the service orders the care modules open."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role, system_actor
from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder, ElderCategory
from platform_core.runtime import cipher_of

_seq = itertools.count(1)

HOHHOT_VILLAGE = "150102003001"
# Where make_elder's elders live (the order module checks check-ins against it).
HOME = (40.8414, 111.7519)
BAOTOU_VILLAGE = "150202001001"

FULL_MARKS = {
    "B.1.1": 4,
    "B.1.2": 4,
    "B.1.3": 4,
    "B.1.4": 4,
    "B.1.5": 4,
    "B.1.6": 4,
    "B.1.7": 4,
    "B.1.8": 4,
    "B.2.1": 4,
    "B.2.2": 4,
    "B.2.3": 4,
    "B.2.4": 3,
    "B.3.1": 4,
    "B.3.2": 4,
    "B.3.3": 4,
    "B.3.4": 4,
    "B.3.5": 4,
    "B.3.6": 4,
    "B.3.7": 1,
    "B.3.8": 1,
    "B.3.9": 2,
    "B.4.1": 2,
    "B.4.2": 2,
    "B.4.3": 4,
    "B.4.4": 3,
    "B.4.5": 4,
}
# B.1 all 0 (-32), B.2.1-B.2.3 0 (-12): 46, the lowest 中度失能.
MODERATE_46 = {
    **FULL_MARKS,
    **{f"B.1.{i}": 0 for i in range(1, 9)},
    "B.2.1": 0,
    "B.2.2": 0,
    "B.2.3": 0,
}
# and B.2.4 0 as well (-3): 43, 重度失能.
SEVERE_43 = {**MODERATE_46, "B.2.4": 0}


def make_elder(
    session: Session,
    *,
    name: str = "张桂兰",
    region_code: str = HOHHOT_VILLAGE,
    categories: Iterable[str] = (),
    address: str = "新城区锡林路 1 号",
    id_number: str | None = None,
) -> Elder:
    from platform_core.regions.service import ensure_region

    ensure_region(session, region_code)
    n = next(_seq)
    number = id_number or make_id_number("150102", date(1940, 1, 1), n % 1000)
    cipher = cipher_of(session)
    elder = Elder(
        name=name,
        id_number_sealed=cipher.seal(number),
        id_number_index=cipher.blind_index(number),
        id_number_masked=number[:6] + "********" + number[-4:],
        sex="female",
        birth_date=date(1940, 1, 1),
        address=address,
        region_code=region_code,
        latitude=HOME[0],
        longitude=HOME[1],
        living_arrangement="alone",
    )
    elder.categories = [ElderCategory(category=c) for c in categories]
    session.add(elder)
    session.flush()
    return elder


def agent(region_code: str = "150100000000", name: str = "坐席王敏") -> Actor:
    return Actor(kind="user", name=name, region_code=region_code, role=Role.AGENT, user_id=11)


def officer(region_code: str = "150000000000", name: str = "民政李强") -> Actor:
    return Actor(kind="user", name=name, region_code=region_code, role=Role.OFFICER, user_id=21)


def provider_staff(
    region_code: str = "150100000000", name: str = "服务商赵云", provider_id: int = 1
) -> Actor:
    return Actor(
        kind="user",
        name=name,
        region_code=region_code,
        role=Role.PROVIDER,
        user_id=31,
        provider_id=provider_id,
    )


ADMIN = system_actor("管理员")


def install_catalogue(session: Session) -> None:
    """The shipped service types and subsidy rules (the orders the care modules open need them)."""
    from platform_core.catalogue import service as catalogue

    catalogue.install_defaults(session, actor=ADMIN)


def add_provider(
    session: Session,
    *,
    services: Sequence[str] = (
        "meal_aid_delivery",
        "meal_delivery",
        "care_bathing",
        "visit_home",
        "care_cleaning",
    ),
    coverage: Sequence[str] = ("150102",),
    name: str = "锡林路居家养老服务中心",
) -> SimpleNamespace:
    """A registered provider with one staff member, and the actor its people log in as."""
    from platform_core.elders.idcard import make_id_number as id_number
    from platform_core.providers import service as providers
    from platform_core.providers.credit_code import make_credit_code

    n = next(_seq)
    provider = providers.register_provider(
        session,
        actor=ADMIN,
        name=f"{name}{n}",
        credit_code=make_credit_code("52", "150102", f"MJ{n:06d}"),
        region_code="150102",
        contact_phone="04716912345",
        service_types=list(services),
        coverage=list(coverage),
    )
    staff = providers.add_staff(
        session,
        actor=ADMIN,
        provider_id=provider.id,
        name=f"护理员{n}",
        phone="13947100001",
        id_number=id_number("150102", date(1980, 5, 5), n),
        skills=list(services),
        qualifications=[{"name": "养老护理员", "level": "四级", "valid_until": "2099-12-31"}],
    )
    return SimpleNamespace(
        id=provider.id,
        staff_id=staff.id,
        actor=provider_staff(provider_id=provider.id, name=f"{provider.name}送餐员"),
    )


def approved_elder(
    session: Session,
    *,
    categories: Iterable[str] = ("near_subsistence",),
    scores: dict[str, int] | None = None,
    region_code: str = HOHHOT_VILLAGE,
    name: str = "张桂兰",
) -> Elder:
    """An elder assessed (中度失能 by default) and approved for government-purchased services
    this month, by the whole application chain with its publicity period behind it."""
    from datetime import timedelta

    from platform_core.assessment import service as assessments
    from platform_core.gov_purchase import service as gp

    start = clock.today() - timedelta(days=40)
    elder = make_elder(session, name=name, categories=categories, region_code=region_code)
    assessments.record_assessment(
        session,
        actor=officer(),
        elder_id=elder.id,
        item_scores=scores or MODERATE_46,
        assessed_on=start,
        reason="first",
        assessors=["王敏", "赵云"],
    )
    app = gp.apply(session, actor=agent(), elder_id=elder.id, applicant_name=name, applied_on=start)
    for step, days in (
        (gp.accept, 1),
        (gp.pass_first_review, 3),
        (gp.record_assessment, 5),
        (gp.start_publicity, 6),
        (gp.approve, 40),
    ):
        step(session, actor=officer(), application_id=app.id, on=start + timedelta(days=days))
    return elder


@pytest.fixture
def jobs_settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lets the jobs that committed order steps started (dispatch, notices) finish before the
    runtime fixture empties the tables under them."""
    name = next(n for n in ("regions", "any_runtime", "runtime") if n in request.fixturenames)
    rt = request.getfixturevalue(name)
    yield
    wait_idle = getattr(rt.jobs, "wait_idle", None)
    if wait_idle is not None:
        wait_idle(10)
