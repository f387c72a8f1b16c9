"""Every console process relays a call's end: the agent's wrap-up is opened once, whichever
process gets there first (two wrap-ups for one call left the desk paused after its
disposition, waiting for a second one nobody was asked for)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from platform_core.accounts import service as accounts
from platform_core.accounts.models import WrapUp
from platform_core.actors import Role, system_actor


def test_two_processes_opening_the_same_wrap_up_open_one(regions) -> None:
    runtime = regions
    with runtime.session() as s:
        uid = accounts.create_user(
            s,
            actor=system_actor(),
            username="desk1",
            password="Steppe-Wind-2026",
            role=Role.AGENT,
            region_code="150100000000",
            display_name="坐席1",
            sip_interface="PJSIP/8001",
        ).id
    first = runtime.session_factory()
    accounts.open_wrapup(first, user_id=uid, linkedid="1700000000.7")  # not committed yet
    opened: list[int] = []

    def other_process() -> None:
        with runtime.session() as s:
            opened.append(accounts.open_wrapup(s, user_id=uid, linkedid="1700000000.7").id)

    thread = threading.Thread(target=other_process)
    thread.start()
    thread.join(0.5)  # waits on the first one's unique key
    first.commit()
    first.close()
    thread.join(10)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(WrapUp)) == 1
        assert opened == [s.scalar(select(WrapUp.id))]
