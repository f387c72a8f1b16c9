"""A real FastAGI server on a free port, in its own thread and event loop (as in the demo), and
builders for the elders the IVR recognises."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from callcenter.pbx_sim.agi import AgiOutcome, CallerBehaviour, run_fastagi_call
from ivr_flows.prompts import PromptLibrary
from ivr_flows.registry import FlowRegistry
from ivr_flows.server import FastAgiServer
from platform_core.actors import Actor, Role
from platform_core.runtime import Runtime

AGENT = Actor(kind="user", name="坐席01", region_code="150000000000", role=Role.AGENT, user_id=1)
_ids = itertools.count(1)


@dataclass
class RunningServer:
    server: FastAgiServer
    loop: asyncio.AbstractEventLoop
    runtime: Runtime

    def url(self, script: str = "main") -> str:
        return f"agi://127.0.0.1:{self.server.port}/{script}"

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the sessions' bookkeeping: the server closes the AGI socket (Asterisk moves
        the caller on) before it closes the session's record."""
        deadline = time.monotonic() + timeout
        while self.server.stats.active and time.monotonic() < deadline:
            time.sleep(0.005)

    def call(
        self,
        script: str = "main",
        *,
        callerid: str = "13900000000",
        digits: list[str] | None = None,
        hangup_after: int | None = None,
        **kwargs: Any,
    ) -> AgiOutcome:
        n = next(_ids)
        outcome = asyncio.run(
            run_fastagi_call(
                self.url(script),
                channel=f"PJSIP/trunk-{n:08x}",
                uniqueid=f"1700000000.{n}",
                linkedid=kwargs.pop("linkedid", f"1700000000.{n}"),
                callerid=callerid,
                calleridname=kwargs.pop("calleridname", "张桂兰"),
                behaviour=CallerBehaviour(digits=list(digits or []), hangup_after=hangup_after),
                **kwargs,
            )
        )
        self.settle()
        return outcome


def start_server(
    runtime: Runtime,
    flows_dir: Path | None,
    sounds_dir: Path,
    *,
    reply_timeout: float | None = None,
) -> RunningServer:
    loop = asyncio.new_event_loop()
    server = FastAgiServer(
        runtime,
        registry=FlowRegistry(flows_dir, check_interval=0.0),
        prompts=PromptLibrary(sounds_dir, "hotline", cache_s=0.0),
        host="127.0.0.1",
        port=0,
        reply_timeout=reply_timeout,
    )
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="fastagi-test", daemon=True).start()
    assert ready.wait(10), "FastAGI server did not start"
    return RunningServer(server, loop, runtime)


def stop_server(running: RunningServer) -> None:
    asyncio.run_coroutine_threadsafe(running.server.stop(grace=2.0), running.loop).result(10)
    running.loop.call_soon_threadsafe(running.loop.stop)


@pytest.fixture
def sounds_dir(tmp_path: Path) -> Path:
    path = tmp_path / "sounds"
    path.mkdir()
    return path


@pytest.fixture
def ivr(regions: Runtime, sounds_dir: Path) -> Iterator[RunningServer]:
    """The packaged flows served over TCP against PostgreSQL with the region dictionary."""
    running = start_server(regions, None, sounds_dir)
    yield running
    stop_server(running)


def id_number(born: date = date(1940, 5, 6), n: int | None = None) -> str:
    from platform_core.elders.idcard import make_id_number

    return make_id_number("150102", born, (n if n is not None else next(_ids)) % 900 * 2 + 1)


def register_elder(runtime: Runtime, **overrides: Any) -> int:
    """An elder in 呼和浩特 with the given phones, contacts, risk level and language."""
    from platform_core.elders import service as elders
    from platform_core.elders.schemas import ElderIn

    data: dict[str, Any] = {
        "name": "王桂兰",
        "id_number": id_number(overrides.pop("born", date(1940, 5, 6))),
        "address": "呼和浩特市新城区中山东路 12 号",
        "region_code": "150102003201",
        "phones": [{"number": "13904711234", "kind": "mobile"}],
        "contacts": [],
        "living_arrangement": "alone",
    }
    data.update(overrides)
    with runtime.session() as s:
        return elders.register_elder(s, actor=AGENT, data=ElderIn.model_validate(data)).id
