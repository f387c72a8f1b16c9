"""PostgreSQL stops while calls flow: callcenter keeps every AMI event, in order, retries with
back-off, writes them all once the database is back, then resyncs. Ground truth from the PBX
simulator; the database is a private PostgreSQL server this test stops and starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.pbx_sim import CallerConfig, SimCall
from platform_core.calls.models import Call, QueueEntry, RecallItem, TelephonyQueue
from platform_core.db import make_engine
from platform_core.models import metadata
from platform_core.runtime import Runtime, build_runtime, install_runtime
from platform_core.settings import Settings
from tests.callcenter.conftest import settle, sim_config
from tests.platform_core.test_db_liveness import private_postgres  # noqa: F401 - fixture


@pytest.fixture
def outage_runtime(private_postgres, base_settings: Settings) -> Iterator[tuple[Runtime, Any]]:  # noqa: F811
    server, pg_ctl = private_postgres
    engine = make_engine(server.url, pool_size=4, max_overflow=0)
    metadata.create_all(engine)
    rt = build_runtime(base_settings.with_overrides(database_url=server.url), engine=engine)
    install_runtime(rt)
    try:
        yield rt, lambda *action: server.pg_ctl(pg_ctl, *action)
    finally:
        close = getattr(rt.jobs, "close", None)
        if close:
            close()
        rt.event_bus.close()
        install_runtime(None)
        engine.dispose()


def caller(i: int) -> CallerConfig:
    """Every fourth caller gives up after a short wait; the others talk 30-70 s."""
    if i % 4 == 3:
        return CallerConfig(number=f"1380000{i:04d}", name=f"来电{i}", patience=6, talk=40)
    return CallerConfig(number=f"1380000{i:04d}", name=f"来电{i}", talk=30 + (i % 3) * 20)


class CallPlacer:
    """Places a call every ``every_s`` seconds on its own thread until stopped."""

    def __init__(self, sim: Any, every_s: float = 0.35) -> None:
        self.sim, self.every_s = sim, every_s
        self.calls: list[SimCall] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.calls.append(self.sim.place_call(caller(len(self.calls))))
            self._stop.wait(self.every_s)

    def stop(self) -> list[SimCall]:
        self._stop.set()
        self._thread.join(10)
        return self.calls


@pytest.mark.parametrize("down_s", [5.5, 20.0])
def test_calls_during_a_database_outage_are_all_recorded_once_it_is_back(
    outage_runtime, start_sim, start_center, down_s: float
) -> None:
    runtime, pg_ctl = outage_runtime
    sim = start_sim(sim_config(agents=3))
    center = start_center(sim, runtime)
    placer = CallPlacer(sim)
    time.sleep(1.5)
    pg_ctl("stop")
    time.sleep(down_s)
    assert not center.center.ready  # /readyz says so while events wait for the database
    pg_ctl("start")
    time.sleep(1.0)
    calls = placer.stop()
    for call in calls:
        sim.wait(call, timeout=60)
    deadline = time.monotonic() + 60
    while not center.center.pipeline.database_available or center.center.pipeline.backlog:
        assert time.monotonic() < deadline, "the held events were never written"
        time.sleep(0.1)
    settle(center, runtime, sim, timeout=30)

    stats = center.center.pipeline.stats
    assert stats.db_outages >= 1 and stats.held_max > 0  # the outage did hit the writer
    assert (stats.failed, stats.dropped, stats.malformed) == (0, 0, 0)
    truth = {c.linkedid: c for c in calls}
    assert {c.outcome for c in calls} >= {"answered", "abandoned"}
    with runtime.session() as s:
        rows = {c.linkedid: c for c in s.scalars(select(Call))}
        assert set(rows) == set(truth), "calls lost or made up"
        wrong = [
            (x, (r.outcome, r.agent_interface, r.wait_s, r.talk_s, r.ended_at is not None), t)
            for x, r in rows.items()
            if (r.outcome, r.agent_interface, r.wait_s, r.talk_s, r.ended_at is not None)
            != (
                (t := truth[x]).outcome,
                t.agent_interface,
                None if t.wait_s is None else float(t.wait_s),
                t.talk_s if t.outcome == "answered" else None,
                True,
            )
        ]
        assert wrong == []
        recalls = set(s.scalars(select(RecallItem.origin_linkedid)))
        assert recalls == {x for x, t in truth.items() if t.outcome in ("abandoned", "timeout")}
        open_stays = s.scalar(
            select(func.count()).select_from(QueueEntry).where(QueueEntry.left_at.is_(None))
        )
        assert open_stays == 0
        assert [q.waiting for q in s.scalars(select(TelephonyQueue))] == [0, 0]
    assert center.center.last_resync.get("reason") == "database recovered"
    assert center.center.ready
