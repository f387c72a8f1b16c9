"""Fixtures: the PBX simulator on real TCP, callcenter connected to it, events captured."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import SimConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from callcenter.pipeline import PROBE_EVENT
from platform_core.runtime import Runtime

SECRET = "test-ami-secret"


class Captured:
    """Domain events published on the runtime's bus, in order."""

    def __init__(self, runtime: Runtime) -> None:
        self.items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._unsubscribe = runtime.event_bus.subscribe(self._add)

    def _add(self, env: dict[str, Any]) -> None:
        with self._lock:
            self.items.append(env)

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e["data"] for e in self.items if e["type"] == kind]

    def wait_for(
        self,
        kind: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda d: True,
        timeout: float = 10,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self.of(kind):
                if predicate(d):
                    return d
            time.sleep(0.01)
        raise AssertionError(
            f"no {kind} event matching within {timeout}s; got {[e['type'] for e in self.items]}"
        )


def sim_config(agents: int = 2, **changes: Any) -> SimConfig:
    cfg = default_config(secret=SECRET, agents=agents)
    cfg.time_scale = 40.0
    cfg.failed_login_delay = 0.2
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimulatorThread]]:
    started: list[SimulatorThread] = []

    def start(config: SimConfig | None = None) -> SimulatorThread:
        sim = SimulatorThread(config or sim_config())
        sim.start()
        started.append(sim)
        return sim

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def start_center(runtime: Runtime) -> Iterator[Callable[..., CallCenterThread]]:
    started: list[CallCenterThread] = []

    def start(sim: SimulatorThread, rt: Runtime | None = None, **kw: Any) -> CallCenterThread:
        kw.setdefault("ping_interval", 0)
        kw.setdefault("reconnect_initial", 0.05)
        center = CallCenterThread(
            rt or runtime, host="127.0.0.1", port=sim.port, username="hotline", secret=SECRET, **kw
        )
        center.start()
        started.append(center)
        return center

    yield start
    for c in started:
        c.stop()


@pytest.fixture
def captured(runtime: Runtime) -> Captured:
    return Captured(runtime)


def settle(
    center: CallCenterThread,
    runtime: Runtime,
    sim: SimulatorThread | None = None,
    timeout: float = 10,
) -> None:
    """Wait until callcenter read everything the simulator sent so far (a probe UserEvent
    sent last has arrived), wrote it, and the bus delivered the resulting events."""
    if sim is not None:
        token = uuid.uuid4().hex
        sim.call(sim.pbx.user_event, [("UserEvent", PROBE_EVENT), ("Token", token)])
        deadline = time.monotonic() + timeout
        while center.center.pipeline.last_probe != token:
            assert time.monotonic() < deadline, "probe UserEvent never arrived"
            time.sleep(0.005)
    assert center.center.pipeline.wait_idle(timeout)
    drain = getattr(runtime.event_bus, "drain", None)
    if drain:
        drain(timeout)
