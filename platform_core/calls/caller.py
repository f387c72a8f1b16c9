"""Who is calling, for the call record: the IVR's answer, or caller identification once."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls.identification import identify_caller
from platform_core.calls.live import LiveCall
from platform_core.calls.schemas import NO_NUMBER
from platform_core.elders.models import Elder
from platform_core.key_lists import KEYS, among
from platform_core.runtime import settings_of

log = logging.getLogger(__name__)


def usable_number(number: str) -> bool:
    digits = number.strip().lstrip("+")
    return number.strip().lower() not in NO_NUMBER and digits.isdigit()


def identify(session: Session, call: LiveCall) -> None:
    """Who is calling: the IVR's HOTLINE_ELDER_ID when it set one, else the foundation's
    caller identification -- unless the IVR ran (HOTLINE_IVR_SESSION) and found nobody: it
    identified the caller before its first prompt, and asking again costs a lookup per call.
    Never lets a lookup problem stop the call being recorded."""
    if call.identified:
        return
    call.identified = True
    if call.elder_id is None and usable_number(call.caller_number) and not call.ivr_ran:
        try:
            with session.no_autoflush:
                who = identify_caller(
                    session,
                    number=call.caller_number,
                    area_code=settings_of(session).trunk_area_code,
                )
            call.elder_id = who.elder_id
            call.is_device = who.is_device
        except Exception:  # noqa: BLE001
            log.exception("来电识别失败 / caller identification failed for %s", call.linkedid)
    if call.elder_id is not None:
        region = _elder_region(session, call.elder_id)
        if region:
            call.region_code = region


# the regions of the elders a batch of events names, read for the batch in one statement
_REGIONS = "calls.elder_regions"


_REGIONS_OF = select(Elder.id, Elder.region_code).where(among(Elder.id))


def prefetch_regions(session: Session, elder_ids: Collection[int]) -> None:
    """Read the regions of ``elder_ids`` in one statement for this batch (a call joining a
    queue takes its elder's region: a statement per call was a fifth of the writer's time)."""
    wanted = {i for i in elder_ids if i > 0}
    if not wanted:
        session.info.pop(_REGIONS, None)
        return
    with session.no_autoflush:
        rows = session.execute(_REGIONS_OF, {KEYS: sorted(wanted)}).all()
    session.info[_REGIONS] = dict.fromkeys(wanted) | {i: region for i, region in rows}


def _elder_region(session: Session, elder_id: int) -> str | None:
    known: dict[int, str | None] | None = session.info.get(_REGIONS)
    if known is not None and elder_id in known:
        return known[elder_id]
    try:
        with session.no_autoflush:
            return session.scalar(select(Elder.region_code).where(Elder.id == elder_id))
    except Exception:  # noqa: BLE001
        log.exception("查询老人区划失败 / elder region lookup failed")
        return None
