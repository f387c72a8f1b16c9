"""``hotline ivr`` as its own process: serves FastAGI on the configured port, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from callcenter.pbx_sim.agi import CallerBehaviour, run_fastagi_call
from platform_core.ivr import service as ivr_service
from platform_core.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hotline_ivr_serves_until_sigterm(regions: Runtime, tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        HOTLINE_DATA_DIR=str(tmp_path),
        HOTLINE_DATABASE_URL=regions.settings.database_url,
        HOTLINE_DATA_KEY=regions.settings.data_key,
        HOTLINE_SECRET_KEY=regions.settings.secret_key,
        HOTLINE_AGI_HOST="127.0.0.1",
        HOTLINE_AGI_PORT=str(port),
        HOTLINE_IVR_SOUNDS_DIR=str(tmp_path / "sounds"),
    )
    env.pop("HOTLINE_REDIS_URL", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("hotline")), "ivr"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "hotline ivr did not listen"
                time.sleep(0.1)
        outcome = asyncio.run(
            run_fastagi_call(
                f"agi://127.0.0.1:{port}/main",
                channel="PJSIP/trunk-1",
                uniqueid="1900000000.1",
                linkedid="1900000000.1",
                callerid="13911112222",
                calleridname="",
                behaviour=CallerBehaviour(digits=["1", "0"]),
            )
        )
        assert outcome.variables["HOTLINE_QUEUE"] == "hotline-general"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    output = proc.stdout.read() if proc.stdout else ""
    assert "FastAGI server listening" in output
    with regions.session() as s:
        [row] = ivr_service.list_sessions(s)
        assert (row.uniqueid, row.outcome) == ("1900000000.1", "handed_off")
