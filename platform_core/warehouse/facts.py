"""The facts the warehouse keeps, and where each comes from in the primary database.

Each fact is a ReplacingMergeTree keyed by the source row's identity, with a version that grows
with every change of the source row (its ``updated_at``, or the newest of its milestones): a
row read twice (a replayed pass, a restart, an overlapping backfill) collapses into one, and
queries read ``FINAL`` so they are right before ClickHouse merges.

Personal data stays behind: ids, region codes, codes and times only, never a name, a phone
number, an ID number, an address, coordinates or free text. Provider names are organisations'
names and are kept (the rankings show them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TS = "DateTime64(6, 'UTC')"
NTS = f"Nullable({TS})"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # ClickHouse type of the warehouse column
    source: str = ""  # the source column (default: the same name)

    @property
    def src(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class Fact:
    name: str  # the warehouse table
    table: str  # the source table
    key: tuple[str, ...]  # the row's identity (warehouse column names)
    columns: tuple[Column, ...]
    # Source timestamp columns whose change means the row changed; the newest is the version.
    changed: tuple[str, ...]
    # Immutable time of the row (within its key): partitions and the sort key's leading part.
    time_column: str
    # A source column that must be set for the row to be a fact (None: every row is).
    required: str | None = None
    # Columns computed in the warehouse from the others (league and county from region_code).
    derived: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _region(name: str = "region_code") -> tuple[tuple[str, str], ...]:
    # 盟市 and 旗县区 of a 12-digit code, for drilling down without string work at query time
    return (
        ("league", f"concat(substring({name}, 1, 4), '00000000')"),
        ("county", f"concat(substring({name}, 1, 6), '000000')"),
    )


C = Column
FACTS: tuple[Fact, ...] = (
    Fact(
        "calls",
        "calls",
        ("linkedid",),
        (
            C("linkedid", "String"),
            C("direction", "LowCardinality(String)"),
            C("region_code", "LowCardinality(String)"),
            C("elder_id", "Nullable(UInt64)"),
            C("is_device", "UInt8"),
            C("identified", "UInt8"),
            C("intent", "LowCardinality(Nullable(String))"),
            C("priority", "Int32"),
            C("first_queue", "LowCardinality(Nullable(String))"),
            C("answered_queue", "LowCardinality(Nullable(String))"),
            C("agent_interface", "Nullable(String)"),
            C("outcome", "LowCardinality(Nullable(String))"),
            C("wait_s", "Nullable(Float64)"),
            C("talk_s", "Nullable(Int64)"),
            C("transferred", "UInt8"),
            C("started_at", TS),
            C("queued_at", NTS),
            C("answered_at", NTS),
            C("ended_at", NTS),
        ),
        changed=("updated_at",),
        time_column="started_at",
        derived=_region(),
    ),
    Fact(
        "queue_entries",
        "call_queue_entries",
        ("id",),
        (
            C("id", "UInt64"),
            C("linkedid", "String"),
            C("seq", "Int32"),
            C("queue", "LowCardinality(String)"),
            C("priority", "Int32"),
            C("outcome", "LowCardinality(Nullable(String))"),
            C("wait_s", "Nullable(Float64)"),
            C("agent_interface", "Nullable(String)"),
            C("joined_at", TS),
            C("left_at", NTS),
        ),
        changed=("joined_at", "left_at"),
        time_column="joined_at",
    ),
    Fact(
        "agent_states",
        "telephony_agent_spans",
        ("id",),
        (
            C("id", "UInt64"),
            C("interface", "String"),
            C("state", "LowCardinality(String)"),
            C("reason", "LowCardinality(Nullable(String))"),
            C("started_at", TS),
        ),
        changed=("started_at",),
        time_column="started_at",
    ),
    Fact(
        "agent_offers",
        "call_agent_offers",
        ("id",),
        (
            C("id", "UInt64"),
            C("linkedid", "String"),
            C("queue", "LowCardinality(String)"),
            C("interface", "String"),
            C("status", "LowCardinality(String)"),
            C("ring_ms", "Nullable(Int64)"),
            C("talk_s", "Nullable(Int64)"),
            C("hold_s", "Nullable(Int64)"),
            C("wrapup_s", "Nullable(Float64)"),
            C("offered_at", TS),
            C("connected_at", NTS),
            C("ended_at", NTS),
        ),
        # connected_at is passed on the way: the offer is read again when it ends
        changed=("offered_at", "ended_at"),
        time_column="offered_at",
    ),
    Fact(
        "ivr_sessions",
        "ivr_sessions",
        ("id",),
        (
            C("id", "UInt64"),
            C("linkedid", "String"),
            C("script", "LowCardinality(String)"),
            C("flow_name", "LowCardinality(Nullable(String))"),
            C("region_code", "LowCardinality(String)"),
            C("elder_id", "Nullable(UInt64)"),
            C("caller_kind", "LowCardinality(String)"),
            C("language", "LowCardinality(String)"),
            C("intent", "LowCardinality(Nullable(String))"),
            C("queue", "LowCardinality(Nullable(String))"),
            C("outcome", "LowCardinality(String)"),
            C("callback_requested", "UInt8"),
            C("started_at", TS),
            C("ended_at", NTS),
        ),
        changed=("started_at", "ended_at"),
        time_column="started_at",
        derived=_region(),
    ),
    Fact(
        "alarms",
        "alarms",
        ("id",),
        (
            C("id", "UInt64"),
            C("device_id", "UInt64"),
            C("elder_id", "Nullable(UInt64)"),
            C("region_code", "LowCardinality(String)"),
            C("alarm_type", "LowCardinality(String)"),
            C("alarm_class", "LowCardinality(String)"),
            C("priority", "Int32"),
            C("status", "LowCardinality(String)"),
            C("vendor", "LowCardinality(String)"),
            C("signal_count", "Int64"),
            C("received_at", TS),
            C("taken_at", NTS),
            C("first_action_at", NTS),
            C("on_site_at", NTS),
            C("closed_at", NTS),
            C("outcome", "LowCardinality(Nullable(String))"),
            C("order_id", "Nullable(UInt64)"),
        ),
        changed=("updated_at",),
        time_column="received_at",
        derived=_region(),
    ),
    Fact(
        "alarm_steps",
        "alarm_steps",
        ("id",),
        (
            C("id", "UInt64"),
            C("alarm_id", "UInt64"),
            C("seq", "Int32"),
            C("step", "LowCardinality(String)"),
            C("result", "LowCardinality(String)"),
            C("actor_kind", "LowCardinality(String)"),
            C("order_id", "Nullable(UInt64)"),
            C("at", TS),
        ),
        changed=("at",),
        time_column="at",
    ),
    Fact(
        "alarm_signals",
        "alarm_signals",
        ("id",),
        (
            C("id", "UInt64"),
            C("device_id", "UInt64"),
            C("alarm_id", "Nullable(UInt64)"),
            C("kind", "LowCardinality(String)"),
            C("alarm_type", "LowCardinality(String)"),
            C("result", "LowCardinality(String)"),
            C("transport", "LowCardinality(String)"),
            C("vendor", "LowCardinality(String)"),
            C("occurred_at", TS),
            C("received_at", TS),
        ),
        changed=("received_at",),
        time_column="received_at",
    ),
    Fact(
        "orders",
        "service_orders",
        ("id",),
        (
            C("id", "UInt64"),
            C("elder_id", "UInt64"),
            C("region_code", "LowCardinality(String)"),
            C("service_type_code", "LowCardinality(String)"),
            C("category", "LowCardinality(String)"),
            C("urgency", "LowCardinality(String)"),
            C("source", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("provider_id", "Nullable(UInt64)"),
            C("price", "Decimal(12, 2)"),
            C("subsidy", "Decimal(12, 2)"),
            C("self_pay", "Decimal(12, 2)"),
            C("subsidy_category", "LowCardinality(Nullable(String))"),
            C("response_due_at", TS),
            C("arrival_due_at", NTS),
            C("opened_at", TS),
            C("dispatched_at", NTS),
            C("accepted_at", NTS),
            C("checked_in_at", NTS),
            C("completed_at", NTS),
            C("closed_at", NTS),
            C("cancelled_at", NTS),
            C("escalated_at", NTS),
            C("escalation_count", "Int32"),
            C("complaint_at", NTS),
            C("rating", "Nullable(Int32)"),
            C("return_visit_result", "LowCardinality(Nullable(String))"),
            C("settled_at", NTS),
        ),
        changed=("updated_at",),
        time_column="opened_at",
        derived=_region(),
    ),
    Fact(
        "order_transitions",
        "order_transitions",
        ("id",),
        (
            C("id", "UInt64"),
            C("order_id", "UInt64"),
            C("seq", "Int32"),
            C("command", "LowCardinality(String)"),
            C("from_status", "LowCardinality(Nullable(String))"),
            C("to_status", "LowCardinality(String)"),
            C("actor_kind", "LowCardinality(String)"),
            C("actor_provider_id", "Nullable(UInt64)"),
            C("at", TS),
        ),
        changed=("at",),
        time_column="at",
    ),
    Fact(
        "sla_breaches",
        "sla_breaches",
        ("id",),
        (
            C("id", "UInt64"),
            C("order_id", "UInt64"),
            C("kind", "LowCardinality(String)"),
            C("region_code", "LowCardinality(String)"),
            C("service_type_code", "LowCardinality(String)"),
            C("provider_id", "Nullable(UInt64)"),
            C("due_at", TS),
            C("detected_at", TS),
        ),
        changed=("detected_at",),
        time_column="detected_at",
        derived=_region(),
    ),
    Fact(
        "assessments",
        "assessments",
        ("id",),
        (
            C("id", "UInt64"),
            C("elder_id", "UInt64"),
            C("region_code", "LowCardinality(String)"),
            C("standard", "LowCardinality(String)"),
            C("reason", "LowCardinality(String)"),
            C("final_grade", "Int32"),
            C("recorded_at", TS),
        ),
        changed=("recorded_at",),
        time_column="recorded_at",
        derived=_region(),
    ),
    Fact(
        "devices",
        "devices",
        ("id",),
        (
            C("id", "UInt64"),
            C("device_type", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("elder_id", "Nullable(UInt64)"),
            C("region_code", "LowCardinality(String)"),
            C("created_at", TS),
            C("installed_at", NTS),
            C("last_heartbeat_at", NTS),
        ),
        changed=("updated_at",),
        time_column="created_at",
        derived=_region(),
    ),
    Fact(
        # A device's heartbeats folded per hour (the primary's heartbeat history): the warehouse
        # keeps every hour, also those the primary prunes after its retention.
        "device_hours",
        "device_heartbeat_hours",
        ("device_id", "hour"),
        (
            C("device_id", "UInt64"),
            C("hour", TS, "hour_start"),
            C("beats", "Int64"),
            C("first_at", TS),
            C("last_at", TS),
            C("battery_min", "Nullable(Int32)"),
            C("battery_last", "Nullable(Int32)"),
        ),
        # the hour's row grows with each batch of beats, which may come late: the time it was
        # last written is its version
        changed=("recorded_at",),
        time_column="hour",
    ),
    Fact(
        "elders",
        "elders",
        ("id",),
        (
            C("id", "UInt64"),
            C("region_code", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("created_at", TS),
        ),
        changed=("updated_at",),
        time_column="created_at",
        derived=_region(),
    ),
    Fact(
        "care_beds",
        "care_beds",
        ("id",),
        (
            C("id", "UInt64"),
            C("elder_id", "UInt64"),
            C("region_code", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("provider_id", "Nullable(UInt64)"),
            C("created_at", TS),
        ),
        # a bed's status changes without a timestamp of its own: every pass reads them all
        changed=(),
        time_column="created_at",
        derived=_region(),
    ),
    Fact(
        "providers",
        "providers",
        ("id",),
        (
            C("id", "UInt64"),
            C("name", "String"),
            C("region_code", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("grade", "LowCardinality(String)"),
            C("credit_score", "Float64"),
            C("created_at", TS),
        ),
        changed=("updated_at",),
        time_column="created_at",
        derived=_region(),
    ),
    Fact(
        # complaints about orders (投诉) as they are opened and closed; their text, the
        # complainant's words and the reply stay behind
        "complaints",
        "order_complaints",
        ("id",),
        (
            C("id", "UInt64"),
            C("order_id", "UInt64"),
            C("region_code", "LowCardinality(String)"),
            C("provider_id", "Nullable(UInt64)"),
            C("channel", "LowCardinality(String)"),
            C("status", "LowCardinality(String)"),
            C("upheld", "Nullable(UInt8)"),
            C("opened_at", TS),
            C("closed_at", NTS),
        ),
        # taking a complaint in hand sets no time of its own: status 'handling' is read when
        # the complaint closes (the figures count complaints opened and their verdicts)
        changed=("opened_at", "closed_at"),
        time_column="opened_at",
        derived=_region(),
    ),
    Fact(
        "call_ratings",
        "satisfaction_surveys",
        ("id",),
        (
            C("id", "UInt64"),
            C("linkedid", "String"),
            C("agent_interface", "String"),
            C("score", "Int32"),
            C("region_code", "LowCardinality(String)"),
            C("answered_at", TS),
        ),
        changed=("answered_at",),
        time_column="answered_at",
        derived=_region(),
    ),
    Fact(
        "return_visits",
        "return_visits",
        ("id",),
        (
            C("id", "UInt64"),
            C("order_id", "UInt64"),
            C("provider_id", "Nullable(UInt64)"),
            C("region_code", "LowCardinality(String)"),
            C("result", "LowCardinality(String)"),
            C("satisfaction", "Nullable(Int32)"),
            C("at", TS),
        ),
        changed=("at",),
        time_column="at",
        derived=_region(),
    ),
)

BY_NAME = {f.name: f for f in FACTS}
