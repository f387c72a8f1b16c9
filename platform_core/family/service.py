"""Family accounts (用户端): invitations by text message, accepting one, links to elders, and
who may see which elder.

An agent or officer of the elder's region invites a family member by mobile number. The text
carries a code (and a link with it) that works once, until it expires; only a keyed hash of the
code is kept. Accepting it opens the member's own login (their mobile names it, their password
guards it) or, for a member who already has one, adds the elder to it after their password is
checked. Every step, and every refusal, is audited; a wrong or spent code reads the same as an
unknown one, and failed tries count against the caller's address like failed logins.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.accounts.passwords import verify_password
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.elders.service import refuse_on_elder
from platform_core.errors import (
    DomainError,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.family.models import FamilyInvitation, FamilyLink, FamilyMember
from platform_core.notifications import service as sms
from platform_core.regions import codes
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_name, mask_phone
from platform_core.security.throttle import AttemptThrottle

# Codes are read off a phone and may be typed: no 0/O, 1/I/L. 31^10 is about 8 x 10^14.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
JOIN_PATH = "/family/join"
RELATIONS = ("儿子", "女儿", "配偶", "儿媳", "女婿", "孙子女", "兄弟姐妹", "监护人", "其他亲属")
_INVALID = (
    "邀请码无效、已使用或已过期, 请联系12349重新邀请 / the invitation is unknown, used or expired"
)


class InvitationInvalid(DomainError):
    code = "invitation_invalid"
    http_status = 400


class FamilyElderNotFound(NotFound):
    """An elder the family member is not linked to reads as one that does not exist."""

    code = "elder_not_found"


@dataclass(frozen=True)
class Invited:
    invitation: FamilyInvitation
    code: str  # texted to the member; never stored
    sent_to: str  # masked


def username_for(phone: str) -> str:
    """A family member's login name: their mobile, marked as a family account."""
    return f"f{phone}"


def normalize_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isascii() and ch.isalnum())[:32]


def _code_indexes(session: Session, code: str) -> list[str]:
    return cipher_of(session).blind_indexes(f"family-invitation:{code}")


# ---------------------------------------------------------------- the hotline's side


def _refuse(
    session: Session, actor: Actor, action: str, target: int | None, err: DomainError
) -> None:
    refuse_on_elder(session, actor=actor, action=action, elder_id=target, reason=err.code)
    raise err


def _elder_for_staff(session: Session, actor: Actor, elder_id: int, action: str) -> Elder:
    """The elder, for an agent or officer of its region (refusals audited)."""
    if actor.kind != "system" and not allows(actor.role, Permission.INVITE_FAMILY):
        _refuse(
            session,
            actor,
            action,
            elder_id,
            PermissionDenied("当前角色不能邀请家属 / your role may not invite family members"),
        )
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound("老年人档案不存在 / no such elder", code="elder_not_found")
    if not codes.is_within(elder.region_code, actor.region_code):
        _refuse(
            session,
            actor,
            action,
            elder_id,
            OutOfRegion("无权访问其他地区的数据 / outside your region"),
        )
    return elder


def _link_text(session: Session, code: str) -> str:
    base = settings_of(session).console_public_url.rstrip("/")
    return f"{base}{JOIN_PATH}?code={code}" if base else f"家属服务页面 {JOIN_PATH}"


def invite(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    name: str,
    phone: str,
    relation: str,
) -> Invited:
    """Text an invitation to a family member's mobile; an earlier open invitation of the same
    elder to the same number stops working."""
    elder = _elder_for_staff(session, actor, elder_id, "family.invite")
    if elder.status != "active":
        raise ValidationFailed(
            "老人档案非在册状态, 不能邀请家属 / the elder is not active", code="elder_not_active"
        )
    name = " ".join((name or "").split())[:64]
    if not name:
        raise ValidationFailed("请填写家属姓名 / the family member's name", code="invalid_name")
    relation = (relation or "").strip()[:20]
    if relation not in RELATIONS:
        raise ValidationFailed(
            f"与老人关系须为: {'、'.join(RELATIONS)} / unknown relation", code="invalid_relation"
        )
    number = sms.mobile_or_none(phone)
    if number is None:
        raise sms.NotAMobile(
            f"邀请只能发往手机号码: {mask_phone(phone or '')} / invitations go to mobiles only"
        )
    now = clock.now()
    for open_one in session.scalars(
        select(FamilyInvitation).where(
            FamilyInvitation.elder_id == elder.id,
            FamilyInvitation.phone == number,
            FamilyInvitation.used_at.is_(None),
            FamilyInvitation.revoked_at.is_(None),
        )
    ):
        open_one.revoked_at, open_one.revoked_by = now, actor.label
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    ttl_h = settings_of(session).family_invitation_ttl_h
    invitation = FamilyInvitation(
        elder_id=elder.id,
        region_code=elder.region_code,
        name=name,
        relation=relation,
        phone=number,
        code_index=cipher_of(session).blind_index(f"family-invitation:{code}"),
        created_at=now,
        expires_at=now + timedelta(hours=ttl_h),
        invited_by=actor.label,
        invited_by_user_id=actor.user_id,
    )
    session.add(invitation)
    session.flush()
    message = sms.send_sms(
        session,
        to=number,
        template="family_invitation",
        params={
            "name": name,
            "elder_name": mask_name(elder.name),
            "code": code,
            "hours": ttl_h,
            "link": _link_text(session, code),
        },
        actor=actor,
        ref_type="family_invitation",
        ref_id=invitation.id,
        region_code=elder.region_code,
        to_name=name,
    )
    invitation.message_id = message.id
    audit.record(
        session,
        actor=actor,
        action="family.invite",
        target_type="elder",
        target_id=elder.id,
        detail={"invitation_id": invitation.id, "phone": mask_phone(number), "relation": relation},
    )
    return Invited(invitation, code, mask_phone(number))


def list_for_elder(
    session: Session, *, actor: Actor, elder_id: int
) -> dict[str, list[dict[str, object]]]:
    """The elder's family accounts and open invitations, masked, for the hotline's page."""
    elder = _elder_for_staff(session, actor, elder_id, "family.list")
    links = session.execute(
        select(FamilyLink, FamilyMember)
        .join(FamilyMember, FamilyMember.id == FamilyLink.member_id)
        .where(FamilyLink.elder_id == elder.id)
        .order_by(FamilyLink.id)
    ).all()
    invitations = session.scalars(
        select(FamilyInvitation)
        .where(FamilyInvitation.elder_id == elder.id, FamilyInvitation.used_at.is_(None))
        .order_by(FamilyInvitation.id.desc())
        .limit(20)
    )
    now = clock.now()
    return {
        "links": [
            {
                "id": link.id,
                "name": member.name,
                "relation": link.relation,
                "phone": mask_phone(member.phone),
                "linked_at": link.linked_at,
                "revoked_at": link.revoked_at,
                "revoked_by": link.revoked_by or "",
                "active": link.revoked_at is None and member.active,
            }
            for link, member in links
        ],
        "invitations": [
            {
                "id": inv.id,
                "name": inv.name,
                "relation": inv.relation,
                "phone": mask_phone(inv.phone),
                "created_at": inv.created_at,
                "expires_at": inv.expires_at,
                "invited_by": inv.invited_by,
                "state": "revoked"
                if inv.revoked_at is not None
                else ("expired" if inv.expires_at <= now else "open"),
            }
            for inv in invitations
        ],
    }


def revoke_link(session: Session, *, actor: Actor, link_id: int, reason: str) -> FamilyLink:
    """End a family member's access to one elder (what they saw stays audited)."""
    link = session.get(FamilyLink, link_id)
    if link is None:
        raise NotFound("没有这个家属授权 / no such family access", code="family_link_not_found")
    _elder_for_staff(session, actor, link.elder_id, "family.revoke")
    reason = (reason or "").strip()[:255]
    if not reason:
        raise ValidationFailed("请说明原因 / give a reason", code="reason_required")
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by, link.revoke_reason = clock.now(), actor.label, reason
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="family.revoke",
            target_type="elder",
            target_id=link.elder_id,
            detail={"link_id": link.id, "member_id": link.member_id, "reason": reason},
        )
    return link


def revoke_invitation(session: Session, *, actor: Actor, invitation_id: int) -> FamilyInvitation:
    invitation = session.get(FamilyInvitation, invitation_id)
    if invitation is None:
        raise NotFound("没有这个邀请 / no such invitation", code="invitation_not_found")
    _elder_for_staff(session, actor, invitation.elder_id, "family.revoke_invitation")
    if invitation.used_at is None and invitation.revoked_at is None:
        invitation.revoked_at, invitation.revoked_by = clock.now(), actor.label
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="family.revoke_invitation",
            target_type="elder",
            target_id=invitation.elder_id,
            detail={"invitation_id": invitation.id},
        )
    return invitation


# ---------------------------------------------------------------- the family member's side


def _anonymous(source_ip: str | None) -> Actor:
    return Actor(
        kind="anonymous", name=f"家属邀请:{(source_ip or '-')[:40]}", region_code="000000000000"
    )


def _open_invitation(
    session: Session, code: str, *, source_ip: str | None, throttle: AttemptThrottle | None
) -> FamilyInvitation:
    """The open invitation behind a code; one refusal for unknown, spent, revoked and expired
    codes, counted against the address like a failed login."""
    key = f"family-code:{source_ip or '-'}"
    if throttle is not None and throttle.blocked(key):
        audit.record_refusal(
            session,
            actor=_anonymous(source_ip),
            action="family.accept",
            target_type="family_invitation",
            detail={"reason": "address_throttled"},
            source_ip=source_ip,
        )
        raise accounts.LoginThrottled("尝试次数过多, 请稍后再试 / too many attempts, try later")
    code = normalize_code(code)
    invitation = (
        session.scalar(
            select(FamilyInvitation)
            .where(FamilyInvitation.code_index.in_(_code_indexes(session, code)))
            .with_for_update()
        )
        if len(code) == CODE_LENGTH
        else None
    )
    reason = None
    if invitation is None:
        reason = "unknown_code"
    elif invitation.used_at is not None:
        reason = "used"
    elif invitation.revoked_at is not None:
        reason = "revoked"
    elif invitation.expires_at <= clock.now():
        reason = "expired"
    if reason is not None:
        if throttle is not None:
            throttle.fail(key)
        audit.record_refusal(
            session,
            actor=_anonymous(source_ip),
            action="family.accept",
            target_type="family_invitation",
            target_id=invitation.id if invitation is not None else None,
            detail={"reason": reason},
            source_ip=source_ip,
        )
        raise InvitationInvalid(_INVALID)
    assert invitation is not None
    return invitation


@dataclass(frozen=True)
class InvitationView:
    """What the join page shows before the member accepts (nothing that identifies the elder
    beyond the surname)."""

    elder_name: str
    name: str
    relation: str
    phone: str
    invited_by: str
    expires_at: object
    has_account: bool


def describe_invitation(
    session: Session,
    *,
    code: str,
    source_ip: str | None = None,
    throttle: AttemptThrottle | None = None,
) -> InvitationView:
    invitation = _open_invitation(session, code, source_ip=source_ip, throttle=throttle)
    elder = session.get(Elder, invitation.elder_id)
    has_account = (
        session.scalar(select(FamilyMember.id).where(FamilyMember.phone == invitation.phone))
        is not None
    )
    return InvitationView(
        elder_name=mask_name(elder.name if elder else ""),
        name=invitation.name,
        relation=invitation.relation,
        phone=mask_phone(invitation.phone),
        invited_by=invitation.invited_by,
        expires_at=invitation.expires_at,
        has_account=has_account,
    )


def accept_invitation(
    session: Session,
    *,
    code: str,
    password: str,
    source_ip: str | None = None,
    throttle: AttemptThrottle | None = None,
) -> FamilyMember:
    """Spend the code: open the member's login with ``password`` (or, when the mobile already
    has one, check ``password`` against it) and link the elder to it."""
    invitation = _open_invitation(session, code, source_ip=source_ip, throttle=throttle)
    member = session.scalar(select(FamilyMember).where(FamilyMember.phone == invitation.phone))
    now = clock.now()
    if member is None:
        user = accounts.create_delegated_user(
            session,
            actor=_anonymous(source_ip),
            username=username_for(invitation.phone),
            password=password,
            role=Role.FAMILY,
            region_code=invitation.region_code,
            display_name=invitation.name,
        )
        member = FamilyMember(
            user_id=user.id,
            name=invitation.name,
            phone=invitation.phone,
            active=True,
            created_at=now,
        )
        session.add(member)
        session.flush()
    else:
        user = accounts.get_user(session, member.user_id)
        if not verify_password(password, user.password_hash) or not member.active:
            if throttle is not None:
                throttle.fail(f"family-code:{source_ip or '-'}")
            audit.record_refusal(
                session,
                actor=_anonymous(source_ip),
                action="family.accept",
                target_type="family_invitation",
                target_id=invitation.id,
                detail={"reason": "bad_password" if member.active else "member_inactive"},
                source_ip=source_ip,
            )
            raise accounts.LoginRefused(
                "该手机号已开通家属服务, 请输入原来的密码 / this mobile has an account: its password"
            )
    link = session.scalar(
        select(FamilyLink).where(
            FamilyLink.member_id == member.id, FamilyLink.elder_id == invitation.elder_id
        )
    )
    if link is None:
        link = FamilyLink(
            member_id=member.id,
            elder_id=invitation.elder_id,
            region_code=invitation.region_code,
            relation=invitation.relation,
            invitation_id=invitation.id,
            linked_at=now,
        )
        session.add(link)
    else:  # invited again after the access ended
        link.revoked_at, link.revoked_by, link.revoke_reason = None, None, ""
        link.relation, link.invitation_id, link.linked_at = invitation.relation, invitation.id, now
    invitation.used_at, invitation.member_id = now, member.id
    session.flush()
    audit.record(
        session,
        actor=accounts.actor_for(user),
        action="family.accept",
        target_type="elder",
        target_id=invitation.elder_id,
        detail={"invitation_id": invitation.id, "member_id": member.id},
        source_ip=source_ip,
    )
    return member


def log_in(
    session: Session,
    *,
    phone: str,
    password: str,
    source_ip: str | None = None,
    user_agent: str = "",
    throttle: AttemptThrottle | None = None,
) -> accounts.LoginGranted:
    """A family member logs in with their mobile number: the same checks, lockout and
    throttling as every login."""
    number = (
        sms.mobile_or_none(phone)
        or "".join(ch for ch in phone if ch.isascii() and ch.isdigit())[:20]
    )
    return accounts.log_in(
        session,
        username=username_for(number),
        password=password,
        source_ip=source_ip,
        user_agent=user_agent,
        throttle=throttle,
    )


def member_of(session: Session, *, actor: Actor) -> FamilyMember:
    member = (
        session.scalar(select(FamilyMember).where(FamilyMember.user_id == actor.user_id))
        if actor.role == Role.FAMILY and actor.user_id is not None
        else None
    )
    if member is None or not member.active:
        raise PermissionDenied("不是家属账号 / not a family account", code="not_family")
    return member


def linked_elders(session: Session, *, actor: Actor) -> list[tuple[FamilyLink, Elder]]:
    """The elders this family member may see now."""
    member = member_of(session, actor=actor)
    return [
        (link, elder)
        for link, elder in session.execute(
            select(FamilyLink, Elder)
            .join(Elder, Elder.id == FamilyLink.elder_id)
            .where(FamilyLink.member_id == member.id, FamilyLink.revoked_at.is_(None))
            .order_by(FamilyLink.id)
        ).all()
    ]


def require_link(session: Session, *, actor: Actor, elder_id: int, action: str) -> FamilyLink:
    """The member's open link to this elder; any other elder is refused (audited) as unknown."""
    member = member_of(session, actor=actor)
    link = session.scalar(
        select(FamilyLink).where(
            FamilyLink.member_id == member.id,
            FamilyLink.elder_id == elder_id,
            FamilyLink.revoked_at.is_(None),
        )
    )
    if link is None:
        refuse_on_elder(session, actor=actor, action=action, elder_id=elder_id, reason="not_linked")
        raise FamilyElderNotFound("老年人档案不存在 / no such elder")
    return link
