"""Who hears an order's steps on the provider's side: the provider's own accounts hear every
order of the provider, a practitioner only the orders they go to (and the one taken from them),
another provider nothing."""

from __future__ import annotations

import pytest

from platform_core.accounts import service as accounts
from platform_core.actors import Role
from platform_core.catalogue import service as catalogue
from platform_core.orders import service as orders
from tests.agent_console.conftest import PASSWORD, http_login
from tests.agent_console.provider_support import ADMIN, AGENT, _provider
from tests.agent_console.test_socket import Listener, _cookie


def _practitioner(s, provider, username: str, staff_id: int) -> None:  # noqa: ANN001
    accounts.create_delegated_user(
        s,
        actor=ADMIN,
        username=username,
        password=PASSWORD,
        role=Role.STAFF,
        region_code="150102000000",
        provider_id=provider.id,
        staff_id=staff_id,
    )


def test_an_orders_steps_reach_its_provider_and_its_practitioner_only(live, world) -> None:
    rt = world.runtime
    with rt.session() as s:
        catalogue.install_defaults(s, actor=ADMIN)
        first, second = _provider(s, 1), _provider(s, 2)
        _practitioner(s, first, "staff_goes", first.staff_id)
    listeners = {}
    try:
        for name in (first.username, second.username, "staff_goes"):
            web, _ = http_login(live.url, name)
            listeners[name] = Listener(live.url, "/provider", _cookie(web))
            assert "counts" in listeners[name].wait_for("snapshot")
        with rt.session() as s:
            order = orders.open_order(
                s,
                actor=AGENT,
                elder_id=world.elders["hhht"],
                service_type_code="care_cleaning",
                source="call",
            )
            order_id = order.id
            orders.submit_for_dispatch(s, actor=AGENT, order_id=order_id)
            orders.dispatch_to(s, actor=ADMIN, order_id=order_id, provider_id=first.id)
        change = listeners[first.username].wait_for("order_changed", timeout=5)
        assert (change["id"], change["status"], change["status_label"]) == (
            order_id,
            "dispatched",
            "已派单",
        )
        with pytest.raises(AssertionError):  # not theirs yet
            listeners["staff_goes"].wait_for("order_changed", timeout=1.0)
        with rt.session() as s:
            provider_desk = accounts.actor_for(accounts.find_user_by_username(s, first.username))
            orders.accept(s, actor=provider_desk, order_id=order_id, staff_id=first.staff_id)
        assert listeners["staff_goes"].wait_for("order_changed", timeout=5)["status"] == "accepted"
        assert listeners[first.username].wait_for("order_changed", timeout=5)["id"] == order_id
        with pytest.raises(AssertionError):  # another provider hears nothing of it
            listeners[second.username].wait_for("order_changed", timeout=1.0)
    finally:
        for listener in listeners.values():
            listener.close()
