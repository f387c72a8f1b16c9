"""Services without HTTP of their own answer /healthz, /readyz and /metrics on
HOTLINE_METRICS_PORT: callcenter (AMI events, backlog, calls waiting) and the worker (jobs
queued and failed), as the compose healthchecks and Prometheus reach them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from platform_core.observability import OperationsServer
from platform_core.settings import Settings
from tests.deploy.support import ROOT, free_port

SECRET = "ops-ami-secret"


def _env(base_settings, pg_url: str, redis_url: str, port: int, data_dir: Path) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_REDIS_NAMESPACE": base_settings.redis_namespace + "-ops",
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_KEY": base_settings.data_key,
        "HOTLINE_METRICS_PORT": str(port),
        "HOTLINE_METRICS_HOST": "127.0.0.1",
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _get(url: str, timeout: float = 40) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=3)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


def _hotline(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("hotline")), *args],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_readiness_names_the_failed_check_and_metrics_stay_inside() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("db:5432")

    settings = Settings(metrics_host="127.0.0.1", metrics_allow="10.0.0.0/8")
    server = OperationsServer(settings, {"database": broken}, port=0).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json() == {"ready": False, "checks": {"database": "ConnectionRefusedError"}}
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 404  # not 10/8
        assert "Python" not in requests.get(f"{base}/healthz", timeout=5).headers["Server"]
    finally:
        server.stop()


@pytest.mark.slow
def test_callcenter_reports_ami_events_backlog_and_waiting_calls(
    pg_engine, pg_url, redis_url, base_settings, tmp_path
) -> None:
    config = default_config(secret=SECRET, agents=1)
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.agents[0].answer_after = 0.2
    sim = SimulatorThread(config)
    sim.start()
    port = free_port()
    env = _env(base_settings, pg_url, redis_url, port, tmp_path)
    env.update(
        HOTLINE_AMI_HOST="127.0.0.1",
        HOTLINE_AMI_PORT=str(sim.port),
        HOTLINE_AMI_SECRET=SECRET,
        HOTLINE_AMI_PING_INTERVAL_S="0",
    )
    proc = _hotline(["callcenter"], env, tmp_path / "callcenter.log")
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 40
        while _get(f"{base}/readyz").status_code != 200:
            assert time.monotonic() < deadline, (tmp_path / "callcenter.log").read_text()[-2000:]
            time.sleep(0.2)
        call = sim.place_call(CallerConfig(number="13900471001", talk=0.5))
        sim.wait(call, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            text = _get(f"{base}/metrics").text
            if _metric(text, "hotline_callcenter_events_handled_total") >= 5:
                break
            assert time.monotonic() < deadline, text[-3000:]
            time.sleep(0.2)
        assert _metric(text, "hotline_callcenter_ami_events_total") >= 5
        assert _metric(text, "hotline_callcenter_backlog") >= 0
        assert _metric(text, "hotline_callcenter_ami_connected") == 1
        assert "# TYPE hotline_calls_waiting gauge" in text
        sim.stop()  # Asterisk goes away: callcenter is alive but not ready
        deadline = time.monotonic() + 20
        while (ready := _get(f"{base}/readyz")).status_code != 503:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ready.json()["checks"]["ami"] == "ConnectionError"
        assert _get(f"{base}/healthz").status_code == 200
    finally:
        _stop(proc)
        sim.stop()


def test_worker_reports_jobs_queued_and_failed(
    pg_engine, pg_url, redis_url, base_settings, tmp_path
) -> None:
    import redis
    from rq import Queue

    port = free_port()
    env = _env(base_settings, pg_url, redis_url, port, tmp_path)
    env["HOTLINE_WORKER_QUEUES"] = "ops-idle"  # a queue nothing else feeds: the worker waits
    namespace = env["HOTLINE_REDIS_NAMESPACE"]
    conn = redis.Redis.from_url(redis_url)
    queue = Queue(f"{namespace}:sms", connection=conn)
    queue.enqueue("platform_core.clock.now")  # left waiting: the worker serves another queue
    env["HOTLINE_WORKER_QUEUES"] = "ops-idle,sms"
    proc = _hotline(["worker", "--queues", "ops-idle", "--no-recovery"], env, tmp_path / "w.log")
    try:
        base = f"http://127.0.0.1:{port}"
        text = _get(f"{base}/metrics").text
        assert _metric(text, 'hotline_jobs_queued{queue="sms"}') == 1
        assert _metric(text, 'hotline_jobs_failed{queue="sms"}') == 0
        assert _metric(text, 'hotline_outbox_rows{state="due"}') == 0
        assert _metric(text, "hotline_outbox_late_seconds") == 0
        assert _get(f"{base}/readyz").json() == {
            "ready": True,
            "checks": {"database": "ok", "redis": "ok"},
        }
    finally:
        _stop(proc)
        queue.empty()
