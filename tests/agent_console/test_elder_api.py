from __future__ import annotations

from platform_core.accounts import service as accounts
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from tests.agent_console.conftest import login


def _records(world, **kw):
    with world.runtime.session() as s:
        return audit.list_records(s, **kw)


def test_profile_is_masked_and_the_view_audited(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    resp = client.get(f"/api/elders/{world.elders['hhht']}/profile")
    assert resp.status_code == 200
    profile = resp.json["profile"]
    assert profile["name"] == "巴特尔"
    assert "*" in profile["id_number_masked"] and world.phones["hhht"] not in resp.get_data(
        as_text=True
    )
    assert profile["contacts"][0]["holds_key"] is True
    views = _records(world, action="elder.view_profile", actor_user_id=world.users["agent_hhht"])
    assert [r.target_id for r in views] == [str(world.elders["hhht"])]


def test_another_regions_elder_is_refused_audited_and_not_viewed(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    resp = client.get(f"/api/elders/{world.elders['bt']}/profile")
    assert resp.status_code == 403 and resp.json["code"] == "out_of_region"
    assert "其其格" not in resp.get_data(as_text=True)
    refused = _records(world, action="http.out_of_region", actor_user_id=world.users["agent_hhht"])
    assert refused and refused[0].target_id == str(world.elders["bt"])
    assert not _records(world, action="elder.view_profile", actor_user_id=world.users["agent_hhht"])


def test_reveal_is_a_deliberate_audited_request(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    resp = client.post(
        f"/api/elders/{world.elders['hhht']}/reveal",
        json={"field": "id_number"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 200
    with world.runtime.session() as s:
        masked = s.get(Elder, world.elders["hhht"]).id_number_masked
    value = resp.json["value"]
    assert (
        len(value) == 18
        and value[:6] == masked[:6]
        and value[-4:] == masked[-4:]
        and "*" not in value
    )
    assert _records(world, action="elder.reveal_id_number", actor_user_id=world.users["agent_hhht"])


def test_malformed_body_is_refused_naming_the_field_and_audited(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    for bad in ({"field": "everything"}, {"field": "id_number", "extra": 1}, ["id_number"]):
        resp = client.post(
            f"/api/elders/{world.elders['hhht']}/reveal", json=bad, headers={"X-CSRF-Token": token}
        )
        assert resp.status_code == 422 and resp.json["code"] == "malformed_payload"
    assert (
        len(_records(world, action="http.malformed", actor_user_id=world.users["agent_hhht"])) == 3
    )
    assert not _records(world, action="elder.reveal_id_number")


def test_oversized_note_is_refused_and_nothing_changes(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    uid = world.users["agent_hhht"]
    with world.runtime.session() as s:
        accounts.open_wrapup(s, user_id=uid, linkedid="1700000000.5")
    note = "很" * (world.runtime.settings.note_max_chars + 1)
    resp = client.post(
        "/api/agent/disposition",
        json={"disposition": "resolved", "notes": note},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 422 and resp.json["code"] == "note_too_long"
    assert "2000" in resp.json["message"]
    with world.runtime.session() as s:
        assert accounts.pending_wrapup(s, user_id=uid) is not None
    assert _records(world, action="http.note_too_long", actor_user_id=uid)
    huge = client.post(
        "/api/agent/disposition",
        data="x" * 300_000,
        content_type="application/json",
        headers={"X-CSRF-Token": token},
    )
    assert huge.status_code == 400 and huge.json["code"] == "body_too_large"


def test_wrapup_blocks_ready_until_a_disposition(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    uid = world.users["agent_hhht"]
    with world.runtime.session() as s:
        accounts.open_wrapup(s, user_id=uid, linkedid="1700000000.6")
    resp = client.post("/api/agent/ready", json={}, headers={"X-CSRF-Token": token})
    assert resp.status_code == 409 and resp.json["code"] == "wrapup_pending"
    assert client.get("/api/agent/snapshot").json["wrapup"]["linkedid"] == "1700000000.6"
    resp = client.post(
        "/api/agent/disposition",
        json={"disposition": "info_given", "notes": "询问助餐"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 200 and resp.json["wrapup_pending"] is False
    assert client.get("/api/agent/snapshot").json["wrapup"] is None


def test_quick_register_of_an_unknown_caller(app, world) -> None:
    client = app.test_client()
    token = login(client, "agent_hhht")
    from datetime import date

    from platform_core.elders.idcard import make_id_number

    body = {
        "name": "乌云",
        "id_number": make_id_number("150103", date(1944, 5, 6), 33),
        "phone": "13900471555",
        "address": "回民区某街 5 号",
        "region_code": "150103000000",
        "living_arrangement": "alone",
    }
    resp = client.post("/api/elders", json=body, headers={"X-CSRF-Token": token})
    assert resp.status_code == 201, resp.json
    resp = client.get(f"/api/elders/{resp.json['elder_id']}/profile")
    assert resp.json["profile"]["name"] == "乌云"
    bad = client.post(
        "/api/elders",
        json={**body, "id_number": "150103194405060000"},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422 and "id_number" in bad.json["message"]


def test_unanswered_care_calls_show_as_a_risk_flag(app, world) -> None:
    from datetime import timedelta

    from platform_core.care_calls.models import CareCall, CareCampaign
    from platform_core.db import utcnow

    with world.runtime.session() as s:
        campaign = CareCampaign(
            name="高温关怀",
            region_code="150100000000",
            criteria={},
            max_attempts=3,
            retry_interval_min=30,
            status="finished",
            scheduled_for=utcnow(),
            created_by="t",
        )
        s.add(campaign)
        s.flush()
        for days_ago in (3, 60):  # one recent, one too old to count
            s.add(
                CareCall(
                    campaign_id=campaign.id,
                    elder_id=world.elders["hhht"],
                    region_code="150102000000",
                    number=world.phones["hhht"],
                    status="unreachable",
                    attempts=3,
                    outcome_at=utcnow() - timedelta(days=days_ago),
                )
            )
            campaign = CareCampaign(
                name="回访",
                region_code="150100000000",
                criteria={},
                max_attempts=3,
                retry_interval_min=30,
                status="finished",
                scheduled_for=utcnow(),
                created_by="t",
            )
            s.add(campaign)
            s.flush()
    client = app.test_client()
    login(client, "agent_hhht")
    flags = client.get(f"/api/elders/{world.elders['hhht']}/profile").json["profile"]["risk_flags"]
    missed = [f for f in flags if f["code"] == "missed_care_calls"]
    assert len(missed) == 1 and missed[0]["count"] == 1 and "关怀电话未接通" in missed[0]["label"]
    assert any(f["code"] == "lives_alone" for f in flags)
