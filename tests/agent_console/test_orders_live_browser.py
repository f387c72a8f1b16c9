"""Every screen follows an order as it moves, in headless Chromium: a step taken on the
provider's side (accepting on the provider's phone) appears on the pop and in the "orders I
opened" list of the agent who opened the order, on the supervisor's wallboard, in the
provider's inbox and on the phone of the practitioner it names, without a reload; the
practitioner's own step reaches the provider's phone; and a page whose connection dropped reads
its snapshot again when it reconnects, so a step taken meanwhile is shown too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role
from platform_core.catalogue import service as catalogue
from platform_core.flows import care_orders
from platform_core.orders import service as orders
from tests.agent_console.browser_support import logged_in_page, ring_desk
from tests.agent_console.conftest import PASSWORD
from tests.agent_console.provider_support import ADMIN, _provider
from tests.agent_console.test_browser import _login, browser  # noqa: F401

pytestmark = pytest.mark.browser
CALL = "1741700000.51"


def _agent(world) -> Actor:
    return Actor(
        kind="user",
        name="agent_hhht",
        region_code="150100000000",
        role=Role.AGENT,
        user_id=world.users["agent_hhht"],
    )


def _colleague(provider) -> Actor:
    """Another staff member of the provider, acting from a phone of their own."""
    return Actor(
        kind="user",
        name="护理员2",
        region_code="150102000000",
        role=Role.PROVIDER,
        provider_id=provider.id,
    )


class Blips:
    """A page's Socket.IO connections, routed through Playwright so the test can cut them as a
    network blip would (the page's client reconnects by itself)."""

    def __init__(self, page) -> None:
        self.routes: list[tuple[object, object]] = []
        page.route_web_socket(re.compile(r".*/socket\.io/.*"), self._connect)

    def _connect(self, ws) -> None:
        self.routes.append((ws, ws.connect_to_server()))

    def drop(self) -> int:
        cut, self.routes = self.routes, []
        for page_side, server_side in cut:
            server_side.close()
            page_side.close()
        return len(cut)


def test_a_providers_step_reaches_every_screen_live_and_a_reconnect_rereads(
    browser,  # noqa: F811
    world,
    live,
) -> None:
    rt = world.runtime
    with rt.session() as s:
        catalogue.install_defaults(s, actor=ADMIN)
        provider = _provider(s, 1)
    agent, errors = logged_in_page(browser, live.url, "agent_hhht", "/agent")
    # the elder on the agent's pop
    ring_desk(
        world, CALL, caller_number=world.phones["hhht"], elder_id=world.elders["hhht"], intent=None
    )
    expect(agent.get_by_test_id("elder-name")).to_have_text("巴特尔", timeout=10_000)

    sup = browser.new_page()
    sup_blips = Blips(sup)
    _login(sup, live.url, "sup_hhht")
    sup.wait_for_url("**/wallboard")
    expect(sup.locator("#conn")).to_have_class("conn ok", timeout=10_000)

    # the agent opens an order from the call; dispatch sends it to the provider
    with rt.session() as s:
        order = care_orders.open_call_order(
            s,
            actor=_agent(world),
            elder_id=world.elders["hhht"],
            service_type_code="care_cleaning",
            linkedid=CALL,
        ).order
        order_id, order_no = order.id, order.order_no
    rt.jobs.wait_idle(15)
    with rt.session() as s:
        if orders.get_order(s, order_id=order_id).provider_id != provider.id:
            orders.dispatch_to(s, actor=ADMIN, order_id=order_id, provider_id=provider.id)

    pop_order = agent.locator(f"[data-testid=screen-pop] li[data-order='{order_id}']")
    expect(pop_order).to_contain_text("已派单", timeout=10_000)
    expect(agent.get_by_test_id(f"my-order-{order_no}")).to_have_text("已派单")
    expect(sup.get_by_test_id(f"order-status-{order_no}")).to_have_text("已派单", timeout=10_000)

    office = browser.new_page()  # the provider's inbox, open at the office
    office_blips = Blips(office)
    _login(office, live.url, provider.username)
    office.wait_for_url("**/provider")
    expect(office.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    card = office.get_by_test_id(f"order-{order_no}")
    expect(card).to_be_visible()
    expect(office.locator("[data-count=new]")).to_have_text("1")

    # the practitioner who will go, on a phone of their own: nothing of theirs under way yet
    with rt.session() as s:
        accounts.create_delegated_user(
            s,
            actor=ADMIN,
            username="staff_1",
            password=PASSWORD,
            role=Role.STAFF,
            region_code="150102000000",
            display_name="护理员1",
            provider_id=provider.id,
            staff_id=provider.staff_id,
        )
    worker = browser.new_page(viewport={"width": 390, "height": 844})
    _login(worker, live.url, "staff_1")
    worker.wait_for_url("**/provider")
    expect(worker.locator("#conn")).to_have_class("conn ok", timeout=10_000)
    worker.get_by_test_id("tab-active").click()
    worker_card = worker.get_by_test_id(f"order-{order_no}")
    expect(worker_card).to_have_count(0)

    # the provider accepts on its phone, naming the practitioner: every screen shows it
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    _login(phone, live.url, provider.username)
    phone.goto(f"{live.url}/provider/orders/{order_id}")
    expect(phone.get_by_test_id("elder-name")).to_have_text("巴特尔")
    phone.get_by_test_id("accept").click()
    expect(phone.get_by_test_id("status")).to_have_text("已接单")

    expect(pop_order).to_contain_text("已接单", timeout=10_000)
    expect(agent.get_by_test_id(f"my-order-{order_no}")).to_have_text("已接单")
    expect(sup.get_by_test_id(f"order-status-{order_no}")).to_have_text("已接单")
    expect(card).to_have_count(0)  # gone from 待接单
    expect(office.locator("[data-count=active]")).to_have_text("1")
    expect(office.locator("[data-count=new]")).to_have_text("0")

    expect(worker_card).to_be_visible()  # the practitioner's phone: the order is now theirs

    # the practitioner sets off from their phone: the provider's phone shows the step it did
    # not take
    worker_card.click()
    worker.get_by_test_id("start-travel").click()
    expect(worker.get_by_test_id("status")).to_have_text("出发中")
    expect(phone.get_by_test_id("status")).to_have_text("出发中", timeout=10_000)

    # the connections drop; a step is taken meanwhile; each page reads its snapshot again
    refetched: list[str] = []
    office.on(
        "request",
        lambda r: refetched.append(r.url) if "/api/provider/orders?" in r.url else None,
    )
    assert office_blips.drop() and sup_blips.drop()
    expect(office.locator("#conn")).to_have_class("conn bad", timeout=5_000)
    with rt.session() as s:
        orders.check_in(
            s,
            actor=_colleague(provider),
            order_id=order_id,
            latitude=40.8414,
            longitude=111.7519,
        )
    expect(sup.get_by_test_id(f"order-status-{order_no}")).to_have_text("服务中", timeout=15_000)
    expect(office.locator("#conn")).to_have_class("conn ok", timeout=15_000)
    expect(office.locator("[data-count=active]")).to_have_text("1")
    assert refetched, "the inbox did not read its list again after reconnecting"
    assert not errors, errors
