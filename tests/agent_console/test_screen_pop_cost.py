"""What a screen pop costs the database: it runs on every ringing phone, and each statement is a
round trip to PostgreSQL plus the CPU that builds it and reads its rows, so their number is held
here (the transaction's BEGIN and COMMIT are two more; a pooled connection is checked out
without a ping)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, event

from platform_core.db import utcnow
from platform_core.flows.device_reports import receive_signals
from tests.agent_console.conftest import login, recorded_call
from tests.platform_core.alarms_support import new_device, signal

# identification (or, for a ringing call, the caller its record names), the elder with phones,
# contacts and categories, devices, the audit record, the risk counts, open orders, recent calls
STATEMENTS_PER_POP = 8


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The statements this thread runs (the request's); the outbox relay's own sweep, on its
    thread of the same engine, is not the request's cost."""
    seen: list[str] = []
    request_thread = threading.get_ident()

    def record(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if threading.get_ident() == request_thread:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_screen_pop_is_a_handful_of_round_trips(app, world) -> None:
    with world.runtime.session() as s:  # an SOS yesterday: the pop flags it
        device = new_device(s, elder_id=world.elders["hhht"])
        receive_signals(s, signals=[signal(device.serial, at=utcnow() - timedelta(days=1))])
    client = app.test_client()
    login(client, "agent_hhht")
    socketio = app.extensions["hotline_realtime"].socketio
    sock = socketio.test_client(app, namespace="/agent", flask_test_client=client)
    recorded_call(
        world.runtime,
        "1700000008.1",
        number=world.phones["hhht"],
        elder_id=world.elders["hhht"],
        kind="elder",
    )
    by_number = {"elder_id": world.elders["hhht"], "caller_number": world.phones["hhht"]}
    # as the desk asks when the phone rings: the call's event names the elder and the call
    ringing = {**by_number, "linkedid": "1700000008.1"}
    try:
        sock.emit("screen_pop", by_number, namespace="/agent", callback=True)  # names cached
        for payload in (by_number, ringing):
            with statements(world.runtime.engine) as seen:
                ack = sock.emit("screen_pop", payload, namespace="/agent", callback=True)
            assert ack["ok"] and ack["profile"]["name"] == "巴特尔" and ack["caller"] is None
            assert ack["profile"]["contacts"][0]["holds_key"] is True
            assert ack["profile"]["region_name"].startswith("呼和浩特市")
            flags = {f["code"]: f for f in ack["profile"]["risk_flags"]}
            assert flags["recent_alarms"]["count"] == 1 and "lives_alone" in flags
            assert 0 < len(seen) <= STATEMENTS_PER_POP, "\n".join(s.split("\n")[0] for s in seen)
    finally:
        sock.disconnect(namespace="/agent")


# the elder (region check), the programmes the elder is in (one probe), meal aid's bookings,
# month's subsidy and policy, the next bookable meal (points, bookings), the audit record
STATEMENTS_PER_CARE_STATUS = 8


def test_the_care_status_beside_a_pop_asks_only_the_programmes_the_elder_is_in(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    url = f"/api/elders/{world.elders['hhht']}/care"
    assert client.get(url).status_code == 200  # names and settings cached
    with statements(world.runtime.engine) as seen:
        resp = client.get(url)
    assert resp.status_code == 200
    states = {m["process"]: m["state"] for m in resp.get_json()["modules"]}
    assert states["care_bed"] == "none" and states["social_work"] == "none", states
    assert 0 < len(seen) <= STATEMENTS_PER_CARE_STATUS, "\n".join(s.split("\n")[0] for s in seen)
