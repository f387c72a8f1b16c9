"""Elders and devices from departments' Excel files: every kind of bad row is reported with its
row and reason and writes nothing; a clean file imports once, however often it is run."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.devices import imports as device_imports
from platform_core.devices.models import Device
from platform_core.elders import imports as elder_imports
from platform_core.elders.idcard import check_char, make_id_number
from platform_core.elders.models import Elder, FieldProvenance
from platform_core.errors import PermissionDenied
from platform_core.flows import registry_imports as flow
from platform_core.imports.workbook import FileTooLarge, WrongHeaders

OFFICER = Actor(
    kind="user", name="officer_hhht", region_code="150100000000", role=Role.OFFICER, user_id=7
)
HEADER = [c.printed for c in elder_imports.COLUMNS]


def xlsx(rows: list[list[object]], header: list[str] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header or HEADER)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def elder_row(
    seq: int,
    *,
    name: str = "巴特尔",
    region: str = "150102001001",
    phone: str = "13900471001",
    born: date = date(1941, 3, 9),
    **over: object,
) -> list[object]:
    values = {
        "name": name,
        "id_number": make_id_number("150102", born, seq),
        "ethnicity": "蒙古族",
        "address": f"新城区某街道 {seq} 号",
        "region_code": region,
        "household_address": "",
        "mobile": phone,
        "home_phone": "6912345",
        "living": "独居",
        "categories": "低保、高龄",
        "contact_name": "王小明",
        "contact_relation": "儿子",
        "contact_phone": "13800471009",
        "contact_key": "是",
    }
    values.update(over)
    return [values[c.key] for c in elder_imports.COLUMNS]


def stage_and_run(rt, content: bytes, *, write: bool, kind: str = "elders", actor=OFFICER):
    with rt.session() as s:
        batch = flow.stage_import(
            s,
            actor=actor,
            kind=kind,
            filename="民政局.xlsx",
            content=content,
            source_department="新城区民政局",
        )
        batch_id = batch.id
    with rt.session() as s:
        flow.request_run(s, actor=actor, batch_id=batch_id, write=write)
    status = flow.run_batch(rt.session_factory, batch_id)
    with rt.session() as s:
        batch = s.get(flow.ImportBatch, batch_id)
        return status, batch


def count(rt, model) -> int:
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_clean_file_imports_once_with_provenance(regions) -> None:
    content = xlsx([elder_row(i) for i in range(1, 6)])
    status, batch = stage_and_run(regions, content, write=False)
    assert (status, batch.new_rows, batch.bad_rows) == ("checked", 5, 0)
    assert count(regions, Elder) == 0  # the dry run writes nothing
    status, batch = stage_and_run(regions, content, write=True)
    assert (status, batch.new_rows) == ("imported", 5)
    with regions.session() as s:
        elder = s.scalars(select(Elder).order_by(Elder.id)).first()
        assert elder.ethnicity_code == "02" and elder.living_arrangement == "alone"
        assert {p.number for p in elder.phones} == {"13900471001", "04716912345"}
        assert elder.contacts[0].holds_key
        assert {c.category for c in elder.categories} == {"subsistence", "advanced_age"}
        fields = {
            p.field: p
            for p in s.scalars(select(FieldProvenance).where(FieldProvenance.elder_id == elder.id))
        }
        assert fields["address"].source_department == "新城区民政局"
        assert fields["address"].batch == f"import-{batch.id}"
        assert "household_address" not in fields  # left empty in the file
        assert audit.list_records(s, action="elders.import_imported")
    # the same file again: every row is on record and unchanged
    status, batch = stage_and_run(regions, content, write=True)
    assert (status, batch.new_rows, batch.unchanged_rows) == ("imported", 0, 5)
    assert count(regions, Elder) == 5


BAD_ROWS = {
    "id_check_digit": lambda: elder_row(
        2, id_number=_wrong_check(make_id_number("150102", date(1941, 3, 9), 2))
    ),
    "impossible_birth_date": lambda: elder_row(2, id_number=_with_check("15010219410231002")),
    "unknown_region": lambda: elder_row(2, region="159900000000"),
    "out_of_region": lambda: elder_row(2, region="150202000000"),
    "missing_field": lambda: elder_row(2, address=""),
    "bad_phone": lambda: elder_row(2, phone="1390047"),
    "invalid_value": lambda: elder_row(2, living="住养老院"),
}


def _with_check(first17: str) -> str:
    return first17 + check_char(first17)


def _wrong_check(number: str) -> str:
    return number[:17] + ("1" if number[17] != "1" else "2")


@pytest.mark.parametrize("code", sorted(BAD_ROWS))
def test_each_kind_of_bad_row_is_reported_and_nothing_is_written(regions, code) -> None:
    content = xlsx([elder_row(1), BAD_ROWS[code](), elder_row(3)])
    status, batch = stage_and_run(regions, content, write=True)
    assert status == "rejected"
    assert [(p["row"], p["code"]) for p in batch.problems] == [(3, code)]
    assert batch.problems[0]["message"] and batch.problems[0]["field"]
    assert count(regions, Elder) == 0  # rows 2 and 4 were good, and still nothing is written


def test_a_duplicate_within_the_file_names_the_first_row(regions) -> None:
    content = xlsx([elder_row(1), elder_row(2), elder_row(1, name="巴特尔")])
    status, batch = stage_and_run(regions, content, write=True)
    assert status == "rejected"
    assert [(p["row"], p["code"]) for p in batch.problems] == [(4, "duplicate_in_file")]
    assert "第 2 行" in batch.problems[0]["message"]
    assert count(regions, Elder) == 0


def test_an_elder_on_record_with_other_details_is_a_conflict(regions) -> None:
    stage_and_run(regions, xlsx([elder_row(1)]), write=True)
    status, batch = stage_and_run(
        regions, xlsx([elder_row(1, name="其其格"), elder_row(5)]), write=True
    )
    assert status == "rejected"
    assert batch.problems[0]["code"] == "conflicts_with_record"
    assert "姓名" in batch.problems[0]["message"]
    assert count(regions, Elder) == 1


def test_wrong_headers_and_oversized_files_are_refused_at_upload(regions) -> None:
    wrong = xlsx([elder_row(1)], header=["名字", *HEADER[1:]])
    with regions.session() as s, pytest.raises(WrongHeaders) as err:
        flow.stage_import(
            s,
            actor=OFFICER,
            kind="elders",
            filename="x.xlsx",
            content=wrong,
            source_department="民政局",
        )
    assert err.value.details["missing"] == ["姓名"] and err.value.details["unknown"] == ["名字"]
    big = b"PK" + b"\0" * (regions.settings.registry_import_max_mb * 1024 * 1024 + 1)
    with regions.session() as s, pytest.raises(FileTooLarge):
        flow.stage_import(
            s,
            actor=OFFICER,
            kind="elders",
            filename="x.xlsx",
            content=big,
            source_department="民政局",
        )
    with regions.session() as s:
        assert s.scalar(select(func.count()).select_from(flow.ImportBatch)) == 0


def test_an_agent_may_not_import(regions) -> None:
    agent = Actor(kind="user", name="agent", region_code="150100000000", role=Role.AGENT)
    with regions.session() as s, pytest.raises(PermissionDenied):
        flow.stage_import(
            s,
            actor=agent,
            kind="elders",
            filename="x.xlsx",
            content=xlsx([elder_row(1)]),
            source_department="民政局",
        )


def _device_file(rows: list[list[object]]) -> bytes:
    return xlsx(rows, header=[c.printed for c in device_imports.COLUMNS])


def test_devices_import_and_their_bad_rows(regions) -> None:
    good = [
        ["一键呼叫挂件", f"SOS-{i:04d}", "", f"1470047{i:04d}", "某科技", "SOS-1", ""]
        for i in range(1, 4)
    ]
    status, batch = stage_and_run(regions, _device_file(good), write=True, kind="devices")
    assert (status, batch.new_rows) == ("imported", 3)
    with regions.session() as s:
        device = s.scalar(select(Device).where(Device.serial == "SOS-0001"))
        assert device.status == "in_stock" and device.region_code == "150100000000"
        assert device.changes[0].to_status == "in_stock"
    bad = [
        ["一键呼叫挂件", "SOS-0001", "", "14700479999", "", "", ""],  # on record, other SIM
        ["电饭锅", "X-1", "", "", "", "", ""],  # unknown type
        ["智能手表", "W-1", "861234567890123", "", "", "", ""],  # IMEI check digit
        ["智能手表", "W-2", "", "14700470002", "", "", ""],  # SIM of SOS-0002
        ["智能手表", "W-3", "", "", "", "", ""],
        ["智能手表", "W-3", "", "", "", "", ""],  # twice in the file
    ]
    status, batch = stage_and_run(regions, _device_file(bad), write=True, kind="devices")
    assert status == "rejected"
    assert [(p["row"], p["code"]) for p in batch.problems] == [
        (3, "enum"),
        (4, "value_error"),
        (7, "duplicate_in_file"),
        (2, "conflicts_with_record"),
        (5, "duplicate_sim"),
    ]
    assert count(regions, Device) == 3
