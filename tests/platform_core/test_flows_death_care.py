"""An elder's death also ends their care: the care bed is withdrawn (its plan's orders
cancelled), the government-purchased service terminated, home adaptation not under way cancelled."""

from __future__ import annotations

import pytest

from platform_core import clock
from platform_core.care_beds.models import CareBed
from platform_core.flows.death import record_death_of_elder
from platform_core.gov_purchase.models import GovPurchaseApplication
from platform_core.home_adaptation import service as ha
from platform_core.home_adaptation.models import AdaptationCase
from platform_core.regions.service import load_dictionary
from tests.platform_core.care_support import agent, approved_elder, jobs_settled, officer
from tests.platform_core.test_care_beds_orders import bed_in_service

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)


def test_death_withdraws_the_bed_terminates_the_allowance_and_cancels_adaptation(
    any_runtime,
) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        bed, _ = bed_in_service(s)
        approved = approved_elder(s, name="李秀英")
        case = ha.apply_for_adaptation(s, actor=agent(), elder_id=approved.id, source="call")
        ids = {"bed": bed.id, "bed_elder": bed.elder_id, "elder": approved.id, "case": case.id}

    with any_runtime.session() as s:
        report = record_death_of_elder(
            s, elder_id=ids["bed_elder"], died_on=clock.today(), actor=officer()
        )
        assert ("care_bed", ids["bed"]) in report.care_stopped
        report = record_death_of_elder(
            s, elder_id=ids["elder"], died_on=clock.today(), actor=officer()
        )
        assert ("home_adaptation", ids["case"]) in report.care_stopped

    with any_runtime.session() as s:
        bed = s.get(CareBed, ids["bed"])
        assert (bed.status, bed.withdrawal_reason) == ("withdrawn", "death")
        app = s.query(GovPurchaseApplication).filter_by(elder_id=ids["elder"]).one()
        assert app.status == "terminated"
        assert s.get(AdaptationCase, ids["case"]).status == "cancelled"
        # a second pass finds nothing more to stop
        from platform_core.flows.death import apply_death

        assert apply_death(s, elder_id=ids["elder"]).care_stopped == []
