"""Departments' batches in: every kind of bad row gets its own result and reason, good rows go
through the elders service and the death flow, a batch is taken once, and nothing is kept by
halves or in clear."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from platform_core import clock
from platform_core.actors import Role
from platform_core.audit import service as audit
from platform_core.devices.models import Device
from platform_core.elders import service as elders
from platform_core.errors import Conflict, PermissionDenied
from platform_core.exchange.models import ExchangeRow, MedicalInsuranceStatus
from platform_core.flows import department_batches as batches
from tests.platform_core.alarms_support import new_device, new_elder
from tests.platform_core.elders_support import (
    AGENT_HOHHOT,
    OFFICER_BAOTOU,
    OFFICER_HOHHOT,
    new_id_number,
)

POLICE = batches.Sender(
    "public_security",
    "150100000000",
    batches.department_actor("呼和浩特市公安局", "150100000000"),
    "api",
)


@pytest.fixture
def people(regions):
    with regions.session() as s:
        ids = {
            "wang": new_id_number(),
            "li": new_id_number(),
            "bt": new_id_number(area="150202"),
            "stranger": new_id_number(),
        }
        wang = new_elder(s, name="王桂兰", id_number=ids["wang"])
        li = new_elder(s, name="李秀英", id_number=ids["li"])
        bt = new_elder(s, name="其其格", id_number=ids["bt"], region_code="150202000000")
        pendant = new_device(s, elder_id=wang).id
    return regions, {"wang": wang, "li": li, "bt": bt, "pendant": pendant}, ids


def death(record_no: str, id_number: str, name: str, died_on: str) -> dict[str, str]:
    return {"record_no": record_no, "id_number": id_number, "name": name, "died_on": died_on}


def outcomes(rt, batch_id: int) -> dict[int, tuple[str, str, str]]:
    with rt.session() as s:
        return {
            r.row_no: (r.outcome, r.code, r.reason)
            for r in batches.batch_rows(s, batch_id=batch_id)
        }


def test_a_deaths_batch_takes_good_rows_and_says_why_of_each_bad_one(people) -> None:
    rt, e, ids = people
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    rows = [
        death("SW001", ids["wang"], "王桂兰", yesterday),  # good: the death flow runs
        death("SW002", "150102194502031235", "李秀英", yesterday),  # check digit wrong
        death("SW003", ids["stranger"], "张三", yesterday),  # no such elder
        death("SW001", ids["li"], "李秀英", yesterday),  # the same record key again
        death("SW005", ids["li"], "李秀英", "2026-13-45"),  # no such date
        death("SW006", ids["bt"], "其其格", yesterday),  # Baotou: not Hohhot police's
        death("SW007", ids["li"], "李秀", yesterday),  # name differs from the record
        death("SW008", ids["li"], "李秀英", ""),  # missing date
        death("SW009", ids["li"], "李秀英", (clock.today() + timedelta(days=3)).isoformat()),
    ]
    with rt.session() as s:
        batch, duplicate = batches.receive_batch(
            s, sender=POLICE, kind="deaths", batch_no="GA-20261207-01", rows=enumerate(rows, 1)
        )
        batch_id = batch.id
    assert not duplicate
    got = outcomes(rt, batch_id)
    assert got[1][0] == "accepted"
    assert got[2][:2] == ("refused", "invalid_id_number") and "身份证号不正确" in got[2][2]
    assert got[3][:2] == ("unknown_elder", "unknown_elder")
    assert got[4][:2] == ("refused", "duplicate_row") and "第 1 行" in got[4][2]
    assert got[5][:2] == ("refused", "invalid_date")
    assert got[6][:2] == ("refused", "out_of_area")
    assert got[7][:2] == ("refused", "name_mismatch")
    assert got[8][:2] == ("refused", "missing_field") and "死亡日期" in got[8][2]
    assert got[9][:2] == ("refused", "invalid_death_date")
    assert all(reason and not reason.isascii() for o, _, reason in got.values() if o != "accepted")
    with rt.session() as s:
        wang = elders.get_elder(s, elder_id=e["wang"])
        assert (wang.status, wang.deceased_on) == ("deceased", date.fromisoformat(yesterday))
        # the death flow ran: the pendant stopped
        assert s.get(Device, e["pendant"]).status == "deactivated"
        for key in ("li", "bt"):
            assert elders.get_elder(s, elder_id=e[key]).status == "active"
        b = s.get(type(batch), batch_id)
        assert (b.total_rows, b.accepted_rows, b.refused_rows, b.unknown_rows) == (9, 1, 7, 1)
        # no ID number in clear anywhere in the rows kept
        dumped = " ".join(
            str(v) for row in s.execute(text("SELECT * FROM exchange_rows")) for v in row
        )
        assert all(ids[k] not in dumped for k in ids)
        masked = s.scalar(select(ExchangeRow.id_number_masked).where(ExchangeRow.row_no == 1))
        assert masked.startswith(ids["wang"][:6]) and "*" in masked


def test_a_batch_sent_again_is_answered_from_the_first_time(people) -> None:
    rt, e, ids = people
    day = (clock.today() - timedelta(days=2)).isoformat()
    rows = [death("SW100", ids["li"], "李秀英", day)]
    with rt.session() as s:
        first, _ = batches.receive_batch(
            s, sender=POLICE, kind="deaths", batch_no="B1", rows=enumerate(rows, 1)
        )
        first_id = first.id
    with rt.session() as s:
        again, duplicate = batches.receive_batch(
            s, sender=POLICE, kind="deaths", batch_no="B1", rows=enumerate(rows, 1)
        )
        assert duplicate and again.id == first_id
        with pytest.raises(Conflict) as err:
            batches.receive_batch(
                s,
                sender=POLICE,
                kind="deaths",
                batch_no="B1",
                rows=enumerate([death("SW101", ids["wang"], "王桂兰", day)], 1),
            )
        assert err.value.code == "batch_no_reused"
    # the same record in a later batch changes nothing and says so
    with rt.session() as s:
        later, _ = batches.receive_batch(
            s, sender=POLICE, kind="deaths", batch_no="B2", rows=enumerate(rows, 1)
        )
        later_id = later.id
    assert outcomes(rt, later_id)[1][0] == "repeated"
    with rt.session() as s:
        deaths = [
            r
            for r in audit.list_records(s, action="elder.record_death", limit=50)
            if r.target_id == str(e["li"])
        ]
        assert len(deaths) == 1


def test_a_department_sends_only_its_own_kind(people) -> None:
    rt, _, ids = people
    insurer = batches.Sender(
        "medical_insurance",
        "150100000000",
        batches.department_actor("医保局", "150100000000"),
        "api",
    )
    with rt.session() as s, pytest.raises(PermissionDenied) as err:
        batches.receive_batch(
            s,
            sender=insurer,
            kind="deaths",
            batch_no="X1",
            rows=enumerate([death("SW1", ids["li"], "李秀英", "2026-01-01")], 1),
        )
    assert err.value.code == "wrong_department" and "公安部门" in err.value.message
    with rt.session() as s:
        assert s.scalar(text("SELECT count(*) FROM exchange_batches")) == 0


def test_disability_and_insurance_rows_update_the_record(people) -> None:
    rt, e, ids = people
    federation = batches.Sender(
        "disabled_federation",
        "150100000000",
        batches.department_actor("残联", "150100000000"),
        "api",
    )
    insurer = batches.Sender(
        "medical_insurance",
        "150100000000",
        batches.department_actor("医保局", "150100000000"),
        "api",
    )
    with rt.session() as s:
        b, _ = batches.receive_batch(
            s,
            sender=federation,
            kind="disability",
            batch_no="CL-1",
            rows=enumerate(
                [
                    {
                        "record_no": "C1",
                        "id_number": ids["li"],
                        "name": "李秀英",
                        "disability_type": "肢体",
                        "grade": "2",
                        "certified_on": "2020-05-01",
                    },
                    {
                        "record_no": "C2",
                        "id_number": ids["wang"],
                        "name": "王桂兰",
                        "disability_type": "翅膀",
                        "grade": "2",
                    },
                    {
                        "record_no": "C3",
                        "id_number": ids["wang"][:-1] + "0",
                        "name": "王桂兰",
                        "disability_type": "视力",
                        "grade": "5",
                    },
                ],
                1,
            ),
        )
        got = {r.row_no: r for r in batches.batch_rows(s, batch_id=b.id)}
        assert got[1].outcome == "accepted"
        assert got[2].code == "invalid_disability_type"
        assert got[3].outcome in ("refused", "unknown_elder")
        li = elders.get_elder(s, elder_id=e["li"])
        [cat] = [c for c in li.categories if c.category == "disability"]
        assert (cat.subtype, cat.grade) == ("physical", 2)
        i, _ = batches.receive_batch(
            s,
            sender=insurer,
            kind="insurance",
            batch_no="YB-1",
            rows=enumerate(
                [
                    {
                        "record_no": "Y1",
                        "id_number": ids["li"],
                        "name": "李秀英",
                        "scheme": "居民医保",
                        "status": "参保",
                        "as_of": "2026-11-30",
                    },
                    {
                        "record_no": "Y2",
                        "id_number": ids["wang"],
                        "name": "王桂兰",
                        "scheme": "商业保险",
                        "status": "参保",
                        "as_of": "2026-11-30",
                    },
                ],
                1,
            ),
        )
        rows = {r.row_no: r for r in batches.batch_rows(s, batch_id=i.id)}
        assert rows[1].outcome == "accepted" and rows[2].code == "invalid_scheme"
        kept = s.scalar(
            select(MedicalInsuranceStatus).where(MedicalInsuranceStatus.elder_id == e["li"])
        )
        assert (kept.scheme, kept.status) == ("resident", "insured")


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def test_an_officer_uploads_a_file_of_their_region_only(people) -> None:
    rt, e, ids = people
    day = (clock.today() - timedelta(days=1)).isoformat()
    content = _csv(
        [
            ["死亡注销编号*", "身份证号*", "姓名*", "死亡日期*"],
            ["SW9", ids["bt"], "其其格", day],
            ["SW10", ids["li"], "李秀英", day],
        ]
    )
    with rt.session() as s:
        b, _ = batches.import_file(
            s,
            actor=OFFICER_BAOTOU,
            department="public_security",
            kind="deaths",
            filename="deaths.csv",
            content=content,
        )
        got = {r.row_no: r for r in batches.batch_rows(s, batch_id=b.id)}
        # rows count as Excel shows them: the header is row 1
        assert got[2].outcome == "accepted" and got[3].code == "out_of_area"
        assert elders.get_elder(s, elder_id=e["bt"]).status == "deceased"
        with pytest.raises(PermissionDenied):
            batches.import_file(
                s,
                actor=AGENT_HOHHOT,
                department="public_security",
                kind="deaths",
                filename="deaths.csv",
                content=content,
            )
    with rt.session() as s:
        again, duplicate = batches.import_file(
            s,
            actor=OFFICER_BAOTOU,
            department="public_security",
            kind="deaths",
            filename="deaths-copy.csv",
            content=content,
        )
        assert duplicate and again.id == b.id
        assert [x.id for x in batches.list_batches(s, actor=OFFICER_HOHHOT)] == []
        assert OFFICER_HOHHOT.role is Role.OFFICER


def test_the_same_batch_arriving_twice_at_once_is_taken_once(people) -> None:
    """The second request's insert waits on the first's uncommitted batch row, then answers
    with the first's results instead of failing."""
    import threading

    rt, e, ids = people
    day = (clock.today() - timedelta(days=1)).isoformat()
    rows = [death("SW-R1", ids["li"], "李秀英", day)]
    first = rt.session_factory()
    batch, _ = batches.receive_batch(
        first, sender=POLICE, kind="deaths", batch_no="RACE", rows=enumerate(rows, 1)
    )
    answer: dict[str, object] = {}

    def second() -> None:
        with rt.session() as s:
            b, duplicate = batches.receive_batch(
                s, sender=POLICE, kind="deaths", batch_no="RACE", rows=enumerate(rows, 1)
            )
            answer.update(id=b.id, duplicate=duplicate)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # waiting on the first's row
    first.commit()
    first_id = batch.id
    first.close()
    thread.join(10)
    assert answer == {"id": first_id, "duplicate": True}
    with rt.session() as s:
        assert s.scalar(text("SELECT count(*) FROM exchange_batches")) == 1
