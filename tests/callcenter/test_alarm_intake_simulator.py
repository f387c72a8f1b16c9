"""Simulated device traffic from the registry, through the vendors' webhooks into the intake
(the demo's path without a broker); and the ``hotline devices`` commands."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from callcenter.alarm_intake.app import AlarmIntake
from callcenter.alarm_intake.simulator import run_simulator
from hotline.cli import cli
from hotline.demo_data.elders import seed_elders
from platform_core import clock
from platform_core.alarms.models import Alarm, RejectedDeviceMessage
from platform_core.db import utcnow
from platform_core.devices.models import Device
from tests.callcenter.alarm_intake_support import cli_environment, wait_until


def fresh_devices(rt, since) -> int:
    with rt.session() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(Device).where(Device.last_heartbeat_at >= since)
            )
            or 0
        )


def test_simulated_traffic_reaches_the_intake_over_webhooks(regions) -> None:
    rt = regions
    with rt.session() as s:
        seed_elders(s, count=80, seed=99, league_code="150100000000")
    with rt.session() as s:
        in_service = s.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.status.in_(["installed", "online", "offline", "low_battery"]))
        )
        vendors = set(s.scalars(select(Device.vendor).distinct()))
    assert in_service >= 10 and len(vendors) >= 2
    started = utcnow()
    intake = AlarmIntake(
        rt, mqtt_url="", http_host="127.0.0.1", http_port=0, schedule=False
    ).start()
    sim = run_simulator(
        rt, transport="http", http_url=intake.http.url, alarm_every_s=0.05, heartbeat_scale=0.0005
    )
    try:
        assert wait_until(lambda: fresh_devices(rt, started) >= in_service, timeout=20)
        assert wait_until(
            lambda: sum(v for k, v in sim.counts.items() if k.startswith("alarm.")) >= 20,
            timeout=15,
        )
    finally:
        sim.stop()
    assert intake.pipeline.wait_idle(15)
    intake.stop()
    with rt.session() as s:
        raised = s.scalar(select(func.count()).select_from(Alarm))
        types = set(s.scalars(select(Alarm.alarm_type).distinct()))
        rejected = s.scalars(select(RejectedDeviceMessage.reason)).all()
    # every device in service beat, each through its own vendor's protocol
    assert fresh_devices(rt, started) >= in_service
    assert raised >= 1 and types  # alarms of the kinds the devices raise
    assert rejected == []  # everything the simulator sends is well formed and signed
    assert intake.stats()["signals.raised"] == raised


def test_hotline_devices_commands(regions, monkeypatch) -> None:
    rt = regions
    from tests.platform_core.alarms_support import new_device, new_elder

    with rt.session() as s:
        elder_id = new_elder(s)
        device_id = new_device(s, elder_id=elder_id).id
    cli_environment(rt, monkeypatch)
    runner = CliRunner()
    today = clock.today().isoformat()
    died = runner.invoke(
        cli, ["devices", "record-death", str(elder_id), "--date", today, "--source", "公安"]
    )
    assert died.exit_code == 0, died.output
    report = json.loads(died.output.strip().splitlines()[-1])
    assert report["devices_deactivated"] == [device_id] and len(report["recovery_tickets"]) == 1
    again = runner.invoke(cli, ["devices", "record-death", str(elder_id), "--date", "2020-01-01"])
    assert again.exit_code != 0 and "死亡日期" in again.output
    kpi = runner.invoke(cli, ["devices", "alarm-kpi", "--region", "150100000000"])
    assert kpi.exit_code == 0, kpi.output
    assert json.loads(kpi.output)["answered_within"][0]["seconds"] == 60
    with rt.session() as session:
        assert session.get(Device, device_id).status == "deactivated"
