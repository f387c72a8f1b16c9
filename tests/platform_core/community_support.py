"""Helpers of the community tests: accounts of the community's roles, and sites with a
manager."""

from __future__ import annotations

import itertools
import struct
import zlib
from types import SimpleNamespace

from sqlalchemy.orm import Session

from platform_core.accounts import service as accounts
from platform_core.actors import Actor, Role, system_actor
from platform_core.flows import site_registry
from platform_core.regions import codes
from platform_core.regions.service import ensure_region
from platform_core.sites import service as sites

PASSWORD = "Steppe-Wind-2026"
HOURS = {d: ["08:00", "17:30"] for d in "1234567"}
_seq = itertools.count(1)


def account(
    session: Session, *, role: Role, region_code: str = "150102003001", name: str | None = None
) -> Actor:
    """A console account of ``role`` and the actor it acts as."""
    ensure_region(session, region_code)
    n = next(_seq)
    user = accounts.create_user(
        session,
        actor=system_actor(),
        username=f"{role.value}{n}",
        password=PASSWORD,
        role=role,
        region_code=region_code,
        display_name=name or f"{role.value}{n}",
    )
    return accounts.actor_for(user)


def keeper(region_code: str = "150100000000") -> Actor:
    return Actor(
        kind="user", name="民政李强", region_code=region_code, role=Role.OFFICER, user_id=None
    )


def day_care_site(
    session: Session,
    *,
    region_code: str = "150102003001",
    capacity: int | None = 3,
    name: str = "锡林路社区日间照料中心",
    position: tuple[float, float] | None = (40.8420, 111.7530),
    provider_id: int | None = None,
) -> SimpleNamespace:
    """A day care centre open every day 08:00-17:30, and its manager's account."""
    officer = keeper(codes.league_of(region_code))
    site = site_registry.register_site(
        session,
        actor=officer,
        kind="day_care",
        name=name,
        region_code=region_code,
        address="锡林路 12 号",
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
        opening_hours=HOURS,
        capacity=capacity,
        services=["day_care", "meals", "bathing"],
        provider_id=provider_id,
    )
    manager = account(session, role=Role.SITE_MANAGER, region_code=region_code, name="站长刘芳")
    sites.add_staff(
        session,
        actor=officer,
        site_id=site.id,
        name="刘芳",
        post="manager",
        phone="13947100077",
        user_id=manager.user_id,
        manages=True,
    )
    return SimpleNamespace(id=site.id, site=site, manager=manager)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
