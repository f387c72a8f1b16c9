"""Orders after service: complaints opened, handled and closed with a reply (sent to the elder),
counted by the provider's evaluation unless not upheld; the IVR's survey call of an order
dialled through callcenter over AMI (PBX simulator on TCP), its key taken in the survey flow over
FastAGI as the order's rating."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.pbx_sim.config import PhoneConfig
from platform_core.actors import Actor, Role
from platform_core.db import utcnow
from platform_core.elders.models import ElderPhone
from platform_core.errors import Conflict, IllegalTransition, PermissionDenied
from platform_core.evaluation.service import compute_metrics
from platform_core.flows import order_complaints, order_surveys
from platform_core.notifications.models import OutboxMessage
from platform_core.orders import service as orders
from tests.platform_core.test_care_calls_originate import _telephony
from tests.platform_core.test_orders_support import (
    AGENT,
    SUPERVISOR,
    add_elder,
    add_provider,
    walk,
    world,  # noqa: F401
)

OFFICER = Actor(
    kind="user", name="民政李强", region_code="150100000000", role=Role.OFFICER, user_id=21
)
SURVEYED = "04716900005"


def _order(s, w, until: str) -> int:  # noqa: ANN001
    order = orders.open_order(
        s, actor=AGENT, elder_id=w.elder, service_type_code="care_cleaning", source="call"
    )
    walk(s, order.id, w.provider, until=until)
    return order.id


def test_a_complaint_is_opened_handled_and_closed_with_a_reply(world) -> None:  # noqa: F811
    w = world
    with w.rt.session() as s:
        s.add(ElderPhone(elder_id=w.elder, number="13912345678", kind="mobile"))
        upheld_id = _order(s, w, "confirmed")
        unfounded_id = _order(s, w, "rated")
        complaint = order_complaints.open_complaint(
            s, actor=AGENT, order_id=upheld_id, text="服务人员迟到一小时", complainant="家属"
        )
        other = order_complaints.open_complaint(
            s, actor=AGENT, order_id=unfounded_id, text="打扫不干净"
        )
        assert orders.get_order(s, order_id=upheld_id).status == "complaint"
        with pytest.raises(PermissionDenied):
            order_complaints.handle_complaint(s, actor=AGENT, complaint_id=complaint.id, note="x")
        order_complaints.handle_complaint(
            s, actor=SUPERVISOR, complaint_id=complaint.id, note="已联系服务商核实, 确有迟到"
        )
        closed = order_complaints.close_complaint(
            s,
            actor=OFFICER,
            complaint_id=complaint.id,
            reply="服务商已道歉并扣减信用分",
            upheld=True,
        )
        assert closed.status == "closed" and closed.upheld is True
        assert closed.handling.count("\n") == 1 and "办结 (属实)" in closed.handling
        message = s.get(OutboxMessage, closed.reply_message_id)
        assert message.to_number == "13912345678"
        with pytest.raises(IllegalTransition):
            order_complaints.close_complaint(
                s, actor=OFFICER, complaint_id=complaint.id, reply="again", upheld=True
            )
        order_complaints.close_complaint(
            s, actor=SUPERVISOR, complaint_id=other.id, reply="经核实打扫合格", upheld=False
        )
        # the order moves on by its own steps: the return visit, then closing
        orders.record_return_visit(s, actor=AGENT, order_id=upheld_id, result="dissatisfied")
        start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(days=1)
        metrics = compute_metrics(s, provider_id=w.provider.id, start=start, end=end)
        assert metrics.complaints == 1  # the one not upheld is not held against the provider
        assert metrics.ratings == 1 and metrics.avg_rating == 5.0
        orders.close(s, actor=OFFICER, order_id=unfounded_id, reason="投诉不属实, 办结")
        assert orders.get_order(s, order_id=unfounded_id).status == "closed"


@pytest.fixture
def telephony(world, tmp_path: Path):  # noqa: ANN201, F811
    w = world
    w.rt.jobs.close()  # the world holds jobs; the survey call's job is run here by hand
    yield from _telephony(w.rt, tmp_path)


def test_the_ivr_survey_call_rates_the_order(world, telephony, tmp_path: Path) -> None:  # noqa: F811
    w = world
    runtime, sim, _ivr = telephony
    sim.config.phones[SURVEYED] = PhoneConfig(answer_after=2.0, digits=["4"])
    with runtime.session() as s:
        elder_id = add_elder(s, 9)
        s.add(ElderPhone(elder_id=elder_id, number=SURVEYED, kind="home"))
        order = orders.open_order(
            s, actor=AGENT, elder_id=elder_id, service_type_code="care_cleaning", source="call"
        )
        walk(s, order.id, add_provider(s, 9), until="confirmed")
        call = order_surveys.request_survey_call(s, actor=AGENT, order_id=order.id)
        call_id, order_id = call.id, order.id
        with pytest.raises(Conflict):
            order_surveys.request_survey_call(s, actor=AGENT, order_id=_order(s, w, "rated"))
    assert order_surveys.place_survey_call(call_id) in ("answered", "rated")
    assert order_surveys.place_survey_call(call_id) in ("answered", "rated")  # dialled once
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with runtime.session() as s:
            if order_surveys.get_survey_call(s, survey_call_id=call_id).status == "rated":
                break
        time.sleep(0.1)
    with runtime.session() as s:
        row = order_surveys.get_survey_call(s, survey_call_id=call_id)
        rated = orders.get_order(s, order_id=order_id)
        assert (row.status, row.score, rated.status, rated.rating) == ("rated", 4, "rated", 4)
        step = orders.order_history(s, order_id=order_id)[-1]
        assert step.command == "rate" and step.detail["rated_by"] == order_surveys.IVR_RATER
