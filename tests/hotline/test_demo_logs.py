"""The demo's log holds no full phone or ID number: the IVR, callcenter, the alarm intake and
the console log through the masking filter (and mask what they log themselves)."""

from __future__ import annotations

import io
import logging
import re
import time

from hotline.demo import start_demo
from platform_core.security import log_masking
from platform_core.settings import Settings

MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")


def test_a_running_demo_logs_no_full_phone_or_id_number(tmp_path, data_key) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    log_masking.install(root)  # as the hotline command does at start
    settings = Settings(
        data_dir=tmp_path, secret_key="s" * 40, data_key=data_key, ami_secret="demo-secret"
    )
    demo = start_demo(settings, elders=40, agents=2, console_port=0)
    try:
        numbers = [number for number, _ in demo.callers]
        for number in numbers[:6]:
            demo.place_call(number, talk=1.0)
        demo.generate_calls(1.0)
        demo.simulate_devices(5.0)
        time.sleep(12)
    finally:
        demo.stop()
        root.removeHandler(handler)
        root.setLevel(before)
    text = out.getvalue()
    assert len(text.splitlines()) > 50, "the demo logged almost nothing: nothing was checked"
    assert "****" in text  # callers were logged, masked
    # a first start builds its schema before anything reads it (the outbox relay used to fail
    # its first pass on a missing table)
    assert "no such table" not in text
    assert not MOBILE.findall(text), MOBILE.findall(text)[:5]
    assert not ID_NUMBER.findall(text), ID_NUMBER.findall(text)[:5]


def test_the_filter_masks_what_slips_through_and_keeps_other_numbers() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "caller %s id %s order %s uid %s",
        ("+8613812345678", "150102195001011234", "GD20261206-00012", "1700000000.42"),
        None,
    )
    log_masking.PersonalDataFilter().filter(record)
    assert record.getMessage() == (
        "caller 138****5678 id 150102********1234 order GD20261206-00012 uid 1700000000.42"
    )
