"""The demo's simulated colleagues answer alarms too: an alarm offered to one of their desks is
taken after a human-like delay, worked (the elder reached, then closed) and the desk made ready
again through telephony, as a person at that desk would. So the alarm queue moves and the
wallboard's "taken within 60 s" is the real figure of the shift, not of one trainee's desk."""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from platform_core.runtime import Runtime

log = logging.getLogger(__name__)
COLLEAGUE_PREFIX = "demo_desk_"


class SimulatedColleagues:
    def __init__(
        self,
        runtime: Runtime,
        *,
        take_after_s: tuple[float, float] = (3.0, 10.0),
        handle_s: tuple[float, float] = (30.0, 90.0),
        seed: int = 4,
    ) -> None:
        self.runtime = runtime
        self.take_after_s, self.handle_s = take_after_s, handle_s
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._unsubscribe: Any = None
        self.taken = 0

    def start(self) -> SimulatedColleagues:
        self._unsubscribe = self.runtime.event_bus.subscribe(self._on_event)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _on_event(self, env: dict[str, Any]) -> None:
        if env.get("type") != "AlarmOffered":
            return
        data = env["data"]
        colleague = self._colleague(int(data["user_id"]))
        if colleague is None:
            return  # a person's desk: they take it themselves
        threading.Thread(
            target=self._work,
            args=(int(data["alarm_id"]), colleague),
            name=f"colleague-{data['alarm_id']}",
            daemon=True,
        ).start()

    def _colleague(self, user_id: int) -> Any:
        from platform_core.accounts.models import User
        from platform_core.accounts.service import actor_for

        with self.runtime.session() as s:
            user = s.get(User, user_id)
            if user is None or not user.username.startswith(COLLEAGUE_PREFIX):
                return None
            return actor_for(user), user.sip_interface

    def _work(self, alarm_id: int, colleague: tuple[Any, str]) -> None:
        from platform_core.alarms import service
        from platform_core.errors import DomainError
        from platform_core.telephony.commands import TelephonyClient

        actor, interface = colleague
        if self._stop.wait(self.rng.uniform(*self.take_after_s)):
            return
        try:
            with self.runtime.session() as s:
                service.take_alarm(s, alarm_id=alarm_id, actor=actor)
            self.taken += 1
            if self._stop.wait(self.rng.uniform(*self.handle_s)):
                return
            with self.runtime.session() as s:
                service.record_step(
                    s,
                    alarm_id=alarm_id,
                    step="talk_to_elder",
                    result="reached",
                    actor=actor,
                    note="老人表示误按, 已确认安全",
                )
            with self.runtime.session() as s:
                service.close_alarm(s, alarm_id=alarm_id, outcome="elder_safe", actor=actor)
        except DomainError as err:  # someone else took it first, or it closed meanwhile
            log.info("模拟坐席未处置告警 %s: %s", alarm_id, err.code)
        try:
            TelephonyClient(self.runtime).unpause(interface=interface, actor=actor)
        except DomainError as err:
            log.warning("模拟坐席恢复就绪失败 %s: %s", interface, err.code)
