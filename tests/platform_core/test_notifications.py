"""Text messages: templates, the outbox of the embedded default, and delivery through Twilio's
own Python client against a local server that answers like Twilio's REST API (rate limits and
server errors retried with back-off, bad numbers failed, statuses followed to delivered)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from hotline.sms_twilio import twilio_gateway
from platform_core.actors import system_actor
from platform_core.db import utcnow
from platform_core.errors import ValidationFailed
from platform_core.notifications import service as sms
from platform_core.notifications import transport
from platform_core.notifications.models import OutboxMessage
from platform_core.notifications.templates import SIGNATURE, TEMPLATES, render
from platform_core.runtime import Runtime
from tests.conftest import _runtime
from tests.platform_core.twilio_fake import FakeTwilio

ACTOR = system_actor("测试", region_code="150102000000")
MOBILE = "13800471009"


@pytest.fixture(autouse=True)
def twilio_adapter() -> Iterator[None]:
    """The adapter the ``hotline`` command wires in (platform_core imports no vendor SDK)."""
    transport.use_gateway(twilio_gateway)
    yield
    transport.use_gateway(None)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def twilio_settings(base, fake: FakeTwilio, **kw):
    return base.with_overrides(
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_from_number="+15005550006",
        twilio_api_base=fake.url,
        **kw,
    )


@pytest.fixture
def sms_rt(base_settings, pg_engine, pg_url, twilio) -> Iterator[Runtime]:
    """PostgreSQL, in-process jobs, Twilio configured; retries and status polls at once."""
    settings = twilio_settings(
        base_settings.with_overrides(database_url=pg_url),
        twilio,
        sms_retry_base_s=0,
        sms_status_poll_s=0,
    )
    yield from _runtime(settings, pg_engine)


def queue(
    rt: Runtime, ref_id: str = "1", to: str = MOBILE, template: str = "notice", **params
) -> int:
    with rt.session() as s:
        return sms.send_sms(
            s,
            to=to,
            template=template,
            params=params or {"text": "您好, 这是一条测试短信"},
            actor=ACTOR,
            ref_type="test",
            ref_id=ref_id,
        ).id


def message(rt: Runtime, message_id: int) -> OutboxMessage:
    with rt.session() as s:
        msg = sms.get_message(s, message_id=message_id)
        msg.log  # noqa: B018 - loaded before the session closes
        return msg


def test_templates_render_in_chinese_and_refuse_missing_parameters() -> None:
    text_ = render(
        "order_completed_family", {"elder_name": "张秀英", "service": "助洁", "time": "3月1日10:00"}
    )
    assert text_.startswith(SIGNATURE) and "张秀英的助洁服务已于3月1日10:00完成" in text_
    with pytest.raises(ValidationFailed) as err:
        render("order_completed_family", {"elder_name": "张秀英"})
    assert err.value.code == "sms_params_missing" and err.value.details["missing"] == [
        "service",
        "time",
    ]
    with pytest.raises(ValidationFailed) as err:
        render("no_such_template", {})
    assert err.value.code == "unknown_sms_template"
    assert all(t for t in TEMPLATES.values())


def test_the_embedded_default_keeps_messages_in_the_outbox(runtime) -> None:
    first = queue(runtime)
    again = queue(runtime)  # the same cause, recipient and template: the same message
    assert first == again
    runtime.jobs.wait_idle(5)
    msg = message(runtime, first)
    assert (msg.status, msg.channel, msg.attempts, msg.gateway_sid) == ("queued", "outbox", 0, None)
    assert [e.event for e in msg.log] == ["queued"]
    with runtime.session() as s:
        raw = s.execute(
            text("SELECT body_sealed FROM sms_outbox WHERE id = :i"), {"i": first}
        ).scalar()
        assert "测试短信" not in raw  # sealed at rest
        assert sms.read_message(s, actor=ACTOR, message_id=first).endswith("您好, 这是一条测试短信")
        assert sms.summary(msg)["to"] == "138****1009"


def test_only_mobiles_get_text_messages(runtime) -> None:
    for number in ("04716912345", "12349", "not a number"):
        with pytest.raises(sms.NotAMobile), runtime.session() as s:
            sms.send_sms(
                s,
                to=number,
                template="notice",
                params={"text": "x"},
                actor=ACTOR,
                ref_type="test",
                ref_id="1",
            )
    with runtime.session() as s:
        assert s.scalar(select(OutboxMessage.id)) is None


def test_a_message_goes_out_through_twilio_and_is_followed_to_delivered(sms_rt, twilio) -> None:
    msg_id = queue(sms_rt, template="confirmation_code", code="482913")
    assert sms_rt.jobs.wait_idle(10)
    msg = message(sms_rt, msg_id)
    assert msg.status == "delivered" and msg.channel == "twilio" and msg.attempts == 1
    assert msg.gateway_sid in twilio.messages and msg.gateway_sid.startswith("SM")
    assert [e.event for e in msg.log] == ["queued", "sent", "status"]
    assert msg.log[1].detail["gateway_status"] == "queued"
    (sent,) = twilio.messages.values()
    assert sent["to"] == "+86" + MOBILE and sent["from"] == "+15005550006"
    assert "服务确认码482913" in sent["body"] and sent["body"].startswith(SIGNATURE)


def test_rate_limits_and_server_errors_are_retried_until_sent(sms_rt, twilio) -> None:
    twilio.failures = [(429, 20429, "Too Many Requests"), (503, 20503, "Service Unavailable")]
    msg_id = queue(sms_rt)
    assert sms_rt.jobs.wait_idle(10)
    msg = message(sms_rt, msg_id)
    assert msg.status == "delivered" and msg.attempts == 3 and len(twilio.messages) == 1
    retries = [e for e in msg.log if e.event == "retry"]
    assert [(r.detail["http_status"], r.detail["error"]) for r in retries] == [
        (429, "20429"),
        (503, "20503"),
    ]


def test_back_off_doubles_and_gives_up_after_the_last_attempt(
    base_settings, pg_engine, pg_url, twilio
) -> None:
    settings = twilio_settings(
        base_settings.with_overrides(database_url=pg_url),
        twilio,
        sms_retry_base_s=30,
        sms_max_attempts=3,
    )
    gen = _runtime(settings, pg_engine)
    rt = next(gen)
    try:
        seen: list[dict] = []
        rt.event_bus.subscribe(seen.append)
        twilio.failures = [(500, 20500, "Internal Server Error")] * 3
        msg_id = queue(rt)
        assert rt.jobs.wait_idle(10)  # attempt 1 ran; attempt 2 waits 30 s
        msg = message(rt, msg_id)
        assert (msg.status, msg.attempts) == ("queued", 1)
        assert msg.next_attempt_at - utcnow() == pytest.approx(
            timedelta(seconds=30), abs=timedelta(seconds=3)
        )
        with rt.session() as s:
            assert sms.deliver(s, message_id=msg_id, attempt=2) == "queued"
            assert sms.deliver(s, message_id=msg_id, attempt=2) == "queued"  # ran already: nothing
        msg = message(rt, msg_id)
        assert msg.next_attempt_at - utcnow() == pytest.approx(
            timedelta(seconds=60), abs=timedelta(seconds=3)
        )
        with rt.session() as s:
            assert sms.deliver(s, message_id=msg_id, attempt=3) == "failed"
        msg = message(rt, msg_id)
        assert msg.attempts == 3 and msg.error_code == "20500" and msg.failed_at is not None
        assert [e.event for e in msg.log] == ["queued", "retry", "retry", "failed"]
        assert twilio.messages == {}
        rt.event_bus.drain()
        failed = [e for e in seen if e["type"] == "SmsFailed"]
        assert len(failed) == 1 and failed[0]["data"]["message_id"] == msg_id
    finally:
        gen.close()


def test_an_invalid_number_fails_at_once_without_retries(sms_rt, twilio) -> None:
    twilio.failures = [(400, 21211, "The 'To' number +8613800000000 is not a valid phone number.")]
    msg_id = queue(sms_rt)
    assert sms_rt.jobs.wait_idle(10)
    msg = message(sms_rt, msg_id)
    assert (msg.status, msg.attempts, msg.error_code) == ("failed", 1, "21211")
    assert "not a valid phone number" in msg.last_error


def test_wrong_credentials_are_a_final_failure(base_settings, pg_engine, pg_url, twilio) -> None:
    settings = twilio_settings(base_settings.with_overrides(database_url=pg_url), twilio)
    settings = settings.with_overrides(twilio_auth_token="not-the-token")
    gen = _runtime(settings, pg_engine)
    rt = next(gen)
    try:
        msg_id = queue(rt)
        assert rt.jobs.wait_idle(10)
        msg = message(rt, msg_id)
        assert (msg.status, msg.error_code) == ("failed", "20003")
    finally:
        gen.close()


def test_undelivered_reported_by_twilio_fails_the_message(sms_rt, twilio) -> None:
    twilio.fetched_status = "undelivered"
    msg_id = queue(sms_rt)
    assert sms_rt.jobs.wait_idle(10)
    msg = message(sms_rt, msg_id)
    assert (msg.status, msg.error_code) == ("failed", "30005")


def test_worker_start_sends_what_waited_in_the_outbox(
    runtime, base_settings, pg_engine, pg_url, twilio
) -> None:
    waiting = queue(runtime)
    assert message(runtime, waiting).channel == "outbox"
    runtime.jobs.wait_idle(5)
    settings = twilio_settings(
        base_settings.with_overrides(database_url=pg_url), twilio, sms_status_poll_s=0
    )
    from platform_core.runtime import build_runtime, install_runtime

    rt = build_runtime(settings, engine=pg_engine)
    install_runtime(rt)
    try:
        with rt.session() as s:
            assert sms.requeue_unsent(s) == 1
        assert rt.jobs.wait_idle(10)
        assert message(rt, waiting).status == "delivered"
    finally:
        install_runtime(runtime)
        rt.outbox.close()
        rt.jobs.close()
        rt.event_bus.close()
