"""Family accounts (用户端): an invitation texted to a family member's mobile works once and
until it expires; accepting it opens the member's own login, or adds the elder to the login the
mobile already has once its password is given; the member sees the elders they were invited for
and no other; the hotline ends the access; every step and refusal is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from platform_core.accounts import service as accounts
from platform_core.accounts.models import User
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.errors import OutOfRegion, PermissionDenied
from platform_core.family import service as family
from platform_core.family.models import FamilyInvitation, FamilyLink
from platform_core.flows import family_portal
from platform_core.notifications import service as sms
from platform_core.notifications.models import OutboxMessage
from platform_core.security.throttle import MemoryThrottle
from tests.platform_core.after_call_support import AGENT, SON_MOBILE, add_elder

PASSWORD = "Grassland-Sky-2026"
BAOTOU_AGENT = Actor(
    kind="user", name="包头坐席", region_code="150200000000", role=Role.AGENT, user_id=8
)


@pytest.fixture
def elders(regions):
    with regions.session() as s:
        return regions, add_elder(s, 1), add_elder(s, 2)


def _invite(rt, elder_id: int, phone: str = SON_MOBILE, actor: Actor = AGENT) -> str:
    with rt.session() as s:
        return family.invite(
            s, actor=actor, elder_id=elder_id, name="王小明", phone=phone, relation="儿子"
        ).code


def _member_actor(rt, phone: str = SON_MOBILE) -> Actor:
    with rt.session() as s:
        user = s.scalar(select(User).where(User.username == family.username_for(phone)))
        return accounts.actor_for(user)


def test_the_invitation_is_texted_and_opens_the_members_own_login_once(elders) -> None:
    rt, first, _ = elders
    code = _invite(rt, first)
    with rt.session() as s:
        msg = s.scalar(select(OutboxMessage).where(OutboxMessage.template == "family_invitation"))
        assert msg.to_number == SON_MOBILE
        assert code in sms.read_message(s, actor=AGENT, message_id=msg.id)
        inv = s.scalar(select(FamilyInvitation))
        assert code not in (inv.code_index, inv.phone)  # only a keyed hash of the code is kept
        assert audit.list_records(s, action="family.invite")
        view = family.describe_invitation(s, code=code.lower())  # typed in lower case
        assert view.elder_name == "王**"  # add_elder(1) is 王桂兰: the surname only
        assert not view.has_account
    with rt.session() as s:
        member = family.accept_invitation(s, code=code, password=PASSWORD)
        user = accounts.get_user(s, member.user_id)
        assert (user.role, user.username) == ("family", f"f{SON_MOBILE}")
    with rt.session() as s:
        granted = family.log_in(s, phone=SON_MOBILE, password=PASSWORD)
        assert granted.user.id == member.user_id
    # spent: the same code again reads like an unknown one
    with rt.session() as s, pytest.raises(family.InvitationInvalid):
        family.accept_invitation(s, code=code, password=PASSWORD)
    with rt.session() as s, pytest.raises(family.InvitationInvalid):
        family.accept_invitation(s, code="ABCDEFGHJK", password=PASSWORD)
    with rt.session() as s:
        reasons = [
            r.detail["reason"]
            for r in audit.list_records(s, action="family.accept")
            if r.result == "denied"
        ]
        assert sorted(reasons) == ["unknown_code", "used"]


def test_expired_and_replaced_invitations_do_not_work(elders) -> None:
    rt, first, _ = elders
    old = _invite(rt, first)
    new = _invite(rt, first)  # the same elder to the same mobile: the first one stops working
    with rt.session() as s, pytest.raises(family.InvitationInvalid):
        family.accept_invitation(s, code=old, password=PASSWORD)
    with rt.session() as s:
        for inv in s.scalars(select(FamilyInvitation)):
            inv.expires_at -= timedelta(hours=rt.settings.family_invitation_ttl_h + 1)
    with rt.session() as s, pytest.raises(family.InvitationInvalid):
        family.accept_invitation(s, code=new, password=PASSWORD)


def test_a_weak_password_keeps_the_invitation_open(elders) -> None:
    rt, first, _ = elders
    code = _invite(rt, first)
    with rt.session() as s, pytest.raises(Exception) as err:
        family.accept_invitation(s, code=code, password="13800471009")
    assert err.value.code == "weak_password"
    with rt.session() as s:
        family.accept_invitation(s, code=code, password=PASSWORD)


def test_a_second_elder_joins_the_login_the_mobile_already_has(elders) -> None:
    rt, first, second = elders
    with rt.session() as s:
        family.accept_invitation(s, code=_invite(rt, first), password=PASSWORD)
    code = _invite(rt, second)
    with rt.session() as s:
        assert family.describe_invitation(s, code=code).has_account
    with rt.session() as s, pytest.raises(accounts.LoginRefused):
        family.accept_invitation(s, code=code, password="Another-Secret-99")
    with rt.session() as s:
        family.accept_invitation(s, code=code, password=PASSWORD)
        assert s.query(User).filter(User.role == "family").count() == 1
    actor = _member_actor(rt)
    with rt.session() as s:
        assert {e.id for _, e in family.linked_elders(s, actor=actor)} == {first, second}


def test_the_member_sees_only_their_elders_and_loses_them_when_revoked(elders) -> None:
    rt, first, second = elders
    with rt.session() as s:
        family.accept_invitation(s, code=_invite(rt, first), password=PASSWORD)
    actor = _member_actor(rt)
    with rt.session() as s:
        overview = family_portal.elder_overview(s, actor=actor, elder_id=first)
        assert overview["elder"]["id"] == first and "****" in overview["elder"]["address"]
    with rt.session() as s, pytest.raises(family.FamilyElderNotFound):
        family_portal.elder_overview(s, actor=actor, elder_id=second)
    with rt.session() as s:
        assert audit.list_records(s, action="family.view_elder", target_id=str(first))
        refused = audit.list_records(s, action="family.view_elder", target_id=str(second))
        assert [r.result for r in refused] == ["denied"]
        link = s.scalar(select(FamilyLink))
        family.revoke_link(s, actor=AGENT, link_id=link.id, reason="老人要求")
    with rt.session() as s, pytest.raises(family.FamilyElderNotFound):
        family_portal.elder_overview(s, actor=actor, elder_id=first)


def test_only_the_elders_region_invites_and_ends_access(elders) -> None:
    rt, first, _ = elders
    with rt.session() as s, pytest.raises(OutOfRegion):
        family.invite(
            s, actor=BAOTOU_AGENT, elder_id=first, name="王", phone=SON_MOBILE, relation="儿子"
        )
    provider = Actor(
        kind="user",
        name="p",
        region_code="150102000000",
        role=Role.PROVIDER,
        user_id=50,
        provider_id=1,
    )
    with rt.session() as s, pytest.raises(PermissionDenied):
        family.invite(
            s, actor=provider, elder_id=first, name="王", phone=SON_MOBILE, relation="儿子"
        )
    with rt.session() as s, pytest.raises(sms.NotAMobile):
        family.invite(
            s, actor=AGENT, elder_id=first, name="王", phone="0471-6961234", relation="儿子"
        )
    with rt.session() as s:
        refusals = audit.list_records(s, action="family.invite")
        assert {r.result for r in refusals} == {"denied"} and len(refusals) == 2


def test_guessing_codes_is_throttled_per_address(elders) -> None:
    rt, first, _ = elders
    code = _invite(rt, first)
    throttle = MemoryThrottle(limit=3, window_s=900)
    for _ in range(3):
        with rt.session() as s, pytest.raises(family.InvitationInvalid):
            family.accept_invitation(
                s, code="ZZZZZZZZZZ", password=PASSWORD, source_ip="198.51.100.7", throttle=throttle
            )
    # even the right code waits now, from that address
    with rt.session() as s, pytest.raises(accounts.LoginThrottled):
        family.accept_invitation(
            s, code=code, password=PASSWORD, source_ip="198.51.100.7", throttle=throttle
        )
    with rt.session() as s:
        family.accept_invitation(
            s, code=code, password=PASSWORD, source_ip="198.51.100.8", throttle=throttle
        )


def test_family_accounts_are_opened_only_by_invitation(elders) -> None:
    rt, _, _ = elders
    with rt.session() as s, pytest.raises(Exception) as err:
        accounts.create_user(
            s,
            actor=AGENT,
            username="f13800000000",
            password=PASSWORD,
            role=Role.FAMILY,
            region_code="150102000000",
        )
    assert err.value.code == "invalid_role"
