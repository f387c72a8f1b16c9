from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from platform_core import clock
from platform_core.actors import system_actor
from platform_core.audit.service import list_records
from platform_core.elders import service
from platform_core.elders.idcard import InvalidIdNumber
from platform_core.elders.models import Elder, ElderPhone, EmergencyContact
from platform_core.elders.schemas import ContactIn, ElderIn, ElderUpdate, clean_name, validate_input
from platform_core.errors import NotFound, OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.regions.service import load_dictionary
from tests.platform_core.elders_support import (
    ADMIN,
    AGENT_HOHHOT,
    OFFICER_BAOTOU,
    OFFICER_HOHHOT,
    PROVIDER,
    SUPERVISOR,
    elder_input,
    new_id_number,
)


@pytest.fixture
def rt(any_runtime):
    with any_runtime.session() as s:
        load_dictionary(s)
    return any_runtime


def _count(s, model) -> int:
    return s.scalar(select(func.count()).select_from(model))


def test_registration_stores_a_sealed_searchable_profile(rt) -> None:
    data = elder_input()
    with rt.session() as s:
        elder = service.register_elder(s, data=data, actor=AGENT_HOHHOT)
        elder_id = elder.id
    with rt.session() as s:
        elder = service.get_elder(s, elder_id=elder_id)
        assert elder.sex == "female" and elder.birth_date == date(1945, 2, 3)
        # sealed at rest: neither the ID number nor a health detail appears in the row
        assert data.id_number not in elder.id_number_sealed
        assert "青霉素" not in (elder.health_sealed or "")
        assert elder.id_number_masked == data.id_number[:6] + "********" + data.id_number[-4:]
        # the local home number was completed with 呼和浩特's area code
        assert sorted(p.number for p in elder.phones) == ["04716912345", "13904711234"]
        assert [c.phone for c in elder.contacts] == ["13804710001", "13804710002"]
        assert service.find_elder_by_id_number(s, id_number=data.id_number.lower()).id == elder_id
        assert service.find_elder_by_id_number(s, id_number=new_id_number()) is None
        # the new village was created under its county
        assert service.elder_profile(s, elder_id=elder_id, actor=AGENT_HOHHOT)[
            "region_name"
        ].startswith("呼和浩特市新城区")


def test_duplicate_id_number_is_refused_and_nothing_is_half_written(rt) -> None:
    first = elder_input()
    with rt.session() as s:
        service.register_elder(s, data=first, actor=AGENT_HOHHOT)
    again = elder_input(
        id_number=first.id_number,
        name="张三",
        phones=[{"number": "13999990000"}],
        region_code="150102004205",
    )
    with pytest.raises(service.DuplicateElder) as err, rt.session() as s:
        service.register_elder(s, data=again, actor=AGENT_HOHHOT)
    assert err.value.code == "duplicate_elder"
    with rt.session() as s:
        assert _count(s, Elder) == 1
        assert s.scalar(select(func.count()).where(ElderPhone.number == "13999990000")) == 0
        from platform_core.regions.models import Region

        assert s.get(Region, "150102004205") is None


def test_a_failure_half_way_leaves_nothing(rt) -> None:
    data = elder_input(
        contacts=[{"name": "李强", "relation": "儿子", "phone": "6912346"}],
        region_code="150103005201",
    )
    with rt.session() as s:
        elder = service.register_elder(s, data=data, actor=AGENT_HOHHOT)
        assert elder.contacts[0].phone == "04716912346"
    # a village under a county that does not exist: the village is not invented either
    bad = elder_input(region_code="150199001001")
    with pytest.raises(NotFound) as err, rt.session() as s:
        service.register_elder(s, data=bad, actor=AGENT_HOHHOT)
    assert err.value.code == "region_not_found"
    with rt.session() as s:
        assert _count(s, Elder) == 1 and _count(s, EmergencyContact) == 1


def test_invalid_input_says_what_is_wrong() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_input(
            ElderIn,
            {
                "name": "王",
                "id_number": "150102194502030001",
                "address": "某地",
                "region_code": "150102",
                "phones": [{"number": "12812345678"}],
            },
        )
    codes = {p["field"]: p["code"] for p in err.value.details["problems"]}
    assert codes == {
        "name": "value_error",
        "id_number": "invalid_id_number",
        "phones.0.number": "invalid_phone_number",
    }
    assert "校验位" in err.value.message and "手机号码" in err.value.message
    with pytest.raises(InvalidIdNumber):
        service.find_elder_by_id_number(None, id_number="123")  # type: ignore[arg-type]


def test_registration_outside_the_agents_region_is_refused(rt) -> None:
    with pytest.raises(OutOfRegion), rt.session() as s:
        service.register_elder(s, data=elder_input(region_code="150202"), actor=AGENT_HOHHOT)


def test_profile_is_masked_and_every_view_audited(rt) -> None:
    data = elder_input()
    with rt.session() as s:
        elder_id = service.register_elder(s, data=data, actor=AGENT_HOHHOT).id
    with rt.session() as s:
        profile = service.elder_profile(
            s, elder_id=elder_id, actor=AGENT_HOHHOT, source_ip="10.0.0.8"
        )
    assert profile["name"] == "王桂兰"
    assert data.id_number not in str(profile)
    assert profile["id_number_masked"].startswith("150102********")
    assert {p["masked"] for p in profile["phones"]} == {"139****1234", "0471***2345"}
    assert "13804710001" not in str(profile)
    assert profile["contacts"][0]["holds_key"] and profile["contacts"][0]["relation"] == "儿子"
    assert profile["living_arrangement_label"] == "独居"
    assert {c["label"] for c in profile["categories"]} == {"低保", "残疾(肢体残疾2级)"}
    flags = {f["code"] for f in profile["risk_flags"]}
    assert {"lives_alone", "disabled", "chronic_illness", "allergy", "stairs_no_elevator"} <= flags
    assert "no_key_holder" not in flags
    today = clock.today()
    assert profile["age"] == today.year - 1945 - (today < date(today.year, 2, 3))
    assert profile["health"]["allergies"] == ["青霉素"]
    with rt.session() as s:
        views = list_records(s, action="elder.view_profile")
        assert [(v.actor_user_id, v.target_id, v.result, v.source_ip) for v in views] == [
            (AGENT_HOHHOT.user_id, str(elder_id), "ok", "10.0.0.8")
        ]


def test_reveal_is_audited_and_refused_for_the_wrong_role_or_region(rt) -> None:
    data = elder_input()
    with rt.session() as s:
        elder_id = service.register_elder(s, data=data, actor=AGENT_HOHHOT).id
    # the care office's officers check applicants' documents against the number
    for actor in (AGENT_HOHHOT, SUPERVISOR, ADMIN, OFFICER_HOHHOT):
        with rt.session() as s:
            assert (
                service.reveal_id_number(s, elder_id=elder_id, actor=actor, reason="核对身份")
                == data.id_number
            )
    with pytest.raises(PermissionDenied) as denied, rt.session() as s:
        service.reveal_id_number(s, elder_id=elder_id, actor=PROVIDER)
    assert denied.value.code == "permission_denied"
    with pytest.raises(OutOfRegion), rt.session() as s:
        service.elder_profile(s, elder_id=elder_id, actor=OFFICER_BAOTOU)
    with rt.session() as s:
        reveals = list_records(s, action="elder.reveal_id_number")
        assert [(r.actor_name, r.result) for r in reversed(reveals)] == [
            ("坐席01", "ok"),
            ("班长", "ok"),
            ("管理员", "ok"),
            ("民政呼市", "ok"),
            ("服务商A", "denied"),
        ]
        assert reveals[0].detail == {"reason": "permission_denied"}
        views = list_records(s, action="elder.view_profile")
        assert [(v.actor_name, v.result, v.detail) for v in views] == [
            ("民政包头", "denied", {"reason": "out_of_region"})
        ]


def test_region_scoping_and_filters(rt) -> None:
    with rt.session() as s:
        a = service.register_elder(s, data=elder_input(), actor=SUPERVISOR).id
        b = service.register_elder(
            s,
            data=elder_input(
                region_code="150121101201", living_arrangement="with_family", categories=[]
            ),
            actor=SUPERVISOR,
        ).id
        c = service.register_elder(
            s, data=elder_input(region_code="150203", categories=[]), actor=SUPERVISOR
        ).id
    with rt.session() as s:
        ids = lambda **kw: [e.id for e in service.list_elders(s, **kw)]  # noqa: E731
        assert ids(region_code="150000") == [a, b, c]
        assert ids(region_code="150100") == [a, b]
        assert ids(region_code="150102") == [a]
        assert ids(region_code="150200000000") == [c]
        assert ids(region_code="150100", category="subsistence") == [a]
        assert ids(region_code="150000", living_arrangement="alone") == [a, c]


def test_update_contact_language_and_death(rt) -> None:
    events: list[dict] = []
    rt.event_bus.subscribe(events.append)
    with rt.session() as s:
        elder_id = service.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
    with rt.session() as s:
        changes = validate_input(
            ElderUpdate,
            {
                "phones": [{"number": "0471-6900000", "kind": "home"}],
                "categories": [{"category": "subsistence"}, {"category": "advanced_age"}],
                "living_arrangement": "empty_nest",
                "provenance": {
                    "source_department": "民政局",
                    "batch": "2024-06",
                    "imported_at": "2024-06-01T08:00:00Z",
                },
            },
        )
        service.update_elder(s, elder_id=elder_id, changes=changes, actor=AGENT_HOHHOT)
        contact = service.add_contact(
            s,
            elder_id=elder_id,
            actor=AGENT_HOHHOT,
            contact=ContactIn(name="巴特尔", relation="邻居", phone="6900001"),
        )
        assert contact.phone == "04716900001"
        service.set_language(s, elder_id=elder_id, language="mn", actor=AGENT_HOHHOT)
    with rt.session() as s:
        elder = service.get_elder(s, elder_id=elder_id)
        assert [p.number for p in elder.phones] == ["04716900000"]
        assert sorted(c.category for c in elder.categories) == ["advanced_age", "subsistence"]
        assert elder.ivr_language == "mn" and elder.living_arrangement == "empty_nest"
        assert {p.field: p.source_department for p in elder.provenance} == {
            "categories": "民政局",
            "living_arrangement": "民政局",
            "phones": "民政局",
        }
        with pytest.raises(ValidationFailed) as err:
            service.set_language(s, elder_id=elder_id, language="en", actor=AGENT_HOHHOT)
        assert err.value.code == "invalid_language"
    officer = system_actor("公安户籍导入")
    with rt.session() as s:
        service.record_death(
            s, elder_id=elder_id, died_on=date(2024, 5, 20), actor=officer, source="公安"
        )
    with rt.session() as s:  # the same death imported again changes nothing
        service.record_death(s, elder_id=elder_id, died_on=date(2024, 5, 20), actor=officer)
    with pytest.raises(service.ElderDeceasedError) as closed, rt.session() as s:
        service.set_language(s, elder_id=elder_id, language="zh", actor=AGENT_HOHHOT)
    assert closed.value.code == "elder_deceased"
    rt.event_bus.drain()
    types = [e["type"] for e in events]
    assert types.count("ElderDeceased") == 1
    deceased = next(e for e in events if e["type"] == "ElderDeceased")
    assert deceased["data"] == {
        "elder_id": elder_id,
        "region_code": "150102003201",
        "died_on": "2024-05-20",
    }
    assert types[0] == "ElderRegistered" and "EmergencyContactAdded" in types


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("王 桂兰", "王桂兰"),
        (" 阿不都•热合曼 ", "阿不都·热合曼"),
        ("阿不都.热合曼", "阿不都·热合曼"),
        ("巴特尔", "巴特尔"),
        ("ＭＡＲＹ Ｌｉ", "MARY Li"),
    ],
)
def test_names_are_cleaned_the_chinese_way(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


@pytest.mark.parametrize("raw", ["王", "·巴特尔", "王桂兰123", "王<script>"])
def test_bad_names_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        clean_name(raw)


def test_fifteen_digit_id_number_registers_as_eighteen(rt) -> None:
    with rt.session() as s:
        elder = service.register_elder(
            s, data=elder_input(id_number="150102450203622"), actor=AGENT_HOHHOT
        )
        assert elder.birth_date == date(1945, 2, 3) and elder.sex == "female"
        assert service.find_elder_by_id_number(s, id_number="150102450203622").id == elder.id
        assert service.reveal_id_number(s, elder_id=elder.id, actor=AGENT_HOHHOT).startswith(
            "15010219450203622"
        )
