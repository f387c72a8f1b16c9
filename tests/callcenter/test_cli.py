"""``hotline callcenter replay``, ``hotline report kpi`` and ``hotline pbx-sim`` through the real
command line (click), against the test PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcenter.ami import AmiClient
from callcenter.pbx_sim import PbxSimulator
from callcenter.pbx_sim.scenario import load_scenario, run_script
from hotline.cli import cli
from platform_core.calls.models import Call, QueueEntry

FIXTURE = Path(__file__).parent / "fixtures" / "queue_calls_ast20.ami"

EXPECTED = {
    "calls": [
        {
            "linkedid": "1764150000.101",
            "caller": "13800138000",
            "elder_id": 1001,
            "queue": "hotline-general",
            "agent": "王芳",
            "outcome": "answered",
            "wait_s": 4,
            "talk_s": 95,
        },
        {
            "linkedid": "1764150020.103",
            "caller": "04716912345",
            "elder_id": None,
            "queue": "hotline-emergency",
            "agent": None,
            "outcome": "abandoned",
            "wait_s": 31,
            "talk_s": None,
        },
        {
            "linkedid": "1764150030.104",
            "caller": "13900139000",
            "elder_id": None,
            "queue": "hotline-general",
            "agent": "乌云",
            "outcome": "answered",
            "wait_s": 21,
            "talk_s": 60,
        },
        {
            "linkedid": "1764150040.106",
            "caller": "13700137000",
            "elder_id": None,
            "queue": None,
            "agent": None,
            "outcome": "ivr_only",
            "wait_s": None,
            "talk_s": None,
        },
    ],
    "kpi": {
        "offered": 3,
        "answered": 2,
        "abandoned": 1,
        "answer_rate": 0.6667,
        "service_level": 0.3333,
        "asa_s": 12.5,
    },
}


@pytest.fixture
def env(runtime, pg_url, tmp_path, data_key) -> dict[str, str]:
    return {
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATA_KEY": data_key,
        "HOTLINE_SECRET_KEY": "x" * 40,
        "HOTLINE_REDIS_URL": "",
    }


def invoke(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_replay_json_shape_values_and_idempotence(env, runtime, tmp_path, line_ending) -> None:
    path = tmp_path / "stream.ami"
    path.write_bytes(FIXTURE.read_text(encoding="utf-8").replace("\n", line_ending).encode("utf-8"))
    first = json.loads(invoke(env, "callcenter", "replay", str(path), "--json"))
    assert first == EXPECTED
    again = json.loads(invoke(env, "callcenter", "replay", str(path), "--json"))
    assert again == first
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 4
        assert s.scalar(select(func.count()).select_from(QueueEntry)) == 3


def test_replay_table_and_scratch_database(env, runtime) -> None:
    out = invoke(env, "callcenter", "replay", str(FIXTURE), "--scratch")
    assert "张桂兰" not in out  # the table shows numbers, not names
    assert "乌云" in out and "ivr_only" in out and "接通率 66.7%" in out
    with runtime.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Call)) == 0
        )  # nothing written to the real database


def test_replay_refuses_a_database_without_call_tables(env, tmp_path) -> None:
    bad = dict(env, HOTLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(cli, ["callcenter", "replay", str(FIXTURE)], env=bad)
    assert result.exit_code != 0 and "hotline db upgrade" in result.output


def test_report_kpi_formats(env, runtime) -> None:
    invoke(env, "callcenter", "replay", str(FIXTURE))
    day = "2025-11-26"  # the fixture's calls are on 2025-11-26 (Asia/Shanghai)
    data = json.loads(
        invoke(
            env, "report", "kpi", "--from", day, "--to", day, "--format", "json", "--by", "queue"
        )
    )
    total = data["total"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (3, 2, 1)
    assert (
        total["answer_rate"],
        total["service_level"],
        total["asa_s"],
        total["abandon_rate"],
    ) == (0.6667, 0.3333, 12.5, 0.3333)
    assert total["aht_s"] == pytest.approx(
        (95 + 15 + 60 + 15) / 2
    )  # talk + wrap-up per answered leg
    assert {r["key"]: r["offered"] for r in data["rows"]} == {
        "hotline-emergency": 1,
        "hotline-general": 2,
    }
    csv_out = invoke(
        env, "report", "kpi", "--from", day, "--to", day, "--format", "csv", "--by", "agent"
    )
    lines = csv_out.strip().splitlines()
    # an agent's row: named, with its answered calls and the rings presented to it
    assert lines[0].startswith("key,label,answered,rings,rings_not_answered,no_answer,talk_s")
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert rows["PJSIP/8002"][1:5] == ["李娜", "0", "1", "1"]
    assert rows["PJSIP/8003"][1:5] == ["乌云", "1", "1", "0"]
    table = invoke(env, "report", "kpi", "--from", day, "--to", day, "--by", "queue")
    assert "接通率" in table and "66.7%" in table and "合计" in table
    assert "紧急求助队列" in table and "hotline-emergency" not in table
    empty = json.loads(
        invoke(
            env, "report", "kpi", "--from", "2020-01-01", "--to", "2020-01-01", "--format", "json"
        )
    )
    assert empty["total"]["offered"] == 0 and empty["total"]["answer_rate"] is None


def test_scenario_file_drives_the_simulator(tmp_path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "time_scale: 50\n"
        "agents:\n"
        "  - {interface: PJSIP/8001, name: 王芳, queues: [hotline-general], answer_after: 2}\n"
        "calls:\n"
        "  - {at: 0, number: '13800000001', name: 张三, talk: 10}\n"
        "  - {at: 1, number: '13800000002', name: 李四, patience: 3, talk: 10}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path, secret="s")

    async def main() -> list[str | None]:
        pbx = PbxSimulator(scenario.config)
        pbx.bind_loop(asyncio.get_running_loop())
        calls = await run_script(pbx, scenario.calls)
        await asyncio.wait_for(asyncio.gather(*(c.done for c in calls)), 10)
        await pbx.stop()
        return [c.outcome for c in calls]

    assert asyncio.run(main()) == ["answered", "abandoned"]


def test_pbx_sim_command_serves_ami(tmp_path, data_key) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        HOTLINE_DATA_DIR=str(tmp_path),
        HOTLINE_AMI_SECRET="sim-secret",
        HOTLINE_DATA_KEY=data_key,
        HOTLINE_SECRET_KEY="x" * 40,
    )
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hotline")),
            "pbx-sim",
            "--port",
            str(port),
            "--rate",
            "5",
            "--time-scale",
            "20",
            "--talk",
            "5",
            "--agents",
            "2",
            "--queue-log",
            str(tmp_path / "queue_log"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        async def main() -> int:
            joins: list[str] = []
            client = AmiClient(
                host="127.0.0.1",
                port=port,
                username="hotline",
                secret="sim-secret",
                ping_interval=0,
                on_message=lambda m, t: joins.append(m["Event"]),
            )
            for _ in range(100):
                try:
                    await client.connect()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            deadline = time.monotonic() + 10
            while "QueueCallerJoin" not in joins and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await client.close()
            return joins.count("QueueCallerJoin")

        assert asyncio.run(main()) >= 1
        events = [x.split("|")[4] for x in (tmp_path / "queue_log").read_text().splitlines()]
        assert events[0] == "QUEUESTART" and "ENTERQUEUE" in events
    finally:
        proc.terminate()
        proc.wait(10)


def test_callcenter_stops_with_a_clear_error_on_a_refused_password(env, start_sim) -> None:
    from tests.callcenter.conftest import sim_config

    sim = start_sim(sim_config(agents=1))
    bad = dict(
        env,
        HOTLINE_AMI_HOST="127.0.0.1",
        HOTLINE_AMI_PORT=str(sim.port),
        HOTLINE_AMI_SECRET="wrong",
        HOTLINE_AMI_AUTH_RETRIES="2",
    )
    result = CliRunner().invoke(cli, ["callcenter"], env=bad)
    assert result.exit_code == 2
    assert "登录被拒绝" in result.output and "manager.conf" in result.output
    assert sim.server.failed_logins == 2


def test_the_screen_pop_service_stops_with_a_clear_error_on_a_refused_password(
    env, start_sim
) -> None:
    from callcenter.pbx_sim.config import screen_pop_user
    from tests.callcenter.conftest import sim_config

    cfg = sim_config(agents=1)
    cfg.users["hotline-pop"] = screen_pop_user("pop-secret")
    sim = start_sim(cfg)
    bad = dict(
        env,
        HOTLINE_AMI_HOST="127.0.0.1",
        HOTLINE_AMI_PORT=str(sim.port),
        HOTLINE_AMI_POP_SECRET="wrong",
        HOTLINE_AMI_AUTH_RETRIES="2",
    )
    result = CliRunner().invoke(cli, ["callcenter", "pops"], env=bad)
    assert result.exit_code == 2
    assert "HOTLINE_AMI_POP_SECRET" in result.output and "manager.conf" in result.output
    assert sim.server.failed_logins == 2
