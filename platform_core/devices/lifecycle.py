"""Device types, statuses and the allowed status transitions, kept in one table.

DOMAIN.md section 9: in stock -> bound, awaiting install -> online <-> offline / low battery /
fault -> under repair -> online or replaced; deactivated and recovered when the elder dies.
Other modules (heartbeats, alarms, repairs) add their transitions here, not in their own code.
"""

from __future__ import annotations

from enum import StrEnum

from platform_core.errors import IllegalTransition


class DeviceType(StrEnum):
    SOS_PENDANT = "sos_pendant"
    FIXED_CALLER = "fixed_caller"
    SMART_WATCH = "smart_watch"
    FALL_DETECTOR = "fall_detector"
    SMART_MATTRESS = "smart_mattress"
    PIR = "pir"
    DOOR = "door"
    SMOKE = "smoke"
    GAS = "gas"
    WATER = "water"


DEVICE_TYPE_LABELS = {
    DeviceType.SOS_PENDANT: "一键呼叫挂件",
    DeviceType.FIXED_CALLER: "一键呼叫座机",
    DeviceType.SMART_WATCH: "智能手表",
    DeviceType.FALL_DETECTOR: "跌倒探测器",
    DeviceType.SMART_MATTRESS: "智能床垫",
    DeviceType.PIR: "人体红外感应",
    DeviceType.DOOR: "门磁",
    DeviceType.SMOKE: "烟感",
    DeviceType.GAS: "燃气探测器",
    DeviceType.WATER: "水浸探测器",
}

# Types that carry a SIM and place voice calls to the hotline.
VOICE_TYPES = frozenset({DeviceType.SOS_PENDANT, DeviceType.FIXED_CALLER, DeviceType.SMART_WATCH})


class DeviceStatus(StrEnum):
    IN_STOCK = "in_stock"
    BOUND = "bound"
    INSTALLED = "installed"
    ONLINE = "online"
    OFFLINE = "offline"
    LOW_BATTERY = "low_battery"
    FAULT = "fault"
    UNDER_REPAIR = "under_repair"
    REPLACED = "replaced"
    DEACTIVATED = "deactivated"


STATUS_LABELS = {
    DeviceStatus.IN_STOCK: "库存",
    DeviceStatus.BOUND: "已绑定待安装",
    DeviceStatus.INSTALLED: "已安装",
    DeviceStatus.ONLINE: "在线",
    DeviceStatus.OFFLINE: "离线",
    DeviceStatus.LOW_BATTERY: "低电量",
    DeviceStatus.FAULT: "故障",
    DeviceStatus.UNDER_REPAIR: "维修中",
    DeviceStatus.REPLACED: "已更换",
    DeviceStatus.DEACTIVATED: "已停用",
}

S = DeviceStatus
# Statuses in which a device serves an elder (bound to one). Unbinding returns it to stock.
IN_SERVICE = frozenset(
    {S.BOUND, S.INSTALLED, S.ONLINE, S.OFFLINE, S.LOW_BATTERY, S.FAULT, S.UNDER_REPAIR}
)

TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    S.IN_STOCK: frozenset({S.BOUND, S.DEACTIVATED}),
    S.BOUND: frozenset({S.INSTALLED, S.ONLINE, S.IN_STOCK, S.DEACTIVATED}),
    S.INSTALLED: frozenset({S.ONLINE, S.OFFLINE, S.FAULT, S.IN_STOCK, S.DEACTIVATED}),
    S.ONLINE: frozenset({S.OFFLINE, S.LOW_BATTERY, S.FAULT, S.IN_STOCK, S.DEACTIVATED}),
    S.OFFLINE: frozenset(
        {S.ONLINE, S.LOW_BATTERY, S.FAULT, S.UNDER_REPAIR, S.IN_STOCK, S.DEACTIVATED}
    ),
    S.LOW_BATTERY: frozenset({S.ONLINE, S.OFFLINE, S.FAULT, S.IN_STOCK, S.DEACTIVATED}),
    S.FAULT: frozenset({S.UNDER_REPAIR, S.ONLINE, S.REPLACED, S.IN_STOCK, S.DEACTIVATED}),
    S.UNDER_REPAIR: frozenset({S.ONLINE, S.REPLACED, S.IN_STOCK, S.DEACTIVATED}),
    S.REPLACED: frozenset({S.IN_STOCK, S.DEACTIVATED}),  # back to stock once mended, or scrapped
    S.DEACTIVATED: frozenset({S.IN_STOCK}),
}


def can_transition(current: str, target: str) -> bool:
    return DeviceStatus(target) in TRANSITIONS[DeviceStatus(current)]


def check_transition(current: str, target: str) -> None:
    """Raise ``IllegalTransition`` naming both statuses when the move is not allowed."""
    if not can_transition(current, target):
        a, b = STATUS_LABELS[DeviceStatus(current)], STATUS_LABELS[DeviceStatus(target)]
        raise IllegalTransition(
            f"设备状态不能从「{a}」变为「{b}」 / device cannot go from {current} to {target}",
            code="illegal_device_transition",
            current=current,
            target=target,
        )
