"""The kernel every module stands on: settings, events after commit, jobs, sealing, masking."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from platform_core.events import DomainEvent, publish_on_commit
from platform_core.jobs import InProcessJobQueue, RQJobQueue
from platform_core.security.crypto import DecryptionFailed, FieldCipher
from platform_core.security.masking import mask_id_number, mask_name, mask_phone
from platform_core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SomethingHappened(DomainEvent):
    what: str
    region_code: str = "150100000000"


def _collect(bus) -> tuple[list, threading.Event]:
    got: list = []
    arrived = threading.Event()

    def handler(env):
        got.append(env)
        arrived.set()

    bus.subscribe(handler)
    return got, arrived


def test_settings_from_environment(tmp_path: Path) -> None:
    s = load_settings(
        {"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_AMI_PORT": "15038", "HOTLINE_FOO": "bar"}
    )
    assert s.ami_port == 15038 and s.extra == {"foo": "bar"}
    assert len(s.data_key_bytes()) == 32
    # generated secrets persist: a restart reads the same keys (sealed data stays readable)
    again = load_settings({"HOTLINE_DATA_DIR": str(tmp_path)})
    assert (again.secret_key, again.data_key) == (s.secret_key, s.data_key)
    assert oct((tmp_path / "data_key").stat().st_mode & 0o777) == "0o600"
    assert s.effective_database_url.startswith("sqlite:///") and s.effective_database_url.endswith(
        "hotline.db"
    )
    with pytest.raises(SettingsError, match="HOTLINE_AMI_PORT"):
        load_settings({"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_AMI_PORT": "five"})
    bad = load_settings(
        {
            "HOTLINE_DATA_DIR": str(tmp_path),
            "HOTLINE_DATA_KEY": base64.urlsafe_b64encode(b"short").decode(),
        }
    )
    with pytest.raises(SettingsError, match="32"):
        bad.data_key_bytes()


def test_events_publish_only_after_commit(any_runtime) -> None:
    got, arrived = _collect(any_runtime.event_bus)
    with pytest.raises(RuntimeError), any_runtime.session() as s:
        publish_on_commit(s, SomethingHappened("rolled back"))
        raise RuntimeError("boom")
    with any_runtime.session() as s:
        s.execute(text("SELECT 1"))
        publish_on_commit(s, SomethingHappened("committed"))
        time.sleep(0.05)
        assert got == []  # not before the commit
    assert arrived.wait(2)
    time.sleep(0.05)
    assert [e["data"]["what"] for e in got] == ["committed"]
    assert got[0]["type"] == "SomethingHappened" and got[0]["region_code"] == "150100000000"


def test_redis_bus_delivers_across_processes(redis_runtime) -> None:
    got, arrived = _collect(redis_runtime.event_bus)
    env = SomethingHappened("中文事件").envelope()
    code = (
        "import json,redis,sys; r=redis.Redis.from_url(sys.argv[1]);"
        "r.publish(sys.argv[2], sys.argv[3])"
    )
    import json

    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            redis_runtime.settings.redis_url,
            f"{redis_runtime.settings.redis_namespace}:events",
            json.dumps(env, ensure_ascii=False),
        ],
        check=True,
    )
    assert arrived.wait(3)
    assert got[0]["data"]["what"] == "中文事件"


def test_in_process_jobs_run_schedule_and_keep_failures(tmp_path: Path) -> None:
    q = InProcessJobQueue()
    out = tmp_path / "out.txt"
    q.enqueue(
        "tests.platform_core.job_targets:append_line",
        str(out),
        "later",
        at=datetime.now(UTC) + timedelta(seconds=0.3),
    )
    q.enqueue("tests.platform_core.job_targets:append_line", str(out), "now")
    cancelled = q.enqueue(
        "tests.platform_core.job_targets:append_line",
        str(out),
        "never",
        at=datetime.now(UTC) + timedelta(seconds=0.2),
    )
    q.cancel(cancelled)
    failed = q.enqueue("tests.platform_core.job_targets:explode", "坏了")
    time.sleep(0.6)
    assert q.wait_idle(5)
    assert out.read_text().splitlines() == ["now", "later"]
    assert [j["id"] for j in q.failed_jobs()] == [failed]
    assert "坏了" in q.failed_jobs()[0]["error"]
    with pytest.raises((ImportError, AttributeError)):
        q.enqueue("tests.platform_core.job_targets:no_such_job")
    q.close()


def test_rq_jobs_run_in_a_real_worker(redis_runtime, tmp_path: Path) -> None:
    jobs = redis_runtime.jobs
    assert isinstance(jobs, RQJobQueue)
    out = tmp_path / "rq.txt"
    jobs.enqueue(
        "tests.platform_core.job_targets:append_line", str(out), "来自 RQ", job_id="kernel-test-1"
    )
    bad = jobs.enqueue("tests.platform_core.job_targets:explode", "rq failure")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    worker = subprocess.run(
        [
            str(Path(sys.executable).with_name("rq")),
            "worker",
            "--burst",
            "--url",
            redis_runtime.settings.redis_url,
            jobs.queue_name("default"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    assert out.read_text(encoding="utf-8").strip() == "来自 RQ"
    assert bad in [j["id"] for j in jobs.failed_jobs()]


def test_sealing_and_blind_index() -> None:
    c = FieldCipher(os.urandom(32))
    sealed = c.seal("150102195001011234")
    assert "1501" not in sealed and c.open(sealed) == "150102195001011234"
    assert c.seal("x") != c.seal("x")  # fresh nonce each time
    assert (
        c.blind_index("abc")
        == c.blind_index("abc")
        != FieldCipher(os.urandom(32)).blind_index("abc")
    )
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionFailed):
        c.open(tampered)
    with pytest.raises(DecryptionFailed):
        FieldCipher(os.urandom(32)).open(sealed)


def test_masking() -> None:
    assert mask_id_number("150102195001011234") == "150102********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("04716912345") == "0471***2345"
    assert mask_name("张三丰") == "张**"
    assert mask_name("巴特·尔") == "巴特·*"


def test_redis_subscriber_reports_gap_after_restart(private_redis) -> None:
    """Pub/sub forgets what is published while Redis is away: subscribers are told to re-fetch."""
    from platform_core.events import RedisEventBus

    bus = RedisEventBus(private_redis.url, "gap-test")
    got: list = []
    gaps = threading.Event()
    bus.subscribe(got.append, on_gap=gaps.set)
    private_redis.stop()
    time.sleep(0.3)
    private_redis.start()
    assert gaps.wait(10), "no gap notification after the Redis restart"
    bus.publish(SomethingHappened("after restart").envelope())
    deadline = time.time() + 5
    while not got and time.time() < deadline:
        time.sleep(0.02)
    assert [e["data"]["what"] for e in got] == ["after restart"]
    bus.close()


@dataclass(frozen=True)
class SomethingElse(DomainEvent):
    what: str
    region_code: str = "150100000000"


def test_a_subscriber_of_some_types_gets_only_those_and_the_rest_is_not_decoded(
    monkeypatch,
) -> None:
    """The alarm intake listens for two kinds of event on a channel carrying hundreds a second
    (its own AlarmRaised among them): those others are passed over before being decoded."""
    import json
    import uuid

    from platform_core import events
    from platform_core.events import InProcessEventBus, RedisEventBus

    decoded: list[str] = []
    loads = json.loads

    def counting(data: str | bytes, *args: object, **kwargs: object) -> object:
        decoded.append(data.decode() if isinstance(data, bytes) else data)
        return loads(data, *args, **kwargs)

    monkeypatch.setattr(events.json, "loads", counting)
    for bus in (
        RedisEventBus(
            os.environ.get("HOTLINE_REDIS_URL", "redis://127.0.0.1:6379/0"), uuid.uuid4().hex
        ),
        InProcessEventBus(),
    ):
        got: list = []
        bus.subscribe(got.append, types={"SomethingElse"})
        for n in range(20):
            bus.publish(SomethingHappened(f"noise {n}").envelope())
        bus.publish(SomethingElse("wanted").envelope())
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        assert [e["data"]["what"] for e in got] == ["wanted"]
        bus.close()
    assert not [d for d in decoded if "noise" in d]
