"""Account administration (账号管理) and 三员分立: who may list, disable, unlock, reset, change
roles and end logins, in their region only, every change and refusal audited.

- The system administrator (``admin``) keeps accounts: creates operational ones, disables and
  enables them, unlocks them, resets passwords (the next login must choose a new one) and
  second factors, and ends logins.
- The security administrator (``security_admin``) authorises: changes roles, ends logins.
- The auditor (``auditor``) reads the audit trail and changes nothing.

One account never holds two of these duties: a role is one value per account, an account of
one duty is never moved to another, nobody changes their own role, and the three duty
accounts are made at the server (``hotline users add``) or by the security administrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.accounts import service as accounts
from platform_core.accounts.models import LoginSession, User
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import ROLE_LABELS, SEPARATED_DUTY_ROLES, Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import DomainError, PermissionDenied, ValidationFailed
from platform_core.regions import codes
from platform_core.regions.service import within


class SeparationOfDuties(PermissionDenied):
    code = "separation_of_duties"


@dataclass(frozen=True)
class PasswordReset:
    user_id: int
    temporary_password: str  # shown once to the administrator, changed at the next login
    ended_sessions: list[str]


def _require(
    session: Session, actor: Actor, permission: Permission, user: User | None, action: str
) -> None:
    error: DomainError | None = None
    if actor.kind != "system":
        if not allows(actor.role, permission):
            error = PermissionDenied(
                "当前角色无权管理账号 / your role may not do this", permission=permission.value
            )
        elif user is not None and not codes.is_within(user.region_code, actor.region_code):
            error = PermissionDenied(
                "无权管理其他地区的账号 / outside your region", code="out_of_region"
            )
    if error is not None:
        accounts.refuse_on_user(session, actor=actor, action=action, user=user, reason=error.code)
        raise error


def _not_self(session: Session, actor: Actor, user: User, action: str) -> None:
    if actor.user_id is not None and actor.user_id == user.id:
        accounts.refuse_on_user(
            session, actor=actor, action=action, user=user, reason="own_account"
        )
        raise SeparationOfDuties("不能对自己的账号执行此操作 / not on your own account")


def list_accounts(
    session: Session, *, actor: Actor, role: str | None = None, query: str = ""
) -> list[dict[str, Any]]:
    """Accounts in the actor's region with their state (locked, disabled, second factor)."""
    _require(session, actor, Permission.LIST_USERS, None, "user.list")
    q = select(User).where(within(User.region_code, actor.region_code)).order_by(User.username)
    if role:
        q = q.where(User.role == role)
    if query:
        like = f"%{query.strip()[:64]}%"
        q = q.where(User.username.ilike(like) | User.display_name.ilike(like))
    users = list(session.scalars(q.limit(500)))
    live = dict(
        session.execute(
            select(LoginSession.user_id, func.count())
            .where(
                LoginSession.ended_at.is_(None),
                LoginSession.user_id.in_([u.id for u in users] or [0]),
            )
            .group_by(LoginSession.user_id)
        ).all()
    )
    return [account_summary(u, live.get(u.id, 0)) for u in users]


def account_summary(user: User, live_sessions: int = 0) -> dict[str, Any]:
    now = utcnow()
    return {
        **accounts.user_summary(user),
        "role_label": ROLE_LABELS.get(Role(user.role), user.role),
        "active": user.active,
        "locked": user.locked_until is not None and user.locked_until > now,
        "must_change_password": user.must_change_password,
        "second_factor": user.totp_enabled_at is not None,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "live_sessions": live_sessions,
    }


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> list[str]:
    """Disable (its logins end) or enable an account; returns the ended login ids."""
    user = accounts.get_user(session, user_id)
    action = "user.enable" if active else "user.deactivate"
    _require(session, actor, Permission.MANAGE_USERS, user, action)
    _not_self(session, actor, user, action)
    user.active = active
    ended = (
        []
        if active
        else accounts.end_sessions_for_user(session, user_id=user.id, reason="disabled")
    )
    audit.record(session, actor=actor, action=action, target_type="user", target_id=user.id)
    return ended


def unlock(session: Session, *, actor: Actor, user_id: int) -> User:
    user = accounts.get_user(session, user_id)
    _require(session, actor, Permission.MANAGE_USERS, user, "user.unlock")
    user.locked_until, user.failed_logins = None, 0
    session.flush()
    audit.record(session, actor=actor, action="user.unlock", target_type="user", target_id=user.id)
    return user


def reset_password(session: Session, *, actor: Actor, user_id: int) -> PasswordReset:
    """A temporary password (shown once); the next login must choose a new one first."""
    user = accounts.get_user(session, user_id)
    _require(session, actor, Permission.MANAGE_USERS, user, "user.reset_password")
    _not_self(session, actor, user, "user.reset_password")
    temporary, ended = accounts.issue_temporary_password(session, user)
    audit.record(
        session, actor=actor, action="user.reset_password", target_type="user", target_id=user.id
    )
    return PasswordReset(user.id, temporary, ended)


def change_role(session: Session, *, actor: Actor, user_id: int, role: str) -> list[str]:
    """The security administrator's authorisation: a new role (its logins end, so the new
    permissions apply at once). Never one's own, never from one separated duty to another."""
    user = accounts.get_user(session, user_id)
    _require(session, actor, Permission.ASSIGN_ROLES, user, "user.change_role")
    _not_self(session, actor, user, "user.change_role")
    try:
        new = Role(role)
    except ValueError as exc:
        raise ValidationFailed(f"未知角色: {role} / unknown role", code="invalid_role") from exc
    old = Role(user.role)
    if old in SEPARATED_DUTY_ROLES and new in SEPARATED_DUTY_ROLES and old != new:
        accounts.refuse_on_user(
            session,
            actor=actor,
            action="user.change_role",
            user=user,
            reason="separation_of_duties",
            detail={"from": old, "to": new},
        )
        raise SeparationOfDuties(
            f"三员分立: {ROLE_LABELS[old]}账号不能改为{ROLE_LABELS[new]}, 请另建账号 / one account "
            "never holds two of the administrator, security administrator and auditor duties"
        )
    if old != new and (old in accounts.DELEGATED_ROLES or new in accounts.DELEGATED_ROLES):
        accounts.refuse_on_user(
            session,
            actor=actor,
            action="user.change_role",
            user=user,
            reason="delegated_role",
            detail={"from": old, "to": new},
        )
        raise ValidationFailed(
            "服务人员和家属账号属于其本人, 不能与其他角色互换 / a practitioner's or family "
            "member's account keeps its role",
            code="delegated_role",
        )
    if new is Role.PROVIDER and user.provider_id is None:
        raise ValidationFailed(
            "服务商账号须指定服务商 / provider staff need a provider", code="provider_required"
        )
    user.role = new.value
    ended = accounts.end_sessions_for_user(session, user_id=user.id, reason="role_changed")
    audit.record(
        session,
        actor=actor,
        action="user.change_role",
        target_type="user",
        target_id=user.id,
        detail={"from": old.value, "to": new.value},
    )
    return ended


# ---------------------------------------------------------------- logins (sessions)


def list_logins(session: Session, *, actor: Actor, user_id: int) -> list[dict[str, Any]]:
    """A user's open logins: one's own, or anyone's in the region for an administrator."""
    user = accounts.get_user(session, user_id)
    if actor.user_id != user.id:
        _require(session, actor, Permission.END_SESSIONS, user, "user.list_sessions")
    rows = session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .order_by(LoginSession.last_seen_at.desc())
    )
    return [
        {
            "id": r.id[:16],  # a prefix names it on screen; the full id never leaves the server
            "created_at": r.created_at.isoformat(),
            "last_seen_at": r.last_seen_at.isoformat(),
            "source_ip": r.source_ip,
            "user_agent": r.user_agent,
            "pending_step": r.pending_step,
        }
        for r in rows
    ]


def end_login(session: Session, *, actor: Actor, user_id: int, login_prefix: str) -> str | None:
    """End one open login of a user (named by its prefix); returns its id to close its
    connections, or None when no such login is open."""
    user = accounts.get_user(session, user_id)
    own = actor.user_id == user.id
    if not own:
        _require(session, actor, Permission.END_SESSIONS, user, "user.end_session")
    if not (8 <= len(login_prefix) <= 64 and all(c in "0123456789abcdef" for c in login_prefix)):
        raise ValidationFailed("登录标识不正确 / malformed login id", code="malformed_login_id")
    login = session.scalar(
        select(LoginSession).where(
            LoginSession.user_id == user.id,
            LoginSession.ended_at.is_(None),
            LoginSession.id.startswith(login_prefix),
        )
    )
    if login is None:
        return None
    login.ended_at, login.end_reason = utcnow(), "ended_by_user" if own else "ended_by_admin"
    login.ended_by = actor.user_id
    session.flush()
    accounts.announce_ended(session, login)
    audit.record(
        session,
        actor=actor,
        action="user.end_session",
        target_type="user",
        target_id=user.id,
        detail={"login": login.id[:16], "own": own},
    )
    return login.id
