"""The words of volunteering: skills, an activity's and a sign-up's states."""

from __future__ import annotations

SKILLS = {
    "companionship": "陪伴聊天",
    "cleaning": "助洁",
    "errands": "代买代办",
    "repair": "家电维修",
    "escort": "陪同就医",
    "haircut": "理发",
    "digital": "智能手机教学",
    "culture": "文体活动",
    "legal": "法律咨询",
    "counselling": "心理疏导",
    "first_aid": "急救",
}
ACTIVITY_STATUS = {"published": "报名中", "cancelled": "已取消", "finished": "已结束"}
SIGNUP_STATUS = {
    "signed_up": "已报名",
    "cancelled": "已取消",
    "checked_in": "已签到",
    "confirmed": "已确认时数",
    "absent": "缺席",
}
# services a time-bank member may redeem hours for (the catalogue's, delivered by volunteers
# or a provider), and the hours each costs per session
REDEEMABLE = {
    "comfort_visit": "上门陪伴",
    "care_cleaning": "助洁",
    "care_errands": "代买代办",
    "medical_escort": "陪同就医",
}
MIN_AGE = 16
