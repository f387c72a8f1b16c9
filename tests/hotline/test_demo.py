"""``hotline demo`` on embedded defaults: a newcomer's first minute, and the command itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from hotline.demo import start_demo
from platform_core.settings import Settings
from tests.agent_console.conftest import csrf_of
from tests.agent_console.test_socket import Listener
from tests.clock_support import clear_of_midnight

ROOT = Path(__file__).resolve().parents[2]


def _login(base: str, username: str, password: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    token = csrf_of(s.get(f"{base}/login").text)
    resp = s.post(
        f"{base}/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text
    return s, csrf_of(s.get(f"{base}/no-console").text)


def test_newcomer_sets_ready_and_gets_an_elders_call(tmp_path, data_key) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="s" * 40, data_key=data_key, ami_secret="demo-secret"
    )
    demo = start_demo(settings, elders=40, agents=1, console_port=0)
    try:
        assert settings.effective_database_url.startswith("sqlite")
        logins = {username: password for username, password, _ in demo.accounts}
        assert {"demo_agent", "demo_supervisor"} <= set(logins)
        agent, token = _login(demo.url, "demo_agent", logins["demo_agent"])
        sock = Listener(demo.url, "/agent", agent.cookies.get("hotline_session"))
        assert sock.wait_for("snapshot")["agent"]["state"] == "paused"
        assert agent.post(
            f"{demo.url}/api/agent/ready", json={}, headers={"X-CSRF-Token": token}
        ).json()["ok"]

        number, _ = next(c for c in demo.callers if c[1] == "elder")
        clear_of_midnight()  # the call and the wallboard's today are one day
        demo.place_call(number, talk=3.0)
        ringing = sock.wait_for("call_ringing", timeout=20)
        pop = sock.call(
            "screen_pop",
            {"elder_id": ringing["elder_id"], "caller_number": ringing["caller_number"]},
        )
        assert pop["ok"] and pop["profile"]["name"]
        sock.close()

        supervisor, _ = _login(demo.url, "demo_supervisor", logins["demo_supervisor"])
        deadline = time.monotonic() + 20
        kpis: dict = {}
        while time.monotonic() < deadline:
            kpis = supervisor.get(f"{demo.url}/api/wallboard").json()["kpis"]
            if kpis.get("answered"):
                break
            time.sleep(0.2)
        assert kpis["offered"] == 1 and kpis["answered"] == 1 and kpis["answer_rate"] == 1.0

        # simulated devices report through the intake's signed webhook: an alarm reaches the
        # agents' alarm panel
        raised = threading.Event()
        demo.runtime.event_bus.subscribe(lambda e: e["type"] == "AlarmRaised" and raised.set())
        demo.simulate_devices(alarm_every_s=1.0)
        assert raised.wait(30), demo.devices.counts
        open_alarms = agent.get(f"{demo.url}/api/alarms").json()
        assert open_alarms, "the alarm panel lists no open alarm"
    finally:
        demo.stop()


def test_demo_command_prints_the_url_and_logins_and_stops_on_ctrl_c(tmp_path) -> None:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path)}
    for key in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hotline")),
            "demo",
            "--elders",
            "20",
            "--call-every",
            "600",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"console:\s+(http://\S+)", line)
            url = url or (match.group(1) if match else None)
            if "Ctrl-C" in line and url:
                break
        assert url, "".join(lines)
        output = "".join(lines)
        password = re.search(r"agent\s+demo_agent\s+(\S+)", output).group(1)
        assert len(password) >= 12
        _login(url, "demo_agent", password)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, "".join(lines) + (proc.stdout.read() or "")
    assert (tmp_path / "hotline.db").exists()


def test_the_demo_supervisor_listens_to_a_simulated_colleagues_call(tmp_path, data_key) -> None:
    """The simulated colleagues are agents with accounts and the supervisor has an extension:
    listen, whisper and barge work in the demo (the supervisor's phone rings, then ChanSpy)."""
    settings = Settings(
        data_dir=tmp_path, secret_key="s" * 40, data_key=data_key, ami_secret="demo-secret"
    )
    demo = start_demo(settings, elders=20, agents=3, console_port=0)
    try:
        logins = {username: password for username, password, _ in demo.accounts}
        supervisor, token = _login(demo.url, "demo_supervisor", logins["demo_supervisor"])
        spied = threading.Event()
        demo.sim.call(
            demo.sim.pbx.add_sink,
            None,
            lambda name, _cls, _raw: name == "ChanSpyStart" and spied.set(),
        )
        number, _ = next(c for c in demo.callers if c[1] == "elder")
        call = demo.place_call(number, talk=60.0)  # demo_agent is not ready: a colleague answers
        deadline = time.monotonic() + 30
        on_call: list[dict] = []
        while not on_call and time.monotonic() < deadline:
            agents = supervisor.get(f"{demo.url}/api/wallboard").json()["agents"]
            on_call = [a for a in agents if a["state"] == "on_call"]
            time.sleep(0.2)
        assert on_call, agents
        desk = on_call[0]["interface"]
        assert desk != "PJSIP/8001" and call.agent_interface == desk
        resp = supervisor.post(
            f"{demo.url}/api/monitor",
            json={"agent_interface": desk, "mode": "listen"},
            headers={"X-CSRF-Token": token},
        )
        assert resp.status_code == 200 and resp.json()["ok"], resp.text
        assert spied.wait(10), "the supervisor's phone never started listening"
        idle = next(a["interface"] for a in agents if a["state"] != "on_call")
        refused = supervisor.post(
            f"{demo.url}/api/monitor",
            json={"agent_interface": idle, "mode": "barge"},
            headers={"X-CSRF-Token": token},
        )
        assert refused.status_code == 409 and refused.json()["code"] == "agent_not_on_call"
        # the colleagues are named by the agent, on the wallboard and in the reports
        names = {a["interface"]: a["member_name"] for a in agents}
        assert names["PJSIP/8002"] == "李娜" and names["PJSIP/8003"] == "张伟"
    finally:
        demo.stop()


def test_a_simulated_colleague_takes_an_alarm_and_is_ready_again(tmp_path, data_key) -> None:
    """The trainee is not ready: the alarm goes to a colleague's desk, who takes it within
    seconds, works it and is ready again; the wallboard's alarm figure is the shift's."""
    from platform_core.alarms.models import Alarm
    from platform_core.calls.models import Agent
    from platform_core.devices.models import Device
    from platform_core.flows.device_reports import receive_signals
    from tests.platform_core.alarms_support import signal

    settings = Settings(
        data_dir=tmp_path, secret_key="s" * 40, data_key=data_key, ami_secret="demo-secret"
    )
    demo = start_demo(settings, elders=20, agents=3, console_port=0)
    demo.colleagues.take_after_s, demo.colleagues.handle_s = (1.0, 2.0), (1.0, 2.0)
    try:
        rt = demo.runtime
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # callcenter has read the colleagues' desks
            with rt.session() as s:
                if s.query(Agent).filter(Agent.state == "ready").count() >= 2:
                    break
            time.sleep(0.2)
        with rt.session() as s:
            pendant = s.query(Device).filter(Device.elder_id.is_not(None)).first()
            assert pendant is not None
            [out] = receive_signals(s, signals=[signal(pendant.serial, "sos")])
        deadline = time.monotonic() + 30
        alarm = None
        while time.monotonic() < deadline:
            with rt.session() as s:
                alarm = s.get(Alarm, out.alarm_id)
                if alarm.status == "closed":
                    break
            time.sleep(0.2)
        assert alarm is not None and alarm.status == "closed", alarm and alarm.status
        assert alarm.taken_by.startswith("demo_desk_")
        assert (alarm.taken_at - alarm.received_at).total_seconds() < 15
        deadline = time.monotonic() + 15
        ready = 0
        while time.monotonic() < deadline and ready < 2:  # both colleagues ready again
            with rt.session() as s:
                ready = s.query(Agent).filter(Agent.state == "ready").count()
            time.sleep(0.2)
        assert ready == 2
    finally:
        demo.stop()
