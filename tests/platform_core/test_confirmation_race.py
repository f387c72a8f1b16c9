"""Two issuers of an order's confirmation code at once (the completion message's job and a
resend from the console): the second waits for the first and replaces its code."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from platform_core.orders import confirmation
from platform_core.orders import service as orders
from platform_core.orders.models import OrderConfirmationCode
from tests.platform_core import test_orders_support as support
from tests.platform_core.test_orders_support import AGENT, walk

world = support.world  # the shared fixture


@pytest.mark.parametrize("any_runtime", ["postgresql"], indirect=True)
def test_two_issuers_at_once_leave_one_code(world) -> None:
    rt = world.rt
    with rt.session() as s:
        order = orders.open_order(
            s, actor=AGENT, elder_id=world.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, order.id, world.provider, until="in_service")
        order_id = order.id
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with rt.session() as s:
                outcome["code"] = confirmation.issue_code(s, order_id=order_id)
        except Exception as exc:  # noqa: BLE001 - what the test reports
            outcome["error"] = exc

    with rt.session() as s:
        confirmation.issue_code(s, order_id=order_id)  # its row written, not yet committed
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive(), outcome  # the second waits for the first
    racer.join(10)
    assert "error" not in outcome, outcome
    with rt.session() as s:
        rows = s.scalar(
            select(func.count())
            .select_from(OrderConfirmationCode)
            .where(OrderConfirmationCode.order_id == order_id)
        )
    assert rows == 1 and len(str(outcome["code"])) == 6
