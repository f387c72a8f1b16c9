"""Structured logs: with HOTLINE_LOG_FORMAT=json every line a hotline service writes is one
JSON object, with phones and ID numbers masked before it is formatted."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from platform_core.json_logs import use_json
from platform_core.security import log_masking
from tests.deploy.support import ROOT, free_port


def test_a_json_line_is_masked_and_carries_the_exception() -> None:
    logger = logging.getLogger("hotline.test.json")
    logger.propagate = False
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    log_masking.install(logger)
    use_json("Asia/Shanghai", logger)
    try:
        try:
            raise ValueError("老人 150102194103090117 电话 13900471001")
        except ValueError:
            logger.exception("来电 %s 无法识别, 工单 %s", "13900471001", "GD20261206-00012")
    finally:
        logger.handlers.clear()
    entry = json.loads(stream.getvalue().strip())
    assert entry["level"] == "ERROR" and entry["logger"] == "hotline.test.json"
    assert entry["message"] == "来电 139****1001 无法识别, 工单 GD20261206-00012"
    assert entry["time"].endswith("+08:00")
    assert "13900471001" not in entry["exception"]
    assert "150102194103090117" not in entry["exception"]


def test_a_service_writes_json_lines(pg_engine, pg_url, base_settings, tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_KEY": base_settings.data_key,
        "HOTLINE_AMI_PORT": str(free_port()),  # no Asterisk: callcenter logs its retries
        "HOTLINE_AMI_SECRET": "x",
        "HOTLINE_METRICS_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    log = tmp_path / "callcenter.err"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("hotline")), "callcenter"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while len(log.read_text().splitlines()) < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(15)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any("operations endpoints" in e["message"] for e in entries)
    assert {"time", "level", "logger", "message"} <= set(entries[0])
