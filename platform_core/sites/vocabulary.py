"""The words of the service-site registry: kinds of site, what a site offers, staff posts."""

from __future__ import annotations

from enum import StrEnum


class SiteKind(StrEnum):
    COMMUNITY_STATION = "community_station"  # 社区养老服务站 (嘎查村、社区)
    STREET_CENTRE = "street_centre"  # 街道(苏木乡镇)综合养老服务中心
    DAY_CARE = "day_care"  # 日间照料中心
    MEAL_POINT = "meal_point"  # 助餐点 (platform_core.meal_aid keeps its menus and meals)


KIND_LABELS = {
    SiteKind.COMMUNITY_STATION: "社区养老服务站",
    SiteKind.STREET_CENTRE: "街道综合养老服务中心",
    SiteKind.DAY_CARE: "日间照料中心",
    SiteKind.MEAL_POINT: "助餐点",
}


class SiteStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"  # 暂停服务 (renovation, an inspection's findings)
    CLOSED = "closed"  # 已撤销: kept for its history


STATUS_LABELS = {
    SiteStatus.OPEN: "运营中",
    SiteStatus.SUSPENDED: "暂停服务",
    SiteStatus.CLOSED: "已撤销",
}

# What a site offers on its premises (a site may offer several).
SITE_SERVICES = {
    "day_care": "日间照料",
    "meals": "助餐",
    "bathing": "助浴",
    "rehab": "康复护理",
    "health_check": "健康监测",
    "activities": "文娱活动",
    "counselling": "心理慰藉",
    "short_stay": "短期托养",
    "volunteering": "志愿服务",
}

STAFF_POSTS = {
    "manager": "负责人",
    "carer": "护理员",
    "cook": "厨师",
    "social_worker": "社工",
    "medic": "医护人员",
    "volunteer_coordinator": "志愿者协调员",
    "other": "其他",
}

# ISO weekdays as the opening hours name them.
WEEKDAYS = {
    "1": "周一",
    "2": "周二",
    "3": "周三",
    "4": "周四",
    "5": "周五",
    "6": "周六",
    "7": "周日",
}

CHECK_METHODS = {
    "id_card": "身份证",
    "family_code": "家属码",
    "staff": "工作人员登记",
}
