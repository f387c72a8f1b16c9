"""Telling an elder's family: a text message to the first emergency contact.

The platform's notification service sends SMS; until it takes these over, messages wait in the
care-call outbox (:class:`CareNotice`), and this one function is all the care calls know of it.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from platform_core.care_calls.models import CareNotice
from platform_core.elders.models import Elder

log = logging.getLogger(__name__)


def notify_first_contact(
    session: Session, *, elder: Elder, care_call_id: int | None, text: str
) -> CareNotice | None:
    """Queue ``text`` for the elder's first emergency contact (by priority); None if there is none."""
    contacts = sorted(elder.contacts, key=lambda c: (c.priority, c.id))
    if not contacts:
        log.warning(
            "老人 %s 没有紧急联系人, 短信未发 / elder %s has no emergency contact",
            elder.id,
            elder.id,
        )
        return None
    first = contacts[0]
    notice = CareNotice(
        care_call_id=care_call_id,
        elder_id=elder.id,
        region_code=elder.region_code,
        to_number=first.phone,
        to_name=first.name,
        text=text,
    )
    session.add(notice)
    session.flush()
    return notice
