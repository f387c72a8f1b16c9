"""The closed vocabularies of alarms: types, classes, statuses, ladder rungs, steps, outcomes.

DOMAIN.md section 8: alarms carry alarm / restore, an event code and an optional position, are
de-duplicated, and are handled along one ladder: talk to the elder -> landline -> emergency
contacts (key holder first when the door must be opened) -> 120 / 110 / 119 -> the nearest
provider on site.
"""

from __future__ import annotations

from enum import StrEnum


class AlarmType(StrEnum):
    SOS = "sos"
    FALL = "fall"
    SMOKE = "smoke"
    GAS = "gas"
    WATER = "water"
    NO_ACTIVITY = "no_activity"
    HEALTH_THRESHOLD = "health_threshold"
    LOW_BATTERY = "low_battery"
    LINK_FAULT = "link_fault"


ALARM_TYPE_LABELS = {
    AlarmType.SOS: "一键呼叫",
    AlarmType.FALL: "跌倒",
    AlarmType.SMOKE: "烟雾",
    AlarmType.GAS: "燃气泄漏",
    AlarmType.WATER: "水浸",
    AlarmType.NO_ACTIVITY: "长时间无活动",
    AlarmType.HEALTH_THRESHOLD: "健康指标异常",
    AlarmType.LOW_BATTERY: "低电量",
    AlarmType.LINK_FAULT: "设备离线",
}


class AlarmClass(StrEnum):
    EMERGENCY = "emergency"  # a person may be hurt now: jumps every queue
    HAZARD = "hazard"  # the home is in danger (fire, gas, water)
    WELLBEING = "wellbeing"  # something may be wrong with the elder
    TECHNICAL = "technical"  # the device needs attention, not the elder


CLASS_OF = {
    AlarmType.SOS: AlarmClass.EMERGENCY,
    AlarmType.FALL: AlarmClass.EMERGENCY,
    AlarmType.SMOKE: AlarmClass.HAZARD,
    AlarmType.GAS: AlarmClass.HAZARD,
    AlarmType.WATER: AlarmClass.HAZARD,
    AlarmType.NO_ACTIVITY: AlarmClass.WELLBEING,
    AlarmType.HEALTH_THRESHOLD: AlarmClass.WELLBEING,
    AlarmType.LOW_BATTERY: AlarmClass.TECHNICAL,
    AlarmType.LINK_FAULT: AlarmClass.TECHNICAL,
}

# Lower is more urgent; the panel and the offer order sort by it, then by age.
PRIORITY_OF = {
    AlarmClass.EMERGENCY: 1,
    AlarmClass.HAZARD: 2,
    AlarmClass.WELLBEING: 3,
    AlarmClass.TECHNICAL: 4,
}

# Alarms a person must answer: the KPIs' "answered within" shares count these only. Technical
# alarms go to maintenance and close themselves when the device restores.
NEEDS_PERSON = frozenset(t for t, c in CLASS_OF.items() if c is not AlarmClass.TECHNICAL)
# A restore closes these on its own while nobody has taken them yet.
AUTO_CLOSE_ON_RESTORE = frozenset(t for t, c in CLASS_OF.items() if c is AlarmClass.TECHNICAL)
# The family is told by SMS as soon as one of these is raised.
NOTIFY_FAMILY_ON_RAISE = frozenset({AlarmType.SOS, AlarmType.FALL, AlarmType.SMOKE, AlarmType.GAS})


def class_of(alarm_type: str) -> AlarmClass:
    return CLASS_OF[AlarmType(alarm_type)]


def priority_of(alarm_type: str) -> int:
    return PRIORITY_OF[class_of(alarm_type)]


class AlarmStatus(StrEnum):
    WAITING = "waiting"  # offered, nobody has taken it
    HANDLING = "handling"  # an agent took it and works down the ladder
    CLOSED = "closed"  # closed with an outcome
    SUPPRESSED = "suppressed"  # recorded only: the device serves nobody (deceased, deactivated)


STATUS_LABELS = {
    AlarmStatus.WAITING: "待接警",
    AlarmStatus.HANDLING: "处置中",
    AlarmStatus.CLOSED: "已结案",
    AlarmStatus.SUPPRESSED: "已抑制",
}
OPEN_STATUSES = frozenset({AlarmStatus.WAITING, AlarmStatus.HANDLING})


class Rung(StrEnum):
    """The rungs of the ladder, in order; each has its own timer."""

    TALK_TO_ELDER = "talk_to_elder"
    CALL_LANDLINE = "call_landline"
    CALL_CONTACT = "call_contact"
    CALL_EMERGENCY = "call_emergency"
    DISPATCH_PROVIDER = "dispatch_provider"
    ON_SITE = "on_site"


RUNG_LABELS = {
    Rung.TALK_TO_ELDER: "与老人通话",
    Rung.CALL_LANDLINE: "拨打家中座机",
    Rung.CALL_CONTACT: "联系紧急联系人",
    Rung.CALL_EMERGENCY: "呼叫 120/110/119",
    Rung.DISPATCH_PROVIDER: "派就近服务商上门",
    Rung.ON_SITE: "人员到场",
}
LADDER = tuple(Rung)


class Step(StrEnum):
    """What an agent (or the system) did on an alarm; each is one button on the panel."""

    TAKE = "take"
    TALK_TO_ELDER = "talk_to_elder"
    CALL_LANDLINE = "call_landline"
    CALL_CONTACT = "call_contact"
    CALL_120 = "call_120"
    CALL_110 = "call_110"
    CALL_119 = "call_119"
    DISPATCH_PROVIDER = "dispatch_provider"
    ON_SITE = "on_site"
    NOTIFY_FAMILY = "notify_family"
    NOTE = "note"
    TRANSFER = "transfer"


STEP_LABELS = {
    Step.TAKE: "接警",
    Step.TALK_TO_ELDER: "与老人通话",
    Step.CALL_LANDLINE: "拨打座机",
    Step.CALL_CONTACT: "联系紧急联系人",
    Step.CALL_120: "呼叫 120 急救",
    Step.CALL_110: "呼叫 110 报警",
    Step.CALL_119: "呼叫 119 消防",
    Step.DISPATCH_PROVIDER: "派服务商上门",
    Step.ON_SITE: "人员到场",
    Step.NOTIFY_FAMILY: "短信通知家属",
    Step.NOTE: "备注",
    Step.TRANSFER: "转交",
}

RUNG_OF_STEP = {
    Step.TALK_TO_ELDER: Rung.TALK_TO_ELDER,
    Step.CALL_LANDLINE: Rung.CALL_LANDLINE,
    Step.CALL_CONTACT: Rung.CALL_CONTACT,
    Step.CALL_120: Rung.CALL_EMERGENCY,
    Step.CALL_110: Rung.CALL_EMERGENCY,
    Step.CALL_119: Rung.CALL_EMERGENCY,
    Step.DISPATCH_PROVIDER: Rung.DISPATCH_PROVIDER,
    Step.ON_SITE: Rung.ON_SITE,
}


class StepResult(StrEnum):
    DIALLED = "dialled"  # the call is being placed; its result comes as another step
    REACHED = "reached"  # spoke to the person
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # could not be placed (no number, telephony refused)
    DONE = "done"  # done outright (an order opened, a note written, someone on site)


RESULT_LABELS = {
    StepResult.DIALLED: "已拨出",
    StepResult.REACHED: "已接通",
    StepResult.NO_ANSWER: "无人接听",
    StepResult.BUSY: "占线",
    StepResult.FAILED: "未能拨出",
    StepResult.DONE: "已完成",
}
# A rung is settled (the ladder moves on without prompting) by one of these.
SETTLING = frozenset({StepResult.REACHED, StepResult.DONE})

# Which emergency service a rung suggests for each type: fire for smoke and gas, 120 otherwise.
EMERGENCY_SERVICE = {
    AlarmType.SMOKE: Step.CALL_119,
    AlarmType.GAS: Step.CALL_119,
}
EMERGENCY_NUMBERS = {Step.CALL_120: "120", Step.CALL_110: "110", Step.CALL_119: "119"}


class Outcome(StrEnum):
    """Why an alarm was closed; nothing closes without one."""

    FALSE_ALARM = "false_alarm"  # 误报 (pressed by mistake, sensor misfired)
    ELDER_SAFE = "elder_safe"  # 电话确认老人安全
    FAMILY_HANDLED = "family_handled"  # 家属已到场处理
    PROVIDER_HANDLED = "provider_handled"  # 服务商上门处理
    EMERGENCY_SERVICES = "emergency_services"  # 已由 120/110/119 处置
    HOSPITALISED = "hospitalised"  # 已送医
    DEVICE_FAULT = "device_fault"  # 设备故障, 已报修
    RESTORED = "restored"  # 设备已复位 (system)
    ELDER_DECEASED = "elder_deceased"  # 老人已故 (system)
    DUPLICATE = "duplicate"  # 与另一告警为同一事件


OUTCOME_LABELS = {
    Outcome.FALSE_ALARM: "误报",
    Outcome.ELDER_SAFE: "已确认老人安全",
    Outcome.FAMILY_HANDLED: "家属已处理",
    Outcome.PROVIDER_HANDLED: "服务商上门处理",
    Outcome.EMERGENCY_SERVICES: "已由急救/消防/公安处置",
    Outcome.HOSPITALISED: "已送医",
    Outcome.DEVICE_FAULT: "设备故障已报修",
    Outcome.RESTORED: "设备已复位",
    Outcome.ELDER_DECEASED: "老人已故",
    Outcome.DUPLICATE: "重复告警",
}
# Outcomes only the system gives (a person picks one of the others).
SYSTEM_OUTCOMES = frozenset({Outcome.RESTORED, Outcome.ELDER_DECEASED})
