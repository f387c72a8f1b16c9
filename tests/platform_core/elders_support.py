"""Builders shared by the elder, device and identification tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from platform_core.actors import Actor, Role
from platform_core.elders.idcard import make_id_number
from platform_core.elders.schemas import ElderIn, validate_input

_seq = itertools.count(1)

AGENT_HOHHOT = Actor(
    kind="user", name="坐席01", region_code="150100000000", role=Role.AGENT, user_id=11
)
SUPERVISOR = Actor(
    kind="user", name="班长", region_code="150000000000", role=Role.SUPERVISOR, user_id=12
)
OFFICER_BAOTOU = Actor(
    kind="user", name="民政包头", region_code="150200000000", role=Role.OFFICER, user_id=13
)
OFFICER_HOHHOT = Actor(
    kind="user", name="民政呼市", region_code="150100000000", role=Role.OFFICER, user_id=14
)
PROVIDER = Actor(
    kind="user", name="服务商A", region_code="150100000000", role=Role.PROVIDER, user_id=15
)
ADMIN = Actor(kind="user", name="管理员", region_code="150000000000", role=Role.ADMIN, user_id=16)


def new_id_number(area: str = "150102", born: date = date(1945, 2, 3), male: bool = True) -> str:
    n = next(_seq) % 500
    return make_id_number(area, born, n * 2 + (1 if male else 0))


def elder_input(**overrides: Any) -> ElderIn:
    data: dict[str, Any] = {
        "name": "王桂兰",
        "id_number": new_id_number(male=False),
        "address": "呼和浩特市新城区中山东路 12 号 3 单元 501",
        "region_code": "150102003201",
        "phones": [
            {"number": "13904711234", "kind": "mobile"},
            {"number": "6912345", "kind": "home"},
        ],
        "contacts": [
            {
                "name": "李强",
                "relation": "儿子",
                "phone": "+86 138 0471 0001",
                "priority": 1,
                "holds_key": True,
            },
            {"name": "李梅", "relation": "女儿", "phone": "13804710002", "priority": 2},
        ],
        "living_arrangement": "alone",
        "categories": [
            {"category": "subsistence"},
            {"category": "disability", "subtype": "physical", "grade": 2},
        ],
        "health": {"chronic_illnesses": ["高血压"], "allergies": ["青霉素"]},
        "housing": {"floor": 5, "has_elevator": False},
        "consents": [
            {
                "consenter_name": "王桂兰",
                "scope": ["profile", "health"],
                "consented_on": "2024-01-05",
            }
        ],
    }
    data.update(overrides)
    return validate_input(ElderIn, data)
