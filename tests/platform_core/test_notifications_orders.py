"""Who hears what as an order moves: the provider of a new order, the staff member who goes, the
family at acceptance, arrival and completion, and the elder's confirmation code at check-in."""

from __future__ import annotations

import pytest

from platform_core.errors import Conflict, ValidationFailed
from platform_core.notifications import service as sms
from platform_core.orders import confirmation
from platform_core.orders import jobs as sms_jobs
from platform_core.orders import messages as order_messages
from platform_core.orders import service as orders
from tests.order_steps import time_at_home
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import (
    AGENT,
    ELDER_MOBILE,
    HOME,
    SON_MOBILE,
    open_order,
    order_of,
    settle_jobs,
    submit,
)

rt, world = support.rt, support.world  # the shared fixtures


def texts(rt, order_id: int) -> list[tuple[str, str, str]]:
    """(template, number, text) of every message about the order, oldest first."""
    with rt.session() as s:
        rows = sms.list_messages(s, region_code="150000000000", ref_type="order_step")
        rows = [m for m in rows if m.ref_id.startswith(f"{order_id}:")]
        return [
            (m.template, m.to_number, sms.read_message(s, actor=AGENT, message_id=m.id))
            for m in sorted(rows, key=lambda m: m.id)
        ]


def code_sent(rt, order_id: int) -> str:
    (body,) = [t for tpl, _, t in texts(rt, order_id) if tpl == "confirmation_code"]
    return body.split("服务确认码")[1][:6]


def test_each_step_tells_the_right_people(world) -> None:
    rt = world.rt
    p = world.near
    order_id = open_order(rt, world.elder)
    submit(rt, order_id)
    settle_jobs(rt)
    (new,) = texts(rt, order_id)
    assert new[0] == "order_dispatched_provider" and new[1] == "13947100001"
    assert order_of(rt, order_id).order_no in new[2] and "30分钟内" in new[2]
    with rt.session() as s:
        orders.accept(s, actor=p.actor, order_id=order_id, staff_id=p.staff_id)
    with rt.session() as s:
        orders.start_travel(s, actor=p.actor, order_id=order_id)
    settle_jobs(rt)
    sent = texts(rt, order_id)
    assert [t[0] for t in sent] == [
        "order_dispatched_provider",
        "staff_assigned",
        "order_accepted_family",
    ]
    staff_text = sent[1][2]
    assert sent[1][1] == "13704710001" and "老人王桂兰" in staff_text and ELDER_MOBILE in staff_text
    assert sent[2][1] == SON_MOBILE and "护理员1" in sent[2][2] and p.name in sent[2][2]
    with rt.session() as s:
        orders.check_in(s, actor=p.actor, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
    settle_jobs(rt)
    sent = texts(rt, order_id)
    assert [t[0] for t in sent[3:]] == ["order_checked_in_family", "confirmation_code"]
    assert sent[4][1] == ELDER_MOBILE  # the elder has a mobile: the code goes to the elder
    with rt.session() as s:
        time_at_home(s, order_id)
        orders.check_out(
            s,
            actor=p.actor,
            order_id=order_id,
            latitude=HOME[0],
            longitude=HOME[1],
            report="打扫完毕",
        )
    settle_jobs(rt)
    assert texts(rt, order_id)[-1][0] == "order_completed_family"
    # each job run again: nothing new goes out
    before = len(texts(rt, order_id))
    for seq in range(1, order_of(rt, order_id).transition_count + 1):
        sms_jobs.notify_order_step(order_id, seq)
    assert len(texts(rt, order_id)) == before


def walk_to_in_service(rt, provider, order_id: int) -> None:
    submit(rt, order_id)
    settle_jobs(rt)
    with rt.session() as s:
        orders.accept(s, actor=provider.actor, order_id=order_id, staff_id=provider.staff_id)
        orders.start_travel(s, actor=provider.actor, order_id=order_id)
        orders.check_in(
            s, actor=provider.actor, order_id=order_id, latitude=HOME[0], longitude=HOME[1]
        )
    settle_jobs(rt)


def test_the_elder_confirms_with_the_code_and_wrong_codes_are_counted(world) -> None:
    rt = world.rt
    p = world.near
    order_id = open_order(rt, world.elder)
    walk_to_in_service(rt, p, order_id)
    code = code_sent(rt, order_id)
    with rt.session() as s:
        time_at_home(s, order_id)
        orders.check_out(s, actor=p.actor, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(orders.PermissionDenied) as err, rt.session() as s:
        confirmation.confirm_with_code(s, actor=world.middle.actor, order_id=order_id, code=wrong)
    assert err.value.code == "not_your_order"  # and it spent none of the elder's tries
    with pytest.raises(confirmation.WrongConfirmationCode) as err, rt.session() as s:
        confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=wrong)
    assert err.value.details["tries_left"] == 4
    with rt.session() as s:
        assert (
            confirmation.code_status(s, order_id=order_id)["tries_left"] == 4
        )  # survived the refusal
    with rt.session() as s:
        confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=code)
    order = order_of(rt, order_id)
    assert order.status == "confirmed" and order.confirmed_by == "老人本人"
    assert support.history(rt, order_id)[-1].detail["method"] == "短信确认码"
    with pytest.raises(Conflict) as err, rt.session() as s:
        confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=code)
    assert err.value.code == "confirmation_code_used"


def test_too_many_wrong_codes_lock_the_code_until_a_new_one_is_sent(world) -> None:
    rt = world.rt
    p = world.near
    order_id = open_order(rt, world.elder)
    walk_to_in_service(rt, p, order_id)
    code = code_sent(rt, order_id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(ValidationFailed), rt.session() as s:
            confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=wrong)
    with pytest.raises(Conflict) as err, rt.session() as s:
        confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=code)
    assert err.value.code == "confirmation_code_locked"
    with rt.session() as s:
        order_messages.resend_confirmation_code(s, actor=p.actor, order_id=order_id)
    settle_jobs(rt)
    with rt.session() as s:
        (resent,) = sms.list_messages(s, region_code="150000000000", ref_type="confirmation_code")
        fresh = sms.read_message(s, actor=AGENT, message_id=resent.id).split("服务确认码")[1][:6]
    with rt.session() as s:
        time_at_home(s, order_id)
        orders.check_out(s, actor=p.actor, order_id=order_id, latitude=HOME[0], longitude=HOME[1])
        confirmation.confirm_with_code(s, actor=p.actor, order_id=order_id, code=fresh)
    assert order_of(rt, order_id).status == "confirmed"


def test_without_a_mobile_the_code_goes_to_the_family(rt) -> None:
    w = support.build_world(rt)
    with rt.session() as s:
        no_mobile = support.add_elder(s, 7, mobile=None)
    order_id = open_order(rt, no_mobile)
    walk_to_in_service(rt, w.near, order_id)
    (to,) = [n for tpl, n, _ in texts(rt, order_id) if tpl == "confirmation_code"]
    assert to == SON_MOBILE


def test_another_provider_cannot_ask_for_a_new_code(world) -> None:
    rt = world.rt
    order_id = open_order(rt, world.elder)
    walk_to_in_service(rt, world.near, order_id)
    with pytest.raises(orders.PermissionDenied) as err, rt.session() as s:
        order_messages.resend_confirmation_code(s, actor=world.middle.actor, order_id=order_id)
    assert err.value.code == "not_your_order"
