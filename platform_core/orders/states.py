"""The service-order lifecycle (DOMAIN.md section 7) as one transition table.

Every command names the one status it leads to and the statuses it may start from. A few
transitions hold only under a condition about the order (a guard), e.g. an order the hotline
answers itself may be completed without dispatch. Anything not in the table is refused with
:class:`IllegalTransition`, naming where the order is, where the command would take it and
where it may go from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from platform_core.errors import IllegalTransition


class OrderStatus(StrEnum):
    CREATED = "created"
    PENDING_DISPATCH = "pending_dispatch"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EN_ROUTE = "en_route"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    RATED = "rated"
    RETURN_VISITED = "return_visited"
    SETTLED = "settled"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    ESCALATED = "escalated"
    COMPLAINT = "complaint"


STATUS_LABELS: dict[str, str] = {
    OrderStatus.CREATED: "已创建",
    OrderStatus.PENDING_DISPATCH: "待派单",
    OrderStatus.DISPATCHED: "已派单",
    OrderStatus.ACCEPTED: "已接单",
    OrderStatus.REJECTED: "已拒单",
    OrderStatus.EN_ROUTE: "出发中",
    OrderStatus.IN_SERVICE: "服务中",
    OrderStatus.COMPLETED: "已完成",
    OrderStatus.CONFIRMED: "已确认",
    OrderStatus.RATED: "已评价",
    OrderStatus.RETURN_VISITED: "已回访",
    OrderStatus.SETTLED: "已结算",
    OrderStatus.CLOSED: "已关闭",
    OrderStatus.CANCELLED: "已取消",
    OrderStatus.ESCALATED: "已升级",
    OrderStatus.COMPLAINT: "投诉中",
}


class Command(StrEnum):
    SUBMIT_FOR_DISPATCH = "submit_for_dispatch"
    DISPATCH_TO = "dispatch_to"
    ACCEPT = "accept"
    REJECT = "reject"
    START_TRAVEL = "start_travel"
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    COMPLETE = "complete"
    CONFIRM = "confirm"
    RATE = "rate"
    RECORD_RETURN_VISIT = "record_return_visit"
    SETTLE = "settle"
    CLOSE = "close"
    CANCEL = "cancel"
    ESCALATE = "escalate"
    FILE_COMPLAINT = "file_complaint"


COMMAND_LABELS: dict[str, str] = {
    "open_order": "创建工单",
    "assign_staff": "指派服务人员",
    Command.SUBMIT_FOR_DISPATCH: "提交派单",
    Command.DISPATCH_TO: "派单",
    Command.ACCEPT: "接单",
    Command.REJECT: "拒单",
    Command.START_TRAVEL: "出发",
    Command.CHECK_IN: "签到",
    Command.CHECK_OUT: "签退",
    Command.COMPLETE: "完成",
    Command.CONFIRM: "老人确认",
    Command.RATE: "评价",
    Command.RECORD_RETURN_VISIT: "回访",
    Command.SETTLE: "结算",
    Command.CLOSE: "关闭",
    Command.CANCEL: "取消",
    Command.ESCALATE: "升级",
    Command.FILE_COMPLAINT: "投诉",
}


class Guard(StrEnum):
    """Facts about an order that some transitions require (the service layer supplies them)."""

    HOTLINE_HANDLED = "hotline_handled"  # the service type is delivered by the hotline itself
    NOTHING_TO_SETTLE = "nothing_to_settle"  # the order's amount is zero
    SERVICE_DELIVERED = "service_delivered"  # it was completed before the complaint


# Why a guarded transition was refused: (中文, English).
GUARD_REFUSALS: dict[str, tuple[str, str]] = {
    Guard.HOTLINE_HANDLED: (
        "只有由热线直接办理的服务可以不派单直接完成",
        "only services the hotline handles itself complete without dispatch",
    ),
    Guard.NOTHING_TO_SETTLE: (
        "工单有金额需结算, 不能直接关闭",
        "the order has an amount to settle first",
    ),
    Guard.SERVICE_DELIVERED: (
        "服务未完成, 投诉处理后只能关闭",
        "the service was never completed; close it instead",
    ),
}

S, C = OrderStatus, Command


@dataclass(frozen=True)
class Transition:
    source: OrderStatus
    command: Command
    target: OrderStatus
    guard: Guard | None = None


def _t(
    sources: tuple[OrderStatus, ...],
    command: Command,
    target: OrderStatus,
    guard: Guard | None = None,
) -> list[Transition]:
    return [Transition(s, command, target, guard) for s in sources]


# Before the practitioner is at the home: the order may still be cancelled, and is open on
# the elder's screen pop.
BEFORE_ARRIVAL: tuple[OrderStatus, ...] = (
    S.CREATED,
    S.PENDING_DISPATCH,
    S.DISPATCHED,
    S.ACCEPTED,
    S.REJECTED,
    S.EN_ROUTE,
)

# The one table. Read a row as: from any of these statuses, this command leads there.
TRANSITIONS: tuple[Transition, ...] = tuple(
    _t((S.CREATED, S.REJECTED, S.ESCALATED), C.SUBMIT_FOR_DISPATCH, S.PENDING_DISPATCH)
    + _t((S.PENDING_DISPATCH, S.REJECTED, S.ESCALATED), C.DISPATCH_TO, S.DISPATCHED)
    + _t((S.DISPATCHED,), C.ACCEPT, S.ACCEPTED)
    + _t((S.DISPATCHED, S.ACCEPTED), C.REJECT, S.REJECTED)
    + _t((S.ACCEPTED,), C.START_TRAVEL, S.EN_ROUTE)
    + _t((S.EN_ROUTE,), C.CHECK_IN, S.IN_SERVICE)
    + _t((S.IN_SERVICE,), C.CHECK_OUT, S.COMPLETED)
    + _t((S.IN_SERVICE,), C.COMPLETE, S.COMPLETED)
    + _t((S.CREATED, S.PENDING_DISPATCH), C.COMPLETE, S.COMPLETED, Guard.HOTLINE_HANDLED)
    + _t((S.COMPLETED,), C.CONFIRM, S.CONFIRMED)
    + _t((S.CONFIRMED,), C.RATE, S.RATED)
    # the elder who confirmed but would not rate is still called back
    + _t((S.RATED, S.CONFIRMED), C.RECORD_RETURN_VISIT, S.RETURN_VISITED)
    + _t((S.COMPLAINT,), C.RECORD_RETURN_VISIT, S.RETURN_VISITED, Guard.SERVICE_DELIVERED)
    + _t((S.RETURN_VISITED,), C.SETTLE, S.SETTLED)
    + _t((S.SETTLED, S.COMPLAINT), C.CLOSE, S.CLOSED)
    + _t((S.RETURN_VISITED,), C.CLOSE, S.CLOSED, Guard.NOTHING_TO_SETTLE)
    + _t((*BEFORE_ARRIVAL, S.ESCALATED), C.CANCEL, S.CANCELLED)
    + _t(
        (S.PENDING_DISPATCH, S.DISPATCHED, S.ACCEPTED, S.REJECTED, S.EN_ROUTE),
        C.ESCALATE,
        S.ESCALATED,
    )
    + _t(
        (S.ACCEPTED, S.EN_ROUTE, S.IN_SERVICE, S.COMPLETED, S.CONFIRMED, S.RATED, S.RETURN_VISITED),
        C.FILE_COMPLAINT,
        S.COMPLAINT,
    )
)

TERMINAL: frozenset[OrderStatus] = frozenset({S.CLOSED, S.CANCELLED})
# A provider is busy with an order in these statuses (its load, against its capacity).
LOAD_STATUSES: frozenset[OrderStatus] = frozenset(
    {S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.IN_SERVICE}
)
# What the agent sees as still open on the elder's screen pop: not yet done from the elder's
# side, including a completed order that waits for the elder's confirmation.
ELDER_OPEN_STATUSES: frozenset[OrderStatus] = frozenset(
    {*BEFORE_ARRIVAL, S.IN_SERVICE, S.COMPLETED, S.ESCALATED, S.COMPLAINT}
)

_BY_SOURCE: dict[tuple[OrderStatus, Command], Transition] = {
    (t.source, t.command): t for t in TRANSITIONS
}
_TARGET: dict[Command, OrderStatus] = {t.command: t.target for t in TRANSITIONS}
if any(_TARGET[t.command] != t.target for t in TRANSITIONS):
    raise RuntimeError("order transition table: each command must lead to exactly one status")


def target_of(command: Command | str) -> OrderStatus:
    return _TARGET[Command(command)]


def transitions_from(
    status: OrderStatus | str, facts: Mapping[str, bool] | None = None
) -> list[Transition]:
    """Transitions open from ``status``; with ``facts`` only those whose guard holds."""
    out = [t for t in TRANSITIONS if t.source == status]
    if facts is not None:
        out = [t for t in out if t.guard is None or facts.get(t.guard, False)]
    return out


def allowed_next(
    status: OrderStatus | str, facts: Mapping[str, bool] | None = None
) -> list[OrderStatus]:
    """The statuses reachable in one step, in lifecycle order."""
    targets = {t.target for t in transitions_from(status, facts)}
    return [s for s in OrderStatus if s in targets]


def check(
    status: OrderStatus | str, command: Command | str, facts: Mapping[str, bool]
) -> OrderStatus:
    """The status ``command`` leads to from ``status``, or IllegalTransition saying why not."""
    command = Command(command)
    status = OrderStatus(status)
    target = _TARGET[command]
    transition = _BY_SOURCE.get((status, command))
    if transition is not None and (transition.guard is None or facts.get(transition.guard, False)):
        return target
    nexts = allowed_next(status, facts)
    labels = "、".join(STATUS_LABELS[s] for s in nexts) or "无 (工单已结束)"
    zh_why, en_why = ("", "")
    if transition is not None and transition.guard:
        zh_why, en_why = (
            "; " + GUARD_REFUSALS[transition.guard][0],
            "; " + GUARD_REFUSALS[transition.guard][1],
        )
    raise IllegalTransition(
        f"工单当前为「{STATUS_LABELS[status]}」, 不能{COMMAND_LABELS[command]}(转为「{STATUS_LABELS[target]}」)"
        f"{zh_why}; 可转为: {labels} / cannot {command.value} an order that is {status.value} "
        f"(to {target.value}){en_why}; allowed next: {', '.join(s.value for s in nexts) or 'none'}",
        from_status=status.value,
        to_status=target.value,
        command=command.value,
        allowed=[s.value for s in nexts],
    )
