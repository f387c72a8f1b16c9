"""The alarm intake, composed: pipeline, MQTT lanes, webhook server, scheduler.

It runs inside callcenter's process in production (``hotline devices intake`` runs it on its
own as well) and inside the one-process demo (:func:`start_in_process`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import platform_core.models  # noqa: F401 - every mapper the flows touch, in this process too
from callcenter.alarm_intake.http import WebhookServer
from callcenter.alarm_intake.mqtt import Broker, Feed, MqttIntake
from callcenter.alarm_intake.pipeline import IntakePipeline
from callcenter.alarm_intake.rejects import RejectLog
from callcenter.alarm_intake.scheduler import Scheduler
from callcenter.alarm_intake.vendors import Vendor, load_vendors
from platform_core.process import settle_service_process
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)


class AlarmIntake:
    def __init__(
        self,
        runtime: Runtime,
        *,
        mqtt_url: str | None = None,
        http_host: str | None = None,
        http_port: int | None = None,
        http: bool = True,
        schedule: bool = True,
        vendors: dict[str, Vendor] | None = None,
        topic_prefix: str | None = None,
        client_id: str | None = None,
        mqtt_lanes: Sequence[str] | None = None,
    ) -> None:
        """``mqtt_url`` None: the settings' (empty: no MQTT). ``http_port`` None: the settings'
        (0 there: no webhooks); 0 here: any free port. ``mqtt_lanes``: the MQTT sessions to
        open (all by default)."""
        s = runtime.settings
        self.runtime = runtime
        self.vendors = vendors or load_vendors(s)
        self.rejects = RejectLog(runtime)
        self.pipeline = IntakePipeline(runtime, rejects=self.rejects, alarm_writers=s.alarm_writers)
        url = s.mqtt_url if mqtt_url is None else mqtt_url
        self.mqtt = (
            MqttIntake(
                Feed(
                    broker=Broker.from_url(url),
                    client_id=client_id or s.mqtt_client_id,
                    topic_prefix=topic_prefix or s.mqtt_topic_prefix,
                    session_expiry_s=s.mqtt_session_expiry_s,
                    vendors=self.vendors,
                    pipeline=self.pipeline,
                ),
                lanes=mqtt_lanes,
            )
            if url
            else None
        )
        port = s.alarm_http_port if http_port is None else http_port
        enabled = http and (http_port is not None or port != 0)
        self.http = (
            WebhookServer(
                http_host or s.alarm_http_host,
                port,
                pipeline=self.pipeline,
                vendors=self.vendors,
                max_skew_s=s.alarm_signature_max_skew_s,
            )
            if enabled
            else None
        )
        self.scheduler = Scheduler(runtime) if schedule else None

    def start(self, *, wait_connected: float | None = 10.0) -> AlarmIntake:
        self.pipeline.start()
        if self.http is not None:
            self.http.start()
            log.info("告警 Webhook 已启动 / webhook intake on %s", self.http.url)
        if self.mqtt is not None:
            self.mqtt.start()
            if wait_connected and not self.mqtt.wait_connected(wait_connected):
                log.warning("MQTT 暂未连上, 后台继续重连 / broker not reached yet, retrying")
        if self.scheduler is not None:
            self.scheduler.start()
        settle_service_process()
        return self

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.http is not None:
            self.http.stop()
        self.pipeline.stop()
        self.rejects.close()

    def stats(self) -> dict[str, Any]:
        out = self.pipeline.snapshot()
        out["rejected"] = dict(self.rejects.counts)
        out["rejects_unstored"] = self.rejects.unstored
        return out


def start_in_process(runtime: Runtime, **options: Any) -> AlarmIntake:
    """Start the intake in this process (the demo, tests, benchmarks) with ``AlarmIntake``'s
    options; ``stop()`` ends it."""
    return AlarmIntake(runtime, **options).start()
