"""What follows a call's end at a desk: the agent's wrap-up.

An answered call that ends leaves its agent owing a disposition: the wrap-up is opened (once
per agent and call) in the same unit of work that records the end, announced to the agent's
screen, and the desk is paused (reason ``wrap_up``) until the disposition is recorded and the
agent presses ready. callcenter's writer, the one process that records a call's end, runs this,
so it happens once however many console processes show it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from platform_core.accounts import service as accounts
from platform_core.calls.unit_of_work import EndedCall
from platform_core.telephony.desks import DeskCommand

# The pause reason of a desk whose agent owes the last call's disposition.
WRAP_UP_REASON = "wrap_up"


def open_wrapups(session: Session, *, ended: Sequence[EndedCall]) -> list[DeskCommand]:
    """Open the wrap-up of each answered call among ``ended`` whose desk has an agent's
    account; the pauses to send once the unit of work commits."""
    answered = [c for c in ended if c.outcome == "answered" and c.agent_interface]
    if not answered:
        return []
    users = accounts.users_by_interface(session, [str(c.agent_interface) for c in answered])
    pauses: list[DeskCommand] = []
    for call in answered:
        user = users.get(str(call.agent_interface))
        if user is None:
            continue
        accounts.open_wrapup(session, user_id=user.id, linkedid=call.linkedid)
        pauses.append(
            DeskCommand(
                "pause",
                str(call.agent_interface),
                WRAP_UP_REASON,
                f"wrapup:{call.linkedid}:{call.agent_interface}",
            )
        )
    return pauses
