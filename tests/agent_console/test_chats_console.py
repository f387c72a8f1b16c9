"""The online channel on the console: the son writes from his phone page (text, a photo, his
position), a Hohhot agent takes it, reads it with the sender masked, answers, opens an order
from it and closes it; the conversation is on the elder's record; another region's agents and
other roles are refused on every endpoint; bad input gets a clear Chinese error and keeps
nothing; the son's page follows the answer live over Socket.IO and reads it again on demand."""

from __future__ import annotations

import io

import pytest
import socketio
from sqlalchemy import func, select

from platform_core.actors import system_actor
from platform_core.audit import service as audit
from platform_core.calls.models import Agent
from platform_core.catalogue import service as catalogue
from platform_core.chats.models import Chat
from platform_core.db import utcnow
from platform_core.orders.models import ServiceOrder
from tests.agent_console.chat_support import (
    family_http_login,
    family_login,
    png,
    son_of_hohhot_elder,
)
from tests.agent_console.conftest import http_login, login
from tests.agent_console.test_socket import Listener, _cookie


@pytest.fixture
def son(app, world):
    son_of_hohhot_elder(world)
    with world.runtime.session() as s:
        catalogue.install_defaults(s, actor=system_actor())
    client = app.test_client()
    return client, family_login(client)


def _send(client, token, elder_id, **fields):
    data = {"elder_id": str(elder_id), **fields}
    return client.post(
        "/api/family/chats",
        data=data,
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )


def _json(client, token, method, path, body=None):
    return client.open(path, method=method, json=body, headers={"X-CSRF-Token": token})


def test_the_son_writes_and_the_agent_answers_and_opens_an_order(app, world, son) -> None:
    client, token = son
    elder = world.elders["hhht"]
    resp = _send(
        client,
        token,
        elder,
        text="父亲家里的门锁坏了, 进不去",
        latitude="40.8414",
        longitude="111.7519",
        accuracy="20",
        photo=(io.BytesIO(png()), "lock.png"),
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    chat_id, message_id = resp.json["chat_id"], resp.json["message_id"]
    assert client.get("/family/chat").status_code == 200
    photo = client.get(f"/api/family/chats/{chat_id}/photos/{message_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/png"

    agent = app.test_client()
    atoken = login(agent, "agent_hhht")
    assert _json(agent, atoken, "POST", f"/api/chats/{chat_id}/take").status_code == 200
    view = agent.get(f"/api/chats/{chat_id}").json["chat"]
    assert view["mine"] and view["elder_id"] == elder
    assert (view["sender_name"], view["sender_phone"]) == ("王**", "138****1009")
    [first] = view["messages"]
    assert first["text"] == "父亲家里的门锁坏了, 进不去" and first["photo"]
    assert first["position"] == {"latitude": 40.8414, "longitude": 111.7519, "accuracy_m": 20}
    assert agent.get(f"/api/chats/{chat_id}/photos/{message_id}").status_code == 200
    resp = _json(
        agent, atoken, "POST", f"/api/chats/{chat_id}/replies", {"text": "已收到, 马上派人"}
    )
    assert resp.status_code == 201
    resp = _json(
        agent,
        atoken,
        "POST",
        f"/api/elders/{elder}/orders",
        {"service_type_code": "care_cleaning", "chat_id": chat_id, "notes": "家属在线反映"},
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with world.runtime.session() as s:
        order = s.get(ServiceOrder, resp.json["order"]["id"])
        assert (order.source, order.source_ref) == ("online", f"chat-{chat_id}")
    history = agent.get(f"/api/elders/{elder}/chats").json["chats"]
    assert [m["text"] for m in history[0]["messages"]] == [
        "父亲家里的门锁坏了, 进不去",
        "已收到, 马上派人",
    ]
    # the officer reads it on the elder's record page
    officer = app.test_client()
    login(officer, "officer_hhht")
    record = officer.get(f"/registry/elders/{elder}").get_data(as_text=True)
    assert "已收到, 马上派人" in record and "在线咨询" in record
    assert _json(agent, atoken, "POST", f"/api/chats/{chat_id}/close", {}).status_code == 200
    with world.runtime.session() as s:
        assert s.get(Chat, chat_id).status == "closed"
        for action in (
            "chat.open",
            "chat.take",
            "chat.view",
            "chat.photo",
            "chat.reply",
            "chat.history",
        ):
            assert audit.list_records(s, action=action), action


@pytest.mark.parametrize("username", ["agent_bt", "sup_bt"])
def test_another_regions_desk_is_refused_on_every_endpoint(app, world, son, username) -> None:
    client, token = son
    resp = _send(
        client, token, world.elders["hhht"], text="你好", photo=(io.BytesIO(png()), "a.png")
    )
    chat_id, message_id = resp.json["chat_id"], resp.json["message_id"]
    other = app.test_client()
    otoken = login(other, username)
    for method, path, body in (
        ("POST", f"/api/chats/{chat_id}/take", {}),
        ("GET", f"/api/chats/{chat_id}", None),
        ("POST", f"/api/chats/{chat_id}/replies", {"text": "x"}),
        ("POST", f"/api/chats/{chat_id}/close", {}),
        ("GET", f"/api/chats/{chat_id}/photos/{message_id}", None),
        ("GET", f"/api/elders/{world.elders['hhht']}/chats", None),
        (
            "POST",
            f"/api/elders/{world.elders['hhht']}/orders",
            {"service_type_code": "care_cleaning", "chat_id": chat_id},
        ),
    ):
        resp = _json(other, otoken, method, path, body)
        assert resp.status_code == 403, (path, resp.status_code)
        assert resp.json["code"] == "out_of_region", path
    with world.runtime.session() as s:
        chat = s.get(Chat, chat_id)
        assert (chat.status, chat.handler_user_id) == ("waiting", None)
        assert s.scalar(select(func.count()).select_from(ServiceOrder)) == 0
        refused = [r for r in audit.list_records(s, action="chat.take") if r.result == "denied"]
        assert refused and refused[0].actor_user_id == world.users[username]


def test_only_the_desk_and_the_family_reach_their_own_sides(app, world, son) -> None:
    client, token = son
    chat_id = _send(client, token, world.elders["hhht"], text="你好").json["chat_id"]
    officer = app.test_client()
    otoken = login(officer, "officer_hhht")
    assert _json(officer, otoken, "POST", f"/api/chats/{chat_id}/take").status_code == 403
    assert officer.get("/family/chat").status_code == 403
    # the family reaches none of the desk's endpoints, and only the elders they follow
    assert _json(client, token, "POST", f"/api/chats/{chat_id}/take").status_code == 403
    assert client.get(f"/api/chats/{chat_id}").status_code == 403
    assert _send(client, token, world.elders["bt"], text="你好").status_code == 404
    # a colleague in the region may not answer nor order from a conversation they do not hold
    agent = app.test_client()
    atoken = login(agent, "agent_hhht")
    assert _json(agent, atoken, "POST", f"/api/chats/{chat_id}/take").status_code == 200
    sup = app.test_client()
    stoken = login(sup, "sup_hhht")
    resp = _json(sup, stoken, "POST", f"/api/chats/{chat_id}/replies", {"text": "x"})
    assert resp.status_code == 403 and resp.json["code"] == "not_your_chat"
    resp = _json(
        sup,
        stoken,
        "POST",
        f"/api/elders/{world.elders['hhht']}/orders",
        {"service_type_code": "care_cleaning", "chat_id": chat_id},
    )
    assert resp.status_code == 403 and resp.json["code"] == "not_your_chat"
    resp = _json(agent, atoken, "POST", f"/api/chats/{chat_id}/take")
    assert resp.status_code == 409 and resp.json["code"] == "chat_taken"


def test_bad_input_gets_a_clear_chinese_error_and_keeps_nothing(app, world, son) -> None:
    client, token = son
    elder = world.elders["hhht"]
    limit = world.runtime.settings.chat_photo_max_bytes
    cases = [
        ({"text": "你好"}, None, 422, "elder_required"),
        ({"text": "   "}, elder, 422, "message_empty"),
        ({"text": "长" * 1001}, elder, 422, "message_too_long"),
        ({"text": "x", "latitude": "abc", "longitude": "1"}, elder, 422, "invalid_position"),
        ({"text": "x", "latitude": "40.8"}, elder, 422, "invalid_position"),
        (
            {"text": "x", "photo": (io.BytesIO(b"GIF89a" + b"\0" * 64), "a.gif")},
            elder,
            422,
            "photo_type_not_allowed",
        ),
        (
            {"text": "x", "photo": (io.BytesIO(png(limit + 1024)), "a.png")},
            elder,
            422,
            "photo_too_large",
        ),
        (
            {"text": "x", "photo": (io.BytesIO(png(limit + 512 * 1024)), "a.png")},
            elder,
            400,
            "body_too_large",
        ),
    ]
    for fields, elder_id, status, code in cases:
        data = dict(fields)
        if elder_id is not None:
            data["elder_id"] = str(elder_id)
        resp = client.post(
            "/api/family/chats",
            data=data,
            headers={"X-CSRF-Token": token},
            content_type="multipart/form-data",
        )
        assert (resp.status_code, resp.json["code"]) == (status, code), (code, resp.json)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in resp.json["message"]), code
    with world.runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Chat)) == 0


def test_the_sons_page_follows_the_answer_live_and_reads_it_again(live, world) -> None:
    son_of_hohhot_elder(world)
    with world.runtime.session() as s:
        s.add(
            Agent(
                interface="PJSIP/8001",
                member_name="agent_hhht",
                state="ready",
                since=utcnow(),
                region_code="150100000000",
            )
        )
    son, stoken = family_http_login(live.url)
    page = Listener(live.url, "/chat", _cookie(son))
    agent, atoken = http_login(live.url, "agent_hhht")
    desk = Listener(live.url, "/agent", _cookie(agent))
    try:
        assert page.wait_for("snapshot")["chats"] == []
        resp = son.post(
            f"{live.url}/api/family/chats",
            data={"elder_id": str(world.elders["hhht"]), "text": "请帮我父亲预约助浴"},
            headers={"X-CSRF-Token": stoken},
        )
        assert resp.status_code == 201, resp.text
        chat_id = resp.json()["chat_id"]
        offered = desk.wait_for("chat_offered", timeout=10)  # the router offered it to the desk
        assert offered["data"]["chat_id"] == chat_id
        assert agent.post(
            f"{live.url}/api/chats/{chat_id}/take", json={}, headers={"X-CSRF-Token": atoken}
        ).ok
        assert agent.post(
            f"{live.url}/api/chats/{chat_id}/replies",
            json={"text": "好的, 明天上午可以"},
            headers={"X-CSRF-Token": atoken},
        ).ok
        signals = [page.wait_for("chat_message", timeout=5) for _ in range(2)]
        assert [x["data"]["author"] for x in signals] == ["sender", "agent"]
        assert all("text" not in x["data"] for x in signals)  # a signal carries no text
        ack = page.call("snapshot", {})  # what a reconnecting page reads
        [chat] = ack["snapshot"]["chats"]
        assert [m["text"] for m in chat["messages"]] == ["请帮我父亲预约助浴", "好的, 明天上午可以"]
        assert chat["status"] == "handling"
    finally:
        page.close()
        desk.close()
    # the family's namespace is the family's only
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, "/chat", _cookie(agent))


def test_the_wallboard_and_the_reports_count_the_channel_on_its_own(app, world, son) -> None:
    client, token = son
    answered = _send(client, token, world.elders["hhht"], text="第一次").json["chat_id"]
    agent = app.test_client()
    atoken = login(agent, "agent_hhht")
    assert _json(agent, atoken, "POST", f"/api/chats/{answered}/take").status_code == 200
    assert _json(agent, atoken, "POST", f"/api/chats/{answered}/close", {}).status_code == 200
    gone = _send(client, token, world.elders["hhht"], text="第二次").json["chat_id"]
    assert _json(client, token, "POST", f"/api/family/chats/{gone}/withdraw").status_code == 200
    sup = app.test_client()
    login(sup, "sup_hhht")
    board = sup.get("/api/wallboard").json
    chat = board["chat_kpi"]
    assert (chat["offered"], chat["answered"], chat["answered_within_target"]) == (2, 1, 1)
    assert chat["abandoned"] == 1 and chat["target_s"] == 60
    assert board["kpis"].get("offered", 0) == 0  # the voice figures count calls only
    report = sup.get("/api/reports/kpi").json
    assert report["chat_kpi"]["offered"] == 2
    csv_text = sup.get("/reports/export.csv").get_data(as_text=True)
    assert "在线咨询" in csv_text and "60 秒内接入" in csv_text
    waiting = _send(client, token, world.elders["hhht"], text="第三次").json["chat_id"]
    [row] = sup.get("/api/wallboard").json["chat_queue"]
    assert (row["chat_id"], row["elder_name"], row["sender_relation"]) == (waiting, "巴**", "儿子")
    baotou = app.test_client()
    login(baotou, "sup_bt")
    board = baotou.get("/api/wallboard").json
    assert board["chat_kpi"]["offered"] == 0 and board["chat_queue"] == []
