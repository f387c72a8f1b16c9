"""Quick registration of an unknown caller: the region picked from the dictionary within the
agent's region (盟市 -> 旗县区 -> 苏木乡镇 -> 嘎查村), the birth date, sex and county read from the
ID number (GB 11643), and the registration itself."""

from __future__ import annotations

from datetime import date

from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import Elder
from platform_core.regions.service import ensure_region
from tests.agent_console.conftest import PASSWORD, login


def _client(app, username: str):
    client = app.test_client()
    token = login(client, username)
    return client, {"X-CSRF-Token": token}


def _townships(world) -> None:
    with world.runtime.session() as s:
        ensure_region(s, "150102001000", "锡林路街道")
        ensure_region(s, "150102001001", "光明社区")


def test_the_picker_offers_the_dictionary_within_the_agents_region(app, world) -> None:
    _townships(world)
    client, _ = _client(app, "agent_hhht")  # a Hohhot agent
    top = client.get("/api/regions/picker").json
    # above the agent's region: only the way down to it, and fixed
    assert top["fixed"] is True and top["level"] == 2
    assert top["options"] == [{"code": "150100000000", "name": "呼和浩特市"}]
    counties = client.get("/api/regions/picker?parent=150100000000").json
    assert counties["fixed"] is False and counties["level"] == 3
    assert {"code": "150102000000", "name": "新城区"} in counties["options"]
    assert len(counties["options"]) == 9
    towns = client.get("/api/regions/picker?parent=150102000000").json["options"]
    assert towns == [{"code": "150102001000", "name": "锡林路街道"}]
    villages = client.get("/api/regions/picker?parent=150102001000").json["options"]
    assert villages == [{"code": "150102001001", "name": "光明社区"}]
    beside = client.get("/api/regions/picker?parent=150200000000")
    assert beside.status_code == 403 and beside.json["code"] == "out_of_region"
    assert client.get("/api/regions/picker?parent=15x").status_code == 422

    with world.runtime.session() as s:  # an agent of the whole autonomous region (the demo's)
        accounts.create_user(
            s,
            actor=system_actor(),
            username="agent_nmg",
            password=PASSWORD,
            role=Role.AGENT,
            region_code="150000000000",
            display_name="全区坐席",
        )
    whole, _ = _client(app, "agent_nmg")
    leagues = whole.get("/api/regions/picker").json
    assert leagues["fixed"] is False and len(leagues["options"]) == 12


def test_the_id_number_fills_birth_date_sex_and_county(app, world) -> None:
    client, headers = _client(app, "agent_hhht")
    number = make_id_number("150105", date(1944, 5, 17), 27)  # 赛罕区, an odd sequence: male
    facts = client.post("/api/elders/id-number", json={"id_number": number}, headers=headers).json
    assert (facts["birth_date"], facts["sex"]) == ("1944-05-17", "male")
    assert facts["age"] >= 81
    assert facts["region"]["path"] == ["150100000000", "150105000000"]
    assert facts["region"]["full_name"] == "呼和浩特市赛罕区"
    # the old 乌兰察布 league code still names today's county; outside Hohhot it presets nothing
    old = make_id_number("152601", date(1950, 1, 2), 40)
    facts = client.post("/api/elders/id-number", json={"id_number": old}, headers=headers).json
    assert facts["sex"] == "female" and facts["region"] is None
    bad = client.post(
        "/api/elders/id-number", json={"id_number": number[:-1] + "0"}, headers=headers
    )
    assert bad.status_code == 422 and bad.json["code"] == "invalid_id_number"


def test_an_unknown_caller_is_registered_in_the_picked_village(app, world) -> None:
    _townships(world)
    client, headers = _client(app, "agent_hhht")
    form = {
        "name": "那仁花",
        "id_number": make_id_number("150102", date(1939, 11, 3), 44),
        "phone": "13704711234",
        "address": "光明社区 8 号楼 2 单元 101",
        "region_code": "150102001001",
        "living_arrangement": "alone",
    }
    resp = client.post("/api/elders", json=form, headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with world.runtime.session() as s:
        elder = s.get(Elder, resp.json["elder_id"])
        assert (elder.region_code, elder.sex, elder.birth_date) == (
            "150102001001",
            "female",
            date(1939, 11, 3),
        )
    # the agent's own 盟市 code is no place to live: the picker asks for a county at least
    resp = client.post(
        "/api/elders",
        json=dict(
            form,
            region_code="150100000000",
            id_number=make_id_number("150102", date(1940, 1, 1), 12),
        ),
        headers=headers,
    )
    assert resp.status_code == 404 and resp.json["code"] == "region_not_found"
