"""Volunteers registered as a site's staff registers them (the real-name check and the phone's
texted code), with a console account each."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.elders.idcard import make_id_number
from platform_core.notifications.models import OutboxMessage
from platform_core.runtime import cipher_of
from platform_core.verification import service as verification
from platform_core.volunteers import service as volunteers
from platform_core.volunteers.models import Volunteer
from tests.platform_core.community_support import account


def code_sent(session: Session, verification_id: int) -> str:
    """The code a verification texted (read from the SMS outbox, as the phone would)."""
    msg = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.ref_type == "verification", OutboxMessage.ref_id == str(verification_id)
        )
    )
    assert msg is not None, "no code was texted"
    found = re.search(r"验证码为(\d{6})", cipher_of(session).open(msg.body_sealed))
    assert found
    return found.group(1)


def register(
    session: Session,
    *,
    staff: Actor,
    site_id: int,
    name: str,
    seq: int,
    phone: str,
    skills: tuple[str, ...] = ("companionship",),
    region_code: str = "150102003001",
) -> tuple[Volunteer, Actor]:
    """A volunteer born in 1980 with a ``volunteer`` account linked by its username."""
    login = account(session, role=Role.VOLUNTEER, region_code=region_code, name=name)
    issued = volunteers.send_phone_code(session, actor=staff, site_id=site_id, phone=phone)
    proved = verification.attempt(
        session,
        verification_id=issued.verification_id,
        code=code_sent(session, issued.verification_id),
        purpose="volunteer_phone",
    )
    assert proved.ok
    row = volunteers.register_volunteer(
        session,
        actor=staff,
        site_id=site_id,
        name=name,
        id_number=make_id_number("150102", date(1980, 6, 1), 500 + seq),
        phone=phone,
        skills=list(skills),
        id_card_seen=True,
        verification_id=issued.verification_id,
        username=login.name,
    )
    return row, login
