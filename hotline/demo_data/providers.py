"""Demo providers: several per 旗县区 with staff, coverage and realistic names, plus one
emergency response team per 盟市 covering the whole league."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import system_actor
from platform_core.elders.idcard import make_id_number
from platform_core.providers import service
from platform_core.providers.credit_code import ALPHABET, make_credit_code
from platform_core.providers.models import (
    Provider,
    ProviderGrade,
    ProviderStaff,
    StaffQualification,
)
from platform_core.regions.dictionary import LEAGUES
from platform_core.runtime import cipher_of
from platform_core.security.masking import mask_id_number

# Seats of the 盟市 government (lat, lon); counties are scattered around them.
_LEAGUE_SEATS: dict[str, tuple[float, float, float]] = {
    "150100": (40.84, 111.75, 0.4),
    "150200": (40.66, 109.84, 0.5),
    "150300": (39.65, 106.79, 0.1),
    "150400": (42.26, 118.89, 1.0),
    "150500": (43.62, 122.24, 1.0),
    "150600": (39.61, 109.78, 1.0),
    "150700": (49.21, 119.77, 2.0),
    "150800": (40.74, 107.39, 1.0),
    "150900": (41.00, 113.13, 0.8),
    "152200": (46.08, 122.04, 0.8),
    "152500": (43.93, 116.05, 1.5),
    "152900": (38.84, 105.73, 2.0),
}
_BRANDS = (
    "康乐",
    "福寿",
    "夕阳红",
    "安康",
    "颐和",
    "惠民",
    "乐龄",
    "爱心",
    "德孝",
    "和顺",
    "长青",
    "益康",
    "孝亲",
    "同心",
    "暖阳",
    "百福",
    "祥和",
    "仁爱",
)
_STREETS = (
    "新华",
    "人民",
    "团结",
    "解放",
    "建设",
    "光明",
    "北苑",
    "南园",
    "东风",
    "西城",
    "草原",
    "昭君",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = (
    "秀英",
    "桂兰",
    "玉兰",
    "建国",
    "志强",
    "丽娟",
    "海燕",
    "晓东",
    "红梅",
    "立新",
    "春花",
    "文华",
    "淑珍",
    "国庆",
    "永明",
    "艳芳",
    "静",
    "磊",
    "敏",
    "伟",
    "娜",
    "军",
    "芳",
    "霞",
    "平",
    "勇",
)
_MONGOLIAN = (
    "巴特尔",
    "其其格",
    "乌云",
    "萨仁",
    "斯琴",
    "阿拉坦",
    "朝鲁",
    "额尔敦",
    "苏日娜",
    "图雅",
    "孟和",
    "格日勒",
    "乌兰",
    "那仁",
    "宝音",
    "娜仁花",
)


@dataclass(frozen=True)
class _Template:
    kind: str
    credit_prefix: str  # registration authority + organisation type
    name: str  # formatted with county, brand, street
    services: tuple[str, ...]
    capacity: tuple[int, int]
    qualifications: tuple[tuple[str, str], ...]


_TEMPLATES = (
    _Template(
        "居家养老服务中心",
        "52",
        "{county}{brand}居家养老服务中心",
        (
            "care_cleaning",
            "care_bathing",
            "care_walking",
            "care_errands",
            "meal_delivery",
            "meal_aid_delivery",
            "comfort_visit",
            "visit_home",
            "emergency_sos",
            "emergency_fall",
        ),
        (8, 20),
        (("养老护理员", "四级"), ("养老护理员", "三级"), ("社会工作者", "助理社工师")),
    ),
    _Template(
        "社区卫生服务站",
        "12",
        "{county}{street}社区卫生服务站",
        (
            "medical_escort",
            "medical_medicine",
            "medical_rehab",
            "emergency_health_alarm",
            "emergency_fall",
            "visit_home",
        ),
        (5, 12),
        (("护士执业证书", ""), ("康复治疗士", ""), ("健康管理师", "三级")),
    ),
    _Template(
        "家政服务公司",
        "91",
        "{league_short}{brand}家政服务有限公司",
        ("care_cleaning", "care_errands", "care_repair", "care_unlock", "care_bathing"),
        (10, 30),
        (("家政服务员", "四级"), ("低压电工作业证", ""), ("养老护理员", "五级")),
    ),
)


def _credit_code(rng: random.Random, prefix: str, county: str, taken: set[str]) -> str:
    while True:
        body = ("MA" if prefix.startswith("9") else "") + "".join(
            rng.choice(ALPHABET) for _ in range(8)
        )
        code = make_credit_code(prefix, county, body[:8])
        if code not in taken:
            taken.add(code)
            return code


def _name(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(_MONGOLIAN)
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _mobile(rng: random.Random) -> str:
    return (
        rng.choice(("139", "138", "150", "151", "152", "155", "158", "186", "189", "133", "177"))
        + f"{rng.randrange(10**8):08d}"
    )


def _id_number(rng: random.Random, county: str) -> str:
    born = date(1962, 1, 1) + timedelta(days=rng.randrange(365 * 38))
    return make_id_number(county, born, rng.randrange(1000))


def _staff(
    session: Session, rng: random.Random, provider: Provider, template: _Template, county: str
) -> None:
    """Staff rows built directly (generated numbers are valid by construction): the service
    path costs five round trips a person, which the demo of a whole region cannot afford."""
    cipher = cipher_of(session)
    for _ in range(rng.randint(3, 6)):
        skills = rng.sample(
            provider.service_type_codes, k=min(len(provider.service_type_codes), rng.randint(2, 5))
        )
        qual_name, level = rng.choice(template.qualifications)
        number = _id_number(rng, county)
        session.add(
            ProviderStaff(
                provider_id=provider.id,
                name=_name(rng),
                phone=_mobile(rng),
                id_number_sealed=cipher.seal(number),
                id_number_index=cipher.blind_index(number),
                id_number_masked=mask_id_number(number),
                skills=sorted(skills),
                active=True,
                qualifications=[
                    StaffQualification(
                        name=qual_name,
                        level=level,
                        number=f"{rng.randrange(10**12):012d}",
                        valid_until=date(2026, 1, 1) + timedelta(days=rng.randrange(1500)),
                    )
                ],
            )
        )


def seed_providers(session: Session, *, rng: random.Random) -> int:
    """Create demo providers in every 旗县区 that has none yet; returns how many were created."""
    actor = system_actor("演示数据")
    taken = set(session.scalars(select(Provider.credit_code)))
    have = {r[:6] for r in session.scalars(select(Provider.region_code))}
    created = 0
    for league, (league_name, area_code, counties) in LEAGUES.items():
        lat0, lon0, spread = _LEAGUE_SEATS[league]
        league_short = league_name.removesuffix("市").removesuffix("盟")
        if league not in have:
            team = service.register_provider(
                session,
                actor=actor,
                name=f"{league_name}12349应急救援服务队",
                kind="应急救援队",
                credit_code=_credit_code(rng, "52", league, taken),
                region_code=league,
                contact_phone=f"{area_code}{rng.randrange(2000000, 8999999)}",
                contact_name=_name(rng),
                service_types=[
                    "emergency_sos",
                    "emergency_fall",
                    "emergency_health_alarm",
                    "care_unlock",
                ],
                coverage=[league],
                capacity=rng.randint(20, 40),
                address=f"{league_name}应急服务中心",
                latitude=round(lat0, 5),
                longitude=round(lon0, 5),
                grade=ProviderGrade.A,
                credit_score=round(rng.uniform(88, 98), 1),
            )
            _staff(session, rng, team, _TEMPLATES[0], league)
            created += 1
        for county, county_name in counties.items():
            if county in have:
                continue
            clat = lat0 + rng.uniform(-spread, spread)
            clon = lon0 + rng.uniform(-spread, spread)
            for template in _TEMPLATES:
                name = template.name.format(
                    county=county_name,
                    brand=rng.choice(_BRANDS),
                    street=rng.choice(_STREETS),
                    league_short=league_short,
                )
                grade = rng.choices(list(ProviderGrade), weights=(3, 5, 2, 0.5))[0]
                provider = service.register_provider(
                    session,
                    actor=actor,
                    name=name,
                    kind=template.kind,
                    credit_code=_credit_code(rng, template.credit_prefix, county, taken),
                    region_code=county,
                    contact_phone=f"{area_code}{rng.randrange(2000000, 8999999)}",
                    contact_name=_name(rng),
                    service_types=list(template.services),
                    coverage=[county],
                    capacity=rng.randint(*template.capacity),
                    address=f"{league_name}{county_name}{rng.choice(_STREETS)}路{rng.randint(1, 300)}号",
                    latitude=round(clat + rng.uniform(-0.05, 0.05), 5),
                    longitude=round(clon + rng.uniform(-0.05, 0.05), 5),
                    grade=grade,
                    credit_score=round(
                        {"A": 92, "B": 82, "C": 70, "D": 55}[grade] + rng.uniform(-5, 5), 1
                    ),
                )
                _staff(session, rng, provider, template, county)
                created += 1
    session.flush()
    return created
