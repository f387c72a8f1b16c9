"""Account use cases: create users, log in and out, resume a session, wrap-up after a call.

Refused logins and expired sessions are recorded in a transaction of their own: the request
that met the refusal rolls back, but the failure count and the audit record must stay.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, Unpack

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core.accounts import login_steps
from platform_core.accounts.events import LoginSessionEnded, WrapUpOpened
from platform_core.accounts.models import LoginSession, User, WrapUp
from platform_core.accounts.passwords import (
    DUMMY_HASH,
    check_policy,
    generate_password,
    hash_password,
    verify_password,
)
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import SEPARATED_DUTY_ROLES, Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.key_lists import KEYS, among
from platform_core.regions import codes
from platform_core.regions.service import find_region, require_within, within
from platform_core.runtime import settings_of
from platform_core.security.throttle import AttemptThrottle

T = TypeVar("T")

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
_SIP_INTERFACE = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@-]{1,60}$")
# Roles whose accounts a domain desk opens (create_delegated_user), never an administrator.
DELEGATED_ROLES = frozenset({Role.STAFF, Role.FAMILY})
# Writing last_seen_at on every request would turn each page view into a write; a minute of
# slack on a thirty-minute idle timeout costs nothing.
_TOUCH_EVERY = timedelta(seconds=60)

DISPOSITIONS: dict[str, str] = {
    "resolved": "已解决 / resolved",
    "order_opened": "已建工单 / order opened",
    "info_given": "咨询已答复 / information given",
    "transferred": "已转接 / transferred",
    "callback_needed": "需回拨 / call back needed",
    "silent_or_wrong": "无声或误拨 / silent or wrong number",
    "complaint": "投诉已登记 / complaint recorded",
}


class LoginRefused(DomainError):
    code = "login_failed"
    http_status = 401


class LoginThrottled(LoginRefused):
    code = "too_many_attempts"
    http_status = 429


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    http_status = 401


@dataclass(frozen=True)
class LoginGranted:
    user: User
    token: str  # goes into the cookie, never stored
    session_id: str


def actor_for(user: User) -> Actor:
    return Actor(
        kind="user",
        name=user.username,
        region_code=user.region_code,
        role=Role(user.role),
        user_id=user.id,
        provider_id=user.provider_id,
        staff_id=user.staff_id,
    )


def session_id_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _own_transaction(session: Session, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a separate, committed transaction on the same database."""
    own = Session(bind=session.get_bind(), info=dict(session.info), expire_on_commit=False)
    try:
        result = work(own)
        own.commit()
        return result
    except BaseException:
        own.rollback()
        raise
    finally:
        own.close()


# --- users -------------------------------------------------------------------------------


def _may_manage(actor: Actor, region_code: str) -> None:
    if actor.kind == "system":
        return
    if not allows(actor.role, Permission.MANAGE_USERS):
        raise PermissionDenied("只有系统管理员可以管理账号 / only administrators manage accounts")
    require_within(region_code, actor.region_code)


def _new_user(
    session: Session, username: str, password: str, role: Role, region_code: str, display_name: str
) -> User:
    """An account not yet added, once its name, region and password pass and the name is free."""
    if not _USERNAME.match(username or ""):
        raise ValidationFailed(
            "用户名须为 3-64 位字母、数字、_.- / username must be 3-64 letters, digits or _.-",
            code="invalid_username",
        )
    region_code = codes.normalize_code(region_code)
    if find_region(session, region_code) is None:
        raise NotFound(f"区划不存在: {region_code} / unknown region", code="region_not_found")
    check_policy(
        password,
        username=username,
        min_length=settings_of(session).password_min_length,
        user_inputs=(display_name,),
    )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名已存在: {username} / username taken", code="duplicate_username")
    return User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        region_code=region_code,
        active=True,
        failed_logins=0,
        password_changed_at=utcnow(),
    )


def _add_user(session: Session, *, actor: Actor, user: User) -> User:
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        detail={"username": user.username, "role": user.role, "region_code": user.region_code},
    )
    return user


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    region_code: str,
    display_name: str = "",
    sip_interface: str | None = None,
    provider_id: int | None = None,
) -> User:
    """Create an account after checking the name, the role, the region and the password policy."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationFailed(f"未知角色: {role} / unknown role", code="invalid_role") from exc
    if role in DELEGATED_ROLES:
        raise ValidationFailed(
            "服务人员和家属的账号由服务商或家属邀请开通 / practitioners' and family members' "
            "accounts are opened from their own desks",
            code="invalid_role",
        )
    if role in SEPARATED_DUTY_ROLES and actor.kind != "system":
        # 三员 accounts are made at the server (hotline users add), never by one of the three
        raise PermissionDenied(
            "系统管理员、安全管理员和审计员账号须在服务器上用 hotline users add 建立 / the "
            "three duty accounts are created at the server",
            code="separation_of_duties",
        )
    _may_manage(actor, codes.normalize_code(region_code))
    if sip_interface is not None and not _SIP_INTERFACE.match(sip_interface):
        raise ValidationFailed(
            "分机接口格式应如 PJSIP/8001 / interface must look like PJSIP/8001",
            code="invalid_interface",
        )
    if role is Role.PROVIDER and provider_id is None:
        raise ValidationFailed(
            "服务商账号须指定服务商 / provider staff need a provider", code="provider_required"
        )
    user = _new_user(session, username, password, role, region_code, display_name)
    if (
        sip_interface
        and session.scalar(select(User.id).where(User.sip_interface == sip_interface)) is not None
    ):
        raise Conflict(
            f"分机已分配给其他账号: {sip_interface} / interface already assigned",
            code="duplicate_interface",
        )
    user.sip_interface, user.provider_id = sip_interface, provider_id
    return _add_user(session, actor=actor, user=user)


def create_delegated_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    region_code: str,
    display_name: str = "",
    provider_id: int | None = None,
    staff_id: int | None = None,
    must_change_password: bool = False,
) -> User:
    """An account opened from a domain desk rather than by an administrator: a practitioner's
    (their provider opens it) or a family member's (their invitation opens it). The desk has
    checked who may; these roles hold no administrative duty and see only what is theirs."""
    if role not in DELEGATED_ROLES:
        raise ValidationFailed(
            f"角色不能由此开通: {role} / not a delegated role", code="invalid_role"
        )
    if role is Role.STAFF and (provider_id is None or staff_id is None):
        raise ValidationFailed(
            "服务人员账号须指定服务商和人员 / a practitioner's account needs its provider and person",
            code="provider_required",
        )
    user = _new_user(session, username, password, role, region_code, display_name)
    user.provider_id, user.staff_id = provider_id, staff_id
    user.must_change_password = must_change_password
    return _add_user(session, actor=actor, user=user)


def issue_temporary_password(session: Session, user: User) -> tuple[str, list[str]]:
    """A temporary password (to show once) the next login must replace; the user's open
    logins end. The caller has checked who may."""
    temporary = generate_password()
    user.password_hash = hash_password(temporary)
    user.password_changed_at, user.must_change_password = utcnow(), True
    user.failed_logins, user.locked_until = 0, None
    return temporary, end_sessions_for_user(session, user_id=user.id, reason="password")


def set_delegated_active(
    session: Session, *, actor: Actor, user_id: int, active: bool, reason: str = ""
) -> list[str]:
    """Disable (its logins end at once) or enable a practitioner's or family member's account
    from its desk, which checked who may; returns the ended logins' ids so live connections
    close."""
    user = get_user(session, user_id)
    if Role(user.role) not in DELEGATED_ROLES:
        raise ValidationFailed(
            "不是服务人员或家属账号 / not a delegated account", code="invalid_role"
        )
    user.active = active
    ended = [] if active else end_sessions_for_user(session, user_id=user.id, reason="disabled")
    audit.record(
        session,
        actor=actor,
        action="user.enable" if active else "user.deactivate",
        target_type="user",
        target_id=user.id,
        detail={"reason": reason} if reason else {},
    )
    return ended


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("账号不存在 / no such user", code="user_not_found")
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def find_user_by_interface(session: Session, interface: str) -> User | None:
    return session.scalar(
        select(User).where(User.sip_interface == interface, User.active.is_(True))
    )


_ACTIVE_AT = select(User).where(among(User.sip_interface), User.active.is_(True))


def users_by_interface(session: Session, interfaces: Iterable[str]) -> dict[str, User]:
    """The active accounts working at these desks, by desk, in one round trip."""
    wanted = sorted(set(interfaces))
    if not wanted:
        return {}
    rows = session.scalars(_ACTIVE_AT, {KEYS: wanted})
    return {str(u.sip_interface): u for u in rows}


def list_users(session: Session, *, region_code: str, role: Role | str | None = None) -> list[User]:
    q = select(User).where(within(User.region_code, region_code)).order_by(User.username)
    if role is not None:
        q = q.where(User.role == Role(role).value)
    return list(session.scalars(q))


def set_password(session: Session, *, actor: Actor, user_id: int, password: str) -> User:
    """Replace a password; every open session of that user ends."""
    user = get_user(session, user_id)
    if actor.user_id != user.id:
        _may_manage(actor, user.region_code)
    check_policy(
        password,
        username=user.username,
        min_length=settings_of(session).password_min_length,
        user_inputs=(user.display_name,),
    )
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    end_sessions_for_user(session, user_id=user.id, reason="password")
    audit.record(
        session, actor=actor, action="user.set_password", target_type="user", target_id=user.id
    )
    return user


def deactivate_user(session: Session, *, actor: Actor, user_id: int) -> list[str]:
    """Disable an account; returns the ended session ids so live connections can be closed."""
    user = get_user(session, user_id)
    _may_manage(actor, user.region_code)
    user.active = False
    ended = end_sessions_for_user(session, user_id=user.id, reason="disabled")
    audit.record(
        session, actor=actor, action="user.deactivate", target_type="user", target_id=user.id
    )
    return ended


# --- login sessions ----------------------------------------------------------------------


def _anonymous(username: str) -> Actor:
    return Actor(kind="anonymous", name=(username or "?")[:64], region_code="000000000000")


def log_in(
    session: Session,
    *,
    username: str,
    password: str,
    source_ip: str | None = None,
    user_agent: str = "",
    throttle: AttemptThrottle | None = None,
) -> LoginGranted:
    """Check the password and open a login session, or raise :class:`LoginRefused`.

    Nothing in the answer tells an unknown user, a wrong password and a locked account apart:
    the password hash always runs (the user's, or a dummy one of the same cost), and all three
    get the same message. After ``login_max_failures`` failures in a row the account is locked
    for ``login_lockout_min``; with a ``throttle``, an address with too many failures in its
    window is refused before any account is looked at.
    """
    now = utcnow()
    if throttle is not None and source_ip and throttle.blocked(f"login:{source_ip}"):
        _refuse(session, None, username, source_ip, "address_throttled", count=False)
    user = find_user_by_username(session, username) if username else None
    password_ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    if user is None:
        _refuse(session, None, username, source_ip, "unknown_user", throttle=throttle)
    assert user is not None
    if user.locked_until is not None and user.locked_until > now:
        _refuse(session, user, username, source_ip, "locked", count=False, throttle=throttle)
    if not password_ok:
        _refuse(session, user, username, source_ip, "bad_password", throttle=throttle)
    if not user.active:
        _refuse(session, user, username, source_ip, "disabled", count=False)
    token = secrets.token_urlsafe(32)
    sid = session_id_of(token)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(
        LoginSession(
            id=sid,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            source_ip=source_ip,
            user_agent=(user_agent or "")[:200],
            pending_step=login_steps.first_step(settings_of(session), user),
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor_for(user),
        action="auth.login",
        target_type="user",
        target_id=user.id,
        source_ip=source_ip,
    )
    return LoginGranted(user=user, token=token, session_id=sid)


def _refuse(
    session: Session,
    user: User | None,
    username: str,
    source_ip: str | None,
    reason: str,
    *,
    count: bool = True,
    throttle: AttemptThrottle | None = None,
) -> None:
    settings = settings_of(session)
    if throttle is not None and source_ip:
        throttle.fail(f"login:{source_ip}")

    def bookkeeping(own: Session) -> bool:
        locked_now = False
        if user is not None and count:
            own.execute(
                update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
            )
            failures = own.scalar(select(User.failed_logins).where(User.id == user.id)) or 0
            if failures >= settings.login_max_failures:
                own.execute(
                    update(User)
                    .where(User.id == user.id)
                    .values(
                        failed_logins=0,
                        locked_until=utcnow() + timedelta(minutes=settings.login_lockout_min),
                    )
                )
                locked_now = True
        actor = actor_for(user) if user is not None else _anonymous(username)
        audit.record(
            own,
            actor=actor,
            action="auth.login",
            target_type="user",
            target_id=user.id if user else None,
            result="denied",
            detail={"reason": reason, "username": (username or "")[:64], "locked": locked_now},
            source_ip=source_ip,
        )
        if locked_now:
            audit.record(
                own,
                actor=actor,
                action="auth.lock",
                target_type="user",
                target_id=user.id if user else None,
                detail={"minutes": settings.login_lockout_min},
                source_ip=source_ip,
            )
        return locked_now

    _own_transaction(session, bookkeeping)
    if reason == "address_throttled":
        raise LoginThrottled(
            f"登录失败次数过多, 请 {settings.login_address_window_min} 分钟后再试 / too many "
            "failed logins from this address, try again later"
        )
    if reason == "disabled":
        # only after the right password: no oracle for anyone who does not know it
        raise LoginRefused("账号已停用 / account disabled", code="account_disabled")
    # unknown, wrong and locked read the same: the lockout rule is told to everyone
    raise LoginRefused(
        f"用户名或密码错误; 连续失败 {settings.login_max_failures} 次将锁定 "
        f"{settings.login_lockout_min} 分钟 / wrong username or password (accounts lock after "
        f"{settings.login_max_failures} failures)"
    )


def record_failed_second_factor(
    session: Session, *, user: User, source_ip: str | None, step: str
) -> None:
    """A wrong second-factor code counts like a wrong password (the same lockout), kept in a
    transaction of its own so the refusal's rollback does not undo it."""
    settings = settings_of(session)
    user_id = user.id

    def bookkeeping(own: Session) -> None:
        if step != "locked":
            own.execute(
                update(User).where(User.id == user_id).values(failed_logins=User.failed_logins + 1)
            )
            failures = own.scalar(select(User.failed_logins).where(User.id == user_id)) or 0
            if failures >= settings.login_max_failures:
                own.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(
                        failed_logins=0,
                        locked_until=utcnow() + timedelta(minutes=settings.login_lockout_min),
                    )
                )
                audit.record(
                    own,
                    actor=actor_for(user),
                    action="auth.lock",
                    target_type="user",
                    target_id=user_id,
                    detail={"minutes": settings.login_lockout_min},
                    source_ip=source_ip,
                )
        audit.record(
            own,
            actor=actor_for(user),
            action="auth.second_factor",
            target_type="user",
            target_id=user_id,
            result="denied",
            detail={"reason": step},
            source_ip=source_ip,
        )

    _own_transaction(session, bookkeeping)


def check_new_password(session: Session, user: User, password: str) -> None:
    check_policy(
        password,
        username=user.username,
        min_length=settings_of(session).password_min_length,
        user_inputs=(user.display_name,),
    )


def refuse_on_user(
    session: Session, *, user: User | None, **refusal: Unpack[audit.Refusal]
) -> None:
    """Audit a refused action on an account; the record outlives the unit of work's rollback."""
    audit.refuse(
        session, target_type="user", target_id=user.id if user is not None else None, **refusal
    )


def require_manager(session: Session, actor: Actor, user: User, action: str) -> None:
    """Only administrators of the user's region manage an account; refusals are audited."""
    try:
        _may_manage(actor, user.region_code)
    except DomainError as err:
        refuse_on_user(session, actor=actor, action=action, user=user, reason=err.code)
        raise


def _is_over(settings: Any, login: LoginSession, now: datetime) -> str | None:
    """Why an open login must end now (idle too long, account disabled), or None."""
    if not login.user.active:
        return "disabled"
    if now - login.last_seen_at > timedelta(minutes=settings.session_idle_timeout_min):
        return "idle"
    return None


def _expire(session: Session, login: LoginSession, reason: str, source_ip: str | None) -> None:
    """End an idle (or disabled) login in its own transaction: audited, announced."""
    now = utcnow()

    def expire(own: Session) -> None:
        ended = own.execute(
            update(LoginSession)
            .where(LoginSession.id == login.id, LoginSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )
        if not getattr(ended, "rowcount", 1):
            return  # another process ended it first
        publish_on_commit(
            own,
            LoginSessionEnded(
                session_id=login.id,
                user_id=login.user_id,
                reason=reason,
                region_code=login.user.region_code,
            ),
        )
        audit.record(
            own,
            actor=actor_for(login.user),
            action="auth.session_expired",
            target_type="user",
            target_id=login.user_id,
            detail={"reason": reason},
            source_ip=source_ip,
        )

    _own_transaction(session, expire)


def resume_session(session: Session, *, token: str, source_ip: str | None = None) -> LoginSession:
    """The open login session behind a cookie token; ends it when idle too long.

    The login may still owe a step (``pending_step``): callers grant nothing but that step then.
    """
    if not token:
        raise NotAuthenticated("请先登录 / please log in")
    login = session.get(LoginSession, session_id_of(token))
    if login is None or login.ended_at is not None:
        raise NotAuthenticated(
            "登录已失效, 请重新登录 / your session has ended, please log in again"
        )
    now = utcnow()
    reason = _is_over(settings_of(session), login, now)
    if reason is not None:
        _expire(session, login, reason, source_ip)
        raise NotAuthenticated(
            "长时间未操作, 已自动退出 / logged out after inactivity", code="session_expired"
        )
    if now - login.last_seen_at > _TOUCH_EVERY:
        login.last_seen_at = now
        session.flush()
    return login


def live_until(session: Session, *, session_id: str, touch: bool = False) -> datetime | None:
    """When a complete, open login goes idle (``touch``: the user just acted), or None when it
    is over, which ends an idle one now. Socket.IO events and the idle sweep ask this."""
    login = session.get(LoginSession, session_id)
    if login is None or login.ended_at is not None or login.pending_step is not None:
        return None
    settings = settings_of(session)
    now = utcnow()
    reason = _is_over(settings, login, now)
    if reason is not None:
        _expire(session, login, reason, None)
        return None
    if touch and now - login.last_seen_at > _TOUCH_EVERY:
        login.last_seen_at = now
        session.flush()
    return login.last_seen_at + timedelta(minutes=settings.session_idle_timeout_min)


def end_idle_logins(session: Session, *, session_ids: list[str]) -> list[str]:
    """Of these logins, those that are over: ended ones, and idle or disabled ones, which end
    now (audited and announced). One query for the lot: the console sweeps its sockets."""
    if not session_ids:
        return []
    rows = {
        login.id: login
        for login in session.scalars(select(LoginSession).where(LoginSession.id.in_(session_ids)))
    }
    settings = settings_of(session)
    now = utcnow()
    over = []
    for sid in session_ids:
        login = rows.get(sid)
        if login is None or login.ended_at is not None:
            over.append(sid)
            continue
        reason = _is_over(settings, login, now)
        if reason is not None:
            _expire(session, login, reason, None)
            over.append(sid)
    return over


def log_out(session: Session, *, session_id: str, source_ip: str | None = None) -> None:
    login = session.get(LoginSession, session_id)
    if login is None or login.ended_at is not None:
        return
    login.ended_at = utcnow()
    login.end_reason = "logout"
    session.flush()
    publish_on_commit(
        session,
        LoginSessionEnded(
            session_id=login.id,
            user_id=login.user_id,
            reason="logout",
            region_code=login.user.region_code,
        ),
    )
    audit.record(
        session,
        actor=actor_for(login.user),
        action="auth.logout",
        target_type="user",
        target_id=login.user_id,
        source_ip=source_ip,
    )


def end_sessions_for_user(
    session: Session, *, user_id: int, reason: str, keep: str | None = None
) -> list[str]:
    """End the user's open logins (all but ``keep``); their live connections close."""
    user = get_user(session, user_id)
    q = select(LoginSession.id).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
    )
    if keep is not None:
        q = q.where(LoginSession.id != keep)
    ids = list(session.scalars(q))
    if ids:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id.in_(ids))
            .values(ended_at=utcnow(), end_reason=reason)
        )
    for sid in ids:
        publish_on_commit(
            session,
            LoginSessionEnded(
                session_id=sid, user_id=user_id, reason=reason, region_code=user.region_code
            ),
        )
    return ids


def announce_ended(session: Session, login: LoginSession) -> None:
    """After the commit, every console process closes the ended login's connections."""
    publish_on_commit(
        session,
        LoginSessionEnded(
            session_id=login.id,
            user_id=login.user_id,
            reason=login.end_reason or "ended",
            region_code=login.user.region_code,
        ),
    )


def is_session_live(session: Session, session_id: str) -> bool:
    return (
        session.scalar(
            select(LoginSession.id).where(
                LoginSession.id == session_id, LoginSession.ended_at.is_(None)
            )
        )
        is not None
    )


# --- wrap-up -----------------------------------------------------------------------------


def open_wrapup(session: Session, *, user_id: int, linkedid: str) -> WrapUp:
    """Start after-call work for a call the agent handled, once per agent and call (a call's
    end recorded again opens nothing new); its opening is announced to the agent's screen."""
    query = select(WrapUp).where(WrapUp.user_id == user_id, WrapUp.linkedid == linkedid)
    existing = session.scalar(query)
    if existing is not None:
        return existing
    user = get_user(session, user_id)
    row = WrapUp(user_id=user_id, linkedid=linkedid, started_at=utcnow(), notes="")
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # opened a moment ago by another unit of work
        return session.scalars(query).one()
    publish_on_commit(
        session,
        WrapUpOpened(
            user_id=user_id,
            linkedid=linkedid,
            agent_interface=user.sip_interface or "",
            region_code=user.region_code,
        ),
    )
    return row


def pending_wrapup(session: Session, *, user_id: int) -> WrapUp | None:
    return session.scalar(
        select(WrapUp)
        .where(WrapUp.user_id == user_id, WrapUp.completed_at.is_(None))
        .order_by(WrapUp.started_at)
        .limit(1)
    )


def complete_wrapup(session: Session, *, actor: Actor, disposition: str, notes: str = "") -> WrapUp:
    """Close the oldest open wrap-up with a disposition; the agent may take calls again."""
    if disposition not in DISPOSITIONS:
        raise ValidationFailed(
            "请选择通话结果 / choose a disposition",
            code="invalid_disposition",
            allowed=sorted(DISPOSITIONS),
        )
    max_chars = settings_of(session).note_max_chars
    if len(notes) > max_chars:
        raise ValidationFailed(
            f"备注不能超过 {max_chars} 字 / note longer than {max_chars} characters",
            code="note_too_long",
        )
    if actor.user_id is None:
        raise PermissionDenied("需要登录的坐席 / an agent must be logged in")
    row = pending_wrapup(session, user_id=actor.user_id)
    if row is None:
        raise NotFound("没有待处理的话后工作 / no wrap-up pending", code="no_wrapup")
    row.disposition = disposition
    row.notes = notes
    row.completed_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="call.disposition",
        target_type="call",
        target_id=row.linkedid,
        detail={"disposition": disposition},
    )
    return row


def require_no_wrapup(session: Session, *, user_id: int) -> None:
    if pending_wrapup(session, user_id=user_id) is not None:
        raise Conflict(
            "请先填写上一通电话的处理结果 / record the last call's disposition first",
            code="wrapup_pending",
        )


def user_summary(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "region_code": user.region_code,
        "sip_interface": user.sip_interface,
        "provider_id": user.provider_id,
    }


def now() -> datetime:
    return utcnow()
