"""Demo accounts for ``hotline seed`` and ``hotline demo``: one per role, random strong passwords
printed once. There are no default passwords: a deployment that never ran the seeder has none."""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from platform_core.accounts.models import User
from platform_core.accounts.passwords import generate_password, hash_password
from platform_core.accounts.service import create_user
from platform_core.actors import Role, system_actor
from platform_core.db import utcnow
from platform_core.runtime import settings_of

# The PBX simulator's first agent phone: the demo agent answers on it.
DEMO_AGENT_INTERFACE = "PJSIP/8001"
# The supervisor's phone (asterisk_conf/pjsip.conf): listen, whisper and barge ring it first.
DEMO_SUPERVISOR_INTERFACE = "PJSIP/8101"


def _first_provider_id(session: Session) -> int | None:
    if not inspect(session.get_bind()).has_table("providers"):
        return None
    try:
        from platform_core.providers.models import Provider
    except ImportError:
        return None
    return session.scalar(select(Provider.id).order_by(Provider.id).limit(1))


def seed_users(session: Session, *, reset_passwords: bool = False) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; returns (username, password, role) of each one
    created (or, with ``reset_passwords``, of every demo account, each given a new password)."""
    home = settings_of(session).home_region_code
    league = home[:2] + "01" + "0" * 8  # the first 盟市 (呼和浩特 in Inner Mongolia)
    provider_id = _first_provider_id(session)
    plan: list[tuple[str, str, Role, str, str | None, int | None]] = [
        ("demo_agent", "演示坐席", Role.AGENT, home, DEMO_AGENT_INTERFACE, None),
        ("demo_supervisor", "演示值班主管", Role.SUPERVISOR, home, DEMO_SUPERVISOR_INTERFACE, None),
        ("demo_admin", "演示管理员", Role.ADMIN, home, None, None),
        ("demo_officer", "演示民政监管", Role.OFFICER, league, None, None),
        # a 旗县区's community worker (新城区 in Inner Mongolia)
        (
            "demo_community",
            "演示社区工作人员",
            Role.COMMUNITY_WORKER,
            league[:4] + "02" + "0" * 6,
            None,
            None,
        ),
    ]
    if provider_id is not None:
        plan.append(("demo_provider", "演示服务人员", Role.PROVIDER, home, None, provider_id))
    actor = system_actor("seed", region_code=home)
    out: list[tuple[str, str, str]] = []
    for username, name, role, region, interface, provider in plan:
        password = generate_password()
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            if interface and session.scalar(select(User.id).where(User.sip_interface == interface)):
                interface = None
            create_user(
                session,
                actor=actor,
                username=username,
                password=password,
                role=role,
                region_code=region,
                display_name=name,
                sip_interface=interface,
                provider_id=provider,
            )
        elif reset_passwords:
            if interface and not user.sip_interface and not _interface_taken(session, interface):
                user.sip_interface = interface  # an account seeded before it had an extension
            user.password_hash = hash_password(password)
            user.password_changed_at = utcnow()
            user.failed_logins = 0
            user.locked_until = None
            user.active = True
        else:
            continue
        out.append((username, password, role.value))
    session.flush()
    return out


def _interface_taken(session: Session, interface: str) -> bool:
    return session.scalar(select(User.id).where(User.sip_interface == interface)) is not None


def seed_colleagues(session: Session, desks: list[tuple[str, str]]) -> int:
    """An agent account for each simulated colleague's desk (interface, name), so the wallboard,
    the reports and monitoring know them by name like any agent. Nobody logs in as them: their
    passwords are random and never shown. Returns how many were created."""
    home = settings_of(session).home_region_code
    actor = system_actor("seed", region_code=home)
    created = 0
    for interface, name in desks:
        if _interface_taken(session, interface):
            continue
        create_user(
            session,
            actor=actor,
            username=f"demo_desk_{interface.rsplit('/', 1)[-1]}",
            password=generate_password(),
            role=Role.AGENT,
            region_code=home,
            display_name=name,
            sip_interface=interface,
        )
        created += 1
    session.flush()
    return created
