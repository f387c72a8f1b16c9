"""Rejected device messages on PostgreSQL: each row written on its own, whatever it holds;
read back by reason and vendor with ``hotline devices rejects``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from callcenter.alarm_intake.rejects import RejectLog
from hotline.cli import cli
from platform_core.alarms.models import RejectedDeviceMessage
from platform_core.audit.models import AuditRecord
from tests.callcenter.alarm_intake_support import cli_environment


def _add(log: RejectLog, raw: str | bytes, detail: str = "") -> None:
    log.add(
        reason="malformed",
        detail=detail or "not JSON",
        transport="mqtt",
        vendor="ankang",
        source="hotline/dev/ankang/864512030000019/alarm",
        raw=raw,
    )


def _stored(runtime) -> list[tuple[str, str]]:
    with runtime.session() as s:
        return [
            (r.detail, r.raw)
            for r in s.scalars(select(RejectedDeviceMessage).order_by(RejectedDeviceMessage.id))
        ]


def test_a_nul_byte_is_stored_and_costs_no_neighbour(runtime) -> None:
    log = RejectLog(runtime)
    _add(log, b"{first", "before")
    _add(log, b'{"dev":"A\x00B"', "nul \x00 in the detail")
    _add(log, '{"dev":"\ud800"}', "lone surrogate")  # json.loads makes such strings
    _add(log, b"{last", "after")
    log.close()
    stored = _stored(runtime)
    assert [d for d, _raw in stored] == [
        "before",
        "nul \\x00 in the detail",
        "lone surrogate",
        "after",
    ]
    assert stored[1][1] == '{"dev":"A\\x00B"' and stored[2][1] == '{"dev":"\\ud800"}'
    assert log.counts["malformed"] == 4 and log.unstored == 0


@pytest.fixture
def refuse_one_raw(runtime):
    """The database refuses rows whose raw text is 'refuse me' (a trigger), as it would a row
    that breaks a rule nobody foresaw."""
    with runtime.engine.begin() as c:
        c.execute(
            text(
                "CREATE FUNCTION refuse_raw() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.raw = 'refuse me' THEN RAISE EXCEPTION 'refused by trigger'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        c.execute(
            text(
                "CREATE TRIGGER refuse_raw BEFORE INSERT ON rejected_device_messages "
                "FOR EACH ROW EXECUTE FUNCTION refuse_raw()"
            )
        )
    yield
    with runtime.engine.begin() as c:
        c.execute(text("DROP TRIGGER refuse_raw ON rejected_device_messages"))
        c.execute(text("DROP FUNCTION refuse_raw()"))


def test_a_row_the_database_refuses_costs_no_neighbour(runtime, refuse_one_raw) -> None:
    log = RejectLog(runtime)
    for raw in ["one", "two", "refuse me", "four", "five"]:
        _add(log, raw, raw)
    log.close()
    # the refused row is kept without its raw text; nothing else is lost
    assert [raw for _d, raw in _stored(runtime)] == [
        "one",
        "two",
        "(原文无法保存 / raw text not storable)",
        "four",
        "five",
    ]
    assert log.unstored == 0


def test_rejects_are_seen_by_reason_and_vendor_and_raw_text_is_audited(
    runtime, monkeypatch
) -> None:
    log = RejectLog(runtime, per_minute=3)
    for n in range(5):  # 3 kept in full, 2 more counted on one row
        log.add(
            reason="too_deep",
            detail="嵌套超过 8 层",
            transport="mqtt",
            vendor="ankang",
            source="hotline/dev/ankang/X/alarm",
            raw=f"[[[[{n}",
        )
    _add(log, b"{broken")
    log.close()
    cli_environment(runtime, monkeypatch)
    runner = CliRunner()
    seen = runner.invoke(cli, ["devices", "rejects", "--hours", "1"])
    assert seen.exit_code == 0, seen.output
    report = json.loads(seen.output)
    assert [(t["reason"], t["vendor"], t["messages"], t["rows"]) for t in report["totals"]] == [
        ("too_deep", "ankang", 5, 4),
        ("malformed", "ankang", 1, 1),
    ]
    assert len(report["latest"]) == 5 and all("raw" not in r for r in report["latest"])
    with runtime.session() as s:
        assert not s.scalars(
            select(AuditRecord).where(AuditRecord.action == "view_rejected_raw")
        ).all()
    raw = runner.invoke(cli, ["devices", "rejects", "--reason", "malformed", "--raw"])
    assert raw.exit_code == 0, raw.output
    [row] = json.loads(raw.output)["latest"]
    assert row["raw"] == "{broken"
    with runtime.session() as s:
        [audited] = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "view_rejected_raw")
        ).all()
    assert audited.detail == {"ids": [row["id"]]}
