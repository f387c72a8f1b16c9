"""Chinese SMS templates (短信模板). A message is a template code plus its parameters; the text
is rendered here, so every module sends the same wording and a missing parameter is caught
before anything is queued."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from platform_core.errors import ValidationFailed

SIGNATURE = "【12349养老服务热线】"

TEMPLATES: dict[str, str] = {
    # to the provider (its contact phone) when an order is dispatched to it
    "order_dispatched_provider": (
        "新工单{order_no}: {service}, {urgency}, 地址{address}。请在{accept_minutes}分钟内登录服务商平台接单。"
    ),
    # to the staff member who goes
    "staff_assigned": (
        "{staff_name}您好, 请上门服务: 工单{order_no}, {service}, 老人{elder_name}, 地址{address}, "
        "联系电话{elder_phone}。"
    ),
    "order_cancelled_provider": "工单{order_no}已取消, 原因: {reason}。无需再上门。",
    # to the elder's family
    "order_accepted_family": (
        "您的家人{elder_name}申请的{service}服务已由{provider_name}接单, 服务人员{staff_name}。"
        "如有疑问请拨打12349。"
    ),
    "order_checked_in_family": (
        "服务人员{staff_name}已于{time}到达{elder_name}家中, 开始{service}服务。"
    ),
    "order_completed_family": (
        "{elder_name}的{service}服务已于{time}完成。对服务有意见或建议, 请拨打12349。"
    ),
    # to the elder (or the family): the code the elder reads out to confirm the service
    "confirmation_code": (
        "服务确认码{code}。服务完成后请把确认码告诉服务人员; 未接受服务请勿告知, 并拨打12349。"
    ),
    # alarms and devices
    "alarm_family": (
        "{elder_name}的{device}于{time}发出{alarm}报警, 热线正在处置, 请尽快与老人联系。"
    ),
    # day care: the family's code that checks the elder in and out at the centre
    "daycare_family_code": (
        "{elder_name}在{site}日间照料的家属码为{code}, 接送时出示即可签到签退, 请妥善保管, 勿告知他人。"
    ),
    # the family (用户端): an invitation that opens a family member's own login
    "family_invitation": (
        "{name}您好, 12349热线邀请您开通{elder_name}的家属服务, 可查看服务工单、报警和设备状态并评价服务。"
        "邀请码{code}, {hours}小时内有效, 仅能使用一次: {link}"
    ),
    # a code that proves the phone (volunteer registration, the online channel)
    "verification_code": "您的{purpose}验证码为{code}, {minutes}分钟内有效。如非本人操作, 请忽略。",
    # free text composed by another module (care calls, notices)
    "notice": "{text}",
}


def parameters_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(TEMPLATES[template]) if name}


def render(template: str, params: Mapping[str, Any]) -> str:
    """The message text, or ValidationFailed naming the unknown template or missing fields."""
    if template not in TEMPLATES:
        raise ValidationFailed(
            f"未知短信模板: {template} / unknown SMS template",
            code="unknown_sms_template",
            allowed=sorted(TEMPLATES),
        )
    missing = sorted(p for p in parameters_of(template) if params.get(p) in (None, ""))
    if missing:
        raise ValidationFailed(
            f"短信模板 {template} 缺少参数: {', '.join(missing)} / missing template parameters",
            code="sms_params_missing",
            missing=missing,
        )
    text = TEMPLATES[template].format(**{k: str(v) for k, v in params.items()})
    return SIGNATURE + text
