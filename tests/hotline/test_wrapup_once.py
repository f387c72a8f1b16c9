"""A call's end, its wrap-up and the agent's pause happen once, in callcenter, however many
console processes show them: two console processes (gunicorn, as deployed) relay the same
events from Redis, the PBX simulator records every QueuePause that reached the desk, and the
agent's screen on one of them is asked for the disposition once."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.accounts.models import WrapUp
from tests.agent_console.conftest import http_login
from tests.agent_console.test_socket import Listener, _cookie
from tests.deploy.support import ConsoleProcess, console_env, free_port, seed_desk_world

pytestmark = pytest.mark.slow
SECRET = "wrapup-ami-secret"
ELDER_PHONE = "13900471001"


@pytest.fixture
def consoles(redis_runtime, base_settings, pg_url, redis_url):
    """agent_hhht at desk PJSIP/8001 and two console processes on one Redis event bus."""
    rt = redis_runtime
    seed_desk_world(rt, ("agent_hhht",), ELDER_PHONE)
    root = Path(tempfile.mkdtemp(prefix="hotline-wrapup-"))
    env = console_env(
        base_settings,
        pg_url=pg_url,
        redis_url=redis_url,
        data_dir=root / "data",
        HOTLINE_AMI_SECRET=SECRET,
    )
    started = [ConsoleProcess(env, free_port(), root / f"console-{i}.log") for i in (1, 2)]
    try:
        for c in started:
            c.wait_ready()
        yield rt, started
    finally:
        for c in started:
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_calls_wrap_up_and_pause_happen_once_with_two_console_processes(consoles) -> None:
    rt, (first, second) = consoles
    config = default_config(secret=SECRET, agents=1)
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.agents[0].answer_after = 0.5
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        rt, host="127.0.0.1", port=sim.port, username="hotline", secret=SECRET, ping_interval=0
    )
    center.start()
    web, _ = http_login(first.url, "agent_hhht")
    desk = Listener(first.url, "/agent", _cookie(web))
    # the same login watched from the other console process too (a second tab)
    tab = Listener(second.url, "/agent", _cookie(web))
    try:
        desk.wait_for("snapshot")
        tab.wait_for("snapshot")
        call = sim.place_call(CallerConfig(number=ELDER_PHONE, talk=1.0))
        sim.wait(call, timeout=30)
        asked = desk.wait_for("wrapup_required", timeout=15)
        assert asked == {"linkedid": call.linkedid}
        assert tab.wait_for("wrapup_required", timeout=5) == asked
        time.sleep(2.0)  # anything a second process would have done has happened by now

        def wrapup_pauses() -> list[tuple[str, bool, str]]:
            return sim.call(
                lambda: [p for p in sim.pbx.pause_actions if p == ("PJSIP/8001", True, "wrap_up")]
            )

        assert len(wrapup_pauses()) == 1, sim.call(lambda: list(sim.pbx.pause_actions))
        with rt.session() as s:
            rows = list(s.scalars(select(WrapUp)))
        assert [(r.linkedid, r.completed_at) for r in rows] == [(call.linkedid, None)]
        with pytest.raises(AssertionError):  # asked once on each screen, not once per process
            desk.wait_for("wrapup_required", timeout=1.0)
        with pytest.raises(AssertionError):
            tab.wait_for("wrapup_required", timeout=0.2)
        # a screen opened after the call's end (a reload, a reconnect, the first login after
        # calls the desk phone answered) is asked by its snapshot
        late = Listener(second.url, "/agent", _cookie(web))
        try:
            assert late.wait_for("snapshot", timeout=15)["wrapup"]["linkedid"] == call.linkedid
        finally:
            late.close()
    finally:
        desk.close()
        tab.close()
        center.stop()
        sim.stop()
