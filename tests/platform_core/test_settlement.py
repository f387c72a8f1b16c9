"""Settlement per provider and month: the catalogue's subsidy and self-pay split, each order
settled once (also when two settle at the same moment), pending orders left for later, CSV and
Excel exports audited, and who may settle."""

from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.db import utcnow
from platform_core.errors import Conflict, PermissionDenied, ValidationFailed
from platform_core.orders import return_visits
from platform_core.orders.periods import month_of
from platform_core.settlement import service as settlement
from platform_core.settlement.models import SettlementLine
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import AGENT, OFFICER, SUPERVISOR, order_of
from tests.platform_core.test_evaluation import serve

rt, world = support.rt, support.world  # the shared fixtures


def visited(rt, provider, elder_id: int, service: str = "care_cleaning") -> int:
    oid = serve(rt, provider, elder_id, service=service)
    with rt.session() as s:
        return_visits.record_visit(s, actor=AGENT, order_id=oid, result="satisfied", satisfaction=5)
    return oid


def this_month(rt) -> str:
    return month_of(utcnow(), rt.settings.timezone)


def test_a_month_is_settled_with_the_catalogues_split(world) -> None:
    rt = world.rt
    plain = visited(rt, world.near, world.elder)
    poor = visited(rt, world.near, world.poor_elder)  # 低保 + 高龄: a subsidy pays part
    pending = serve(rt, world.near, world.elder)  # rated, not yet visited back
    free = visited(rt, world.near, world.elder, service="emergency_fall")  # nothing to pay
    other = visited(rt, world.middle, world.elder)
    month = this_month(rt)
    with rt.session() as s:
        preview = settlement.preview(s, actor=SUPERVISOR, provider_id=world.near.id, month=month)
        assert [o.id for o in preview.settleable] == [plain, poor]
        assert [o.id for o in preview.pending] == [pending]
        statement = settlement.settle_month(
            s, actor=SUPERVISOR, provider_id=world.near.id, month=month
        )
        lines = {line.order_id: line for line in statement.lines}
        quote = catalogue.price_for(
            s,
            service_type_code="care_cleaning",
            league_code="150100000000",
            categories=["subsistence", "advanced_age"],
        )
        ref, summary = statement.ref, settlement.summary(statement)
    assert set(lines) == {plain, poor}
    assert (lines[poor].amount, lines[poor].subsidy, lines[poor].self_pay) == (
        quote.amount,
        quote.subsidy,
        quote.self_pay,
    )
    assert (
        lines[poor].subsidy > 0 and lines[poor].subsidy + lines[poor].self_pay == lines[poor].amount
    )
    assert (lines[plain].subsidy, lines[plain].self_pay) == (Decimal("0.00"), lines[plain].amount)
    assert Decimal(summary["amount"]) == lines[plain].amount + lines[poor].amount
    assert Decimal(summary["subsidy"]) == quote.subsidy and summary["order_count"] == 2
    assert ref == f"JS{month.replace('-', '')}-{world.near.id:05d}-01"
    for oid in (plain, poor):
        o = order_of(rt, oid)
        assert (o.status, o.settlement_ref) == ("settled", ref)
    assert order_of(rt, pending).status == "rated" and order_of(rt, free).status == "return_visited"
    assert order_of(rt, other).status == "return_visited"
    # nothing left this month; the pending one goes into a second statement once visited back
    with rt.session() as s, pytest.raises(Conflict) as err:
        settlement.settle_month(s, actor=SUPERVISOR, provider_id=world.near.id, month=month)
    assert err.value.code == "nothing_to_settle"
    with rt.session() as s:
        return_visits.record_visit(
            s, actor=AGENT, order_id=pending, result="satisfied", satisfaction=4
        )
        second = settlement.settle_month(
            s, actor=SUPERVISOR, provider_id=world.near.id, month=month
        )
        assert (second.seq, [line.order_id for line in second.lines]) == (2, [pending])


def test_two_settlements_at_once_settle_each_order_once(world) -> None:
    rt = world.rt
    ids = [visited(rt, world.near, world.elder) for _ in range(3)]
    month = this_month(rt)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            with rt.session() as s:
                results.append(
                    settlement.settle_month(
                        s, actor=SUPERVISOR, provider_id=world.near.id, month=month
                    ).ref
                )
        except Conflict as err:
            results.append(err.code)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and "nothing_to_settle" in results
    assert [r for r in results if r != "nothing_to_settle"][0].startswith("JS")
    with rt.session() as s:
        from sqlalchemy import select

        settled = list(s.scalars(select(SettlementLine.order_id)))
    assert sorted(settled) == sorted(ids)


def test_exports_carry_the_lines_and_are_audited(world) -> None:
    rt = world.rt
    visited(rt, world.near, world.poor_elder)
    with rt.session() as s:
        statement = settlement.settle_month(
            s, actor=OFFICER, provider_id=world.near.id, month=this_month(rt)
        )
        raw_csv = settlement.export_csv(s, actor=OFFICER, settlement_id=statement.id)
        raw_xlsx = settlement.export_xlsx(s, actor=OFFICER, settlement_id=statement.id)
        line = statement.lines[0]
    assert raw_csv.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw_csv.decode("utf-8-sig"))))
    # the first line says who exported it (the watermark of every personal-data export)
    mark = rows.pop(0)[0]
    assert mark.startswith("导出人 民政监管") and "不得外传" in mark
    assert rows[0][:2] == ["结算单号", statement.ref] and rows[1][0] == "工单号"
    assert rows[2][0] == line.order_no and rows[2][2] == "李**"  # names masked in exports
    assert Decimal(rows[-1][8]) == line.subsidy
    sheet = load_workbook(io.BytesIO(raw_xlsx))["结算明细"]
    values = [r for r in sheet.iter_rows(values_only=True)]
    assert values[1][0] == "工单号" and values[2][0] == line.order_no
    assert values[-1][0].startswith("导出人 民政监管")
    assert values[-2][0] == "合计" and Decimal(str(values[-2][9])) == line.self_pay
    with rt.session() as s:
        assert [r.detail["format"] for r in audit.list_records(s, action="settlement.export")] == [
            "xlsx",
            "csv",
        ]


def test_who_may_settle(world) -> None:
    rt = world.rt
    visited(rt, world.near, world.elder)
    month = this_month(rt)
    baotou = SUPERVISOR.__class__(
        kind="user", name="包头主管", region_code="150200000000", role=SUPERVISOR.role, user_id=40
    )
    for actor in (AGENT, world.near.actor, baotou):
        with pytest.raises(PermissionDenied), rt.session() as s:
            settlement.settle_month(s, actor=actor, provider_id=world.near.id, month=month)
    with pytest.raises(ValidationFailed), rt.session() as s:
        settlement.settle_month(s, actor=SUPERVISOR, provider_id=world.near.id, month="2025/03")
    with rt.session() as s:
        refused = audit.list_records(s, action="settlement.settle")
    assert len(refused) == 3 and all(r.result == "denied" for r in refused)
