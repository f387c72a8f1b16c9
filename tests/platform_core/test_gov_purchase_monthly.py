"""The monthly allowance run: every approved elder of the region gets the month opened and put
in line with the orders, a batch per unit of work with its progress published; a run picked up
again goes on where it stopped, and running it again changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from platform_core import clock
from platform_core.errors import Conflict, PermissionDenied
from platform_core.gov_purchase import monthly
from platform_core.gov_purchase.models import AllowanceRun, ServiceAllowance
from platform_core.orders import service as orders
from tests.platform_core.care_support import (
    agent,
    approved_elder,
    install_catalogue,
    jobs_settled,
    officer,
)

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)


def test_batches_open_each_month_once_and_report_progress(regions) -> None:
    seen: list[dict] = []
    regions.event_bus.subscribe(seen.append)
    month = clock.today().replace(day=1)
    with regions.session() as s:
        install_catalogue(s)
        elders = [approved_elder(s, name=f"老人{i}") for i in range(3)]
        # an order opened around the flow (no allowance drawn): the run draws it
        bypass = orders.open_order(
            s,
            actor=agent(),
            elder_id=elders[1].id,
            service_type_code="care_bathing",
            source="call",
        )
        s.execute(ServiceAllowance.__table__.delete())  # months not opened yet
        with pytest.raises(PermissionDenied):
            monthly.start_run(s, actor=agent(), region_code="150100000000", month=month)
        run = monthly.start_run(s, actor=officer(), region_code="150100000000", month=month)
        with pytest.raises(Conflict):
            monthly.start_run(s, actor=officer(), region_code="150100000000", month=month)
        run_id = run.id
        assert run.total == 3
    regions.jobs.wait_idle(15)  # the job the start queued ran (default batches)
    with regions.session() as s:
        run = monthly.get_run(s, run_id=run_id)
        assert (run.status, run.done, run.opened, run.charged) == ("done", 3, 3, 1)
        months = s.scalars(select(ServiceAllowance.elder_id)).all()
        assert sorted(months) == sorted(e.id for e in elders)
        drawn = s.scalar(
            select(ServiceAllowance.consumed).where(ServiceAllowance.elder_id == elders[1].id)
        )
        assert drawn == orders.get_order(s, order_id=bypass.id).self_pay
        # a run queued and not picked up yet (its job lost with a worker): done here by hand
        again = AllowanceRun(region_code="150100000000", month=month, total=3, started_by="民政")
        s.add(again)
        s.flush()
        again_id = again.id
    # two elders a batch: the second batch goes on from the elder the first ended with
    with regions.session() as s:
        assert monthly.run_batch(s, run_id=again_id, size=2) is True
    with regions.session() as s:
        assert monthly.run_batch(s, run_id=again_id, size=2) is False
        run = monthly.get_run(s, run_id=again_id)
        assert (run.status, run.done, run.opened, run.charged) == ("done", 3, 0, 0)
    regions.jobs.wait_idle(15)
    regions.event_bus.drain()
    progress = [e["data"] for e in seen if e["type"] == "AllowanceRunProgressed"]
    assert [p["status"] for p in progress if p["run_id"] == run_id][-1] == "done"
    assert [p["done"] for p in progress if p["run_id"] == again_id] == [2, 3]
