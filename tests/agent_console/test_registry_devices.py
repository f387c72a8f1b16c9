"""The device registry's pages: register, bind, install, report a fault, the 48-hour repair
board with who is late, a free replacement within the service period, return visits, retire;
another region's devices are refused and never listed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from platform_core import clock
from platform_core.audit import service as audit
from platform_core.devices.heartbeats import Heartbeat, record_heartbeats
from platform_core.devices.models import Device, MaintenanceTicket
from platform_core.devices.return_visits import schedule_due
from tests.agent_console.conftest import PASSWORD, login


def _post(client, path: str, token: str, **form):
    return client.post(path, data={"csrf_token": token, **form})


def _register(client, token: str, serial: str, sim: str = "") -> int:
    resp = _post(
        client, "/registry/devices", token, device_type="sos_pendant", serial=serial, sim_number=sim
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_a_pendant_from_stock_to_a_free_replacement(app, world) -> None:
    client = app.test_client()
    token = login(client, "sup_hhht")
    first = _register(client, token, "SOS-A1", "14700471001")
    spare = _register(client, token, "SOS-A2")
    assert (
        _post(
            client, f"/registry/devices/{first}/bind", token, elder_id=str(world.elders["hhht"])
        ).status_code
        == 302
    )
    assert _post(client, f"/registry/devices/{first}/install", token).status_code == 302
    assert (
        _post(client, f"/registry/devices/{first}/fault", token, fault="按键无反应").status_code
        == 302
    )
    with world.runtime.session() as s:
        ticket = s.query(MaintenanceTicket).one()
        ticket.on_site_due_at -= timedelta(hours=49)  # the deadline passed with nobody there
    _post(client, f"/registry/repairs/{ticket.id}/assign", token, technician="维修员老王")
    board = client.get("/registry/repairs").get_data(as_text=True)
    assert f'data-testid="late-{ticket.id}"' in board and "责任人 维修员老王" in board
    assert (
        _post(client, f"/registry/repairs/{ticket.id}/replaced", token, serial="SOS-A2").status_code
        == 302
    )
    with world.runtime.session() as s:
        t = s.get(MaintenanceTicket, ticket.id)
        assert (t.resolution, t.free_of_charge, t.replacement_device_id) == (
            "replaced",
            True,
            spare,
        )
        assert s.get(Device, first).status == "replaced"
        assert s.get(Device, spare).elder_id == world.elders["hhht"]
        assert audit.list_records(s, action="ticket.replaced")
    page = client.get(f"/registry/devices/{first}").get_data(as_text=True)
    assert "维修单" in page and "更换为 SOS-A2" in page  # the history says who and why
    assert (
        _post(client, f"/registry/devices/{first}/retire", token, reason="外壳破损报废").status_code
        == 302
    )


def test_return_visits_due_are_recorded(app, world) -> None:
    client = app.test_client()
    token = login(client, "sup_hhht")
    device = _register(client, token, "SOS-B1")
    _post(client, f"/registry/devices/{device}/bind", token, elder_id=str(world.elders["hhht"]))
    _post(client, f"/registry/devices/{device}/install", token)
    with world.runtime.session() as s:
        d = s.get(Device, device)
        d.installed_at -= timedelta(days=200)
        d.status = "online"
    with world.runtime.session() as s:
        visit = schedule_due(s)[0]
        visit_id = visit.id
    page = client.get("/registry/visits").get_data(as_text=True)
    assert f'data-testid="visit-{visit_id}"' in page
    assert f'data-testid="visit-use-{visit_id}-{device}"' in page  # each device in the home
    # the device's own page says a visit is due, then what it found
    device_page = client.get(f"/registry/devices/{device}").get_data(as_text=True)
    assert (
        f'data-testid="device-visit-{visit_id}"' in device_page and "已到期, 待回访" in device_page
    )
    assert (
        _post(
            client,
            f"/registry/visits/{visit_id}",
            token,
            result="using_well",
            note="会用",
            **{f"use-{device}": "working"},
        ).status_code
        == 302
    )
    assert f'data-testid="visit-{visit_id}"' not in client.get("/registry/visits").get_data(
        as_text=True
    )
    device_page = client.get(f"/registry/devices/{device}").get_data(as_text=True)
    assert "已回访" in device_page and "使用正常" in device_page and "会用" in device_page
    assert "正常使用" in device_page  # how this device is used, as the elder said


def test_another_regions_devices_are_refused_and_never_listed(app, world) -> None:
    bt = app.test_client()
    bt_token = login(bt, "sup_bt")
    theirs = _register(bt, bt_token, "SOS-BT1")
    client = app.test_client()
    token = login(client, "sup_hhht")
    _register(client, token, "SOS-HH1")
    listing = client.get("/registry/devices").get_data(as_text=True)
    assert "SOS-HH1" in listing and "SOS-BT1" not in listing
    assert client.get(f"/registry/devices/{theirs}").status_code == 403
    assert _post(client, f"/registry/devices/{theirs}/retire", token, reason="x").status_code == 403
    # nor may a Hohhot pendant be bound to a Baotou elder
    mine = _register(client, token, "SOS-HH2")
    assert (
        _post(
            client, f"/registry/devices/{mine}/bind", token, elder_id=str(world.elders["bt"])
        ).status_code
        == 403
    )
    with world.runtime.session() as s:
        assert s.get(Device, theirs).status == "in_stock"
        assert s.get(Device, mine).elder_id is None


def test_the_device_page_shows_its_heartbeat_and_battery_history(app, world) -> None:
    client = app.test_client()
    token = login(client, "sup_hhht")
    device = _register(client, token, "SOS-H1")
    _post(client, f"/registry/devices/{device}/bind", token, elder_id=str(world.elders["hhht"]))
    _post(client, f"/registry/devices/{device}/install", token)
    now = clock.now()
    with world.runtime.session() as s:
        record_heartbeats(
            s,
            beats=[
                Heartbeat(device_ref="SOS-H1", at=now - timedelta(minutes=m), battery_pct=70 + m)
                for m in range(0, 30, 5)
            ],
        )
    page = client.get(f"/registry/devices/{device}").get_data(as_text=True)
    hours = page.split('data-testid="heartbeat-hours"')[1].split("</table>")[0]
    assert "70%" in hours and "无心跳" in hours  # this hour's beats, and the silent hours before
    assert 'data-testid="heartbeat-days"' in page


@pytest.mark.browser
def test_the_supervisor_keeps_the_devices_in_chromium(live, world) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live.url}/login")
            page.fill("input[name=username]", "sup_hhht")
            page.fill("input[name=password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.goto(f"{live.url}/registry/devices")
            page.get_by_test_id("reg-serial").fill("SOS-C1")
            page.get_by_test_id("reg-sim").fill("14700471055")
            page.get_by_test_id("reg-submit").click()
            expect(page.get_by_test_id("device-status")).to_have_text("库存")
            page.get_by_test_id("bind-elder").fill(str(world.elders["hhht"]))
            page.get_by_test_id("bind-submit").click()
            expect(page.get_by_test_id("device-status")).to_have_text("已绑定待安装")
            page.get_by_test_id("install-submit").click()
            expect(page.get_by_test_id("device-status")).to_have_text("已安装")
            expect(page.get_by_test_id("device-service-until")).not_to_have_text("未安装")
            expect(page.get_by_test_id("heartbeat-hours")).to_contain_text("无心跳")
            page.get_by_test_id("fault-text").fill("不能通话")
            page.get_by_test_id("fault-submit").click()
            expect(page.get_by_test_id("device-status")).to_have_text("故障")
            page.get_by_test_id("nav-repairs").click()
            row = page.locator("[data-testid^=ticket-]").first
            expect(row).to_contain_text("不能通话")
            ticket = (row.get_attribute("data-testid") or "").split("-")[1]
            page.get_by_test_id(f"tech-{ticket}").fill("维修员老王")
            page.get_by_test_id(f"assign-{ticket}").click()
            page.get_by_test_id(f"repaired-{ticket}").click()
            expect(page.get_by_test_id("repair-rows")).to_contain_text("没有待处理的维修单")
            page.get_by_test_id("nav-devices").click()
            page.get_by_test_id("device-q").fill("SOS-C1")
            page.get_by_test_id("device-search-submit").click()
            expect(page.get_by_test_id("device-rows")).to_contain_text("在线")
            assert not errors, errors
        finally:
            browser.close()
