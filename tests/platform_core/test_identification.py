from __future__ import annotations

from datetime import date

import pytest

from platform_core.actors import system_actor
from platform_core.calls.identification import identify_caller
from platform_core.devices import service as devices
from platform_core.devices.schemas import DeviceIn
from platform_core.elders import service as elders
from platform_core.elders.schemas import validate_input
from platform_core.regions.service import load_dictionary
from tests.platform_core.elders_support import AGENT_HOHHOT, SUPERVISOR, elder_input

STAFF = system_actor("设备管理员")


@pytest.fixture
def family(any_runtime):
    """Two elders in 呼和浩特 sharing a home landline; one has a pendant; a son is a contact of one."""
    with any_runtime.session() as s:
        load_dictionary(s)
        wang = elders.register_elder(
            s,
            actor=AGENT_HOHHOT,
            data=elder_input(
                name="王桂兰",
                phones=[{"number": "13904711234"}, {"number": "0471-6912345", "kind": "home"}],
                contacts=[
                    {"name": "李强", "relation": "儿子", "phone": "13804710001", "holds_key": True}
                ],
            ),
        )
        li = elders.register_elder(
            s,
            actor=AGENT_HOHHOT,
            data=elder_input(
                name="李福", phones=[{"number": "6912345", "kind": "home"}], contacts=[]
            ),
        )
        bater = elders.register_elder(
            s,
            actor=SUPERVISOR,
            data=elder_input(
                name="巴特尔",
                region_code="152502",
                phones=[{"number": "15047900001"}],
                contacts=[{"name": "乌云", "relation": "女儿", "phone": "13904711234"}],
            ),
        )
        pendant = devices.register_device(
            s,
            actor=STAFF,
            data=validate_input(
                DeviceIn,
                {"device_type": "sos_pendant", "serial": "P-1", "sim_number": "14771010001"},
            ),
        )
        devices.bind_device(s, device_id=pendant.id, elder_id=li.id, actor=AGENT_HOHHOT)
        ids = {
            "wang": wang.id,
            "li": li.id,
            "bater": bater.id,
            "pendant": pendant.id,
            "son": wang.contacts[0].id,
        }
    return any_runtime, ids


def test_own_mobile_in_any_form(family) -> None:
    rt, ids = family
    with rt.session() as s:
        for raw in ("15047900001", "+8615047900001", "0086 150 4790 0001", "015047900001"):
            who = identify_caller(s, number=raw)
            assert who.number == "15047900001"
            assert who.elder_id == ids["bater"] and not who.ambiguous and not who.is_family
            assert who.matches[0].kind == "elder_phone"


def test_device_sim_identifies_the_wearer(family) -> None:
    rt, ids = family
    with rt.session() as s:
        who = identify_caller(s, number="+86 147 7101 0001")
    assert who.is_device and who.elder_id == ids["li"]
    assert who.matches[0].device_id == ids["pendant"]


def test_contact_says_whose_contact(family) -> None:
    rt, ids = family
    with rt.session() as s:
        who = identify_caller(s, number="13804710001")
    assert who.is_family and who.elder_id == ids["wang"]
    assert who.matches[0].contact_id == ids["son"]
    assert (who.matches[0].contact_name, who.matches[0].relation) == ("李强", "儿子")


def test_shared_landline_is_ambiguous_with_or_without_area_code(family) -> None:
    rt, ids = family
    with rt.session() as s:
        for raw, area in (("04716912345", None), ("6912345", "0471"), ("+86 471 691 2345", None)):
            who = identify_caller(s, number=raw, area_code=area)
            assert who.ambiguous and who.elder_id is None
            assert {m.elder_id for m in who.matches} == {ids["wang"], ids["li"]}
        # the same local number dialled in from another city is someone else
        assert identify_caller(s, number="6912345", area_code="0472").matches == ()


def test_own_phone_and_someone_elses_contact(family) -> None:
    rt, ids = family
    with rt.session() as s:
        who = identify_caller(s, number="13904711234")
    assert [m.kind for m in who.matches] == ["elder_phone", "contact"]
    assert who.ambiguous and not who.is_family
    assert who.matches[1].elder_id == ids["bater"] and who.matches[1].relation == "女儿"


def test_deceased_elders_are_not_matched(family) -> None:
    rt, ids = family
    with rt.session() as s:
        elders.record_death(s, elder_id=ids["li"], died_on=date(2024, 4, 2), actor=STAFF)
    with rt.session() as s:
        assert identify_caller(s, number="14771010001").matches == ()
        who = identify_caller(s, number="0471-6912345")
        assert who.elder_id == ids["wang"] and not who.ambiguous


def test_unbound_device_no_longer_identifies(family) -> None:
    rt, ids = family
    with rt.session() as s:
        devices.unbind_device(s, device_id=ids["pendant"], actor=AGENT_HOHHOT)
    with rt.session() as s:
        assert identify_caller(s, number="14771010001").matches == ()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "<unknown>",
        "unknown",
        "anonymous",
        "Anonymous",
        "2001",
        "123",
        "6912345",
        "+1 415 555 0100",
        "12349",
        "110",
        "13800000000",
    ],
)
def test_garbage_and_strangers_match_nothing(family, raw: str) -> None:
    rt, _ = family
    with rt.session() as s:
        who = identify_caller(s, number=raw)
    assert who.matches == () and who.elder_id is None
    assert not (who.ambiguous or who.is_device or who.is_family)
    assert who.number in ("", "12349", "110", "13800000000")
