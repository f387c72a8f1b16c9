"""The data exchange over real HTTP: a department's signed batch in (each row's result back,
a resend answered from the first time; forged, stale, replayed and misdirected requests refused
and audited), and a league's export sent up to a second platform on its own port: retried while
the receiver is down until it acknowledges, a checksum mismatch refused, a batch sent twice
acknowledged once."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from agent_console import create_app
from agent_console.server import ConsoleServer
from platform_core import clock
from platform_core.actors import system_actor
from platform_core.audit import service as audit
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.exchange import keys, upward
from platform_core.exchange.client import ExchangeClient, ProviderApiError
from platform_core.exchange.models import ExchangeBatch, ReceivedExport, UpwardExport
from platform_core.runtime import build_runtime, install_runtime
from tests.agent_console.conftest import BAOTOU, HOHHOT, http_login

BATER = make_id_number("150102", date(1941, 3, 9), 11)  # the world's elder in Hohhot
QIQIGE = make_id_number("150202", date(1941, 3, 9), 22)  # and in Baotou


def issue(rt, party: str, region: str = HOHHOT, name: str = "呼和浩特市公安局") -> keys.IssuedKey:
    with rt.session() as s:
        return keys.issue_key(
            s, actor=system_actor(), party=party, party_name=name, region_code=region
        )


def client(live, key: keys.IssuedKey, secret: str | None = None) -> ExchangeClient:
    return ExchangeClient(live.url, key.key_id, secret or key.secret, cipher=key.cipher)


def refusals(rt, reason: str) -> list:
    with rt.session() as s:
        rows = audit.list_records(s, action="exchange.request", limit=100)
    return [r for r in rows if r.result == "denied" and r.detail.get("reason") == reason]


def test_a_department_sends_deaths_and_gets_each_rows_result(world, live) -> None:
    rt = world.runtime
    c = client(live, issue(rt, "public_security"))
    day = (clock.today() - timedelta(days=1)).isoformat()
    rows = [
        {"record_no": "SW1", "id_number": BATER, "name": "巴特尔", "died_on": day},
        {"record_no": "SW2", "id_number": QIQIGE, "name": "其其格", "died_on": day},
        {"record_no": "SW3", "id_number": "15010219410309001X", "name": "某", "died_on": day},
    ]
    result = c.send_batch("GA-HS-20261207-1", "deaths", rows)
    assert (result["accepted"], result["refused"], result["duplicate"]) == (1, 2, False)
    by_row = {r["row"]: r for r in result["results"]}
    assert by_row[1]["outcome"] == "accepted"
    assert by_row[2]["code"] == "out_of_area"  # Baotou is not Hohhot police's
    assert by_row[3]["code"] == "invalid_id_number"
    assert BATER not in str(result)
    with rt.session() as s:
        assert elders.get_elder(s, elder_id=world.elders["hhht"]).status == "deceased"
        assert elders.get_elder(s, elder_id=world.elders["bt"]).status == "active"
    again = c.send_batch("GA-HS-20261207-1", "deaths", rows)  # a retry after a timeout
    assert again == {**result, "duplicate": True}
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(ExchangeBatch)) == 1


def test_forged_stale_replayed_and_misdirected_requests_are_refused(world, live) -> None:
    rt = world.runtime
    police = issue(rt, "public_security")
    rows = [{"record_no": "SW1", "id_number": BATER, "name": "巴特尔", "died_on": "2026-12-01"}]
    with pytest.raises(ProviderApiError) as err:  # signed with another secret
        client(live, police, secret=keys.wire.new_secret()).send_batch("B1", "deaths", rows)
    assert (err.value.status, err.value.code) == (401, "bad_signature")
    with pytest.raises(ProviderApiError) as err:  # ten minutes old
        client(live, police).send_batch(
            "B1", "deaths", rows, timestamp=int(clock.now().timestamp()) - 600
        )
    assert (err.value.status, err.value.code) == (401, "stale_timestamp")
    nonce = keys.wire.new_nonce()
    c = client(live, police)
    c.send_batch("B2", "deaths", [], nonce=nonce)
    with pytest.raises(ProviderApiError) as err:  # the same request captured and sent again
        c.send_batch("B2", "deaths", [], nonce=nonce)
    assert (err.value.status, err.value.code) == (409, "replayed_request")
    insurer = issue(rt, "medical_insurance", name="呼和浩特市医保局")
    with pytest.raises(ProviderApiError) as err:
        client(live, insurer).send_batch("B3", "deaths", rows)
    assert (err.value.status, err.value.code) == (403, "wrong_department")
    assert "公安部门" in err.value.message
    with pytest.raises(ProviderApiError) as err:  # a department's key cannot send an export
        client(live, police).send_export({"batch_no": "X", "schema_version": "1.0"})
    assert err.value.code == "wrong_party"
    for reason in ("bad_signature", "stale_timestamp", "replayed_request"):
        assert refusals(rt, reason), reason
    with rt.session() as s:
        assert elders.get_elder(s, elder_id=world.elders["hhht"]).status == "active"
        assert s.scalar(select(func.count()).select_from(ExchangeBatch)) == 1  # B2, empty


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(rt, export_id: int, ok, timeout: float = 30.0) -> UpwardExport:
    deadline = time.monotonic() + timeout
    while True:
        with rt.session() as s:
            export = s.get(UpwardExport, export_id)
            s.expunge(export)
        if ok(export) or time.monotonic() > deadline:
            return export
        time.sleep(0.2)


def test_a_league_sends_its_export_up_until_the_region_acknowledges(world) -> None:
    region = world.runtime  # this deployment receives; the league's is built beside it
    key = issue(region, "platform", name="呼和浩特市平台")
    port = _free_port()
    league = build_runtime(
        region.settings.with_overrides(
            home_region_code=HOHHOT,
            exchange_upstream_url=f"http://127.0.0.1:{port}",
            exchange_upstream_key_id=key.key_id,
            exchange_upstream_secret=key.secret,
            exchange_retry_base_s=0.3,
            exchange_retry_max_s=1.0,
        ),
        engine=region.engine,
    )
    install_runtime(league)  # the league's jobs run here
    league.outbox.start()
    server = None
    try:
        with league.session() as s:
            export_id = upward.create_export(s, actor=system_actor("呼市民政", HOHHOT)).id
        # the region's platform is down: attempts go on, with back-off, nothing acknowledged
        down = _wait(league, export_id, lambda e: e.attempts >= 3)
        assert (down.status, down.receipt) == ("pending", None) and down.attempts >= 3
        assert "无法连接" in down.last_error
        manifest = down.manifest
        assert manifest["schema_version"] == "1.0" and manifest["sender_region"] == HOHHOT
        elders_file = next(f for f in manifest["files"] if f["name"] == "elders.csv")
        assert elders_file["rows"] == 1  # Hohhot's elder only, not Baotou's
        server = ConsoleServer(create_app(region), "127.0.0.1", port).start()
        done = _wait(league, export_id, lambda e: e.status == "acknowledged")
        assert done.status == "acknowledged", done.last_error
        assert done.receipt["receipt_no"].startswith("RC") and not done.receipt["duplicate"]
        with region.session() as s:
            [received] = s.scalars(select(ReceivedExport)).all()
            assert (received.batch_no, received.sender_region) == (done.batch_no, HOHHOT)
            assert received.receipt_no == done.receipt["receipt_no"]
            payload = upward.export_payload(s, s.get(UpwardExport, export_id))
        # the region's officers download what a league sent, each download audited
        admin, _ = http_login(server.url, "admin_all")
        got = admin.get(f"{server.url}/registry/exchange/received/{received.id}/elders.csv")
        assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
        assert hashlib.sha256(got.content).hexdigest() == elders_file["sha256"]
        assert BATER in got.text  # the format carries ID numbers: sealed at rest, audited out
        page = admin.get(f"{server.url}/registry/exchange").text
        assert received.receipt_no in page
        agent, _ = http_login(server.url, "agent_hhht")
        assert (
            agent.get(
                f"{server.url}/registry/exchange/received/{received.id}/elders.csv"
            ).status_code
            == 403
        )
        with region.session() as s:
            assert audit.list_records(s, action="exchange.download_received", limit=5)
        c = ExchangeClient(server.url, key.key_id, key.secret)
        # the same batch again (a lost acknowledgement): the first receipt, nothing stored twice
        again = c.send_export(payload)
        assert again["receipt_no"] == received.receipt_no and again["duplicate"] is True
        # a file changed on the way: refused, and said why
        tampered = dict(payload)
        tampered["batch_no"] = tampered["manifest"]["batch_no"]
        tampered["files"] = {
            **payload["files"],
            "elders.csv": base64.b64encode(
                base64.b64decode(payload["files"]["elders.csv"]) + b"x,y\n"
            ).decode(),
        }
        with pytest.raises(ProviderApiError) as err:
            c.send_export(tampered)
        assert (err.value.status, err.value.code) == (422, "checksum_mismatch")
        assert "校验和不符" in err.value.message
        with region.session() as s:
            assert s.scalar(select(func.count()).select_from(ReceivedExport)) == 1
            refused = audit.list_records(s, action="exchange.receive_export", limit=20)
            assert any(r.detail.get("reason") == "checksum_mismatch" for r in refused)
    finally:
        if server is not None:
            server.stop()
        league.outbox.close()
        league.jobs.close()  # type: ignore[attr-defined]
        league.event_bus.close()
        install_runtime(region)


def test_an_export_the_receiver_refuses_stops_with_the_reason(world, live) -> None:
    region = world.runtime
    # the region issued this key for Baotou's platform: Hohhot's export under it is refused
    key = issue(region, "platform", region=BAOTOU, name="包头市平台")
    league = build_runtime(
        region.settings.with_overrides(
            home_region_code=HOHHOT,
            exchange_upstream_url=live.url,
            exchange_upstream_key_id=key.key_id,
            exchange_upstream_secret=key.secret,
            exchange_retry_base_s=0.3,
        ),
        engine=region.engine,
    )
    install_runtime(league)
    league.outbox.start()
    try:
        with league.session() as s:
            export_id = upward.create_export(s, actor=system_actor("呼市民政", HOHHOT)).id
        done = _wait(league, export_id, lambda e: e.status != "pending")
        assert (done.status, done.attempts, done.receipt) == ("refused", 1, None)
        assert "上级拒收" in done.last_error and "报送地区" in done.last_error
        time.sleep(1.0)  # no further attempt comes
        assert _wait(league, export_id, lambda e: True).attempts == 1
        with region.session() as s:
            assert s.scalar(select(func.count()).select_from(ReceivedExport)) == 0
    finally:
        league.outbox.close()
        league.jobs.close()  # type: ignore[attr-defined]
        league.event_bus.close()
        install_runtime(region)


def test_an_officer_issues_and_revokes_a_departments_key_in_their_region(world, live) -> None:
    officer, token = http_login(live.url, "officer_hhht")
    url = f"{live.url}/api/exchange/keys"
    headers = {"X-CSRF-Token": token}
    resp = officer.post(
        url,
        json={"party": "public_security", "party_name": "呼和浩特市公安局", "region_code": HOHHOT},
        headers=headers,
    )
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    issued = resp.json()
    refused = officer.post(
        url, json={"party": "public_security", "region_code": BAOTOU}, headers=headers
    )
    assert refused.status_code == 403
    c = ExchangeClient(live.url, issued["key_id"], issued["secret"])
    assert c.send_batch("K1", "deaths", [])["rows"] == 0
    listed = officer.get(url).json()["keys"]
    assert [k["key_id"] for k in listed] == [issued["key_id"]] and "secret" not in listed[0]
    assert listed[0]["last_used_at"]
    revoked = officer.post(f"{url}/{issued['key_id']}/revoke", headers=headers)
    assert revoked.json()["status"] == "revoked"
    with pytest.raises(ProviderApiError) as err:
        c.send_batch("K2", "deaths", [])
    assert (err.value.status, err.value.code) == (401, "unknown_key")
    agent, agent_token = http_login(live.url, "agent_hhht")
    assert agent.get(url).status_code == 403
