"""Alarm intake: device messages over MQTT and vendor webhooks, turned into alarms.

``start_in_process(runtime)`` starts it inside another process (the demo, tests, benchmarks);
``hotline devices intake`` runs it on its own; ``simulator.run_simulator`` feeds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.alarm_intake.app import AlarmIntake


def start_in_process(runtime: Any, **options: Any) -> AlarmIntake:
    from callcenter.alarm_intake.app import start_in_process as start

    return start(runtime, **options)


__all__ = ["start_in_process"]
