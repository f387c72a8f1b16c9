"""The elder's evidence and the time at the home are domain rules: they hold on every channel
(the provider API over a real server, the portal, the console's actors) and settlement pays only
orders confirmed with the elder's evidence."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.errors import Conflict
from platform_core.notifications import service as sms
from platform_core.orders import evidence, photos
from platform_core.orders import service as orders
from platform_core.orders.evidence import Evidence
from platform_core.orders.models import ServiceOrder
from platform_core.provider_api import service as api
from platform_core.provider_api.client import ProviderApiClient, ProviderApiError
from platform_core.settlement import service as settlement
from tests.agent_console import provider_support as support
from tests.agent_console.provider_support import ADMIN, AGENT, HOME, order
from tests.order_steps import confirm_by_elder, time_at_home

provider_world = support.provider_world
PNG = b"\x89PNG\r\n\x1a\n" + b"door-photo" * 8


def staff_of(provider_id: int) -> Actor:
    return Actor(
        kind="user",
        name="服务商",
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=99,
        provider_id=provider_id,
    )


def _code_sent(w, order_id: int) -> str:
    w.rt.jobs.wait_idle(10)
    with w.rt.session() as s:
        rows = sms.list_messages(s, region_code="150000000000", ref_type="order_step")
        (msg,) = [
            m
            for m in rows
            if m.ref_id.startswith(f"{order_id}:") and m.template == "confirmation_code"
        ]
        return sms.read_message(s, actor=AGENT, message_id=msg.id).split("服务确认码")[1][:6]


def test_a_provider_key_cannot_confirm_a_zero_minute_service_without_the_elders_code(
    provider_world, live
) -> None:
    w = provider_world
    with w.rt.session() as s:
        key = api.issue_key(s, actor=ADMIN, provider_id=w.first.id)
    c = ProviderApiClient(live.url, key.key_id, key.secret, cipher=key.cipher)
    no = order(w, w.order_id).order_no
    c.report(no, 1, "accepted", staff_id=w.first.staff_id)
    c.report(no, 2, "en_route")
    c.report(no, 3, "checked_in", latitude=HOME[0], longitude=HOME[1])
    with pytest.raises(ProviderApiError) as err:
        c.report(no, 4, "checked_out", latitude=HOME[0], longitude=HOME[1], report="完成")
    assert (err.value.status, err.value.code) == (409, "service_too_short")
    assert "分钟" in err.value.message
    assert order(w, w.order_id).status == "in_service"
    with w.rt.session() as s:
        time_at_home(s, w.order_id, minutes=40)
    c.report(no, 4, "checked_out", latitude=HOME[0], longitude=HOME[1], report="完成")
    for seq, fields, code in (
        (5, {}, "confirmation_code_required"),
        (6, {"confirmed_by": "老人本人"}, "confirmation_code_required"),
    ):
        with pytest.raises(ProviderApiError) as err:
            c.report(no, seq, "confirmed", **fields)
        assert err.value.code == code
    code = _code_sent(w, w.order_id)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ProviderApiError) as err:
        c.report(no, 5, "confirmed", confirmation_code=wrong)
    assert err.value.code == "wrong_confirmation_code"
    done = order(w, w.order_id)
    assert done.status == "completed" and done.confirmed_at is None
    assert c.report(no, 5, "confirmed", confirmation_code=code)["status"] == "confirmed"
    done = order(w, w.order_id)
    assert done.confirmed_by == "老人本人" and evidence.is_evidenced(done)
    assert done.confirmation_evidence.startswith("code:")


def test_no_channel_confirms_without_evidence_that_holds(provider_world) -> None:
    w = provider_world
    p = staff_of(w.first.id)
    with w.rt.session() as s:
        orders.accept(s, actor=p, order_id=w.order_id, staff_id=w.first.staff_id)
        orders.start_travel(s, actor=p, order_id=w.order_id)
        orders.check_in(s, actor=p, order_id=w.order_id, latitude=HOME[0], longitude=HOME[1])
        door = photos.store_photo(s, actor=p, order_id=w.order_id, kind="check_in", data=PNG)
        door_id = door.id
        time_at_home(s, w.order_id)
        orders.check_out(s, actor=p, order_id=w.order_id, latitude=HOME[0], longitude=HOME[1])
    forged = [
        None,
        Evidence("code", "1"),  # no code was spent for this order
        Evidence("signature", str(door_id)),  # a photo of the door is not a signature
        Evidence("identity_check", "meal_booking:1"),  # no such redemption
        Evidence("provider_api", "x"),  # the provider's word
    ]
    for actor in (p, AGENT):  # the provider's channel and the console's
        for proof in forged:
            with pytest.raises(Conflict) as err, w.rt.session() as s:
                orders.confirm(s, actor=actor, order_id=w.order_id, evidence=proof)  # type: ignore[arg-type]
            assert err.value.code == "confirmation_evidence_required"
    assert order(w, w.order_id).status == "completed"
    with w.rt.session() as s:
        confirm_by_elder(s, actor=p, order_id=w.order_id)
    assert order(w, w.order_id).status == "confirmed"


def test_settlement_never_pays_a_confirmation_without_the_elders_evidence(provider_world) -> None:
    w = provider_world
    p = staff_of(w.first.id)
    supervisor = Actor(
        kind="user", name="sup", region_code="150100000000", role=Role.SUPERVISOR, user_id=3
    )
    ids = [w.order_id, support.dispatched_order(w, w.first.id)]
    with w.rt.session() as s:
        for oid in ids:
            orders.accept(s, actor=p, order_id=oid, staff_id=w.first.staff_id)
            orders.start_travel(s, actor=p, order_id=oid)
            orders.check_in(s, actor=p, order_id=oid, latitude=HOME[0], longitude=HOME[1])
            time_at_home(s, oid)
            orders.check_out(s, actor=p, order_id=oid, latitude=HOME[0], longitude=HOME[1])
            confirm_by_elder(s, actor=p, order_id=oid)
            orders.record_return_visit(s, actor=AGENT, order_id=oid, result="satisfied")
        # the second was confirmed by a provider's word before the rule (as the probe found)
        s.execute(
            update(ServiceOrder).where(ServiceOrder.id == ids[1]).values(confirmation_evidence=None)
        )
    month = clock.local(order(w, ids[0]).completed_at).strftime("%Y-%m")
    with w.rt.session() as s:
        preview = settlement.preview(s, actor=supervisor, provider_id=w.first.id, month=month)
        assert [o.id for o in preview.settleable] == [ids[0]]
        assert [o.id for o in preview.held] == [ids[1]]
    with w.rt.session() as s:
        row = settlement.settle_month(s, actor=supervisor, provider_id=w.first.id, month=month)
        assert [line.order_id for line in row.lines] == [ids[0]]
    assert order(w, ids[1]).status == "return_visited"
    with pytest.raises(Conflict) as err, w.rt.session() as s:
        orders.settle(s, actor=supervisor, order_id=ids[1], settlement_ref="JS-by-hand")
    assert err.value.code == "confirmation_unevidenced"
    assert order(w, ids[1]).settled_at is None
