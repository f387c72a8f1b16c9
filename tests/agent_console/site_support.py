"""Day care centres for the console's tests: one in 呼和浩特 and one in 包头, each with its
manager's account (username ``site_hhht`` / ``site_bt``, the console's test password)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.elders.idcard import make_id_number
from platform_core.flows import site_registry
from platform_core.regions.service import ensure_region
from platform_core.sites import service as sites
from tests.agent_console.conftest import PASSWORD

HOURS = {d: ["00:00", "23:59"] for d in "1234567"}
POSITION = (40.8420, 111.7530)  # where the 呼和浩特 centre stands
# the ID numbers conftest's world gave its elders (巴特尔 in 新城区, 其其格 in 青山区)
ID_NUMBERS = {
    "hhht": make_id_number("150102", date(1941, 3, 9), 11),
    "bt": make_id_number("150202", date(1941, 3, 9), 22),
}


def _officer(league: str) -> Actor:
    return Actor(kind="user", name="民政李强", region_code=league, role=Role.OFFICER)


def day_care_centres(world, *, capacity: int = 2) -> SimpleNamespace:
    out = SimpleNamespace()
    with world.runtime.session() as s:
        for key, league, region, name in (
            ("hhht", "150100000000", "150102000000", "新城区锡林路日间照料中心"),
            ("bt", "150200000000", "150202000000", "青山区幸福日间照料中心"),
        ):
            ensure_region(s, region)
            site = site_registry.register_site(
                s,
                actor=_officer(league),
                kind="day_care",
                name=name,
                region_code=region,
                address="幸福路 1 号",
                latitude=POSITION[0],
                longitude=POSITION[1],
                opening_hours=HOURS,
                capacity=capacity,
                services=["day_care", "meals"],
            )
            user = accounts.create_user(
                s,
                actor=system_actor(),
                username=f"site_{key}",
                password=PASSWORD,
                role=Role.SITE_MANAGER,
                region_code=region,
                display_name=f"{name}站长",
            )
            sites.add_staff(
                s,
                actor=_officer(league),
                site_id=site.id,
                name="站长",
                post="manager",
                user_id=user.id,
                manages=True,
            )
            setattr(out, key, site.id)
            setattr(out, f"{key}_manager", accounts.actor_for(user))
    return out
