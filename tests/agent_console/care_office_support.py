"""What the care office's tests share: officers of two 盟市 and a community worker, an elder of
each league who qualifies for the programmes (a category and a 中度失能 assessment)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.assessment import service as assessments
from platform_core.catalogue.service import install_defaults
from platform_core.elders.models import Elder, ElderCategory
from platform_core.runtime import cipher_of
from tests.agent_console.conftest import PASSWORD, World
from tests.platform_core.care_support import MODERATE_46, officer

EXTRA_USERS = {
    "officer_bt": (Role.OFFICER, "150200000000"),
    "community_hhht": (Role.COMMUNITY_WORKER, "150102000000"),
}


@dataclass
class CareWorld:
    world: World
    id_numbers: dict[str, str]

    @property
    def runtime(self):  # noqa: ANN201
        return self.world.runtime


def qualify(world: World, key: str) -> None:
    """The elder is 低保 and assessed 中度失能 today: every programme may take them."""
    with world.runtime.session() as s:
        elder = s.get(Elder, world.elders[key])
        elder.categories = [ElderCategory(category="subsistence")]
        s.flush()
        assessments.record_assessment(
            s,
            actor=officer(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=clock.today_in(s),
            reason="first",
            assessors=["王敏", "赵云"],
        )


@pytest.fixture
def care_world(world: World) -> CareWorld:
    with world.runtime.session() as s:
        install_defaults(s, actor=system_actor())
        for username, (role, region) in EXTRA_USERS.items():
            world.users[username] = accounts.create_user(
                s,
                actor=system_actor(),
                username=username,
                password=PASSWORD,
                role=role,
                region_code=region,
                display_name=username,
            ).id
    for key in ("hhht", "bt"):
        qualify(world, key)
    with world.runtime.session() as s:
        numbers = {
            key: cipher_of(s).open(
                s.scalar(select(Elder.id_number_sealed).where(Elder.id == world.elders[key]))
            )
            for key in ("hhht", "bt")
        }
    return CareWorld(world, numbers)
