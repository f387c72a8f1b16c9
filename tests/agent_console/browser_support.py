"""What the console's Chromium tests share: a logged-in page that records script errors, and a
phone ringing at a desk (the event callcenter publishes when Asterisk sends AgentCalled)."""

from __future__ import annotations

from playwright.sync_api import expect

from platform_core.calls.events import CallRinging
from platform_core.events import publish_on_commit
from tests.agent_console.test_browser import _login


def logged_in_page(browser, base: str, username: str, landing: str):  # noqa: ANN201
    """A page of ``username`` on its landing page with its socket connected, and the list its
    script errors are collected in."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, base, username)
    page.wait_for_url(f"**{landing}")
    expect(page.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    return page, errors


def ring_desk(
    world,
    linkedid: str,
    *,
    caller_number: str,
    elder_id: int | None,
    intent: str | None,
    priority: int = 0,
    region_code: str = "150102000000",
) -> None:
    """agent_hhht's desk PJSIP/8001 rings for this caller."""
    with world.runtime.session() as s:
        publish_on_commit(
            s,
            CallRinging(
                linkedid=linkedid,
                uniqueid=linkedid,
                queue="hotline-general",
                agent_interface="PJSIP/8001",
                member_name="agent_hhht",
                caller_number=caller_number,
                caller_name="",
                elder_id=elder_id,
                intent=intent,
                priority=priority,
                region_code=region_code,
                ring_uniqueid=f"{linkedid}.8001",
            ),
        )
