"""Practitioners' qualifications kept as free JSON before become rows of their own with dates
(an unreadable date stays "no expiry", as it counted before), and a downgrade gives the JSON
back. The assignment rule reads the rows (tests/platform_core/test_staff_qualifications.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from platform_core import migrate
from platform_core.db import make_engine
from platform_core.providers.models import ProviderStaff
from tests.platform_core.test_migrations import empty_pg  # noqa: F401 - the fixture

BEFORE = "0018_volunteers_time_bank"
OLD = [
    {"name": "养老护理员", "level": "四级", "number": "2019-0042", "valid_until": "2027-06-30"},
    {"name": "健康证", "valid_until": "2020-01-31"},
    {"name": "急救员证", "valid_until": "不详"},
    {"level": "no name"},
]


def _seed(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_code, dictionary_version) VALUES "
                "('150000000000', '内蒙古自治区', 1, NULL, 't'), "
                "('150102000000', '新城区', 3, '150000000000', 't')"
            )
        )
        c.execute(
            text(
                "INSERT INTO providers (id, name, credit_code, kind, region_code, address, "
                "contact_name, contact_phone, capacity, status, status_reason, grade, "
                "credit_score, created_at, updated_at) VALUES (1, '康乐中心', "
                "'52150102MJY000001X', '', '150102000000', '', '', '13947100001', 10, "
                "'normal', '', 'B', 80, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO provider_staff (id, provider_id, name, phone, id_number_sealed, "
                "id_number_index, id_number_masked, skills, qualifications, active, created_at, "
                "updated_at) VALUES (5, 1, '王秀英', '13947100002', 'x', 'i', 'm', '[]', :q, "
                "true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"q": json.dumps(OLD, ensure_ascii=False)},
        )
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_json_qualifications_become_rows_and_come_back(backend, request, tmp_path) -> None:
    url = (
        request.getfixturevalue("empty_pg")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'm.db'}"
    )
    migrate.upgrade(url, BEFORE)
    _seed(url)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            staff = s.get(ProviderStaff, 5)
            assert [(q.name, q.level, q.number, q.valid_until) for q in staff.qualifications] == [
                ("养老护理员", "四级", "2019-0042", date(2027, 6, 30)),
                ("健康证", "", "", date(2020, 1, 31)),
                ("急救员证", "", "", None),
            ]
            assert staff.user_id is None and staff.deactivation_reason == ""
    finally:
        engine.dispose()
    migrate.downgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            raw = c.execute(text("SELECT qualifications FROM provider_staff")).scalar_one()
        back = json.loads(raw) if isinstance(raw, str) else raw
        assert back == [
            {
                "name": "养老护理员",
                "level": "四级",
                "number": "2019-0042",
                "valid_until": "2027-06-30",
            },
            {"name": "健康证", "valid_until": "2020-01-31"},
            {"name": "急救员证"},
        ]
    finally:
        engine.dispose()
