"""Who is calling, on a real elder register: the IVR's answer first, the foundation's lookup when
the IVR did not run, and the elder's region routes the call's events."""

from __future__ import annotations

from datetime import UTC, datetime

from platform_core.calls import service as calls
from platform_core.calls.models import Call
from platform_core.calls.schemas import ChannelRef
from platform_core.elders import service as elders
from platform_core.regions.service import load_dictionary
from tests.platform_core.elders_support import AGENT_HOHHOT, elder_input

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def join(s, n: int, number: str, **variables: str) -> str:
    uid = f"1900000000.{n}"
    chan = ChannelRef(
        channel=f"PJSIP/trunk-{n}",
        uniqueid=uid,
        linkedid=uid,
        caller_number=number,
        context="hotline-inbound",
        variables=variables,
    )
    calls.record_channel(s, chan=chan, at=T0)
    calls.record_join(s, chan=chan, queue="hotline-general", position=1, at=T0)
    return uid


def test_the_ivr_first_then_the_register(any_runtime) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        wang = elders.register_elder(
            s,
            actor=AGENT_HOHHOT,
            data=elder_input(name="王桂兰", phones=[{"number": "13904711234"}]),
        )
        wang_id, wang_region = wang.id, wang.region_code
    with any_runtime.session() as s:
        looked_up = join(s, 1, "+8613904711234")  # no IVR ran (it hung up early, or a transfer)
        ivr_none = join(s, 2, "13904711234", HOTLINE_IVR_SESSION="77")  # the IVR found nobody
        ivr_named = join(
            s, 3, "13800000000", HOTLINE_IVR_SESSION="78", HOTLINE_ELDER_ID=str(wang_id)
        )
    with any_runtime.session() as s:
        a, b, c = (s.get(Call, x) for x in (looked_up, ivr_none, ivr_named))
        assert (a.elder_id, a.region_code) == (wang_id, wang_region)
        assert (b.elder_id, b.region_code) == (None, any_runtime.settings.home_region_code)
        assert (c.elder_id, c.region_code) == (wang_id, wang_region)
        assert wang_region != any_runtime.settings.home_region_code
