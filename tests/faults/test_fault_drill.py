"""The fault drill in the suite: private PostgreSQL, Redis and Mosquitto, the production
processes, calls, alarms and orders flowing while each server restarts and each process is
killed (tests/faults/harness.py). Nothing may be lost, doubled, made up or left behind."""

from __future__ import annotations

import contextlib

import pytest

from tests.conftest import REQUIRE
from tests.faults.harness import Drill, DrillConfig


@pytest.mark.timeout(600)
def test_a_bad_day_loses_nothing() -> None:
    try:
        drill = Drill(DrillConfig(), log=lambda line: print(line, flush=True))
        drill.__enter__()
    except FileNotFoundError as exc:  # a server binary this machine lacks
        if REQUIRE:
            pytest.fail(f"the fault drill needs {exc} (HOTLINE_TEST_REQUIRE_SERVICES=1)")
        pytest.skip(f"the fault drill needs {exc}")
    with contextlib.closing(drill):
        result = drill.run()
        logs = {name: service.tail() for name, service in drill.services.items()}
    print(result.counts, [(f.fault, f.recovered_s) for f in result.faults])
    assert result.losses == dict.fromkeys(result.losses, 0), (result.details, logs)
    not_recovered = [(f.fault, f.behind) for f in result.faults if f.recovered_s is None]
    assert not_recovered == [], logs
    # the drill did what it says: every kind of call, alarms and orders went through
    assert result.counts["calls_answered"] and result.counts["calls_abandoned"]
    assert result.counts["alarms_acknowledged"] and result.counts["orders_opened"]
