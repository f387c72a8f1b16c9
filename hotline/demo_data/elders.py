"""A realistic demo region: elders with valid ID numbers, phones, contacts, categories, devices.

Deterministic: elder number ``i`` of seed ``S`` is always the same person (its own random
stream), so a second run with the same seed finds every elder it would create already there
(matched by ID number, as imports are) and only tops up what is missing. Rows go in with bulk
inserts in batches; the caller commits after each batch (``after_batch``), which keeps memory
flat and makes an interrupted run resumable. Bulk inserts publish no domain events: a demo
seed is not news for the console.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.devices.models import Device, DeviceStatusChange
from platform_core.devices.schemas import imei_check_digit
from platform_core.elders.ethnicity import HAN, MONGOLIAN
from platform_core.elders.idcard import age_on, make_id_number
from platform_core.elders.models import (
    ConsentRecord,
    Elder,
    ElderCategory,
    ElderPhone,
    EmergencyContact,
    FieldProvenance,
)
from platform_core.elders.vocabulary import Category
from platform_core.regions import codes
from platform_core.regions import service as regions
from platform_core.regions.dictionary import ALIASES, LEAGUES
from platform_core.runtime import cipher_of
from platform_core.security.masking import mask_id_number

DEMO_SOURCE = "演示数据"

# 盟市 seat (lat, lon) and the share of Mongolian elders there (pastoral leagues have more).
_LEAGUE_FACTS: dict[str, tuple[float, float, float]] = {
    "150100": (40.84, 111.75, 0.10),
    "150200": (40.66, 109.84, 0.05),
    "150300": (39.65, 106.79, 0.03),
    "150400": (42.26, 118.89, 0.16),
    "150500": (43.62, 122.24, 0.46),
    "150600": (39.61, 109.78, 0.12),
    "150700": (49.21, 119.77, 0.24),
    "150800": (40.74, 107.39, 0.05),
    "150900": (41.00, 113.13, 0.03),
    "152200": (46.08, 122.04, 0.42),
    "152500": (43.93, 116.05, 0.31),
    "152900": (38.84, 105.73, 0.18),
}
# Minorities other than Mongolian that are common in some leagues (GB/T 3304 codes).
_OTHER_ETHNICITIES = {
    "150400": ("11", "03"),
    "150500": ("11", "03"),
    "150700": ("31", "45", "52", "11", "44"),
    "150100": ("03", "11"),
}

_HAN_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_HAN_MALE = [
    "国庆",
    "建国",
    "建华",
    "志强",
    "德明",
    "文华",
    "振华",
    "玉林",
    "保国",
    "福贵",
    "长海",
    "永福",
    "树林",
    "宝山",
    "德胜",
    "万里",
    "桂林",
    "凤山",
    "连生",
    "占魁",
    "成",
    "军",
    "勇",
    "林",
    "海",
    "明",
    "刚",
    "平",
    "忠",
    "发",
    "山",
    "福",
    "贵",
    "和",
    "顺",
]
_HAN_FEMALE = [
    "桂兰",
    "秀英",
    "玉兰",
    "淑珍",
    "凤英",
    "秀兰",
    "桂英",
    "玉珍",
    "春花",
    "秀珍",
    "玉梅",
    "淑兰",
    "桂芳",
    "翠兰",
    "丽华",
    "素芬",
    "金凤",
    "美兰",
    "芳",
    "英",
    "兰",
    "珍",
    "华",
    "霞",
    "梅",
    "萍",
    "琴",
    "娟",
]
_MN_MALE = [
    "巴特尔",
    "额尔敦",
    "宝音",
    "那仁",
    "苏和",
    "朝鲁",
    "阿拉坦",
    "孟和",
    "吉日嘎拉",
    "布和",
    "巴雅尔",
    "敖其尔",
    "达来",
    "呼和",
    "满都拉",
    "乌力吉",
    "特木尔",
    "巴图",
    "白音",
    "毕力格",
    "额尔德尼",
    "斯日古楞",
    "哈斯",
    "图门",
    "格日勒图",
]
_MN_FEMALE = [
    "其其格",
    "乌云",
    "斯琴",
    "乌日娜",
    "萨仁",
    "图雅",
    "娜仁花",
    "格日勒",
    "其木格",
    "塔娜",
    "高娃",
    "托娅",
    "乌兰",
    "琪琪格",
    "阿拉坦其其格",
    "萨日娜",
    "斯琴高娃",
    "乌兰图雅",
    "额尔登其其格",
    "苏布道",
]
_MN_SURNAMES = "包白鲍韩宝吴云金"

_STREETS = [
    "新华",
    "人民",
    "团结",
    "解放",
    "中山",
    "建设",
    "光明",
    "和平",
    "友谊",
    "胜利",
    "兴安",
    "锡林",
    "昭君",
    "长青",
    "公园",
    "工农",
    "青城",
    "文化",
]
_TOWNS = [
    "白塔",
    "察素齐",
    "沙尔沁",
    "金川",
    "大岱",
    "哈素",
    "台阁牧",
    "土城子",
    "双龙",
    "五一",
    "红旗",
    "新丰",
    "太平",
    "永兴",
    "福兴",
    "东风",
    "前进",
    "和顺",
]
_SUMU = [
    "巴音",
    "乌兰",
    "宝力根",
    "查干",
    "阿拉腾",
    "哈日",
    "呼和",
    "白音",
    "额尔敦",
    "那仁",
    "吉日嘎郎",
    "伊和",
    "宝日",
    "塔林",
    "达拉",
]
_COMMUNITIES = [
    "幸福",
    "阳光",
    "和谐",
    "康乐",
    "祥和",
    "锦绣",
    "福安",
    "金桥",
    "春晖",
    "惠民",
    "安居",
    "长乐",
    "如意",
    "文苑",
]
_VILLAGES = [
    "前营",
    "后营",
    "东沟",
    "西沟",
    "大井",
    "小井",
    "五家",
    "三道",
    "二道",
    "十八台",
    "王家",
    "李家",
    "新村",
    "红光",
    "胜利",
    "南梁",
]
_GACHA = [
    "巴彦",
    "乌兰",
    "查干",
    "宝力格",
    "阿日",
    "哈沙图",
    "呼舒",
    "陶力",
    "额很",
    "准",
    "宝日胡舒",
    "温都尔",
    "图古日格",
]

_MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "177",
    "199",
]
_RELATIONS_CHILD = ("儿子", "女儿", "儿媳", "女婿")
_RELATIONS_OTHER = ("孙子", "孙女", "侄子", "外甥", "邻居", "网格员", "村干部")
_ILLNESSES = (
    "高血压",
    "糖尿病",
    "冠心病",
    "慢性阻塞性肺疾病",
    "脑卒中后遗症",
    "骨关节炎",
    "白内障",
    "阿尔茨海默病",
    "帕金森病",
    "慢性肾病",
)
_MEDICATION = {
    "高血压": "硝苯地平缓释片",
    "糖尿病": "二甲双胍",
    "冠心病": "阿司匹林肠溶片",
    "慢性阻塞性肺疾病": "噻托溴铵吸入剂",
    "脑卒中后遗症": "阿托伐他汀",
    "帕金森病": "多巴丝肼",
    "阿尔茨海默病": "多奈哌齐",
}
_ALLERGIES = ("青霉素", "磺胺类", "头孢类", "海鲜", "花粉", "碘造影剂")
_DISABILITY_TYPES = (
    "visual",
    "hearing",
    "speech",
    "physical",
    "intellectual",
    "mental",
    "multiple",
)
_DEVICE_VENDORS = (
    ("安康通", "AK-100", "AK"),
    ("颐家", "YJ-S2", "YJ"),
    ("中国移动和家亲", "HJQ-P1", "HJ"),
)
_SENSORS = ("smoke", "fall_detector", "door", "gas", "pir", "smart_mattress", "water")


@dataclass(frozen=True)
class Village:
    code: str
    address: str  # league + county + township + village
    area_code: str
    urban: bool
    lat: float
    lon: float
    league: str


@dataclass
class SeedReport:
    requested: int
    created: int = 0
    existing: int = 0
    deceased: int = 0
    phones: int = 0
    contacts: int = 0
    devices: int = 0
    regions_created: int = 0
    seconds: float = 0.0
    village_count: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- regions


def _reverse_aliases() -> dict[str, str]:
    """Today's county -> its code before 2003 (ID numbers issued then still carry it)."""
    return {new: old for old, (new, _note) in ALIASES.items() if len(new) == 6 and new[4:] != "00"}


def _stable_rng(*parts: Any) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def prepare_villages(
    session: Session, *, league_code: str | None = None
) -> tuple[list[Village], int]:
    """Townships and villages under every county (of one 盟市, if given), created on demand.

    Returns the villages and how many region rows were created. Segments follow GB/T 2260
    conventions: 街道 001-099 with communities 001-199 in urban districts; 镇 100-199 and
    苏木/乡 200-399 with 村/嘎查 from 200 elsewhere.
    """
    from platform_core.regions.models import Region

    league6 = codes.normalize_code(league_code)[:6] if league_code else None
    existing = set(session.scalars(select(Region.code).where(Region.level >= 4)))
    created = 0
    villages: list[Village] = []

    def make(code: str, name: str) -> None:
        nonlocal created
        if code not in existing:
            regions.ensure_region(session, code, name)
            existing.add(code)
            created += 1

    for league, (league_name, area_code, counties) in LEAGUES.items():
        if league6 and league != league6:
            continue
        lat0, lon0, _ = _LEAGUE_FACTS[league]
        for county, county_name in counties.items():
            r = _stable_rng("county", county)
            clat, clon = lat0 + r.uniform(-0.6, 0.6), lon0 + r.uniform(-0.8, 0.8)
            urban = county_name.endswith("区")
            if urban:
                plan = [
                    (
                        f"{n:03d}",
                        r.choice(_STREETS) + "街道",
                        [(f"{v:03d}", r.choice(_COMMUNITIES) + "社区", True) for v in range(1, 5)],
                    )
                    for n in range(1, 5)
                ]
            else:
                pastoral = "旗" in county_name
                plan = [
                    (
                        f"{100 + n:03d}",
                        r.choice(_TOWNS) + "镇",
                        [("001", r.choice(_COMMUNITIES) + "社区", True)]
                        + [
                            (f"{200 + v:03d}", r.choice(_VILLAGES) + "村", False)
                            for v in range(1, 4)
                        ],
                    )
                    for n in range(1, 3)
                ]
                plan += [
                    (
                        f"{200 + n:03d}",
                        r.choice(_SUMU) + ("苏木" if pastoral else "乡"),
                        [
                            (
                                f"{200 + v:03d}",
                                r.choice(_GACHA if pastoral else _VILLAGES)
                                + ("嘎查" if pastoral else "村"),
                                False,
                            )
                            for v in range(1, 4)
                        ],
                    )
                    for n in range(1, 3)
                ]
            for seg, tname, vlist in plan:
                tcode = county + seg + "000"
                make(tcode, tname)
                for vseg, vname, is_urban in vlist:
                    vcode = county + seg + vseg
                    make(vcode, vname)
                    villages.append(
                        Village(
                            code=vcode,
                            address=f"{league_name}{county_name}{tname}{vname}",
                            area_code=area_code,
                            urban=is_urban,
                            lat=round(clat + r.uniform(-0.15, 0.15), 5),
                            lon=round(clon + r.uniform(-0.15, 0.15), 5),
                            league=league,
                        )
                    )
    session.flush()
    villages.sort(key=lambda v: v.code)
    return villages, created


# ---------------------------------------------------------------- one elder


def _mobile(r: random.Random) -> str:
    return r.choice(_MOBILE_PREFIXES) + f"{r.randrange(10**8):08d}"


def _landline(r: random.Random, area_code: str) -> str:
    return area_code + str(r.randint(2, 8)) + f"{r.randrange(10**6):06d}"


def _han_name(r: random.Random, male: bool, surname: str | None = None) -> str:
    return (surname or r.choice(_HAN_SURNAMES)) + r.choice(_HAN_MALE if male else _HAN_FEMALE)


def _mongolian_name(r: random.Random, male: bool) -> str:
    given = r.choice(_MN_MALE if male else _MN_FEMALE)
    return (r.choice(_MN_SURNAMES) + given) if r.random() < 0.2 and len(given) <= 3 else given


def _name(r: random.Random, ethnicity: str, male: bool) -> str:
    return _mongolian_name(r, male) if ethnicity == MONGOLIAN else _han_name(r, male)


@dataclass
class _Person:
    """One generated elder before insertion (plain values, child rows as dicts)."""

    id_number: str
    row: dict[str, Any]
    phones: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    health: dict[str, Any] | None
    consent: dict[str, Any]
    imported: bool
    devices: list[dict[str, Any]]


def _ethnicity(r: random.Random, league: str) -> str:
    share = _LEAGUE_FACTS[league][2]
    x = r.random()
    if x < share:
        return MONGOLIAN
    others = _OTHER_ETHNICITIES.get(league)
    if others and x < share + 0.05:
        return r.choice(others)
    return HAN


def _age(r: random.Random) -> int:
    return 60 + int(r.betavariate(1.3, 3.6) * 46)


def _categories(r: random.Random, age: int, urban: bool) -> list[dict[str, Any]]:
    cats: list[dict[str, Any]] = []
    econ = r.random()
    if econ < 0.015:
        cats.append(
            {"category": Category.EXTREME_HARDSHIP.value, "subtype": "sanwu" if urban else "wubao"}
        )
    elif econ < 0.085:
        cats.append({"category": Category.SUBSISTENCE.value})
    elif econ < 0.115:
        cats.append({"category": Category.NEAR_SUBSISTENCE.value})
    if econ < 0.115 and r.random() < 0.35:
        impaired = Category.POOR_DISABLED if r.random() < 0.4 else Category.POOR_SEMI_DISABLED
        cats.append({"category": impaired.value})
    if age >= 100:
        cats.append({"category": Category.CENTENARIAN.value})
    elif age >= 80:
        cats.append({"category": Category.ADVANCED_AGE.value})
    if r.random() < 0.06:
        cats.append(
            {
                "category": Category.DISABILITY.value,
                "subtype": r.choice(_DISABILITY_TYPES),
                "grade": r.choices((1, 2, 3, 4), (1, 2, 3, 4))[0],
            }
        )
    if r.random() < 0.02:
        cats.append({"category": Category.FAMILY_PLANNING.value})
    if r.random() < 0.008:
        cats.append({"category": Category.BEREAVED_PARENT.value})
    if r.random() < 0.02:
        cats.append({"category": Category.ENTITLED.value})
    return cats


def _health(r: random.Random, age: int, cats: list[dict[str, Any]]) -> dict[str, Any] | None:
    n = r.choices((0, 1, 2, 3), (30, 35, 25, 10 + age // 10))[0]
    illnesses = sorted(set(r.sample(_ILLNESSES, n)))
    allergies = [r.choice(_ALLERGIES)] if r.random() < 0.1 else []
    disabilities = [c["subtype"] for c in cats if c["category"] == Category.DISABILITY.value]
    if not (illnesses or allergies or disabilities):
        return None
    return {
        "chronic_illnesses": illnesses,
        "allergies": allergies,
        "medications": [_MEDICATION[i] for i in illnesses if i in _MEDICATION],
        "disabilities": disabilities,
        "notes": "",
    }


def _person(
    seed: int,
    index: int,
    village: Village,
    today: date,
    now: datetime,
    taken: set[str],
    old_codes: dict[str, str],
    spouse_of: _Person | None = None,
) -> _Person:
    r = _stable_rng(seed, "elder", index)
    county = village.code[:6]
    if spouse_of is None:
        ethnicity = _ethnicity(r, village.league)
        male = r.random() < 0.45
        age = _age(r)
    else:
        ethnicity = (
            spouse_of.row["ethnicity_code"] if r.random() < 0.8 else _ethnicity(r, village.league)
        )
        male = spouse_of.row["sex"] != "male"
        age = max(60, min(105, age_on(spouse_of.row["birth_date"], today) + r.randint(-5, 5)))
    birth = date(today.year - age - 1, 1, 1) + timedelta(days=r.randrange(365))
    area = (
        old_codes[county]
        if county in old_codes and birth.year < 1990 and r.random() < 0.6
        else county
    )
    for attempt in range(50):
        seq = (r.randrange(500) * 2) + (1 if male else 0)
        id_number = make_id_number(area, birth + timedelta(days=attempt), seq)
        if id_number not in taken:
            break
    birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    age = age_on(birth, today)
    taken.add(id_number)
    name = _name(r, ethnicity, male)
    cats = _categories(r, age, village.urban)
    health = _health(r, age, cats)

    if spouse_of is not None:
        address, lat, lon = (
            spouse_of.row["address"],
            spouse_of.row["latitude"],
            spouse_of.row["longitude"],
        )
        living = (
            "empty_nest" if spouse_of.row["living_arrangement"] != "with_family" else "with_family"
        )
        home = [p["number"] for p in spouse_of.phones if p["kind"] == "home"]
    else:
        if village.urban:
            address = (
                f"{village.address}{r.choice(_STREETS)}路{r.randint(1, 300)}号"
                f"{r.randint(1, 30)}栋{r.randint(1, 6)}单元{r.randint(1, 7)}0{r.randint(1, 4)}"
            )
        else:
            address = f"{village.address}{r.randint(1, 12)}组{r.randint(1, 80)}号"
        lat, lon = (
            round(village.lat + r.uniform(-0.01, 0.01), 6),
            round(village.lon + r.uniform(-0.01, 0.01), 6),
        )
        living = r.choices(
            ("alone", "empty_nest", "with_family"), (20, 38, 42) if age < 85 else (15, 25, 60)
        )[0]
        home = (
            [_landline(r, village.area_code)]
            if r.random() < (0.35 if village.urban else 0.5)
            else []
        )

    phones = [{"number": n, "kind": "home"} for n in home]
    if r.random() < (0.8 if age < 80 else 0.5):
        phones.append({"number": _mobile(r), "kind": "mobile"})

    if spouse_of is not None and r.random() < 0.9:
        contacts = [dict(c) for c in spouse_of.contacts]
    else:
        contacts = []
        surname = name[0] if ethnicity == HAN and male else None
        for k in range(r.choices((1, 2, 3), (35, 45, 20))[0]):
            relation = r.choice(_RELATIONS_CHILD) if k < 2 else r.choice(_RELATIONS_OTHER)
            child_male = relation in ("儿子", "女婿", "孙子", "侄子", "外甥") or (
                relation in _RELATIONS_OTHER and r.random() < 0.5
            )
            cname = (
                _mongolian_name(r, child_male)
                if ethnicity == MONGOLIAN and r.random() < 0.7
                else _han_name(
                    r, child_male, surname if relation in ("儿子", "女儿", "孙子", "孙女") else None
                )
            )
            contacts.append(
                {
                    "name": cname,
                    "relation": relation,
                    "phone": _mobile(r),
                    "priority": k + 1,
                    "holds_key": (k == 0 and r.random() < 0.55) or (k > 0 and r.random() < 0.15),
                }
            )

    status, deceased_on, moved_on = "active", None, None
    x = r.random()
    if x < 0.015:
        status, deceased_on = "deceased", today - timedelta(days=r.randint(1, 700))
    elif x < 0.02:
        status, moved_on = "moved", today - timedelta(days=r.randint(1, 700))
    impaired = any(c["category"] in ("poor_disabled", "poor_semi_disabled") for c in cats)
    severe = any(c.get("grade") in (1, 2) for c in cats)
    high = impaired or severe or (living == "alone" and age >= 80) or r.random() < 0.03
    floor = 1 if not village.urban else r.randint(1, 7)
    guardian = (impaired or severe) and contacts and r.random() < 0.7
    row = {
        "name": name,
        "sex": "male" if male else "female",
        "birth_date": birth,
        "ethnicity_code": ethnicity,
        "address": address,
        "region_code": village.code,
        "household_address": address if r.random() < 0.85 else None,
        "household_region_code": village.code,
        "latitude": lat,
        "longitude": lon,
        "living_arrangement": living,
        "housing_floor": floor,
        "housing_has_elevator": floor >= 4 and r.random() < 0.4 if village.urban else False,
        "housing_bathroom": r.choice(("室内卫生间", "室内卫生间", "公共卫生间"))
        if village.urban
        else r.choice(("旱厕", "室外厕所", "室内卫生间")),
        "housing_risks": [
            h
            for h, p in (("地面湿滑", 0.15), ("无扶手", 0.3), ("照明不足", 0.1), ("门槛过高", 0.1))
            if r.random() < p
        ],
        "ivr_language": "mn"
        if ethnicity == MONGOLIAN and r.random() < (0.6 if not village.urban else 0.3)
        else "zh",
        "risk_level": "high" if high else "normal",
        "status": status,
        "deceased_on": deceased_on,
        "moved_on": moved_on,
        "created_at": now,
        "updated_at": now,
    }
    consent = {
        "consenter_name": contacts[0]["name"] if guardian else name,
        "consenter_relation": contacts[0]["relation"] if guardian else "本人",
        "by_guardian": bool(guardian),
        "scope": ["profile", "health", "location", "device_monitoring"],
        "consented_on": today - timedelta(days=r.randint(30, 1500)),
        "recorded_by": DEMO_SOURCE,
        "recorded_at": now,
    }
    devices: list[dict[str, Any]] = []
    if status == "active":
        if r.random() < (0.35 if living != "with_family" else 0.12):
            vendor, model, prefix = r.choice(_DEVICE_VENDORS)
            kind = "sos_pendant" if r.random() < 0.7 else "fixed_caller"
            devices.append(
                _device(r, seed, index, 0, kind, vendor, model, prefix, now, with_sim=True)
            )
        if r.random() < 0.12:
            vendor, model, prefix = r.choice(_DEVICE_VENDORS)
            devices.append(
                _device(
                    r,
                    seed,
                    index,
                    1,
                    r.choice(_SENSORS),
                    vendor,
                    model + "S",
                    prefix,
                    now,
                    with_sim=False,
                )
            )
    return _Person(
        id_number, row, phones, contacts, cats, health, consent, r.random() < 0.3, devices
    )


def _device(
    r: random.Random,
    seed: int,
    index: int,
    k: int,
    kind: str,
    vendor: str,
    model: str,
    prefix: str,
    now: datetime,
    *,
    with_sim: bool,
) -> dict[str, Any]:
    body = (
        "86"
        + f"{int(hashlib.sha256(f'{seed}:{index}:{k}'.encode()).hexdigest(), 16) % 10**12:012d}"
    )
    interval = 3600 if with_sim else 600
    status = r.choices(
        ("online", "offline", "low_battery", "installed", "fault", "bound"), (80, 7, 5, 4, 2, 2)
    )[0]
    silent = {
        "online": r.uniform(0, interval),
        "low_battery": r.uniform(0, interval),
        "offline": r.uniform(3 * interval, 30 * 86400),
        "fault": r.uniform(interval, 7 * 86400),
    }
    last = now - timedelta(seconds=silent[status]) if status in silent else None
    # SIMs from the 147/172 blocks, unique per elder index: no two demo devices share a SIM.
    sim = f"{'147' if k == 0 else '172'}{(index * 7919 + seed) % 10**8:08d}" if with_sim else None
    return {
        "device_type": kind,
        "serial": f"{prefix}{seed % 10000:04d}{index:08d}{k}",
        "imei": body + imei_check_digit(body),
        "sim_number": sim,
        "vendor": vendor,
        "model": model,
        "status": status,
        "heartbeat_interval_s": interval,
        "last_heartbeat_at": last,
        "battery_pct": r.randint(5, 19) if status == "low_battery" else r.randint(20, 100),
        "bound_at": now - timedelta(days=r.randint(30, 900)),
        "installed_at": None if status == "bound" else now - timedelta(days=r.randint(1, 29)),
        "created_at": now,
        "updated_at": now,
    }


def generate_people(
    seed: int, count: int, villages: list[Village], today: date, now: datetime
) -> Iterator[_Person]:
    """Elders number 0 .. count-1 of ``seed``; about one pair in eight is a married couple."""
    weights = [3 if v.urban else 1 for v in villages]
    by_code = {v.code: v for v in villages}
    old_codes = _reverse_aliases()
    taken: set[str] = set()
    previous: _Person | None = None
    for i in range(count):
        pair = _stable_rng(seed, "pair", i // 2)
        couple = i % 2 == 1 and previous is not None and pair.random() < 0.25
        village = (
            by_code[previous.row["region_code"]]
            if couple and previous
            else _stable_rng(seed, "village", i).choices(villages, weights)[0]
        )
        person = _person(
            seed, i, village, today, now, taken, old_codes, spouse_of=previous if couple else None
        )
        previous = person
        yield person


# ---------------------------------------------------------------- bulk insert


def seed_elders(
    session: Session,
    *,
    count: int,
    seed: int = 12349,
    league_code: str | None = None,
    batch_size: int = 2000,
    after_batch: Callable[[int], None] | None = None,
    today: date | None = None,
) -> SeedReport:
    """Make sure demo elders 0 .. count-1 of ``seed`` exist; returns what was created.

    ``after_batch(n)`` is called after each batch was flushed with the number of elders it
    covered (created or already there): the CLI commits and advances its progress bar there.
    """
    started = clock.now()
    today = today or clock.today_in(session)
    report = SeedReport(requested=count)
    villages, report.regions_created = prepare_villages(session, league_code=league_code)
    report.village_count = len(villages)
    if not villages:
        report.notes.append("没有可用的区划 / no regions to place elders in")
        return report
    if after_batch:
        after_batch(0)
    cipher = cipher_of(session)
    batch: list[_Person] = []
    for person in generate_people(seed, count, villages, today, started):
        batch.append(person)
        if len(batch) >= batch_size:
            _insert_batch(session, batch, cipher, report, started)
            if after_batch:
                after_batch(len(batch))
            batch = []
    if batch:
        _insert_batch(session, batch, cipher, report, started)
        if after_batch:
            after_batch(len(batch))
    report.seconds = (clock.now() - started).total_seconds()
    return report


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _insert_batch(
    session: Session, people: list[_Person], cipher: Any, report: SeedReport, now: datetime
) -> None:
    indexes = [cipher.blind_index(p.id_number) for p in people]
    present = set(
        session.scalars(select(Elder.id_number_index).where(Elder.id_number_index.in_(indexes)))
    )
    fresh = [(p, ix) for p, ix in zip(people, indexes, strict=True) if ix not in present]
    report.existing += len(people) - len(fresh)
    if not fresh:
        return
    rows = []
    for p, ix in fresh:
        row = dict(p.row)
        row["id_number_sealed"] = cipher.seal(p.id_number)
        row["id_number_index"] = ix
        row["id_number_masked"] = mask_id_number(p.id_number)
        row["health_sealed"] = (
            cipher.seal(json.dumps(p.health, ensure_ascii=False, sort_keys=True))
            if p.health
            else None
        )
        rows.append(row)
    # Core statements on the session's connection: the ORM bulk path costs several times more.
    conn = session.connection()
    elders_t, devices_t = _table(Elder), _table(Device)
    returning_id = insert(elders_t).returning(elders_t.c.id, sort_by_parameter_order=True)
    ids = conn.execute(returning_id, rows).scalars().all()
    phones, contacts, cats, consents, provenance, devices = [], [], [], [], [], []
    for (p, _ix), elder_id in zip(fresh, ids, strict=True):
        phones += [{"elder_id": elder_id, **x} for x in p.phones]
        contacts += [{"elder_id": elder_id, "note": None, **x} for x in p.contacts]
        cats += [
            {"elder_id": elder_id, "subtype": None, "grade": None, "certified_on": None, **x}
            for x in p.categories
        ]
        consents.append({"elder_id": elder_id, "withdrawn_on": None, **p.consent})
        if p.imported:
            provenance += [
                {
                    "elder_id": elder_id,
                    "field": f,
                    "source_department": "民政局",
                    "batch": "demo-2024-01",
                    "imported_at": now,
                }
                for f in ("name", "id_number", "categories")
            ]
        devices += [
            {"elder_id": elder_id, "region_code": p.row["region_code"], **d} for d in p.devices
        ]
        report.deceased += p.row["status"] == "deceased"
    for model, batch_rows in (
        (ElderPhone, phones),
        (EmergencyContact, contacts),
        (ElderCategory, cats),
        (ConsentRecord, consents),
        (FieldProvenance, provenance),
    ):
        if batch_rows:
            conn.execute(insert(_table(model)), batch_rows)
    if devices:
        device_returning = insert(devices_t).returning(devices_t.c.id, sort_by_parameter_order=True)
        device_ids = conn.execute(device_returning, devices).scalars().all()
        conn.execute(
            insert(_table(DeviceStatusChange)),
            [
                {
                    "device_id": did,
                    "from_status": None,
                    "to_status": d["status"],
                    "elder_id": d["elder_id"],
                    "at": now,
                    "actor_kind": "system",
                    "actor_name": DEMO_SOURCE,
                    "reason": DEMO_SOURCE,
                }
                for did, d in zip(device_ids, devices, strict=True)
            ],
        )
    session.flush()
    report.created += len(fresh)
    report.phones += len(phones)
    report.contacts += len(contacts)
    report.devices += len(devices)
