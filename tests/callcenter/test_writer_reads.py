"""What the AMI writer reads and writes per batch: the regions of the elders a batch names come
in one statement, not one per call joining a queue; the live rows and the agents' state spans go
out in one round trip, not one per table."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from sqlalchemy import event, select

from callcenter.ami import parse_block
from callcenter.pbx_sim import CallerConfig
from callcenter.pipeline import EventPipeline
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.calls.models import Agent, Call
from platform_core.runtime import Runtime
from tests.callcenter.test_idempotency_and_bad_input import SCENARIOS, record_stream
from tests.gc_census import cyclic_garbage
from tests.platform_core.alarms_support import new_elder


def statements_of_one_batch(
    runtime: Runtime, stream: list[bytes], keep: Callable[[str], bool]
) -> list[str]:
    """The statements ``keep`` picks among those the writer runs for ``stream`` as one batch."""
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    kept: list[str] = []

    def note(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if keep(statement):
            kept.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        EventPipeline(runtime).process([(m, time.time(), None) for m in messages])
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)
    return kept


REGIONS = ["150102003201", "150105001001", "150202001001", "150102003201", "150105001001"]


def test_a_batch_reads_the_regions_of_the_elders_it_names_in_one_statement(regions) -> None:
    runtime = regions
    with runtime.session() as s:
        elders = [
            new_elder(s, region_code=code, phones=[{"number": f"1390471{n:04d}", "kind": "mobile"}])
            for n, code in enumerate(REGIONS)
        ]
    stream, calls = record_stream(
        [
            CallerConfig(
                number=f"1380000{n:04d}", patience=1, variables={"HOTLINE_ELDER_ID": str(i)}
            )
            for n, i in enumerate(elders)
        ]
    )
    reads = statements_of_one_batch(runtime, stream, lambda sql: "FROM elders" in sql)
    assert len(reads) == 1, reads
    with runtime.session() as s:
        recorded = {c.linkedid: (c.elder_id, c.region_code) for c in s.scalars(select(Call))}
    assert {recorded[c.linkedid] for c in calls} == set(zip(elders, REGIONS, strict=True))


LIVE_TABLES = (
    "calls",
    "call_queue_entries",
    "call_agent_offers",
    "telephony_agents",
    "telephony_agent_queues",
    "telephony_agent_spans",
)


def test_a_batch_writes_its_live_rows_and_spans_in_one_round_trip(runtime, monkeypatch) -> None:
    stream, _calls = record_stream(SCENARIOS)
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    pipelines: list[list[str]] = []  # the live tables written in each pipeline
    alone: list[str] = []  # live tables written outside one, each waited for in turn
    real_pipeline, real_execute = psycopg.Connection.pipeline, psycopg.Cursor.execute

    def pipeline(conn, *args, **kwargs):
        pipelines.append([])
        return real_pipeline(conn, *args, **kwargs)

    def execute(cursor, query, *args, **kwargs):
        text = str(query)
        table = next((t for t in LIVE_TABLES if text.startswith(f'INSERT INTO "{t}"')), None)
        if table is not None:
            (pipelines[-1] if cursor.connection._pipeline is not None else alone).append(table)
        return real_execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "pipeline", pipeline)
    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    EventPipeline(runtime).process([(m, time.time(), None) for m in messages])
    monkeypatch.undo()

    assert alone == []
    written = [p for p in pipelines if p]
    assert len(written) == 1, written
    assert set(written[0]) == set(LIVE_TABLES), written
    with runtime.session() as s:
        assert len(s.scalars(select(Call)).all()) == len(SCENARIOS)


def test_a_batch_reads_the_account_regions_of_the_desks_it_meets_in_one_statement(
    regions,
) -> None:
    runtime = regions
    desks = {"PJSIP/8001": "150100000000", "PJSIP/8002": "150200000000", "PJSIP/8003": None}
    with runtime.session() as s:
        for n, (interface, region) in enumerate(desks.items()):
            if region is not None:
                accounts.create_user(
                    s,
                    actor=system_actor(),
                    username=f"desk{n}",
                    password="Steppe-Wind-2026",
                    role=Role.AGENT,
                    region_code=region,
                    display_name=f"坐席{n}",
                    sip_interface=interface,
                )
    stream, _calls = record_stream(SCENARIOS, agents=3)
    # the desks' regions alone (the wrap-up's read of whole accounts is another matter)
    reads = statements_of_one_batch(
        runtime,
        stream,
        lambda sql: sql.startswith(
            ("SELECT users.region_code", "SELECT users.sip_interface, users.region_code")
        ),
    )
    with runtime.session() as s:
        recorded = {a.interface: a.region_code for a in s.scalars(select(Agent))}
    assert {i: recorded.get(i) for i in desks} == desks
    assert len(reads) == 1, reads


def test_a_batch_leaves_no_statement_for_the_cycle_collector(regions) -> None:
    """A statement built per batch from ``column.in_(values)`` leaves its bound parameters in a
    reference cycle (each remembers itself among its clones): 10 to 20 objects a statement, most
    of what callcenter's young collections walked, and their pauses held the screen pop. The
    writer's per-batch reads are built once with an expanding parameter instead."""
    runtime = regions
    with runtime.session() as s:
        elders = [new_elder(s, region_code=code) for code in REGIONS[:2]]
    callers = [
        CallerConfig(number="13800000011", talk=3, variables={"HOTLINE_ELDER_ID": str(elders[0])}),
        CallerConfig(
            number="13800000012", patience=2, variables={"HOTLINE_ELDER_ID": str(elders[1])}
        ),
        CallerConfig(number="13800000013", patience=2),
    ]
    warm_up, _ = record_stream(callers[:2])
    stream, _ = record_stream(callers)  # the same elders and numbers call again: recalls close
    pipeline = EventPipeline(runtime)

    def one_batch(raw: list[bytes]) -> None:
        messages = [m for block in raw for m in parse_block(block.decode())]
        pipeline.process([(m, time.time(), None) for m in messages])

    one_batch(warm_up)  # the first compilation of each statement is cached, once
    left = cyclic_garbage(lambda: one_batch(stream))
    assert pipeline.stats.failed == 0
    assert left["BindParameter"] == 0, left.most_common(8)
