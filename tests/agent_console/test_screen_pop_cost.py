"""What a screen pop costs the database: it runs on every ringing phone, and its latency is
mostly PostgreSQL round trips, so their number is held here (each statement is one; so are the
transaction's BEGIN and COMMIT; a pooled connection is checked out without a ping)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

from tests.agent_console.conftest import login

# identification, the elder with phones, contacts and categories, devices, the audit record,
# the risk counts, open orders, recent calls
STATEMENTS_PER_POP = 8


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_screen_pop_is_a_handful_of_round_trips(app, world) -> None:
    client = app.test_client()
    login(client, "agent_hhht")
    socketio = app.extensions["hotline_realtime"].socketio
    sock = socketio.test_client(app, namespace="/agent", flask_test_client=client)
    payload = {"elder_id": world.elders["hhht"], "caller_number": world.phones["hhht"]}
    try:
        sock.emit("screen_pop", payload, namespace="/agent", callback=True)  # names cached
        with statements(world.runtime.engine) as seen:
            ack = sock.emit("screen_pop", payload, namespace="/agent", callback=True)
        assert ack["ok"] and ack["profile"]["name"] == "巴特尔"
        assert ack["profile"]["contacts"][0]["holds_key"] is True
        assert ack["profile"]["region_name"].startswith("呼和浩特市")
        assert len(seen) <= STATEMENTS_PER_POP, "\n".join(s.split("\n")[0] for s in seen)
    finally:
        sock.disconnect(namespace="/agent")
