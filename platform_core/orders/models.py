"""Service orders (服务工单), their transition log and the per-day order-number counter."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from platform_core.db import CHANNEL_ID, Base, utcnow

# the tables the foreign keys below name, registered with the metadata in any process
from platform_core.sites import models as _sites  # noqa: F401, E402

Money = Numeric(12, 2)


class Urgency(StrEnum):
    EMERGENCY = "emergency"  # 紧急
    URGENT = "urgent"  # 加急
    NORMAL = "normal"  # 普通


URGENCY_LABELS = {Urgency.EMERGENCY: "紧急", Urgency.URGENT: "加急", Urgency.NORMAL: "普通"}


class OrderSource(StrEnum):
    CALL = "call"  # 来电
    IVR = "ivr"  # 语音自助
    SOS_ALARM = "sos_alarm"  # 一键呼叫/设备告警
    CARE_CALL = "care_call"  # 主动关怀
    ASSESSMENT_PLAN = "assessment_plan"  # 评估后的服务计划
    APP = "app"  # 老人/家属端
    PROVIDER = "provider"  # 服务商上报
    ONLINE = "online"  # 在线受理 (the hotline's web channel)


SOURCE_LABELS = {
    OrderSource.CALL: "来电",
    OrderSource.IVR: "语音自助",
    OrderSource.SOS_ALARM: "一键呼叫告警",
    OrderSource.CARE_CALL: "主动关怀",
    OrderSource.ASSESSMENT_PLAN: "评估服务计划",
    OrderSource.APP: "移动端",
    OrderSource.PROVIDER: "服务商上报",
    OrderSource.ONLINE: "在线受理",
}


class ReturnVisitResult(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    UNREACHABLE = "unreachable"  # 未联系上


RETURN_VISIT_LABELS = {
    ReturnVisitResult.SATISFIED: "满意",
    ReturnVisitResult.BASICALLY_SATISFIED: "基本满意",
    ReturnVisitResult.DISSATISFIED: "不满意",
    ReturnVisitResult.UNREACHABLE: "未联系上",
}


class ServiceOrder(Base):
    __tablename__ = "service_orders"
    __table_args__ = (
        Index(
            "ix_service_orders_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
        Index("ix_service_orders_elder_status", "elder_id", "status"),
        # an elder's orders of a month (the subsidy used so far, at every opening and care
        # status): with the opened_at index alone PostgreSQL intersected the elder's orders with
        # every order of the month, a cost growing with the month's orders
        Index("ix_service_orders_elder_opened", "elder_id", "opened_at"),
        Index("ix_service_orders_provider_status", "provider_id", "status"),
        Index("ix_service_orders_opened_by_user", "opened_by_user_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    # The elder's region when the order was opened: it scopes who sees the order.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    service_type_code: Mapped[str] = mapped_column(ForeignKey("service_types.code"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(10), default=Urgency.NORMAL)
    source: Mapped[str] = mapped_column(String(20))
    # The call's linkedid, the alarm's id, the care round ... whatever opened the order.
    source_ref: Mapped[str | None] = mapped_column(String(CHANNEL_ID), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # The service site where the service happens (a day care centre's bath, a station's
    # clinic); None: at the elder's home or the address given.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("service_sites.id"), index=True)
    requested_at: Mapped[datetime | None]

    status: Mapped[str] = mapped_column(String(20), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("provider_staff.id"))

    # Price and its split, fixed from the catalogue when the order is opened.
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("1"))
    unit: Mapped[str] = mapped_column(String(10), default="次")
    unit_price: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)
    subsidy: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    subsidy_category: Mapped[str | None] = mapped_column(String(30))
    subsidy_rule_id: Mapped[int | None] = mapped_column(ForeignKey("subsidy_rules.id"), index=True)

    # SLA in force when opened, and the deadlines that follow from it.
    response_minutes: Mapped[int]
    arrival_minutes: Mapped[int | None]
    response_due_at: Mapped[datetime]
    arrival_due_at: Mapped[datetime | None]

    # Milestones.
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at = synonym("opened_at")  # "created" is the lifecycle's first status
    opened_by: Mapped[str] = mapped_column(String(64), default="")
    # the account that opened it (an agent's screen follows the orders it opened); none for
    # orders the IVR, a job or a provider's interface opened
    opened_by_user_id: Mapped[int | None]
    submitted_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    check_in_latitude: Mapped[float | None]
    check_in_longitude: Mapped[float | None]
    checked_out_at: Mapped[datetime | None]
    check_out_latitude: Mapped[float | None]
    check_out_longitude: Mapped[float | None]
    completed_at: Mapped[datetime | None]
    completion_report: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    # "kind:ref" of the elder's evidence (orders/evidence.py); settlement pays only these
    confirmation_evidence: Mapped[str | None] = mapped_column(String(60))
    rated_at: Mapped[datetime | None]
    rating: Mapped[int | None]
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    return_visited_at: Mapped[datetime | None]
    return_visit_result: Mapped[str | None] = mapped_column(String(20))
    return_visit_note: Mapped[str] = mapped_column(Text, default="")
    settled_at: Mapped[datetime | None]
    settlement_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None]
    escalation_count: Mapped[int] = mapped_column(default=0)
    complaint_at: Mapped[datetime | None]
    complaint_text: Mapped[str] = mapped_column(Text, default="")
    reject_count: Mapped[int] = mapped_column(default=0)
    transition_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    transitions: Mapped[list[OrderTransition]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderTransition.seq"
    )


class OrderTransition(Base):
    """One step in an order's life: who did what, when, where and why. Never updated."""

    __tablename__ = "order_transitions"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    seq: Mapped[int]
    command: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None]
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_provider_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    order: Mapped[ServiceOrder] = relationship(back_populates="transitions")


class OrderNumberCounter(Base):
    """The last order number handed out on a local calendar day."""

    __tablename__ = "order_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD, local time
    last: Mapped[int] = mapped_column(default=0)


class OrderConfirmationCode(Base):
    """The code the elder reads out to confirm the service (sent to the elder's or the family's
    mobile at check-in). Only a keyed hash is kept; a new code replaces the old one."""

    __tablename__ = "order_confirmation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("service_orders.id", ondelete="CASCADE"), unique=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    sent_to_masked: Mapped[str] = mapped_column(String(20), default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class OrderPhoto(Base):
    """A photo taken at the elder's home (check-in, check-out, the work, the elder's signature),
    stored under the data directory; the row keeps where, its type, size and digest."""

    __tablename__ = "order_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("service_orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # check_in, check_out, work, signature
    path: Mapped[str] = mapped_column(String(255))  # relative to the data directory
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_by_user_id: Mapped[int | None]
    provider_id: Mapped[int | None]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnVisit(Base):
    """One return-visit attempt (回访): a satisfaction call or survey after the service, kept
    against the order, its provider and its staff member for evaluation."""

    __tablename__ = "return_visits"
    __table_args__ = (UniqueConstraint("order_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("service_orders.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("provider_staff.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    attempt_no: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    by: Mapped[str] = mapped_column(String(80))
    by_user_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(10), default="phone")  # phone, visit, sms
    result: Mapped[str] = mapped_column(String(20))  # ReturnVisitResult
    # 1 (very dissatisfied) .. 5 (very satisfied); None when the elder was not reached
    satisfaction: Mapped[int | None]
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


class OrderComplaint(Base):
    """A complaint about an order (投诉): taken on a call or a visit, handled, and closed with
    the reply given to the complainant and whether it was upheld. The provider's evaluation
    counts the order's complaint unless it was closed as not upheld."""

    __tablename__ = "order_complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("service_orders.id", ondelete="CASCADE"), index=True
    )
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10), default="phone")  # phone, visit, letter
    complainant: Mapped[str] = mapped_column(String(20), default="本人")  # 本人, 家属, ...
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(10), default="open", index=True
    )  # open, handling, closed
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    opened_by: Mapped[str] = mapped_column(String(80))
    # the handling so far: one line per step ("时间 经办人: 做了什么")
    handling: Mapped[str] = mapped_column(Text, default="")
    handled_by: Mapped[str | None] = mapped_column(String(80))
    reply: Mapped[str] = mapped_column(Text, default="")
    upheld: Mapped[bool | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(80))
    reply_message_id: Mapped[int | None]  # the text message that carried the reply


class OrderSurveyCall(Base):
    """A satisfaction survey call about an order (the IVR's return visit): dialled through the
    trunk into the survey flow, which takes the elder's 1-5 key as the order's rating."""

    __tablename__ = "order_survey_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("service_orders.id", ondelete="CASCADE"), index=True
    )
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    number: Mapped[str] = mapped_column(String(20))
    # queued -> dialling -> answered -> rated; or no_answer | busy | failed | not_placed
    status: Mapped[str] = mapped_column(String(12), default="queued")
    # the Originate's idempotency key: a job delivered twice dials once
    command_key: Mapped[str] = mapped_column(String(64), unique=True)
    uniqueid: Mapped[str | None] = mapped_column(String(CHANNEL_ID))
    score: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(80))
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
