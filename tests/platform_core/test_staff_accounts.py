"""Practitioners' own logins and their records, in the domain: who may open, reset and end a
login (the provider's administrator, officers of its region; never a practitioner, never another
region), what the login may do on orders (its own, the steps at the home only), and that the
role stays the person's (no administrator turns it into another)."""

from __future__ import annotations

import pytest

from platform_core.accounts import administration
from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.errors import Conflict, OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.flows import staff_accounts
from platform_core.orders import service as orders
from platform_core.providers import service as providers
from tests.platform_core.test_orders_support import ADMIN, AGENT, HOME, walk, world  # noqa: F401

BAOTOU_OFFICER = Actor(
    kind="user", name="包头民政", region_code="150200000000", role=Role.OFFICER, user_id=41
)
HOHHOT_OFFICER = Actor(
    kind="user", name="呼市民政", region_code="150100000000", role=Role.OFFICER, user_id=42
)


def _practitioner(s, w, staff_id: int) -> Actor:
    login = staff_accounts.open_login(
        s, actor=w.provider.actor, staff_id=staff_id, username=f"nurse{staff_id}"
    )
    return accounts.actor_for(accounts.get_user(s, login.user_id))


def test_who_may_open_and_end_a_practitioners_login(world) -> None:  # noqa: F811
    w = world
    with w.rt.session() as s:
        with pytest.raises(OutOfRegion):
            staff_accounts.roster(s, actor=BAOTOU_OFFICER, provider_id=w.provider.id)
        with pytest.raises(PermissionDenied):
            staff_accounts.open_login(
                s, actor=w.other.actor, staff_id=w.provider.staff_id, username="nurse_x"
            )
        assert staff_accounts.roster(s, actor=HOHHOT_OFFICER, provider_id=w.provider.id)
        nurse = _practitioner(s, w, w.provider.staff_id)
        assert (nurse.role, nurse.staff_id, nurse.provider_id) == (
            Role.STAFF,
            w.provider.staff_id,
            w.provider.id,
        )
        with pytest.raises(Conflict):
            staff_accounts.open_login(
                s, actor=w.provider.actor, staff_id=w.provider.staff_id, username="nurse_again"
            )
        # a practitioner manages nothing of the provider, not even themselves
        with pytest.raises(PermissionDenied) as err:
            providers.update_staff(
                s, actor=nurse, staff_id=w.provider.staff_id, phone="13900000000"
            )
        assert err.value.code == "not_provider_admin"
        with pytest.raises(PermissionDenied):
            staff_accounts.roster(s, actor=nurse, provider_id=w.provider.id)
        # no administrator moves the login to another role, nor opens one by hand
        security = system_actor("安全管理员")
        with pytest.raises(ValidationFailed) as err:
            administration.change_role(s, actor=security, user_id=nurse.user_id, role="agent")
        assert err.value.code == "delegated_role"
        with pytest.raises(ValidationFailed):
            accounts.create_user(
                s,
                actor=system_actor(),
                username="nurse_hand",
                password="x",
                role=Role.STAFF,
                region_code="150102000000",
            )


def test_a_practitioners_login_works_only_their_own_orders(world) -> None:  # noqa: F811
    w = world
    with w.rt.session() as s:
        colleague = providers.add_staff(
            s,
            actor=ADMIN,
            provider_id=w.provider.id,
            name="护理员丁",
            phone="13704710099",
            id_number="150102198001010014",
            skills=["care_cleaning"],
            qualifications=[{"name": "健康证", "valid_until": "2099-01-01"}],
        )
        nurse = _practitioner(s, w, w.provider.staff_id)
        mine = orders.open_order(
            s, actor=AGENT, elder_id=w.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, mine.id, w.provider, until="dispatched")
        theirs = orders.open_order(
            s, actor=AGENT, elder_id=w.elder, service_type_code="care_cleaning", source="call"
        )
        walk(s, theirs.id, w.provider, until="dispatched")
        # taking an order is the provider's, not the practitioner's
        with pytest.raises(PermissionDenied):
            orders.accept(s, actor=nurse, order_id=mine.id, staff_id=w.provider.staff_id)
        orders.accept(s, actor=w.provider.actor, order_id=mine.id, staff_id=w.provider.staff_id)
        orders.accept(s, actor=w.provider.actor, order_id=theirs.id, staff_id=colleague.id)
        with pytest.raises(PermissionDenied) as err:
            orders.start_travel(s, actor=nurse, order_id=theirs.id)
        assert err.value.code == "not_your_order"
        with pytest.raises(PermissionDenied):
            orders.start_travel(s, actor=nurse, order_id=mine.id, staff_id=colleague.id)
        with pytest.raises(PermissionDenied):
            orders.assign_staff(s, actor=nurse, order_id=mine.id, staff_id=colleague.id)
        orders.start_travel(s, actor=nurse, order_id=mine.id)
        orders.check_in(s, actor=nurse, order_id=mine.id, latitude=HOME[0], longitude=HOME[1])
        assert orders.get_order(s, order_id=mine.id).status == "in_service"


def test_deactivation_ends_the_login_and_reactivation_restores_it(world) -> None:  # noqa: F811
    w = world
    with w.rt.session() as s:
        nurse = _practitioner(s, w, w.provider.staff_id)
        user = accounts.get_user(s, nurse.user_id)
        user.must_change_password = False
    with w.rt.session() as s:
        reset = staff_accounts.reset_password(
            s, actor=w.provider.actor, staff_id=w.provider.staff_id
        )
        password = reset.temporary_password
    with w.rt.session() as s:
        granted = accounts.log_in(s, username=f"nurse{w.provider.staff_id}", password=password)
        sid = granted.session_id
    with w.rt.session() as s:
        with pytest.raises(ValidationFailed):
            staff_accounts.deactivate_staff(
                s, actor=w.provider.actor, staff_id=w.provider.staff_id, reason=" "
            )
        ended = staff_accounts.deactivate_staff(
            s, actor=w.provider.actor, staff_id=w.provider.staff_id, reason="离职"
        )
        assert ended == [sid]
    with w.rt.session() as s:
        assert not accounts.is_session_live(s, sid)
        with pytest.raises(accounts.LoginRefused):
            accounts.log_in(s, username=f"nurse{w.provider.staff_id}", password=password)
    with w.rt.session() as s:
        staff_accounts.reactivate_staff(s, actor=HOHHOT_OFFICER, staff_id=w.provider.staff_id)
    with w.rt.session() as s:
        assert accounts.log_in(s, username=f"nurse{w.provider.staff_id}", password=password)
