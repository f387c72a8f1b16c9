"""The 12349 catalogue a new deployment starts from (DOMAIN.md section 6).

These are starting values for the region-wide defaults; each 盟市 adjusts prices, SLAs and
subsidies through its own overrides (``service.set_league_terms``, ``service.set_subsidy_rule``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from platform_core.catalogue.models import Fulfilment, ServiceCategory, SubsidyKind
from platform_core.elders.vocabulary import Category

C = ServiceCategory
P, H = Fulfilment.PROVIDER, Fulfilment.HOTLINE
DAY = 24 * 60


@dataclass(frozen=True)
class ServiceTypeDefault:
    code: str
    name: str
    category: ServiceCategory
    unit: str
    price: Decimal
    response_minutes: int
    arrival_minutes: int | None
    fulfilment: Fulfilment = P
    description: str = ""


def _d(value: str) -> Decimal:
    return Decimal(value)


SERVICE_TYPES: tuple[ServiceTypeDefault, ...] = (
    ServiceTypeDefault(
        "emergency_sos",
        "一键呼叫应急救援",
        C.EMERGENCY,
        "次",
        _d("0"),
        15,
        30,
        P,
        "SOS 呼叫: 联系老人、紧急联系人, 必要时 120/110/119, 就近服务商上门",
    ),
    ServiceTypeDefault(
        "emergency_fall", "跌倒救助", C.EMERGENCY, "次", _d("0"), 15, 30, P, "跌倒报警或来电求助"
    ),
    ServiceTypeDefault(
        "emergency_health_alarm",
        "健康异常告警处置",
        C.EMERGENCY,
        "次",
        _d("0"),
        15,
        30,
        P,
        "心率、呼吸、离床等设备告警",
    ),
    ServiceTypeDefault(
        "care_cleaning", "助洁", C.DAILY_CARE, "小时", _d("35"), 120, DAY, P, "居室保洁、衣物清洗"
    ),
    ServiceTypeDefault(
        "care_bathing", "助浴", C.DAILY_CARE, "次", _d("80"), 120, DAY, P, "上门助浴或助浴点助浴"
    ),
    ServiceTypeDefault(
        "care_walking", "助行", C.DAILY_CARE, "小时", _d("30"), 120, DAY, P, "陪同外出、散步"
    ),
    ServiceTypeDefault(
        "care_errands",
        "代买代办",
        C.DAILY_CARE,
        "次",
        _d("20"),
        60,
        240,
        P,
        "代购生活用品、代缴费用",
    ),
    ServiceTypeDefault(
        "care_repair", "维修", C.DAILY_CARE, "次", _d("50"), 60, 240, P, "水电、门窗、家电维修"
    ),
    ServiceTypeDefault(
        "care_unlock", "开锁", C.DAILY_CARE, "次", _d("60"), 15, 60, P, "老人被锁门外或无法开门"
    ),
    ServiceTypeDefault(
        "meal_delivery", "助餐送餐", C.MEALS, "餐", _d("15"), 60, 120, P, "助餐点配餐送餐上门"
    ),
    # A meal booked through meal aid is priced and subsidised per meal by meal aid itself (the
    # meal point settles it); its order carries only the trip to the door, so no per-meal rule
    # of this catalogue may pay for the same meal a second time.
    ServiceTypeDefault(
        "meal_aid_delivery",
        "助餐点送餐上门",
        C.MEALS,
        "次",
        _d("3"),
        60,
        120,
        P,
        "助餐点预订餐食的送餐服务费; 餐费与助餐补贴由助餐点结算",
    ),
    ServiceTypeDefault(
        "medical_escort", "陪同就医", C.MEDICAL, "小时", _d("40"), 60, 240, P, "陪诊、挂号、取报告"
    ),
    ServiceTypeDefault(
        "medical_medicine", "代取药", C.MEDICAL, "次", _d("20"), 60, 240, P, "代配药、送药上门"
    ),
    ServiceTypeDefault(
        "medical_rehab", "康复护理", C.MEDICAL, "次", _d("80"), 120, DAY, P, "康复训练、护理指导"
    ),
    ServiceTypeDefault(
        "comfort_visit",
        "精神慰藉(上门陪伴)",
        C.COMFORT,
        "小时",
        _d("30"),
        120,
        DAY,
        P,
        "聊天陪伴、读报",
    ),
    ServiceTypeDefault(
        "comfort_call",
        "心理疏导(电话)",
        C.COMFORT,
        "次",
        _d("0"),
        60,
        None,
        H,
        "坐席或心理咨询师电话疏导",
    ),
    ServiceTypeDefault(
        "consultation",
        "政策咨询",
        C.CONSULTATION,
        "次",
        _d("0"),
        DAY,
        None,
        H,
        "养老政策、补贴、服务咨询",
    ),
    ServiceTypeDefault(
        "complaint", "投诉", C.COMPLAINT, "次", _d("0"), DAY, None, H, "对服务或服务商的投诉"
    ),
    ServiceTypeDefault(
        "suggestion", "建议", C.COMPLAINT, "次", _d("0"), 3 * DAY, None, H, "意见建议"
    ),
    ServiceTypeDefault(
        "proactive_care_call",
        "主动关怀电话",
        C.PROACTIVE_CARE,
        "次",
        _d("0"),
        DAY,
        None,
        H,
        "独居、高龄、特困老人定期关怀; 连续未接通转上门探访",
    ),
    ServiceTypeDefault(
        "visit_home", "探访关爱", C.VISIT, "次", _d("0"), DAY, 3 * DAY, P, "上门探视, 查看居住安全"
    ),
)


@dataclass(frozen=True)
class SubsidyRuleDefault:
    elder_category: Category
    kind: SubsidyKind
    value: Decimal
    per_order_cap: Decimal | None = None
    monthly_cap: Decimal | None = None
    service_type_code: str | None = None
    note: str = ""


PCT, FIX = SubsidyKind.PERCENT, SubsidyKind.FIXED

K = Category

# Region-wide starting rules by elder category.
SUBSIDY_RULES: tuple[SubsidyRuleDefault, ...] = (
    SubsidyRuleDefault(
        K.EXTREME_HARDSHIP, PCT, _d("100"), None, _d("600"), note="特困供养: 全额补贴"
    ),
    SubsidyRuleDefault(K.CENTENARIAN, PCT, _d("100"), None, _d("500"), note="百岁老人: 全额补贴"),
    SubsidyRuleDefault(K.SUBSISTENCE, PCT, _d("80"), _d("100"), _d("300"), note="低保"),
    SubsidyRuleDefault(K.POOR_DISABLED, PCT, _d("80"), None, _d("400"), note="经济困难失能"),
    SubsidyRuleDefault(K.POOR_SEMI_DISABLED, PCT, _d("60"), None, _d("300"), note="经济困难半失能"),
    SubsidyRuleDefault(K.ENTITLED, PCT, _d("60"), None, _d("300"), note="优抚对象"),
    SubsidyRuleDefault(K.NEAR_SUBSISTENCE, PCT, _d("50"), _d("60"), _d("200"), note="低保边缘"),
    SubsidyRuleDefault(K.FAMILY_PLANNING, PCT, _d("50"), None, _d("200"), note="计生特扶"),
    SubsidyRuleDefault(K.BEREAVED_PARENT, PCT, _d("50"), None, _d("200"), note="失独"),
    SubsidyRuleDefault(K.DISABILITY, PCT, _d("30"), None, _d("150"), note="残疾"),
    SubsidyRuleDefault(K.ADVANCED_AGE, PCT, _d("30"), None, _d("100"), note="高龄"),
    SubsidyRuleDefault(
        K.ADVANCED_AGE, FIX, _d("3"), None, _d("90"), "meal_delivery", note="高龄助餐每餐补贴"
    ),
    SubsidyRuleDefault(
        K.SUBSISTENCE, FIX, _d("5"), None, _d("150"), "meal_delivery", note="低保助餐每餐补贴"
    ),
)
