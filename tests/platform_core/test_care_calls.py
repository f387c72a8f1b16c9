"""Proactive care calls: who is called, attempts and retries, and what follows silence."""

from __future__ import annotations

from datetime import date

import pytest

from platform_core.actors import Actor, Role
from platform_core.care_calls import service as care
from platform_core.care_calls.models import CareNotice
from platform_core.runtime import Runtime

OFFICE = Actor(
    kind="user",
    name="呼和浩特关怀专员",
    region_code="150100000000",
    role=Role.SUPERVISOR,
    user_id=7,
)
SYSTEM = Actor(kind="system", name="主动关怀", region_code="150100000000")
REGISTRAR = Actor(
    kind="user", name="档案管理员", region_code="150000000000", role=Role.SUPERVISOR, user_id=8
)
TODAY = date(2026, 11, 26)
_n = iter(range(1, 10_000))


def elder(
    runtime: Runtime,
    *,
    born: date,
    living: str = "with_family",
    categories: tuple[str, ...] = (),
    phones: list[dict] | None = None,
    contacts: list[dict] | None = None,
    region: str = "150102003201",
) -> int:
    from platform_core.elders import service as elders
    from platform_core.elders.idcard import make_id_number
    from platform_core.elders.schemas import ElderIn

    n = next(_n)
    data = ElderIn.model_validate(
        {
            "name": "王桂兰",
            "id_number": make_id_number("150102", born, n * 2 + 1),
            "address": "呼和浩特市新城区中山东路 12 号",
            "region_code": region,
            "phones": phones
            if phones is not None
            else [{"number": f"1390471{n:04d}", "kind": "mobile"}],
            "contacts": contacts
            if contacts is not None
            else [
                {"name": "李强", "relation": "儿子", "phone": f"1380471{n:04d}", "priority": 1},
                {"name": "李梅", "relation": "女儿", "phone": f"1370471{n:04d}", "priority": 2},
            ],
            "living_arrangement": living,
            "categories": [{"category": c} for c in categories],
        }
    )
    with runtime.session() as s:
        return elders.register_elder(s, actor=REGISTRAR, data=data).id


@pytest.fixture
def district(regions: Runtime) -> tuple[Runtime, dict[str, int]]:
    from hotline.demo_data.catalogue import seed_catalogue

    with regions.session() as s:
        seed_catalogue(s)
    ids = {
        "alone": elder(regions, born=date(1950, 1, 1), living="alone"),
        "old": elder(regions, born=date(1940, 1, 1)),
        "poor": elder(regions, born=date(1955, 1, 1), categories=("subsistence",)),
        "young_family": elder(regions, born=date(1958, 1, 1)),
        "no_phone": elder(regions, born=date(1935, 1, 1), phones=[]),
        "elsewhere": elder(regions, born=date(1930, 1, 1), region="150202001001"),
        "deceased": elder(regions, born=date(1932, 1, 1), living="alone"),
        "landline": elder(
            regions,
            born=date(1938, 1, 1),
            phones=[
                {"number": "13904719999", "kind": "mobile"},
                {"number": "0471-6912345", "kind": "home"},
            ],
        ),
    }
    from platform_core.elders import service as elders

    with regions.session() as s:
        elders.record_death(s, elder_id=ids["deceased"], died_on=date(2026, 1, 5), actor=OFFICE)
    return regions, ids


def campaign(runtime: Runtime, **kwargs) -> int:
    with runtime.session() as s:
        return care.create_campaign(
            s, actor=OFFICE, name="十一月关怀", region_code="150100000000", today=TODAY, **kwargs
        ).id


def calls_by_elder(runtime: Runtime, campaign_id: int) -> dict[int, care.CareCall]:
    with runtime.session() as s:
        return {c.elder_id: c for c in care.list_calls(s, campaign_id=campaign_id)}


def test_campaign_calls_the_living_who_are_alone_old_or_in_hardship(district) -> None:
    runtime, ids = district
    calls = calls_by_elder(runtime, campaign(runtime))
    assert set(calls) == {ids["alone"], ids["old"], ids["poor"], ids["landline"]}
    assert calls[ids["landline"]].number == "04716912345"  # the home landline first
    assert all(c.status == "pending" for c in calls.values())
    narrower = calls_by_elder(runtime, campaign(runtime, criteria=care.CareCriteria(min_age=87)))
    assert set(narrower) == {
        ids["landline"]
    }  # 88; the 91-year-old has no phone, the 86-year-old is too young


def _dial(runtime: Runtime, care_call_id: int, attempt_no: int):
    with runtime.session() as s:
        attempt = care.begin_attempt(
            s, actor=SYSTEM, care_call_id=care_call_id, attempt_no=attempt_no
        )
        return None if attempt is None else attempt.id


def test_an_attempt_is_recorded_once_and_deceased_elders_are_never_dialled(district) -> None:
    runtime, ids = district
    calls = calls_by_elder(runtime, campaign(runtime))
    call = calls[ids["alone"]]
    first = _dial(runtime, call.id, 1)
    assert first is not None
    assert _dial(runtime, call.id, 1) is None  # delivered twice: dialled once

    from platform_core.elders import service as elders

    other = calls[ids["old"]]
    with runtime.session() as s:
        elders.record_death(s, elder_id=ids["old"], died_on=date(2026, 11, 25), actor=OFFICE)
    assert _dial(runtime, other.id, 1) is None
    with runtime.session() as s:
        assert care.get_care_call(s, care_call_id=other.id).status == "skipped"


def test_answered_elder_who_is_well(district) -> None:
    runtime, ids = district
    camp = campaign(runtime)
    call = calls_by_elder(runtime, camp)[ids["poor"]]
    attempt = _dial(runtime, call.id, 1)
    with runtime.session() as s:
        care.record_dialled(s, attempt_id=attempt, uniqueid="1.1")
        answered = care.record_answered(s, actor=SYSTEM, attempt_id=attempt, uniqueid="1.1")
        assert answered.elder_id == ids["poor"]
        care.record_response(s, actor=SYSTEM, attempt_id=attempt, response="well")
    with runtime.session() as s:
        row = care.get_care_call(s, care_call_id=call.id)
        assert (row.status, row.attempts) == ("well", 1)
        assert care.campaign_summary(s, campaign_id=camp)["well"] == 1


def test_unanswered_calls_are_retried_then_family_is_told_and_a_visit_ordered(district) -> None:
    runtime, ids = district
    seen: list[dict] = []
    runtime.event_bus.subscribe(seen.append)
    camp = campaign(runtime, max_attempts=2, retry_interval_min=20)
    call = calls_by_elder(runtime, camp)[ids["alone"]]

    first = _dial(runtime, call.id, 1)
    with runtime.session() as s:
        follow = care.record_no_answer(s, actor=SYSTEM, attempt_id=first)
    assert follow.next_attempt_no == 2 and follow.retry_at is not None and not follow.escalated
    with runtime.session() as s:
        assert care.get_care_call(s, care_call_id=call.id).status == "retry"

    second = _dial(runtime, call.id, 2)
    with runtime.session() as s:
        follow = care.record_no_answer(s, actor=SYSTEM, attempt_id=second, result="busy")
    assert follow.escalated and follow.next_attempt_no is None

    from platform_core.orders.models import ServiceOrder

    with runtime.session() as s:
        row = care.get_care_call(s, care_call_id=call.id)
        assert row.status == "unreachable"
        notice = s.get(CareNotice, row.notice_id)
        assert (
            notice.to_name == "李强" and "2次致电" in notice.text
        )  # the first contact by priority
        order = s.get(ServiceOrder, row.visit_order_id)
        assert (order.elder_id, order.service_type_code, order.source) == (
            ids["alone"],
            "visit_home",
            "care_call",
        )
        assert [a.status for a in row.attempt_rows] == ["no_answer", "busy"]
    runtime.event_bus.drain()
    assert "CareCallUnreachable" in {e["type"] for e in seen}


def test_stale_attempts_settle_and_the_campaign_finishes(district) -> None:
    runtime, ids = district
    camp = campaign(runtime, criteria=care.CareCriteria(min_age=87), max_attempts=1)
    [call] = calls_by_elder(runtime, camp).values()
    attempt = _dial(runtime, call.id, 1)
    with runtime.session() as s:
        care.record_answered(s, actor=SYSTEM, attempt_id=attempt, uniqueid="2.1")
        care.settle_stale_attempt(s, actor=SYSTEM, attempt_id=attempt)  # answered, pressed nothing
    with runtime.session() as s:
        assert care.get_care_call(s, care_call_id=call.id).status == "no_key"
        assert care.get_campaign(s, campaign_id=camp).status == "finished"


def test_campaign_must_lie_within_the_actors_region(district) -> None:
    runtime, _ = district
    from platform_core.errors import ValidationFailed

    with runtime.session() as s, pytest.raises(ValidationFailed):
        care.create_campaign(s, actor=OFFICE, name="越权", region_code="150200000000", today=TODAY)
