"""The console speaks one language at a time: a refusal reaches a Chinese screen in Chinese only
(the English half of a domain message is for the English screen), and errors of HTTP itself
(404, 403, 405, 500) are proper pages of the console, not a bare line."""

from __future__ import annotations

import pytest

from agent_console import create_app
from agent_console.i18n import localize
from tests.agent_console.conftest import http_login, login
from tests.agent_console.test_socket import Listener, _cookie


@pytest.mark.parametrize(
    ("message", "zh", "en"),
    [
        (
            "结束日期早于开始日期 / the end date is before the start date",
            "结束日期早于开始日期",
            "the end date is before the start date",
        ),
        (  # a slash inside the Chinese half is not the divide
            "分组只能是 hour/day / 按天 / group by hour or day",
            "分组只能是 hour/day / 按天",
            "group by hour or day",
        ),
        (
            "请求格式不正确: name, phone / malformed request",
            "请求格式不正确: name, phone",
            "malformed request",
        ),
        ("只有中文", "只有中文", "只有中文"),
        (
            "English only / still English",
            "English only / still English",
            "English only / still English",
        ),
    ],
)
def test_one_half_of_a_bilingual_message(message: str, zh: str, en: str) -> None:
    assert (localize("zh", message), localize("en", message)) == (zh, en)


def test_a_refusal_reaches_each_screen_in_its_language(app, world) -> None:
    client = app.test_client()
    login(client, "sup_hhht")
    zh = client.get("/api/reports/kpi?start=2026-02-01&end=2026-01-01").json
    assert zh["message"] == "结束日期早于开始日期" and zh["code"] == "invalid_range"
    client.set_cookie("hotline_lang", "en")
    en = client.get("/api/reports/kpi?start=2026-02-01&end=2026-01-01").json
    assert en["message"] == "the end date is before the start date"


def test_a_socket_refusal_is_chinese_only(live, world) -> None:
    session, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(session))
    try:
        sock.wait_for("snapshot")
        ack = sock.call("screen_pop", {"elder_id": world.elders["bt"]})
        assert not ack["ok"] and ack["code"] == "out_of_region"
        assert ack["message"] == "无权访问其他地区的数据"
    finally:
        sock.close()


def test_http_errors_are_pages_of_the_console(app, world) -> None:
    client = app.test_client()
    login(client, "officer_hhht")
    missing = client.get("/no-such-page")
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "页面不存在" in page and "返回首页" in page
    assert "not found" not in page and 'id="main"' in page
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json == {"code": "not_found", "message": "未找到"}
    refused = client.get("/agent")  # an officer has no agent desk
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "无权访问" in page and "your role" not in page
    wrong = client.get("/logout")  # a form's address, opened as a page
    assert wrong.status_code == 405 and "不支持的操作" in wrong.get_data(as_text=True)
    client.set_cookie("hotline_lang", "en")
    assert "Page not found" in client.get("/no-such-page").get_data(as_text=True)


def test_an_unexpected_fault_is_a_page_without_a_trace(world) -> None:
    app = create_app(world.runtime, relay=False)  # not in testing mode: faults are caught

    def boom() -> str:
        raise RuntimeError("a fault in a view")

    app.add_url_rule("/boom", "boom", boom)
    client = app.test_client()
    resp = client.get("/boom", headers={"Accept": "text/html"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "系统出错了" in page and "错误已记录" in page
    assert "RuntimeError" not in page and "Traceback" not in page


def test_the_header_names_the_users_region(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    page = client.get("/agent").get_data(as_text=True)
    who = page[page.index('data-testid="who"') :].split("</span>")[0]
    assert "呼和浩特市" in who and "150100000000" not in who
