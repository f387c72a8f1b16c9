"""The parties and results of the data exchange, as officers' pages name them."""

from __future__ import annotations

DEPARTMENTS = {
    "public_security": "公安部门",
    "disabled_federation": "残疾人联合会",
    "medical_insurance": "医疗保障部门",
}
OUTCOME_LABELS = {
    "accepted": "已接收",
    "repeated": "重复报送, 未变更",
    "refused": "拒收",
    "unknown_elder": "查无此老人",
}
CHANNEL_LABELS = {"api": "接口", "file": "文件上传", "command": "命令导入"}
EXPORT_STATUS_LABELS = {
    "pending": "待确认 (发送中或等待重试)",
    "acknowledged": "上级已确认",
    "refused": "上级拒收",
}
