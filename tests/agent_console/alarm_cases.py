"""The alarm panel's endpoints for the guard tables of test_guards (scope "alarm": another
region's alarm is refused by ``_alarm_in_region``; test_alarms_panel exercises it)."""

from __future__ import annotations

from typing import Any


def alarm_cases(case: Any) -> dict[str, Any]:
    alarm = "/api/alarms/999999"
    return {
        "alarms.page": case("GET", "/alarms"),
        "alarms.open_alarms": case("GET", "/api/alarms", scope="content"),
        "alarms.detail": case("GET", alarm, scope="alarm"),
        "alarms.kpi": case("GET", "/api/alarms/kpi", scope="content"),
        "alarms.take": case("POST", f"{alarm}/take", {}, scope="alarm"),
        "alarms.dial": case("POST", f"{alarm}/dial", {}, scope="alarm"),
        "alarms.record_step": case("POST", f"{alarm}/steps", {}, scope="alarm"),
        "alarms.dispatch": case("POST", f"{alarm}/dispatch", {}, scope="alarm"),
        "alarms.notify_family": case("POST", f"{alarm}/notify-family", {}, scope="alarm"),
        "alarms.close": case("POST", f"{alarm}/close", {}, scope="alarm"),
        "alarms.reveal": case("POST", f"{alarm}/reveal", {}, scope="alarm"),
        "alarms.assign": case("POST", f"{alarm}/assign", {}, scope="alarm"),
        "alarms.waiting": case("GET", "/api/alarms/queue", scope="content"),
        "alarms.dispatch_wider": case("POST", f"{alarm}/dispatch-wider", {}, scope="alarm"),
        "alarms.dispatch_board": case("GET", "/api/alarms/dispatch-board", scope="content"),
    }
