"""Periodic work of the intake process, each task idempotent so two intakes can both run it:

- link faults: devices silent beyond their interval go offline with a link-fault alarm;
- maintenance tickets past their on-site deadline are escalated;
- device return visits are scheduled;
- alarm timers that are due fire from the database (every second), so a burst of alarms
  costs no job per alarm and a timer job lost with Redis still fires.

It also listens on the event bus: on ElderDeceased it completes the death flow (a death recorded
elsewhere), on CallAnswered from a device's SIM the device's open emergency alarms are taken by
the agent who answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platform_core.alarms import jobs as alarm_jobs
from platform_core.devices import maintenance, return_visits
from platform_core.flows import death, device_calls, device_reports
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Task:
    name: str
    every_s: float
    run: Callable[[], Any]
    next_at: float = 0.0


class Scheduler:
    def __init__(
        self, runtime: Runtime, *, on_result: Callable[[str, Any], None] | None = None
    ) -> None:
        self.runtime = runtime
        self.on_result = on_result
        s = runtime.settings
        self.tasks = [
            Task("link_faults", s.heartbeat_check_interval_s, self._link_faults),
            Task("maintenance", 60, self._maintenance),
            Task("return_visits", 3600, self._return_visits),
            Task("alarm_timers", 1, lambda: alarm_jobs.fire_due_timers()),
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="intake-scheduler", daemon=True)
        self._unsubscribe: Callable[[], None] | None = None

    def _link_faults(self) -> int:
        with self.runtime.session() as s:
            return len(device_reports.raise_link_faults(s))

    def _maintenance(self) -> int:
        with self.runtime.session() as s:
            return len(maintenance.escalate_overdue(s))

    def _return_visits(self) -> int:
        with self.runtime.session() as s:
            return len(return_visits.schedule_due(s))

    def run_once(self, name: str) -> Any:
        task = next(t for t in self.tasks if t.name == name)
        return task.run()

    def _on_event(self, envelope: dict[str, Any]) -> None:
        if envelope.get("type") == "CallAnswered":
            self._device_call(envelope["data"])
            return
        if envelope.get("type") != "ElderDeceased":
            return
        elder_id = int(envelope["data"]["elder_id"])
        try:
            with self.runtime.session() as s:
                report = death.apply_death(s, elder_id=elder_id)
            if report.devices_deactivated or report.alarms_closed:
                log.info(
                    "老人 %s 去世: 已停用设备 %s / death applied",
                    elder_id,
                    report.devices_deactivated,
                )
        except Exception:
            log.exception("处理老人去世失败 / applying the death of elder %s failed", elder_id)

    def _device_call(self, data: dict[str, Any]) -> None:
        number, interface = data.get("caller_number"), data.get("agent_interface")
        if not number or not interface:
            return
        try:
            with self.runtime.session() as s:
                taken = device_calls.link_device_call(
                    s,
                    caller_number=str(number),
                    agent_interface=str(interface),
                    linkedid=str(data.get("linkedid", "")),
                    area_code=self.runtime.settings.trunk_area_code,
                )
            if taken:
                log.info(
                    "设备来电接通, 告警 %s 由 %s 处置 / device call answered", taken, interface
                )
        except Exception:
            log.exception("设备来电关联告警失败 / linking a device call to its alarms failed")

    def start(self) -> Scheduler:
        self._unsubscribe = self.runtime.event_bus.subscribe(
            self._on_event, types=("CallAnswered", "ElderDeceased")
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for task in self.tasks:
                if now < task.next_at:
                    continue
                task.next_at = now + task.every_s
                try:
                    result = task.run()
                    if self.on_result is not None:
                        self.on_result(task.name, result)
                except Exception:
                    log.exception("定时任务失败 / scheduled task %s failed", task.name)
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._thread.join(5)
