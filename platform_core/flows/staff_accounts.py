"""A practitioner's own login on the provider portal (not their provider's shared account):
opened by their provider (or the civil-affairs side of its region) with a temporary password the
first login must replace, reset the same way, ended with the person.

The login's role is ``staff``: it sees and works only the orders its person is sent on
(``orders.service`` and ``orders.portal`` check the person on every step). Deactivating the
person disables the login and ends its sessions at once; the ids of the ended sessions are
returned so the console closes their live connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.accounts.passwords import generate_password
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.errors import Conflict, ValidationFailed
from platform_core.providers import qualifications
from platform_core.providers import service as providers
from platform_core.providers.models import ProviderStaff
from platform_core.security.masking import mask_phone

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


@dataclass(frozen=True)
class StaffLogin:
    staff_id: int
    user_id: int
    username: str
    temporary_password: str  # shown once; the first login replaces it
    ended_sessions: list[str]


def _check_may_manage(session: Session, actor: Actor, staff: ProviderStaff, action: str) -> None:
    # the same check as every change to a provider's staff: its own administrator, or officers
    # and administrators of its region (never a practitioner)
    providers.require_manager_or_self(session, actor, action=action, provider=staff.provider)


def open_login(session: Session, *, actor: Actor, staff_id: int, username: str) -> StaffLogin:
    """Open the practitioner's own login with a temporary password (shown once)."""
    staff = providers.get_staff(session, staff_id=staff_id)
    _check_may_manage(session, actor, staff, "provider.open_staff_login")
    if not staff.active:
        raise Conflict("服务人员已停用 / the practitioner is deactivated", code="staff_inactive")
    if staff.user_id is not None:
        raise Conflict(
            "该服务人员已有登录账号 / the practitioner has a login already", code="login_exists"
        )
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise ValidationFailed(
            "用户名须为 3-64 位字母、数字、_.- / username must be 3-64 letters, digits or _.-",
            code="invalid_username",
        )
    temporary = generate_password()
    user = accounts.create_delegated_user(
        session,
        actor=actor,
        username=username,
        password=temporary,
        role=Role.STAFF,
        region_code=staff.provider.region_code,
        display_name=staff.name,
        provider_id=staff.provider_id,
        staff_id=staff.id,
        must_change_password=True,
    )
    staff.user_id = user.id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider.open_staff_login",
        target_type="provider_staff",
        target_id=staff.id,
        detail={"user_id": user.id, "username": username},
    )
    return StaffLogin(staff.id, user.id, username, temporary, [])


def reset_password(session: Session, *, actor: Actor, staff_id: int) -> StaffLogin:
    """A new temporary password for the practitioner's login; their open sessions end."""
    staff = providers.get_staff(session, staff_id=staff_id)
    _check_may_manage(session, actor, staff, "provider.reset_staff_password")
    if staff.user_id is None:
        raise Conflict("该服务人员没有登录账号 / no login to reset", code="no_login")
    user = accounts.get_user(session, staff.user_id)
    temporary, ended = accounts.issue_temporary_password(session, user)
    audit.record(
        session,
        actor=actor,
        action="provider.reset_staff_password",
        target_type="provider_staff",
        target_id=staff.id,
        detail={"user_id": user.id},
    )
    return StaffLogin(staff.id, user.id, user.username, temporary, ended)


def deactivate_staff(session: Session, *, actor: Actor, staff_id: int, reason: str) -> list[str]:
    """The practitioner leaves (or is suspended): no longer sent, their login disabled and its
    sessions ended now. Returns the ended session ids."""
    staff = providers.set_staff_active(
        session, actor=actor, staff_id=staff_id, active=False, reason=reason
    )
    if staff.user_id is None:
        return []
    return accounts.set_delegated_active(
        session,
        actor=actor,
        user_id=staff.user_id,
        active=False,
        reason=staff.deactivation_reason,
    )


def reactivate_staff(session: Session, *, actor: Actor, staff_id: int) -> ProviderStaff:
    """The practitioner is back: sent again, their login enabled (with a new password to choose
    when it was reset meanwhile)."""
    staff = providers.set_staff_active(session, actor=actor, staff_id=staff_id, active=True)
    if staff.user_id is not None:
        accounts.set_delegated_active(session, actor=actor, user_id=staff.user_id, active=True)
    return staff


# ---------------------------------------------------------------- what the pages show


def _login_of(session: Session, staff: ProviderStaff) -> dict[str, Any] | None:
    if staff.user_id is None:
        return None
    user = accounts.get_user(session, staff.user_id)
    return {
        "username": user.username,
        "active": user.active,
        "must_change_password": user.must_change_password,
        "last_login_at": user.last_login_at,
    }


def _qualification_rows(staff: ProviderStaff, today: date) -> list[dict[str, Any]]:
    return [
        {"id": q.id, **q.fields(), "state": qualifications.expiry_state(q, today)}
        for q in staff.qualifications
    ]


def _row(session: Session, staff: ProviderStaff, today: date) -> dict[str, Any]:
    quals = _qualification_rows(staff, today)
    return {
        "id": staff.id,
        "name": staff.name,
        "phone": mask_phone(staff.phone),
        "id_number": staff.id_number_masked,
        "skills": list(staff.skills),
        "active": staff.active,
        "deactivated_at": staff.deactivated_at,
        "deactivated_by": staff.deactivated_by or "",
        "deactivation_reason": staff.deactivation_reason,
        "qualifications": quals,
        # sent only with an unexpired qualification (the rule of the orders service)
        "sendable": staff.active and any(q["state"] != "expired" for q in quals),
        "login": _login_of(session, staff),
    }


def roster(
    session: Session, *, actor: Actor, provider_id: int, include_inactive: bool = True
) -> list[dict[str, Any]]:
    """A provider's practitioners as its administrator (or the region's officer) sees them:
    masked, with each qualification's expiry and the state of their login."""
    provider = providers.get_provider(session, provider_id=provider_id)
    providers.require_manager_or_self(
        session, actor, action="provider.view_staff", provider=provider
    )
    today = clock.today_in(session)
    return [
        _row(session, staff, today)
        for staff in providers.list_staff(
            session, provider_id=provider.id, active_only=not include_inactive
        )
    ]


def card(session: Session, *, actor: Actor, staff_id: int) -> dict[str, Any]:
    """One practitioner with qualifications and trainings; the look is audited."""
    staff = providers.get_staff(session, staff_id=staff_id)
    _check_may_manage(session, actor, staff, "provider.view_staff")
    out = _row(session, staff, clock.today_in(session))
    out["provider_id"] = staff.provider_id
    out["provider_name"] = staff.provider.name
    out["offered"] = staff.provider.service_type_codes
    out["trainings"] = [
        {
            "course": t.course,
            "organiser": t.organiser,
            "hours": t.hours,
            "completed_on": t.completed_on,
            "certificate_no": t.certificate_no,
        }
        for t in staff.trainings
    ]
    audit.record(
        session,
        actor=actor,
        action="provider.view_staff",
        target_type="provider_staff",
        target_id=staff.id,
    )
    return out
