"""The fault drill in the suite: private PostgreSQL, Redis and Mosquitto, the production
processes, calls, alarms and orders flowing while each server restarts and each process is
killed (tests/faults/harness.py). Nothing may be lost, doubled, made up or left behind."""

from __future__ import annotations

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
    try:
        result = drill.run()
    finally:
        tails = {n: s.tail() for n, s in drill.services.items()}
        drill.__exit__(None, None, None)
    print(result.counts, [(f.fault, f.recovered_s) for f in result.faults])
    assert result.losses == dict.fromkeys(result.losses, 0), (result.details, tails)
    not_recovered = [(f.fault, f.behind) for f in result.faults if f.recovered_s is None]
    assert not_recovered == [], tails
    assert result.counts["calls_answered"] and result.counts["calls_abandoned"]
    assert result.counts["alarms_acknowledged"] and result.counts["orders_opened"]
