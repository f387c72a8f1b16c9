"""With Redis: events arrive through pub/sub, and after Redis restarts clients are told to re-fetch."""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent_console import create_app
from agent_console.server import ConsoleServer
from platform_core.events import DomainEvent, publish_on_commit
from platform_core.runtime import build_runtime
from tests.agent_console.conftest import http_login
from tests.agent_console.test_socket import Listener, _cookie


@dataclass(frozen=True)
class CallRinging(DomainEvent):
    linkedid: str
    agent_interface: str
    caller_number: str
    elder_id: int | None
    region_code: str | None


def test_relay_over_redis_and_resync_after_a_redis_restart(world, private_redis, pg_engine) -> None:
    settings = world.runtime.settings.with_overrides(
        redis_url=private_redis.url, redis_namespace="console-redis-t"
    )
    rt = build_runtime(settings, engine=pg_engine)
    app = create_app(rt)
    server = ConsoleServer(app, "127.0.0.1", 0).start()
    try:
        session, _ = http_login(server.url, "agent_hhht")
        sock = Listener(server.url, "/agent", _cookie(session))
        sock.wait_for("snapshot")
        with rt.session() as s:
            publish_on_commit(
                s,
                CallRinging(
                    linkedid="9.1",
                    agent_interface="PJSIP/8001",
                    caller_number=world.phones["hhht"],
                    elder_id=world.elders["hhht"],
                    region_code="150102000000",
                ),
            )
        assert sock.wait_for("call_ringing", timeout=2)["linkedid"] == "9.1"
        private_redis.stop()
        time.sleep(0.3)
        private_redis.start()
        sock.wait_for("resync", timeout=10)
        ack = sock.call("snapshot", {})
        assert ack["ok"] and ack["snapshot"]["user"]["username"] == "agent_hhht"
        sock.close()
    finally:
        server.stop()
        rt.close()
