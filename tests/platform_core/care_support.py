"""Helpers shared by the care-module tests: elders written straight into the profile tables
(the elders module's own tests cover registration) and actors of each role."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder, ElderCategory
from platform_core.runtime import cipher_of

_seq = itertools.count(1)

HOHHOT_VILLAGE = "150102003001"
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
