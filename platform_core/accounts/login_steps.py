"""What a login still owes after the password: the second factor, then a new password.

A login session with a pending step grants nothing but that step's page: every guarded
endpoint and socket treats it as not logged in. The steps come in a fixed order: the second
factor (enrolment the first time) for the roles that need it, then a password change when an
administrator reset the password or it is older than ``password_max_age_days``.
"""

from __future__ import annotations

from datetime import timedelta

from platform_core.accounts.models import User
from platform_core.db import utcnow
from platform_core.settings import Settings

TOTP_ENROLL, TOTP, PASSWORD_CHANGE = "totp_enroll", "totp", "password_change"
STEP_LABELS = {
    TOTP_ENROLL: "设置动态口令",
    TOTP: "输入动态口令",
    PASSWORD_CHANGE: "设置新密码",
}


def totp_required(settings: Settings, role: str) -> bool:
    return role in {r.strip() for r in settings.totp_roles.split(",") if r.strip()}


def password_expired(settings: Settings, user: User) -> bool:
    days = settings.password_max_age_days
    return days > 0 and utcnow() - user.password_changed_at > timedelta(days=days)


def password_step(settings: Settings, user: User) -> str | None:
    return (
        PASSWORD_CHANGE if user.must_change_password or password_expired(settings, user) else None
    )


def first_step(settings: Settings, user: User) -> str | None:
    """The first step a fresh login owes (None: the password was enough)."""
    if totp_required(settings, user.role):
        return TOTP if user.totp_enabled_at is not None else TOTP_ENROLL
    return password_step(settings, user)
