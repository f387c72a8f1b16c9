"""Meal points recorded before the service-site registry become sites of it: the upgrade gives
each its own site row under the same id (menus and bookings keep pointing at it), meal aid reads
them through the registry, new sites never take their ids, and a downgrade gives the points
their columns back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from platform_core import migrate
from platform_core.db import make_engine
from platform_core.meal_aid.models import MealMenu, MealPoint
from platform_core.sites.models import ServiceSite
from tests.platform_core.test_migrations import empty_pg  # noqa: F401 - the fixture

BEFORE = "0012_meal_booking_codes"


def _seed_old_points(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_code, dictionary_version) VALUES "
                "('150000000000', '内蒙古自治区', 1, NULL, 't'), "
                "('150100000000', '呼和浩特市', 2, '150000000000', 't'), "
                "('150102000000', '新城区', 3, '150100000000', 't')"
            )
        )
        for name, active in (("锡林路社区助餐点", True), ("东风路助餐点", False)):
            c.execute(
                text(
                    "INSERT INTO meal_points (name, region_code, address, provider_id, meal_times, "
                    "delivers, active, created_at) VALUES (:n, '150102000000', '锡林路 8 号', 7, "
                    '\'{"lunch": "11:30"}\', true, :a, CURRENT_TIMESTAMP)'
                ),
                {"n": name, "a": active},
            )
        c.execute(
            text(
                "INSERT INTO meal_menus (meal_point_id, served_on, meal, dishes, price) "
                "SELECT id, '2026-03-10', 'lunch', '米饭', 15 FROM meal_points WHERE active"
            )
        )
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_meal_points_become_sites_and_come_back(backend, request, tmp_path) -> None:
    url = (
        request.getfixturevalue("empty_pg")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'm.db'}"
    )
    migrate.upgrade(url, BEFORE)
    _seed_old_points(url)
    migrate.upgrade(url)

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            sites = {site.name: site for site in s.query(ServiceSite).order_by(ServiceSite.id)}
            open_point, stopped = sites["锡林路社区助餐点"], sites["东风路助餐点"]
            assert isinstance(open_point, MealPoint) and open_point.kind == "meal_point"
            assert (open_point.region_code, open_point.address, open_point.provider_id) == (
                "150102000000",
                "锡林路 8 号",
                7,
            )
            assert open_point.meal_times == {"lunch": "11:30"} and open_point.delivers
            assert open_point.active and open_point.services == ["meals"]
            assert stopped.status == "suspended" and not stopped.active
            menu = s.query(MealMenu).one()
            assert menu.meal_point_id == open_point.id and menu.price == Decimal("15.00")
            assert menu.served_on == date(2026, 3, 10)
            # a site registered after the upgrade takes a new id, never a point's
            s.add(
                ServiceSite(
                    kind="day_care",
                    name="新城区日间照料中心",
                    region_code="150102000000",
                    address="新华大街 1 号",
                    opening_hours={},
                    services=["day_care"],
                    status="open",
                )
            )
            s.commit()
            ids = [site.id for site in s.query(ServiceSite)]
            assert len(ids) == len(set(ids)) == 3
    finally:
        engine.dispose()

    migrate.downgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT name, region_code, address, provider_id, active FROM meal_points ORDER BY id"
                )
            ).all()
        assert [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows] == [
            ("锡林路社区助餐点", "150102000000", "锡林路 8 号", 7, True),
            ("东风路助餐点", "150102000000", "锡林路 8 号", 7, False),
        ]
    finally:
        engine.dispose()
