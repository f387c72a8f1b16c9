"""The provider portal: a provider's staff take an order from the inbox to the elder's
confirmation (position, photos, report, code); they see only their own orders; bad photos,
steps the lifecycle forbids and other providers' orders are refused, audited, nothing changed."""

from __future__ import annotations

import struct
import zlib

import pytest

from platform_core.audit import service as audit
from platform_core.notifications import service as sms
from platform_core.orders import photos
from tests.agent_console import provider_support as support
from tests.agent_console.conftest import login
from tests.agent_console.provider_support import HOME, dispatched_order, order
from tests.order_steps import time_at_home

provider_world = support.provider_world  # the shared fixture


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def as_provider(app, w, who: str = "first"):
    client = app.test_client()
    token = login(client, getattr(w, who).username)
    return client, token


def post(client, token, path: str, body: dict | None = None):
    return client.post(path, json=body or {}, headers={"X-CSRF-Token": token})


def upload(client, token, order_id: int, data: bytes, kind: str = "check_in", name: str = "p.png"):
    import io

    return client.post(
        f"/api/provider/orders/{order_id}/photos",
        data={
            "photo": (io.BytesIO(data), name),
            "kind": kind,
            "latitude": str(HOME[0]),
            "longitude": str(HOME[1]),
        },
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )


def test_a_provider_lands_on_its_inbox_in_chinese(app, provider_world) -> None:
    client = app.test_client()
    login(client, provider_world.first.username)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 302 and home.headers["Location"].endswith("/provider")
    page = client.get("/provider").get_data(as_text=True)
    assert "待接单" in page and "进行中" in page and "provider.css" in page
    assert 'name="viewport"' in page
    data = client.get("/api/provider/orders?view=new").get_json()
    (card,) = data["orders"]
    assert card["id"] == provider_world.order_id and card["elder_name"] == "巴特尔"
    assert data["counts"] == {"new": 1, "active": 0, "confirm": 0, "done": 0}


def test_an_order_from_accept_to_the_elders_confirmation(app, provider_world) -> None:
    w = provider_world
    oid = w.order_id
    client, token = as_provider(app, w)
    detail = client.get(f"/api/provider/orders/{oid}").get_json()
    assert detail["next"] == ["accept", "reject"] and detail["staff"][0]["id"] == w.first.staff_id
    assert (
        post(
            client, token, f"/api/provider/orders/{oid}/accept", {"staff_id": w.first.staff_id}
        ).status_code
        == 200
    )
    assert (
        post(client, token, f"/api/provider/orders/{oid}/start-travel").get_json()["status"]
        == "en_route"
    )
    shot = upload(client, token, oid, png())
    assert shot.status_code == 201
    photo_id = shot.get_json()["photo_id"]
    resp = post(
        client,
        token,
        f"/api/provider/orders/{oid}/check-in",
        {"latitude": HOME[0], "longitude": HOME[1], "photo_id": photo_id},
    )
    assert resp.get_json()["status"] == "in_service"
    with w.rt.session() as s:
        time_at_home(s, oid)
    resp = post(
        client,
        token,
        f"/api/provider/orders/{oid}/check-out",
        {"latitude": HOME[0], "longitude": HOME[1], "report": "打扫了厨房和卧室, 老人精神好"},
    )
    assert resp.get_json()["status"] == "completed"
    w.rt.jobs.wait_idle(10)
    with w.rt.session() as s:
        (msg,) = sms.list_messages(s, region_code="150000000000", ref_type="order_step")[:1] or [
            None
        ]
        codes = [
            m
            for m in sms.list_messages(s, region_code="150000000000")
            if m.template == "confirmation_code"
        ]
        code = sms.read_message(s, actor=support.ADMIN, message_id=codes[0].id).split("服务确认码")[
            1
        ][:6]
    bad = post(
        client,
        token,
        f"/api/provider/orders/{oid}/confirm",
        {"code": "999999" if code != "999999" else "000000"},
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "wrong_confirmation_code"
    assert (
        post(client, token, f"/api/provider/orders/{oid}/confirm", {"code": code}).get_json()[
            "status"
        ]
        == "confirmed"
    )
    done = order(w, oid)
    assert (
        done.completion_report == "打扫了厨房和卧室, 老人精神好" and done.confirmed_by == "老人本人"
    )
    detail = client.get(f"/api/provider/orders/{oid}").get_json()
    assert [p["kind"] for p in detail["photos"]] == ["check_in"]
    check_in = [h for h in detail["history"] if h["command"] == "check_in"][0]
    assert check_in["label"] == "签到"
    image = client.get(f"/api/provider/photos/{photo_id}")
    assert image.status_code == 200 and image.data == png() and image.mimetype == "image/png"
    with w.rt.session() as s:
        assert audit.list_records(s, action="order.photo.view", target_id=str(photo_id))
        assert audit.list_records(s, action="provider.view_order", target_id=str(oid))


def test_the_elder_can_sign_instead_of_reading_a_code(app, provider_world) -> None:
    w = provider_world
    oid = w.order_id
    client, token = as_provider(app, w)
    post(client, token, f"/api/provider/orders/{oid}/accept", {"staff_id": w.first.staff_id})
    post(client, token, f"/api/provider/orders/{oid}/start-travel")
    post(
        client,
        token,
        f"/api/provider/orders/{oid}/check-in",
        {"latitude": HOME[0], "longitude": HOME[1]},
    )
    with w.rt.session() as s:
        time_at_home(s, oid)
    post(
        client,
        token,
        f"/api/provider/orders/{oid}/check-out",
        {"latitude": HOME[0], "longitude": HOME[1]},
    )
    signature = upload(client, token, oid, png(40, 10), kind="signature").get_json()["photo_id"]
    resp = post(
        client,
        token,
        f"/api/provider/orders/{oid}/confirm",
        {"photo_id": signature, "confirmed_by": "女儿 王丽"},
    )
    assert resp.get_json()["status"] == "confirmed"
    assert order(w, oid).confirmed_by == "女儿 王丽"


def test_another_providers_order_is_invisible_and_untouchable(app, provider_world) -> None:
    w = provider_world
    theirs = dispatched_order(w, w.second.id)
    client, token = as_provider(app, w)
    assert [o["id"] for o in client.get("/api/provider/orders").get_json()["orders"]] == [
        w.order_id
    ]
    resp = client.get(f"/api/provider/orders/{theirs}")
    assert (resp.status_code, resp.get_json()["code"]) == (403, "not_your_order")
    for path, body in [("accept", {}), ("reject", {"reason": "不是我们的"}), ("start-travel", {})]:
        resp = post(client, token, f"/api/provider/orders/{theirs}/{path}", body)
        assert (resp.status_code, resp.get_json()["code"]) == (403, "not_your_order"), path
    resp = upload(client, token, theirs, png())
    assert resp.status_code == 403
    before = order(w, theirs)
    assert (before.status, before.transition_count) == ("dispatched", 3)
    with w.rt.session() as s:
        refused = [
            r
            for r in audit.list_records(s, limit=500)
            if r.result == "denied"
            and r.detail.get("reason") == "not_your_order"
            and r.action != "http.forbidden"  # the console's own record of each 403
        ]
        assert len(refused) >= 5 and all(r.target_id == str(theirs) for r in refused)
        assert photos.list_photos(s, order_id=theirs) == []


def test_bad_photos_and_forbidden_steps_are_refused(app, provider_world) -> None:
    w = provider_world
    oid = w.order_id
    client, token = as_provider(app, w)
    post(client, token, f"/api/provider/orders/{oid}/accept", {"staff_id": w.first.staff_id})
    resp = upload(client, token, oid, b"MZ\x90\x00 this is a program", name="photo.jpg")
    assert (resp.status_code, resp.get_json()["code"]) == (422, "photo_type_not_allowed")
    big = b"\xff\xd8\xff" + b"\x00" * (6 * 1024 * 1024)
    resp = upload(client, token, oid, big, name="big.jpg")
    assert (resp.status_code, resp.get_json()["code"]) == (422, "photo_too_large")
    resp = upload(client, token, oid, png(), kind="selfie")
    assert (resp.status_code, resp.get_json()["code"]) == (422, "invalid_photo_kind")
    # completing an order never checked in
    resp = post(
        client,
        token,
        f"/api/provider/orders/{oid}/check-out",
        {"latitude": HOME[0], "longitude": HOME[1]},
    )
    assert (resp.status_code, resp.get_json()["code"]) == (409, "illegal_transition")
    assert "已接单" in resp.get_json()["message"]
    resp = post(client, token, f"/api/provider/orders/{oid}/start-travel")
    resp = post(
        client, token, f"/api/provider/orders/{oid}/check-in", {"latitude": 0, "longitude": 0}
    )
    assert (resp.status_code, resp.get_json()["code"]) == (422, "invalid_coordinates")
    resp = client.post(
        f"/api/provider/orders/{oid}/check-in", json={"latitude": HOME[0], "longitude": HOME[1]}
    )
    assert (resp.status_code, resp.get_json()["code"]) == (400, "csrf_failed")
    assert order(w, oid).status == "en_route"
    with w.rt.session() as s:
        assert photos.list_photos(s, order_id=oid) == []
        reasons = {
            r.detail.get("reason") for r in audit.list_records(s, limit=500) if r.result == "denied"
        }
    assert {"photo_type_not_allowed", "photo_too_large", "illegal_transition"} <= reasons


def test_other_roles_and_providers_keep_to_their_own_pages(app, provider_world) -> None:
    agent = app.test_client()
    login(agent, "agent_hhht")
    assert agent.get("/api/provider/orders").status_code == 403
    assert agent.get("/provider").status_code == 403
    client, _ = as_provider(app, provider_world)
    assert client.get("/api/agent/snapshot").status_code == 403


@pytest.mark.browser
def test_on_a_phone_in_headless_chromium(provider_world, live) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.agent_console.conftest import PASSWORD
    from tests.agent_console.test_browser import CHROMIUM_ARGS

    w = provider_world
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": HOME[0] + 0.0005, "longitude": HOME[1]},
            permissions=["geolocation"],
            locale="zh-CN",
        )
        page = context.new_page()
        page.goto(f"{live.url}/login")
        page.fill("input[name=username]", w.first.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-testid=login-submit]")
        no = order(w, w.order_id).order_no
        page.click(f"[data-testid=order-{no}]")
        expect(page.get_by_test_id("elder-name")).to_have_text("巴特尔")
        page.get_by_test_id("accept").click()
        expect(page.get_by_test_id("status")).to_have_text("已接单")
        page.get_by_test_id("start-travel").click()
        expect(page.get_by_test_id("status")).to_have_text("出发中")
        page.set_input_files(
            "#checkin-photo",
            files=[{"name": "door.png", "mimeType": "image/png", "buffer": png(64, 48)}],
        )
        page.get_by_test_id("check-in").click()
        expect(page.get_by_test_id("status")).to_have_text("服务中")
        with w.rt.session() as s:
            time_at_home(s, w.order_id)
        page.get_by_test_id("report").fill("助洁两小时, 老人满意")
        page.get_by_test_id("check-out").click()
        expect(page.get_by_test_id("status")).to_have_text("已完成")
        w.rt.jobs.wait_idle(10)
        with w.rt.session() as s:
            codes = [
                m
                for m in sms.list_messages(s, region_code="150000000000")
                if m.template == "confirmation_code"
            ]
            code = sms.read_message(s, actor=support.ADMIN, message_id=codes[0].id).split(
                "服务确认码"
            )[1][:6]
        page.get_by_test_id("code").fill(code)
        page.get_by_test_id("confirm-code").click()
        expect(page.get_by_test_id("status")).to_have_text("已确认")
        # the page fits the phone: no sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    done = order(w, w.order_id)
    assert done.check_in_latitude == pytest.approx(HOME[0] + 0.0005)
    with w.rt.session() as s:
        (shot,) = photos.list_photos(s, order_id=w.order_id)
    assert shot.kind == "check_in" and shot.content_type in ("image/png", "image/jpeg")
