"""The second factor (TOTP, RFC 6238) and the steps a login owes after its password.

Enrolment: a secret is made for the user (sealed with the data key), shown once as a QR code
and as text, and takes effect when the user types the first code from the app; ten one-time
recovery codes are shown then (only keyed hashes are kept). Each later login asks for a code
(or a recovery code). A code is accepted once (its time step is remembered), and wrong codes
count towards the account's lockout like wrong passwords.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts import login_steps
from platform_core.accounts import service as accounts
from platform_core.accounts.models import LoginSession, RecoveryCode, User
from platform_core.accounts.passwords import hash_password, verify_password
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import Conflict, ValidationFailed
from platform_core.runtime import cipher_of, settings_of

RECOVERY_CODES = 10
_STEP_S = 30


class WrongSecondFactor(ValidationFailed):
    code = "wrong_second_factor"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str  # otpauth:// for the QR code


def _login(session: Session, session_id: str, step: str | tuple[str, ...]) -> LoginSession:
    login = session.get(LoginSession, session_id)
    wanted = (step,) if isinstance(step, str) else step
    if login is None or login.ended_at is not None or login.pending_step not in wanted:
        raise Conflict(
            "登录步骤已失效, 请重新登录 / this login step is over, log in again",
            code="login_step_expired",
        )
    return login


def _advance(session: Session, login: LoginSession) -> str | None:
    """The login moves to its next step (or is complete)."""
    nxt = login_steps.password_step(settings_of(session), login.user)
    login.pending_step = nxt
    session.flush()
    return nxt


def _recovery_value(user_id: int, code: str) -> str:
    return f"recovery:{user_id}:{code.replace('-', '').lower()}"


def _recovery_hash(session: Session, user_id: int, code: str) -> str:
    return cipher_of(session).blind_index(_recovery_value(user_id, code))


def enrolment_for(session: Session, *, session_id: str) -> Enrolment:
    """The secret of a login that must enrol (made on first ask, the same on a reload)."""
    login = _login(session, session_id, login_steps.TOTP_ENROLL)
    user = login.user
    cipher = cipher_of(session)
    if user.totp_secret_sealed is None:
        user.totp_secret_sealed = cipher.seal(pyotp.random_base32())
        session.flush()
    secret = cipher.open(user.totp_secret_sealed)
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=settings_of(session).totp_issuer
    )
    return Enrolment(secret, uri)


def _matching_step(secret: str, code: str) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for offset in (0, -1, 1):  # one step either way for clock drift
        at = now + timedelta(seconds=offset * _STEP_S)
        if secrets.compare_digest(totp.at(at), code):
            return int(totp.timecode(at))
    return None


def _wrong(session: Session, login: LoginSession, source_ip: str | None, step: str) -> None:
    # counted like a wrong password (and locks the account the same way), in its own transaction
    accounts.record_failed_second_factor(session, user=login.user, source_ip=source_ip, step=step)
    raise WrongSecondFactor("动态口令不正确 / wrong code")


def confirm_enrolment(
    session: Session, *, session_id: str, code: str, source_ip: str | None = None
) -> list[str]:
    """The first code from the app switches the second factor on; returns the recovery codes."""
    login = _login(session, session_id, login_steps.TOTP_ENROLL)
    user = login.user
    if user.totp_secret_sealed is None:
        raise Conflict("请先扫描二维码 / scan the code first", code="totp_not_started")
    step = _matching_step(cipher_of(session).open(user.totp_secret_sealed), code)
    if step is None:
        _wrong(session, login, source_ip, "totp_enroll")
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = _new_recovery_codes(session, user)
    _advance(session, login)
    audit.record(
        session,
        actor=accounts.actor_for(user),
        action="auth.totp_enrolled",
        target_type="user",
        target_id=user.id,
        source_ip=source_ip,
    )
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(session, user.id, raw)))
    session.flush()
    return codes


def verify(
    session: Session, *, session_id: str, code: str, source_ip: str | None = None
) -> str | None:
    """A code from the app (or a recovery code) completes the second factor; returns the next
    step the login owes (None: complete)."""
    login = _login(session, session_id, login_steps.TOTP)
    user = login.user
    if user.locked_until is not None and user.locked_until > utcnow():
        _wrong(session, login, source_ip, "locked")
    method = "totp"
    step = (
        _matching_step(cipher_of(session).open(user.totp_secret_sealed), code)
        if user.totp_secret_sealed
        else None
    )
    if step is not None and user.totp_last_step is not None and step <= user.totp_last_step:
        step = None  # a code already used (or an older one): replay
    if step is not None:
        user.totp_last_step = step
    else:
        spare = session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.used_at.is_(None),
                RecoveryCode.code_hash.in_(
                    cipher_of(session).blind_indexes(_recovery_value(user.id, (code or "").strip()))
                ),
            )
        )
        if spare is None:
            _wrong(session, login, source_ip, "totp")
        assert spare is not None
        spare.used_at, method = utcnow(), "recovery_code"
    user.failed_logins = 0
    nxt = _advance(session, login)
    audit.record(
        session,
        actor=accounts.actor_for(user),
        action="auth.second_factor",
        target_type="user",
        target_id=user.id,
        detail={"method": method},
        source_ip=source_ip,
    )
    return nxt


def recovery_codes_left(session: Session, *, user_id: int) -> int:
    return len(
        list(
            session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            )
        )
    )


def change_password_now(
    session: Session, *, session_id: str, new_password: str, source_ip: str | None = None
) -> None:
    """The password change a login owes (reset by an administrator, or expired): the new
    password obeys the policy and must differ from the old; the user's other logins end."""
    login = _login(session, session_id, login_steps.PASSWORD_CHANGE)
    user = login.user
    accounts.check_new_password(session, user, new_password)
    if verify_password(new_password, user.password_hash):
        raise ValidationFailed(
            "新密码不能与原密码相同 / choose a different password", code="password_unchanged"
        )
    user.password_hash = hash_password(new_password)
    user.password_changed_at, user.must_change_password = utcnow(), False
    accounts.end_sessions_for_user(session, user_id=user.id, reason="password", keep=login.id)
    login.pending_step = None
    session.flush()
    audit.record(
        session,
        actor=accounts.actor_for(user),
        action="user.change_password",
        target_type="user",
        target_id=user.id,
        source_ip=source_ip,
    )


def reset(session: Session, *, actor: Actor, user_id: int) -> None:
    """An administrator switches a user's second factor off (a lost phone): the next login
    enrols again; the user's logins end."""
    user = accounts.get_user(session, user_id)
    accounts.require_manager(session, actor, user, "user.reset_second_factor")
    user.totp_secret_sealed, user.totp_enabled_at, user.totp_last_step = None, None, None
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    accounts.end_sessions_for_user(session, user_id=user.id, reason="second_factor_reset")
    audit.record(
        session,
        actor=actor,
        action="user.reset_second_factor",
        target_type="user",
        target_id=user.id,
    )
