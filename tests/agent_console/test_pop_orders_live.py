"""The screen pop's open orders move live: the connection follows the elder on its pop, each
order event of that elder reaches it (opened, handed to dispatch, dispatched, cancelled), another
elder's do not, and after a reconnect the list is read again."""

from __future__ import annotations

import pytest

from platform_core.dispatch.service import dispatch_history
from platform_core.flows import care_orders
from tests.agent_console.conftest import http_login
from tests.agent_console.test_socket import Listener, _cookie
from tests.platform_core.care_support import add_provider, agent, install_catalogue, jobs_settled

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)


def _changes(sock: Listener, order_id: int, until: str, timeout: float = 10.0) -> list[str]:
    """The statuses the socket saw for one order, up to ``until``."""
    seen: list[str] = []
    while not seen or seen[-1] != until:
        change = sock.wait_for("order_changed", timeout=timeout)
        if change["id"] == order_id:
            seen.append(change["status"])
    return seen


def test_the_pops_orders_follow_the_elder_shown(live, world) -> None:
    with world.runtime.session() as s:
        install_catalogue(s)
        provider = add_provider(s, services=("care_cleaning",))
    session, _ = http_login(live.url, "agent_hhht")
    sock = Listener(live.url, "/agent", _cookie(session))
    try:
        sock.wait_for("snapshot")
        pop = sock.call("screen_pop", {"elder_id": world.elders["hhht"]})
        assert pop["ok"] and pop["open_orders"] == []

        with world.runtime.session() as s:  # as the console opens one: opened, then dispatch
            order = care_orders.open_call_order(
                s,
                actor=agent(),
                elder_id=world.elders["hhht"],
                service_type_code="care_cleaning",
            ).order
            order_id = order.id
        statuses = _changes(sock, order_id, until="dispatched")
        assert statuses[:2] == ["created", "pending_dispatch"]
        with world.runtime.session() as s:
            assert dispatch_history(s, order_id=order_id)[0]["provider_id"] == provider.id

        # the change carries what the pop shows: the service by name, the status in words
        reread = sock.call("elder_orders", {"elder_id": world.elders["hhht"]})
        [shown] = reread["open_orders"]
        assert (shown["id"], shown["service_type_name"], shown["status_label"]) == (
            order_id,
            "助洁",
            "已派单",
        )
        assert "care_cleaning" not in shown["status_label"]

        # another elder on the pop: the first elder's orders no longer reach this connection
        other = sock.call("screen_pop", {"caller_number": "13711112222"})
        assert other["unknown"]
        with world.runtime.session() as s:
            care_orders.cancel_care_order(s, actor=agent(), order_id=order_id, reason="老人取消")
        with pytest.raises(AssertionError):
            sock.wait_for("order_changed", timeout=1.5)

        # the elder's list again (a reconnect): the cancelled order is no longer open
        again = sock.call("elder_orders", {"elder_id": world.elders["hhht"]})
        assert again["ok"] and again["open_orders"] == []
        refused = sock.call("elder_orders", {"elder_id": world.elders["bt"]})
        assert not refused["ok"] and refused["code"] == "out_of_region"
    finally:
        sock.close()
