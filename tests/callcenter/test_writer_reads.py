"""What the AMI writer reads per batch: the regions of the elders a batch names come in one
statement, not one per call joining a queue."""

from __future__ import annotations

import time

from sqlalchemy import event, select

from callcenter.ami import parse_block
from callcenter.pbx_sim import CallerConfig
from callcenter.pipeline import EventPipeline
from platform_core.calls.models import Call
from tests.callcenter.test_idempotency_and_bad_input import record_stream
from tests.platform_core.alarms_support import new_elder

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
    messages = [m for raw in stream for m in parse_block(raw.decode())]
    reads: list[str] = []

    def note(_conn, _cursor, statement: str, *_args) -> None:
        if "FROM elders" in statement:
            reads.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        EventPipeline(runtime).process([(m, time.time(), None) for m in messages])
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)
    assert len(reads) == 1, reads
    with runtime.session() as s:
        recorded = {c.linkedid: (c.elder_id, c.region_code) for c in s.scalars(select(Call))}
    assert {recorded[c.linkedid] for c in calls} == set(zip(elders, REGIONS, strict=True))
