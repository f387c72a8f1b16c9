"""Devices into stock from a supplier's or department's Excel file: the template, the rules each
row must pass (the registration form's, ``DeviceIn``) and the bulk write of the new ones.

A serial number may appear once in the file; a device already on record with the same type,
IMEI and SIM changes nothing, one that differs is reported. A SIM number in service on another
device is refused (caller identification would not know which device calls).
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from platform_core.db import bulk_insert, reserve_ids, utcnow
from platform_core.devices.lifecycle import DEVICE_TYPE_LABELS, DeviceStatus
from platform_core.devices.models import Device, DeviceStatusChange
from platform_core.devices.schemas import DeviceIn
from platform_core.imports import workbook
from platform_core.imports.workbook import Column, Outcome, RowProblem, Source, chunks, template

CHUNK = 1000
COLUMNS = (
    Column(
        "device_type", "设备类型", True, "一键呼叫挂件", note="、".join(DEVICE_TYPE_LABELS.values())
    ),
    Column("serial", "序列号", True, "SOS-2026-000001", text=True),
    Column("imei", "IMEI", False, "861234567890127", text=True, note="15 位, 含校验位"),
    Column("sim_number", "SIM卡号", False, "14700471001", text=True),
    Column("vendor", "厂商", False, "某某科技"),
    Column("model", "型号", False, "SOS-1"),
    Column("heartbeat_interval_s", "心跳间隔(秒)", False, "", note="留空按设备类型默认"),
)
HEADERS = {c.key: c.header for c in COLUMNS}
_TYPES = {label: t.value for t, label in DEVICE_TYPE_LABELS.items()}
_SERVING = [
    s.value for s in DeviceStatus if s not in (DeviceStatus.DEACTIVATED, DeviceStatus.REPLACED)
]


def template_bytes() -> bytes:
    return template(
        COLUMNS,
        title="智能设备入库",
        notes=(
            "带 * 的列必填; 第 2 行是示例, 上传前请删除或覆盖",
            "序列号在文件中只能出现一次; 已登记的设备再次导入时若信息一致则不变, 不一致则报错",
            "先「试导入」, 全部无误后再「正式导入」; 有一行错误则整个文件都不写入",
        ),
    )


def _problem(row: int, column: str, code: str, message: str) -> RowProblem:
    return RowProblem(row, HEADERS.get(column, ""), code, message)


def _check_row(number: int, record: dict[str, str]) -> DeviceIn | list[RowProblem]:
    missing = [c for c in COLUMNS if c.required and not record.get(c.key)]
    if missing:
        return [
            _problem(number, c.key, "missing_field", f"{c.header}为必填项 / required")
            for c in missing
        ]
    data = {k: v for k, v in record.items() if v}
    data["device_type"] = _TYPES.get(data["device_type"], data["device_type"])
    try:
        return DeviceIn.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            code = "bad_phone" if key == "sim_number" else str(err["type"])
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            if key == "device_type":
                message = f"未知设备类型: {record.get('device_type')} / unknown device type"
            out.append(_problem(number, key, code, message))
        return out


def process(session: Session, run: workbook.ImportPass) -> Outcome:
    """Check every row; with ``source``, also take the new devices into stock (in
    ``scope_region``, the keeper's)."""
    outcome = Outcome()
    seen: dict[str, int] = {}
    sims: dict[str, int] = {}
    for chunk in chunks(run.rows, CHUNK):
        checked: list[tuple[int, DeviceIn]] = []
        for number, record in chunk:
            outcome.rows += 1
            result = _check_row(number, record)
            if isinstance(result, list):
                outcome.problems.extend(result)
                continue
            first = seen.setdefault(result.serial, number)
            if first != number:
                outcome.problems.append(
                    _problem(
                        number,
                        "serial",
                        "duplicate_in_file",
                        f"与第 {first} 行序列号重复 / same serial as row {first}",
                    )
                )
                continue
            if result.sim_number:
                sim_first = sims.setdefault(result.sim_number, number)
                if sim_first != number:
                    outcome.problems.append(
                        _problem(
                            number,
                            "sim_number",
                            "duplicate_in_file",
                            f"与第 {sim_first} 行 SIM 卡号重复 / same SIM as row {sim_first}",
                        )
                    )
                    continue
            checked.append((number, result))
        existing = {
            d.serial: d
            for d in session.scalars(
                select(Device).where(Device.serial.in_([d.serial for _, d in checked]))
            )
        }
        sim_users = dict(
            session.execute(
                select(Device.sim_number, Device.serial).where(
                    Device.sim_number.in_([d.sim_number for _, d in checked if d.sim_number]),
                    Device.status.in_(_SERVING),
                )
            ).all()
        )
        fresh: list[DeviceIn] = []
        for number, data in checked:
            device = existing.get(data.serial)
            if device is not None:
                if (device.device_type, device.imei, device.sim_number) == (
                    data.device_type.value,
                    data.imei,
                    data.sim_number,
                ):
                    outcome.unchanged += 1
                else:
                    outcome.problems.append(
                        _problem(
                            number,
                            "serial",
                            "conflicts_with_record",
                            f"序列号已登记 (设备 {device.id}), 但类型、IMEI 或 SIM 卡号不一致 / "
                            "on record with different details",
                        )
                    )
                continue
            user = sim_users.get(data.sim_number) if data.sim_number else None
            if user is not None:
                outcome.problems.append(
                    _problem(
                        number,
                        "sim_number",
                        "duplicate_sim",
                        f"该 SIM 卡号已用于设备 {user} / SIM used by another device",
                    )
                )
                continue
            fresh.append(data)
        if fresh:
            imeis = [d.imei for d in fresh if d.imei]
            taken = set(session.scalars(select(Device.imei).where(Device.imei.in_(imeis))))
            for data in list(fresh):
                if data.imei in taken:
                    number = next(n for n, d in checked if d is data)
                    outcome.problems.append(
                        _problem(
                            number,
                            "imei",
                            "duplicate_imei",
                            "IMEI 已登记 / IMEI already registered",
                        )
                    )
                    fresh.remove(data)
        outcome.new += len(fresh)
        if run.source is not None and not outcome.problems and fresh:
            outcome.ids.extend(_write(session, fresh, run.scope_region, run.source))
        run.tell(outcome)
    return outcome


def _write(session: Session, rows: list[DeviceIn], region_code: str, source: Source) -> list[int]:
    now = utcnow()
    values = [
        {
            "device_type": d.device_type.value,
            "serial": d.serial,
            "imei": d.imei,
            "sim_number": d.sim_number,
            "vendor": d.vendor,
            "model": d.model,
            "heartbeat_interval_s": d.heartbeat_interval_s,
            "status": DeviceStatus.IN_STOCK.value,
            "region_code": region_code,
            "created_at": now,
            "updated_at": now,
        }
        for d in rows
    ]
    if session.get_bind().dialect.name == "postgresql":
        ids = reserve_ids(session, Device.__table__, len(values))
        bulk_insert(
            session, Device.__table__, [{"id": i, **v} for i, v in zip(ids, values, strict=True)]
        )
    else:
        ids = list(session.scalars(insert(Device).returning(Device.id), values))
    reason = f"入库 (导入 {source.batch}, {source.source_department})"[:255]
    bulk_insert(
        session,
        DeviceStatusChange.__table__,
        [
            {
                "device_id": i,
                "from_status": None,
                "to_status": DeviceStatus.IN_STOCK.value,
                "at": now,
                "actor_kind": "user",
                "actor_name": source.source_department[:64],
                "reason": reason,
            }
            for i in ids
        ],
    )
    return ids
