"""The transition table itself: every pair of status and command, checked without a database."""

from __future__ import annotations

import pytest

from platform_core.errors import IllegalTransition
from platform_core.orders import states
from platform_core.orders.states import Command, Guard, OrderStatus

ALL_FACTS = {g.value: True for g in Guard}
NO_FACTS = {g.value: False for g in Guard}
MAIN_PATH = [
    "created",
    "pending_dispatch",
    "dispatched",
    "accepted",
    "en_route",
    "in_service",
    "completed",
    "confirmed",
    "rated",
    "return_visited",
    "settled",
    "closed",
]


def test_the_main_path_is_one_step_at_a_time() -> None:
    for here, there in zip(MAIN_PATH, MAIN_PATH[1:], strict=False):
        assert OrderStatus(there) in states.allowed_next(here, NO_FACTS), (here, there)


def test_every_pair_outside_the_table_is_refused_naming_the_way_out() -> None:
    table = {(t.source, t.command): t for t in states.TRANSITIONS}
    refused = 0
    for status in OrderStatus:
        for command in Command:
            t = table.get((status, command))
            if t is not None and t.guard is None:
                assert states.check(status, command, NO_FACTS) == t.target
                continue
            if t is not None:  # guarded: allowed only when its fact holds
                assert states.check(status, command, {t.guard.value: True}) == t.target
            with pytest.raises(IllegalTransition) as err:
                states.check(status, command, NO_FACTS)
            refused += 1
            d = err.value.details
            assert (d["from_status"], d["command"]) == (status.value, command.value)
            assert d["to_status"] == states.target_of(command).value
            assert d["allowed"] == [s.value for s in states.allowed_next(status, NO_FACTS)]
            assert err.value.message.startswith(f"工单当前为「{states.STATUS_LABELS[status]}」")
            assert err.value.code == "illegal_transition"
    assert refused > 150


def test_terminal_statuses_lead_nowhere() -> None:
    for status in states.TERMINAL:
        assert states.allowed_next(status, ALL_FACTS) == []
        with pytest.raises(IllegalTransition) as err:
            states.check(status, Command.CANCEL, ALL_FACTS)
        assert "无 (工单已结束)" in err.value.message


def test_guards_explain_themselves() -> None:
    with pytest.raises(IllegalTransition) as err:
        states.check("return_visited", "close", NO_FACTS)
    assert "工单有金额需结算" in err.value.message and "settled" in err.value.details["allowed"]
    assert (
        states.check("return_visited", "close", {Guard.NOTHING_TO_SETTLE: True})
        == OrderStatus.CLOSED
    )
    with pytest.raises(IllegalTransition) as err:
        states.check("created", "complete", NO_FACTS)
    assert "热线直接办理" in err.value.message
    assert (
        states.check("pending_dispatch", "complete", {Guard.HOTLINE_HANDLED: True})
        == OrderStatus.COMPLETED
    )


def test_side_exits() -> None:
    for status in ("pending_dispatch", "dispatched", "accepted", "en_route"):
        assert OrderStatus.ESCALATED in states.allowed_next(status, NO_FACTS)
        assert OrderStatus.CANCELLED in states.allowed_next(status, NO_FACTS)
    assert set(states.allowed_next("escalated", NO_FACTS)) == {
        OrderStatus.PENDING_DISPATCH,
        OrderStatus.DISPATCHED,
        OrderStatus.CANCELLED,
    }
    assert OrderStatus.CANCELLED not in states.allowed_next("in_service", ALL_FACTS)
    assert OrderStatus.COMPLAINT in states.allowed_next("return_visited", NO_FACTS)
    assert OrderStatus.COMPLAINT not in states.allowed_next("settled", ALL_FACTS)
