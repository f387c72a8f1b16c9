from __future__ import annotations

from datetime import date

import pytest

from platform_core.actors import system_actor
from platform_core.devices import service
from platform_core.devices.lifecycle import DeviceStatus, can_transition, check_transition
from platform_core.devices.schemas import DeviceIn, imei_check_digit
from platform_core.elders import service as elders
from platform_core.elders.schemas import validate_input
from platform_core.errors import Conflict, IllegalTransition, OutOfRegion, ValidationFailed
from platform_core.flows.screen_pop import desk_profile
from platform_core.regions.service import load_dictionary
from tests.platform_core.elders_support import AGENT_HOHHOT, OFFICER_BAOTOU, elder_input

STAFF = system_actor("设备管理员")


def _imei(body: str) -> str:
    return body + imei_check_digit(body)


def pendant(
    serial: str = "SOS-0001", sim: str = "+86 147 7101 0001", imei_body: str = "86451203000001"
) -> DeviceIn:
    return validate_input(
        DeviceIn,
        {
            "device_type": "sos_pendant",
            "serial": serial,
            "imei": _imei(imei_body),
            "sim_number": sim,
            "vendor": "安康通",
            "model": "AK-100",
            "heartbeat_interval_s": 3600,
        },
    )


@pytest.fixture
def rt(any_runtime):
    with any_runtime.session() as s:
        load_dictionary(s)
    return any_runtime


def test_register_bind_unbind_with_history(rt) -> None:
    with rt.session() as s:
        elder_id = elders.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
        device = service.register_device(s, data=pendant(serial="sos-0001"), actor=STAFF)
        assert device.serial == "SOS-0001" and device.sim_number == "14771010001"
        assert device.status == "in_stock"
        service.bind_device(s, device_id=device.id, elder_id=elder_id, actor=AGENT_HOHHOT)
        device_id = device.id
    with rt.session() as s:
        assert service.find_device_by_serial(s, serial="sos-0001").id == device_id
        assert service.find_device_by_sim(s, number="147-7101-0001").id == device_id
        assert service.find_device_by_sim(s, number="anonymous") is None
        [bound] = service.list_devices_for_elder(s, elder_id=elder_id)
        assert (bound.status, bound.region_code) == ("bound", "150102003201")
        summary = desk_profile(s, elder_id=elder_id, actor=AGENT_HOHHOT)["devices"]
        assert (
            summary[0]["type_label"] == "一键呼叫挂件" and summary[0]["sim_masked"] == "147****0001"
        )
        assert summary[0]["status_label"] == "已绑定待安装"
    with pytest.raises(OutOfRegion), rt.session() as s:
        service.unbind_device(s, device_id=device_id, actor=OFFICER_BAOTOU)
    with rt.session() as s:
        service.unbind_device(s, device_id=device_id, actor=AGENT_HOHHOT, reason="老人退订")
    with rt.session() as s:
        device = service.get_device(s, device_id=device_id)
        assert device.elder_id is None and device.status == "in_stock"
        assert [(c.from_status, c.to_status) for c in device.changes] == [
            (None, "in_stock"),
            ("in_stock", "bound"),
            ("bound", "in_stock"),
        ]
        assert device.changes[1].elder_id == elder_id and device.changes[2].reason == "老人退订"


def test_duplicates_are_refused(rt) -> None:
    with rt.session() as s:
        service.register_device(s, data=pendant(), actor=STAFF)
    cases = [
        (pendant(sim="13900000001", imei_body="86451203000002"), "duplicate_device"),
        (pendant(serial="SOS-0002", sim="13900000001"), "duplicate_imei"),
        (pendant(serial="SOS-0002", imei_body="86451203000002"), "duplicate_sim"),
    ]
    for data, code in cases:
        with pytest.raises(Conflict) as err, rt.session() as s:
            service.register_device(s, data=data, actor=STAFF)
        assert err.value.code == code


def test_invalid_device_input() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_input(
            DeviceIn,
            {
                "device_type": "toaster",
                "serial": "X 1",
                "imei": "864512030000019",
                "sim_number": "120",
            },
        )
    fields = {p["field"] for p in err.value.details["problems"]}
    assert fields == {"device_type", "serial", "imei", "sim_number"}
    assert "校验位" in err.value.message


def test_binding_to_a_deceased_elder_or_a_bound_device_is_refused(rt) -> None:
    with rt.session() as s:
        alive = elders.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
        dead = elders.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
        elders.record_death(s, elder_id=dead, died_on=date(2024, 3, 1), actor=STAFF)
        device_id = service.register_device(s, data=pendant(), actor=STAFF).id
    with pytest.raises(IllegalTransition) as err, rt.session() as s:
        service.bind_device(s, device_id=device_id, elder_id=dead, actor=AGENT_HOHHOT)
    assert err.value.code == "elder_deceased"
    with rt.session() as s:
        assert service.get_device(s, device_id=device_id).status == "in_stock"
        service.bind_device(s, device_id=device_id, elder_id=alive, actor=AGENT_HOHHOT)
    with pytest.raises(Conflict) as taken, rt.session() as s:
        other = elders.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
        service.bind_device(s, device_id=device_id, elder_id=other, actor=AGENT_HOHHOT)
    assert taken.value.code == "device_already_bound"


def test_lifecycle_table() -> None:
    assert can_transition("in_stock", "bound")
    assert can_transition("online", "offline") and can_transition("offline", "online")
    assert can_transition("fault", "under_repair") and can_transition("under_repair", "replaced")
    assert not can_transition("in_stock", "online")
    assert not can_transition("replaced", "online")
    with pytest.raises(IllegalTransition) as err:
        check_transition("deactivated", DeviceStatus.ONLINE)
    assert "已停用" in err.value.message and "在线" in err.value.message


def test_devices_of_a_deceased_elder_are_deactivated(rt) -> None:
    with rt.session() as s:
        elder_id = elders.register_elder(s, data=elder_input(), actor=AGENT_HOHHOT).id
        ids = [
            service.register_device(
                s,
                data=pendant(
                    serial=f"SOS-{n}", sim=f"1390000000{n}", imei_body=f"8645120300001{n}"
                ),
                actor=STAFF,
            ).id
            for n in range(2)
        ]
        for device_id in ids:
            service.bind_device(s, device_id=device_id, elder_id=elder_id, actor=AGENT_HOHHOT)
        elders.record_death(s, elder_id=elder_id, died_on=date(2024, 3, 1), actor=STAFF)
        done = service.deactivate_devices_of_elder(
            s, elder_id=elder_id, actor=STAFF, reason="老人去世"
        )
        assert sorted(d.id for d in done) == ids
    with rt.session() as s:
        assert service.list_devices_for_elder(s, elder_id=elder_id) == []
        for device_id in ids:
            device = service.get_device(s, device_id=device_id)
            assert device.status == "deactivated" and device.changes[-1].reason == "老人去世"
