"""Providers on PostgreSQL and SQLite: registration, coverage, candidate sets, status, staff."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from platform_core.actors import Actor, Role, system_actor
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.elders.idcard import InvalidIdNumber, make_id_number
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.flows import staff_accounts
from platform_core.providers import service as providers
from platform_core.providers.credit_code import (
    InvalidCreditCode,
    make_credit_code,
    normalize_credit_code,
)
from platform_core.providers.models import ProviderStaff, ProviderStatus
from platform_core.regions.service import load_dictionary

ADMIN = system_actor("管理员")
HOHHOT_OFFICER = Actor(
    kind="user", name="呼市民政", region_code="150100000000", role=Role.OFFICER, user_id=11
)
BAOTOU_OFFICER = Actor(
    kind="user", name="包头民政", region_code="150200000000", role=Role.OFFICER, user_id=12
)
AGENT = Actor(kind="user", name="坐席07", region_code="150000000000", role=Role.AGENT, user_id=7)

XINCHENG, SAIHAN, HUIMIN = "150102000000", "150105000000", "150103000000"


def credit(n: int, area: str = "150102", prefix: str = "52") -> str:
    return make_credit_code(prefix, area, f"MJ{n:06d}")


@pytest.fixture
def world(any_runtime):
    with any_runtime.session() as s:
        load_dictionary(s)
        catalogue.install_defaults(s, actor=ADMIN)
    return any_runtime


def register(
    s, n: int, *, coverage, services=("care_cleaning",), region=XINCHENG, actor=HOHHOT_OFFICER, **kw
):
    return providers.register_provider(
        s,
        actor=actor,
        name=f"新城区测试{n}居家养老服务中心",
        credit_code=credit(n, region[:6]),
        region_code=region,
        contact_phone="0471-6912345",
        service_types=list(services),
        coverage=list(coverage),
        **kw,
    )


# ---------------------------------------------------------------- credit code (GB 32100)


def test_credit_code_check_character() -> None:
    assert (
        normalize_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    )  # the standard's example
    assert normalize_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"
    made = make_credit_code("52", "150102", "MJ0012AB")
    assert normalize_credit_code(made) == made


@pytest.mark.parametrize(
    "raw, reason, words",
    [
        ("91350100M000100Y44", "check_char", "应为 3"),
        ("91350100M000100Y4", "length", "18 位"),
        ("91350100M0001O0Y43", "characters", "O"),
        ("91A50100M000100Y43", "area_code", "行政区划"),
    ],
)
def test_bad_credit_codes_say_why(raw: str, reason: str, words: str) -> None:
    with pytest.raises(InvalidCreditCode) as err:
        normalize_credit_code(raw)
    assert err.value.code == "invalid_credit_code"
    assert err.value.details["reason"] == reason
    assert words in err.value.message


# ---------------------------------------------------------------- registration and coverage


def test_register_and_refuse_duplicates(world) -> None:
    with world.session() as s:
        p = register(
            s,
            1,
            coverage=["150102", "150102003"],
            services=["care_cleaning", "meal_delivery"],
            capacity=12,
            latitude=40.84,
            longitude=111.75,
        )
        assert p.contact_phone == "04716912345"
        # the township adds nothing to the county that contains it
        assert p.coverage_codes == [XINCHENG]
        assert p.service_type_codes == ["care_cleaning", "meal_delivery"]
        assert (p.status, p.grade, p.capacity) == ("normal", "B", 12)
    with world.session() as s, pytest.raises(Conflict) as err:
        register(s, 1, coverage=["150102"])
    assert err.value.code == "provider_exists"
    with world.session() as s:
        with pytest.raises(ValidationFailed) as err:
            register(s, 2, coverage=[])
        assert err.value.code == "no_coverage"
        with pytest.raises(catalogue.UnknownServiceType):
            register(s, 3, coverage=["150102"], services=["massage"])
        with pytest.raises(ValidationFailed) as err:
            register(s, 4, coverage=["150102"], capacity=0)
        assert err.value.code == "invalid_capacity"


def test_an_officer_registers_only_in_their_region_and_agents_not_at_all(world) -> None:
    with world.session() as s, pytest.raises(OutOfRegion):
        register(s, 5, coverage=["150102"], actor=BAOTOU_OFFICER)
    with world.session() as s, pytest.raises(OutOfRegion):
        register(s, 6, coverage=["150202"])  # 呼市 officer, coverage in 包头
    with world.session() as s, pytest.raises(PermissionDenied):
        register(s, 7, coverage=["150102"], actor=AGENT)
    with world.session() as s:
        denied = [r for r in audit.list_records(s) if r.result == "denied"]
        assert {r.actor_name for r in denied} == {"包头民政", "呼市民政", "坐席07"}
        assert all(r.action == "provider.register" for r in denied)
        assert providers.list_providers(s, region_code="150000") == []


def test_candidates_are_providers_whose_coverage_contains_the_elders_region(world) -> None:
    with world.session() as s:
        county = register(s, 1, coverage=["150102"])  # all of 新城区
        township = register(s, 2, coverage=["150102003"])  # one 街道
        league = register(s, 3, coverage=["150100"], services=["care_cleaning", "emergency_fall"])
        other = register(s, 4, coverage=["150105"], region=SAIHAN)
        meals_only = register(s, 5, coverage=["150102"], services=["meal_delivery"])
        suspended = register(s, 6, coverage=["150102"])
        warned = register(s, 7, coverage=["150102"], grade="A", credit_score=95)
        providers.set_status(
            s, actor=HOHHOT_OFFICER, provider_id=suspended.id, status="suspended", reason="投诉核实"
        )
        providers.set_status(
            s, actor=HOHHOT_OFFICER, provider_id=warned.id, status="warning", reason="超时两次"
        )
        ids = {
            p.name: p.id for p in (county, township, league, other, meals_only, suspended, warned)
        }
    with world.session() as s:

        def candidates(region: str, service: str = "care_cleaning") -> list[int]:
            return [
                p.id
                for p in providers.list_providers_covering(
                    s, region_code=region, service_type_code=service
                )
            ]

        in_village = candidates("150102003201")
        assert set(in_village) == {county.id, township.id, league.id, warned.id}
        assert in_village[0] == warned.id  # grade A first; dispatch weighs the warning
        assert set(candidates("150102101202")) == {
            county.id,
            league.id,
            warned.id,
        }  # another township
        assert set(candidates("150105001001")) == {other.id, league.id}
        assert candidates("150202000000") == []
        assert candidates("150102003201", "emergency_fall") == [league.id]
        assert providers.covers(
            providers.get_provider(s, provider_id=township.id),
            region_code="150102003201",
            service_type_code="care_cleaning",
        )
        assert not providers.covers(
            providers.get_provider(s, provider_id=township.id),
            region_code="150102004201",
            service_type_code="care_cleaning",
        )
        assert len(ids) == 7


def test_lists_are_scoped_to_the_users_region(world) -> None:
    with world.session() as s:
        in_xincheng = register(s, 1, coverage=["150102"])
        saihan_serving_xincheng = register(s, 2, region=SAIHAN, coverage=["150105", "150102003"])
        saihan_only = register(s, 3, region=SAIHAN, coverage=["150105"])
        hohhot_wide = register(s, 4, region=HUIMIN, coverage=["150100"])
    with world.session() as s:
        seen = {p.id for p in providers.list_providers(s, region_code="150102")}
        assert seen == {in_xincheng.id, saihan_serving_xincheng.id, hohhot_wide.id}
        assert {p.id for p in providers.list_providers(s, region_code="150100")} == {
            in_xincheng.id,
            saihan_serving_xincheng.id,
            saihan_only.id,
            hohhot_wide.id,
        }
        assert providers.list_providers(s, region_code="150200") == []
        assert providers.get_provider(
            s, provider_id=saihan_serving_xincheng.id, within="150102003201"
        ).id
        with pytest.raises(OutOfRegion):
            providers.get_provider(s, provider_id=saihan_only.id, within="150102")
        with pytest.raises(providers.ProviderNotFound):
            providers.get_provider(s, provider_id=99999)
        assert (
            providers.find_provider_by_credit_code(s, credit_code=credit(3, "150105")).id
            == saihan_only.id
        )


# ---------------------------------------------------------------- status


def test_status_changes_need_a_reason_are_audited_and_terminated_is_final(world) -> None:
    with world.session() as s:
        p = register(s, 1, coverage=["150102"])
    seen: list[dict] = []
    world.event_bus.subscribe(seen.append)
    with world.session() as s:
        with pytest.raises(ValidationFailed) as err:
            providers.set_status(
                s, actor=HOHHOT_OFFICER, provider_id=p.id, status="suspended", reason="  "
            )
        assert err.value.code == "reason_required"
        with pytest.raises(ValidationFailed):
            providers.set_status(
                s, actor=HOHHOT_OFFICER, provider_id=p.id, status="closed", reason="x"
            )
        providers.set_status(
            s, actor=HOHHOT_OFFICER, provider_id=p.id, status="reduced", reason="月度评估 C 级"
        )
        providers.set_status(
            s, actor=HOHHOT_OFFICER, provider_id=p.id, status="terminated", reason="合同到期"
        )
    with world.session() as s:
        with pytest.raises(IllegalTransition) as err:
            providers.set_status(
                s, actor=HOHHOT_OFFICER, provider_id=p.id, status="normal", reason="续签"
            )
        assert "终止合作" in err.value.message
        changes = audit.list_records(s, action="provider.set_status", target_id=str(p.id))
        ok = [
            (r.detail["from"], r.detail["to"], r.detail["reason"])
            for r in changes
            if r.result == "ok"
        ]
        assert ok == [("reduced", "terminated", "合同到期"), ("normal", "reduced", "月度评估 C 级")]
        assert providers.get_provider(s, provider_id=p.id).status == ProviderStatus.TERMINATED
    # the refused unit of work rolls back; its refusal is recorded all the same
    with pytest.raises(OutOfRegion), world.session() as s:
        providers.set_status(s, actor=BAOTOU_OFFICER, provider_id=p.id, status="normal", reason="x")
    with world.session() as s:
        denied = audit.list_records(s, action="provider.set_status", target_id=str(p.id))
        assert [(r.actor_name, r.result) for r in denied if r.result != "ok"] == [
            ("包头民政", "denied")
        ]
        assert providers.list_providers(s, region_code="150102") == []
        assert [
            x.id for x in providers.list_providers(s, region_code="150102", include_terminated=True)
        ] == [p.id]
    world.event_bus.drain()
    changed = [e["data"] for e in seen if e["type"] == "ProviderStatusChanged"]
    assert [(d["from_status"], d["to_status"]) for d in changed] == [
        ("normal", "reduced"),
        ("reduced", "terminated"),
    ]
    assert all(e["region_code"] == XINCHENG for e in seen)


# ---------------------------------------------------------------- staff


def test_staff_id_numbers_are_sealed_masked_and_revealed_with_audit(world) -> None:
    number = make_id_number("150102", date(1975, 3, 8), 123)
    with world.session() as s:
        p = register(s, 1, coverage=["150102"], services=["care_cleaning", "care_bathing"])
        staff = providers.add_staff(
            s,
            actor=HOHHOT_OFFICER,
            provider_id=p.id,
            name="王秀英",
            phone="139 4710 0001",
            id_number=number,
            skills=["care_bathing"],
            qualifications=[{"name": "养老护理员", "level": "四级", "valid_until": "2027-06-30"}],
        )
        assert (staff.phone, staff.skills, staff.active) == ("13947100001", ["care_bathing"], True)
        assert staff.id_number_masked == number[:6] + "********" + number[-4:]
    with world.session() as s:
        raw = s.execute(text("SELECT id_number_sealed FROM provider_staff")).scalar_one()
        assert number not in raw and number[-8:] not in raw
        assert (
            providers.reveal_staff_id_number(
                s, actor=HOHHOT_OFFICER, staff_id=staff.id, reason="核验"
            )
            == number
        )
        reveal = audit.list_records(s, action="provider.reveal_staff_id_number")
        assert [(r.actor_name, r.target_id, r.detail) for r in reveal] == [
            ("呼市民政", str(staff.id), {"reason": "核验"})
        ]
        with pytest.raises(Conflict) as err:
            providers.add_staff(
                s,
                actor=HOHHOT_OFFICER,
                provider_id=p.id,
                name="王秀英",
                phone="13947100002",
                id_number=number.lower(),
                skills=[],
            )
        assert err.value.code == "staff_exists"


def test_staff_rules_and_a_provider_manages_only_its_own_staff(world) -> None:
    with world.session() as s:
        mine = register(s, 1, coverage=["150102"], services=["care_cleaning"])
        theirs = register(s, 2, coverage=["150102"], services=["care_cleaning"])
    me = Actor(
        kind="user",
        name="康乐中心管理员",
        region_code=XINCHENG,
        role=Role.PROVIDER,
        user_id=30,
        provider_id=mine.id,
    )
    with world.session() as s:
        staff = providers.add_staff(
            s,
            actor=me,
            provider_id=mine.id,
            name="巴特尔",
            phone="15947100003",
            id_number=make_id_number("150102", date(1980, 1, 2), 11),
            skills=["care_cleaning"],
        )
        with pytest.raises(ValidationFailed) as err:
            providers.update_staff(s, actor=me, staff_id=staff.id, skills=["medical_rehab"])
        assert err.value.code == "skill_not_offered"
        with pytest.raises(InvalidIdNumber):
            providers.add_staff(
                s,
                actor=me,
                provider_id=mine.id,
                name="张三",
                phone="15947100004",
                id_number="150102198001020111",
                skills=[],
            )
        staff_accounts.deactivate_staff(s, actor=me, staff_id=staff.id, reason="离职")
        assert providers.list_staff(s, provider_id=mine.id) == []
        # a provider may update its own contact details, not its grade
        providers.update_provider(s, actor=me, provider_id=mine.id, contact_phone="13800000000")
        with pytest.raises(PermissionDenied):
            providers.update_provider(s, actor=me, provider_id=mine.id, grade="A")
    with world.session() as s:
        with pytest.raises(PermissionDenied) as err:
            providers.add_staff(
                s,
                actor=me,
                provider_id=theirs.id,
                name="李四",
                phone="15947100005",
                id_number=make_id_number("150102", date(1981, 1, 2), 12),
                skills=[],
            )
        assert err.value.code == "not_your_provider"
        with pytest.raises(PermissionDenied):
            providers.update_provider(s, actor=me, provider_id=theirs.id, address="x")
    with world.session() as s:
        denied = audit.list_records(s, actor_user_id=30)
        assert [(r.action, r.target_id, r.result) for r in denied if r.result == "denied"] == [
            ("provider.update", str(theirs.id), "denied"),
            ("provider.add_staff", str(theirs.id), "denied"),
            ("provider.update", str(mine.id), "denied"),
        ]
        assert (
            s.scalars(
                select(ProviderStaff.name).where(ProviderStaff.provider_id == theirs.id)
            ).all()
            == []
        )
        assert providers.get_provider(s, provider_id=mine.id).grade == "B"
        assert providers.get_provider(s, provider_id=mine.id).contact_phone == "13800000000"


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_refusal_is_recorded_however_the_unit_of_work_ends(world, ending: str) -> None:
    s = world.session_factory()
    # audited work first: the refusal must be written without waiting on this unit of work
    p = register(s, 40 + len(ending), coverage=["150102"])
    s.flush()
    with pytest.raises(OutOfRegion):
        providers.set_status(
            s, actor=BAOTOU_OFFICER, provider_id=p.id, status="warning", reason="x"
        )
    getattr(s, ending)()
    s.close()
    with world.session() as s:
        denied = [r for r in audit.list_records(s) if r.result == "denied"]
        assert [(r.actor_name, r.action) for r in denied] == [("包头民政", "provider.set_status")]
        assert audit.verify_chain(s).intact
        kept = providers.list_providers(s, region_code="150102")
        assert len(kept) == (1 if ending == "commit" else 0)
