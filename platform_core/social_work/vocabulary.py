"""The words of social work (社会工作): a case's statuses and steps, the domains a needs
assessment covers, the kinds of visit and why a case closes."""

from __future__ import annotations

STATUS_LABELS = {
    "referred": "待接案",
    "intake": "已接案",
    "assessed": "已评估需求",
    "in_service": "服务中",
    "closed": "已结案",
}
OPEN_STATUSES = ("referred", "intake", "assessed", "in_service")
# the statuses a worker carries the case in (its caseload)
CARRIED = ("intake", "assessed", "in_service")

ACTION_LABELS = {
    "refer": "转介",
    "assign": "派给社工",
    "accept": "接案",
    "decline": "退回",
    "assess": "评估需求",
    "plan": "制定服务计划",
    "visit": "记录探访",
    "review": "回顾评估",
    "close": "结案",
}

TRANSITIONS = {
    ("referred", "accept"): "intake",
    ("referred", "decline"): "referred",
    ("intake", "decline"): "referred",
    ("intake", "assess"): "assessed",
    ("assessed", "assess"): "assessed",
    ("assessed", "plan"): "in_service",
    ("in_service", "plan"): "in_service",
    ("in_service", "review"): "in_service",
    ("intake", "close"): "closed",
    ("assessed", "close"): "closed",
    ("in_service", "close"): "closed",
    ("referred", "close"): "closed",
}

SOURCES = {"hotline": "热线转介", "officer": "民政转介", "online": "在线受理转介"}

NEED_DOMAINS = {
    "daily_living": "生活照料",
    "health": "健康状况",
    "mental": "心理情绪",
    "social": "社会关系",
    "economic": "经济状况",
    "housing": "居住安全",
    "rights": "权益保障",
}
NEED_LEVELS = {"none": "无", "low": "低", "medium": "中", "high": "高"}

PLAN_SERVICES = {
    "visiting": "定期探访",
    "counselling": "心理疏导",
    "resources": "资源链接",
    "family": "家庭关系调适",
    "group": "小组活动",
    "advocacy": "权益维护",
    "referral": "转介其他服务",
}

VISIT_KINDS = {"home": "入户探访", "phone": "电话回访", "site": "站点面谈", "online": "在线沟通"}
# what the case's notes hold: visits, and the accounts of reviews and of the closing
NOTE_KINDS = {**VISIT_KINDS, "review": "回顾评估", "closing": "结案小结"}

CLOSE_REASONS = {
    "goals_met": "服务目标达成",
    "declined": "老人拒绝服务",
    "moved": "迁出服务范围",
    "deceased": "老人离世",
    "transferred": "转介其他机构",
    "no_contact": "长期无法联系",
}

QUALIFICATIONS = {
    "assistant": "助理社会工作师",
    "social_worker": "社会工作师",
    "senior": "高级社会工作师",
    "none": "未取得职业资格",
}
