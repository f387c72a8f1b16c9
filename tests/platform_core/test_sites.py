"""The service-site registry: sites of every kind in one list per region (meal points
included), who may register and change what, staff and photos; orders that happen at a site
and how dispatch ranks them; day care enrolment, check-in and out by ID card or family code,
capacity warnings, the roster and the monthly statistics."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from platform_core.actors import Role
from platform_core.audit import service as audit
from platform_core.dispatch import service as dispatch
from platform_core.elders.models import EmergencyContact
from platform_core.errors import OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.flows import care_orders, site_registry
from platform_core.meal_aid import service as meals
from platform_core.meal_aid.models import MealPoint
from platform_core.notifications import service as sms
from platform_core.orders import service as orders
from platform_core.runtime import cipher_of
from platform_core.sites import daycare
from platform_core.sites import service as sites
from platform_core.sites.models import ServiceSite
from tests.platform_core.care_support import (
    add_provider,
    agent,
    install_catalogue,
    jobs_settled,
    make_elder,
)
from tests.platform_core.community_support import account, day_care_site, keeper, png_bytes

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)  # a Tuesday


def at(hhmm: str, day: date = DAY) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=TZ)


def id_number_of(s, elder) -> str:
    return cipher_of(s).open(elder.id_number_sealed)


def events_of(rt, kind: str) -> list[dict]:
    seen: list[dict] = []
    rt.event_bus.subscribe(lambda env: seen.append(env) if env["type"] == kind else None)
    return seen


def test_every_kind_of_site_is_in_one_registry_meal_points_included(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        station = site_registry.register_site(
            s,
            actor=keeper(),
            kind="community_station",
            name="海拉尔路社区养老服务站",
            region_code="150102003002",
            address="海拉尔路 3 号",
            opening_hours={"1": ["09:00", "12:00"]},
            services=["activities", "health_check"],
        )
        point = site_registry.register_site(
            s,
            actor=keeper(),
            kind="meal_point",
            name="锡林路社区助餐点",
            region_code="150102003001",
            address="锡林路 8 号",
            meal_times={"lunch": "11:30"},
            delivers=True,
            latitude=40.8419,
            longitude=111.7522,
        )
        elsewhere = site_registry.register_site(
            s,
            actor=keeper("150200000000"),
            kind="street_centre",
            name="昆区综合养老服务中心",
            region_code="150203001000",
            address="钢铁大街 5 号",
        )
        listed = sites.list_sites(s, region_code="150100000000")
        assert {x.id for x in listed} == {centre.id, station.id, point.id}
        assert elsewhere.id not in {x.id for x in sites.list_sites(s, region_code="150102000000")}
        assert isinstance(s.get(ServiceSite, point.id), MealPoint)
        summary = sites.site_summary(s, point, now=at("12:00"))
        assert (summary["kind_label"], summary["services"][0]["label"]) == ("助餐点", "助餐")
        assert summary["league_code"] == "150100000000"
        assert [
            x.id for x in sites.list_sites(s, region_code="150100000000", kind="meal_point")
        ] == [point.id]
        # meal aid still books at it as before
        assert meals.get_meal_point(s, meal_point_id=point.id).delivers
        # the station opens on Mondays only (DAY is a Tuesday)
        assert sites.site_summary(s, station, now=at("10:00"))["open_now"] is False
        assert sites.site_summary(s, station, now=at("10:00", date(2026, 3, 9)))["open_now"]
        assert not sites.is_open_at(station, at("12:30", date(2026, 3, 9)), "Asia/Shanghai")


def test_only_keepers_register_and_only_in_their_region_audited(regions) -> None:
    with regions.session() as s:
        manager = account(s, role=Role.SITE_MANAGER)
        with pytest.raises(PermissionDenied):
            site_registry.register_site(
                s,
                actor=manager,
                kind="day_care",
                name="自封的中心",
                region_code="150102003001",
                address="某处",
            )
    with regions.session() as s, pytest.raises(OutOfRegion):
        site_registry.register_site(
            s,
            actor=keeper("150200000000"),
            kind="day_care",
            name="跨盟市登记",
            region_code="150102003001",
            address="某处",
        )
    with regions.session() as s:
        reasons = sorted(r.detail["reason"] for r in audit.list_records(s, action="site.register"))
        assert reasons == ["out_of_region", "role"]
        with pytest.raises(ValidationFailed) as bad:
            site_registry.register_site(
                s,
                actor=keeper(),
                kind="day_care",
                name="时间倒挂",
                region_code="150102003001",
                address="某处",
                opening_hours={"1": ["18:00", "08:00"]},
            )
        assert bad.value.code == "invalid_hours"


def test_a_manager_keeps_the_sites_own_details_and_a_keeper_the_rest(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        stranger = account(s, role=Role.SITE_MANAGER)
    with regions.session() as s:
        site = sites.update_site(
            s,
            actor=centre.manager,
            site_id=centre.id,
            changes={"capacity": 30, "opening_hours": {"1": ["07:30", "18:00"]}},
        )
        assert (site.capacity, site.opening_hours) == (30, {"1": ["07:30", "18:00"]})
    with regions.session() as s, pytest.raises(PermissionDenied):
        sites.update_site(s, actor=centre.manager, site_id=centre.id, changes={"name": "改名"})
    with regions.session() as s, pytest.raises(PermissionDenied) as err:
        sites.update_site(s, actor=stranger, site_id=centre.id, changes={"capacity": 99})
    assert err.value.code == "not_site_staff"
    with regions.session() as s:
        sites.update_site(s, actor=keeper(), site_id=centre.id, changes={"name": "锡林路日照中心"})
        with pytest.raises(ValidationFailed):
            sites.set_status(s, actor=keeper(), site_id=centre.id, status="suspended")
        sites.set_status(
            s, actor=keeper(), site_id=centre.id, status="suspended", reason="消防整改"
        )
        assert sites.get_site(s, site_id=centre.id).active is False
        changes = [
            r.detail for r in audit.list_records(s, action="site.update") if r.result == "ok"
        ]
        assert {"fields": ["capacity", "opening_hours"]} in changes and {
            "fields": ["name"]
        } in changes


def test_staff_managers_need_a_site_manager_account_and_photos_are_checked_by_bytes(
    regions,
) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        an_agent = account(s, role=Role.AGENT)
        with pytest.raises(ValidationFailed) as err:
            sites.add_staff(
                s,
                actor=keeper(),
                site_id=centre.id,
                name="王敏",
                post="manager",
                user_id=an_agent.user_id,
                manages=True,
            )
        assert err.value.code == "not_a_site_manager_account"
        cook = sites.add_staff(
            s,
            actor=centre.manager,
            site_id=centre.id,
            name="赵厨师",
            post="cook",
            phone="13947100088",
        )
        assert sites.staff_summary(cook)["phone"] == "139****0088"
        with pytest.raises(PermissionDenied):  # only a keeper names a manager
            sites.add_staff(
                s,
                actor=centre.manager,
                site_id=centre.id,
                name="另一个站长",
                post="manager",
                manages=True,
            )
        with pytest.raises(ValidationFailed) as bad:
            sites.add_photo(s, actor=centre.manager, site_id=centre.id, data=b"GIF89a not a photo")
        assert bad.value.code == "photo_type_not_allowed"
        photo = sites.add_photo(
            s, actor=centre.manager, site_id=centre.id, data=png_bytes(), caption="活动室"
        )
        data, kind = sites.read_photo(s, actor=agent(), site_id=centre.id, photo_id=photo.id)
        assert (data, kind) == (png_bytes(), "image/png")
        with pytest.raises(OutOfRegion):
            sites.read_photo(s, actor=agent("150200000000"), site_id=centre.id, photo_id=photo.id)


@pytest.mark.usefixtures(jobs_settled.__name__)
def test_an_order_at_a_site_is_placed_there_and_its_operator_ranks_first(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        near = add_provider(s, name="近处服务商")
        operator = add_provider(s, name="日照中心运营方")
        centre = day_care_site(s, provider_id=operator.id, position=(40.90, 111.80))
        elder = make_elder(s)
        order = care_orders.open_care_order(
            s,
            actor=agent(),
            elder_id=elder.id,
            service_type_code="care_bathing",
            source="call",
            site_id=centre.id,
        )
        assert (order.site_id, order.latitude, order.longitude) == (centre.id, 40.90, 111.80)
        assert order.address.startswith("锡林路社区日间照料中心")
        ranking = dispatch.rank_for(s, order)
        first = ranking.ranked[0]
        assert first.facts.provider_id == operator.id and first.parts["site"] == 10.0
        assert next(r for r in ranking.ranked if r.facts.provider_id == near.id).parts["site"] == 0
        at_home = care_orders.open_care_order(
            s, actor=agent(), elder_id=elder.id, service_type_code="care_bathing", source="call"
        )
        assert at_home.site_id is None
        assert "site" not in dispatch.rank_for(s, at_home).ranked[0].parts
        orders.submit_for_dispatch(s, actor=agent(), order_id=order.id)
        outcome = dispatch.dispatch_order(s, order_id=order.id)
        assert outcome.provider_id == operator.id
        assert outcome.explanation["site"] == {
            "id": centre.id,
            "name": "锡林路社区日间照料中心",
            "provider_id": operator.id,
        }
        other = day_care_site(s, region_code="150202001001", name="包头某中心")
        with pytest.raises(ValidationFailed) as err:
            care_orders.open_care_order(
                s,
                actor=agent(),
                elder_id=elder.id,
                service_type_code="care_bathing",
                source="call",
                site_id=other.id,
            )
        assert err.value.code == "site_out_of_league"
        listed = site_registry.sites_for_elder(s, elder_id=elder.id)
        assert [x["id"] for x in listed] == [centre.id]
        assert listed[0]["distance_km"] > 0


def test_day_care_in_and_out_by_id_card_and_family_code(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        elder = make_elder(s, name="巴特尔")
        enrolled = daycare.enrol(
            s, actor=centre.manager, site_id=centre.id, elder_id=elder.id, weekdays=["1", "2"]
        )
        code, elder_id, number = enrolled.family_code, elder.id, id_number_of(s, elder)
        assert len(code) == 8 and code.isdigit()
        assert enrolled.enrolment.family_code_index != code  # only a keyed hash is kept
    with regions.session() as s:
        row = daycare.check_in(
            s, actor=centre.manager, site_id=centre.id, id_number=number, now=at("08:05")
        )
        assert (row.elder_id, row.check_in_method) == (elder_id, "id_card")
        with pytest.raises(daycare.DayCareError) as again:
            daycare.check_in(
                s, actor=centre.manager, site_id=centre.id, family_code=code, now=at("08:10")
            )
        assert again.value.code == "already_checked_in"
    with regions.session() as s, pytest.raises(daycare.NotEnrolled):
        daycare.check_out(
            s, actor=centre.manager, site_id=centre.id, family_code="00000000", now=at("16:00")
        )
    with regions.session() as s:
        out = daycare.check_out(
            s, actor=centre.manager, site_id=centre.id, family_code=code, now=at("16:30")
        )
        assert (out.check_out_method, out.checked_out_at) == ("family_code", at("16:30"))
        roster = daycare.daily_roster(s, site_id=centre.id, day=DAY)
        (line,) = roster["rows"]
        assert (line["name"], line["state"], line["checked_in_at"], line["checked_out_at"]) == (
            "巴特尔",
            "left",
            "08:05",
            "16:30",
        )
        assert "*" in line["id_number"]
        refused = [
            r.detail["reason"]
            for r in audit.list_records(s, action="daycare.check_out")
            if r.result == "denied"
        ]
        assert "unknown_family_code" in refused


def test_a_stranger_and_another_leagues_elder_are_refused(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        other = account(s, role=Role.SITE_MANAGER)
        baotou = make_elder(s, name="其其格", region_code="150202001001")
        local = make_elder(s, name="乌云")
        with pytest.raises(PermissionDenied):
            daycare.enrol(s, actor=other, site_id=centre.id, elder_id=local.id, weekdays=["1"])
        with pytest.raises(Exception) as err:
            daycare.enrol(
                s, actor=centre.manager, site_id=centre.id, elder_id=baotou.id, weekdays=["1"]
            )
        assert getattr(err.value, "code", "") == "elder_not_found"
        with pytest.raises(Exception) as err:
            daycare.check_in(
                s,
                actor=centre.manager,
                site_id=centre.id,
                id_number=id_number_of(s, baotou),
                now=at("09:00"),
            )
        assert getattr(err.value, "code", "") == "elder_not_found"


def test_capacity_warns_near_and_full_and_a_reason_takes_one_more(regions) -> None:
    warnings = events_of(regions, "DayCareCapacityWarning")
    with regions.session() as s:
        centre = day_care_site(s, capacity=3)  # warns at 3 x 0.9 -> 2 present (one below full)
        people = [make_elder(s, name=n) for n in ("甲", "乙", "丙", "丁")]
        numbers = [id_number_of(s, p) for p in people]
    for i, number in enumerate(numbers[:3]):
        with regions.session() as s:
            daycare.check_in(
                s, actor=centre.manager, site_id=centre.id, id_number=number, now=at(f"08:0{i}")
            )
    with regions.session() as s, pytest.raises(daycare.DayCareFull) as full:
        daycare.check_in(
            s, actor=centre.manager, site_id=centre.id, id_number=numbers[3], now=at("08:09")
        )
    assert full.value.details == {"present": 3, "capacity": 3}
    with regions.session() as s:
        row = daycare.check_in(
            s,
            actor=centre.manager,
            site_id=centre.id,
            id_number=numbers[3],
            over_capacity_reason="家属临时出差, 经站长同意",
            now=at("08:10"),
        )
        assert row.over_capacity_reason == "家属临时出差, 经站长同意"
        roster = daycare.daily_roster(s, site_id=centre.id, day=DAY)
        assert (roster["present"], roster["warning"]) == (4, "full")
    regions.event_bus.drain()  # what was published is delivered
    assert [(w["data"]["level"], w["data"]["present"]) for w in warnings] == [
        ("near", 2),
        ("full", 3),
    ]


def test_monthly_statistics_per_elder_and_per_site(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s, capacity=10)
        a, b = make_elder(s, name="阿拉坦"), make_elder(s, name="宝音")
        for elder in (a, b):
            daycare.enrol(
                s,
                actor=centre.manager,
                site_id=centre.id,
                elder_id=elder.id,
                weekdays=["2", "3"],
                started_on=date(2026, 3, 1),
            )
        ids = {a.id: id_number_of(s, a), b.id: id_number_of(s, b)}
    visits = [  # (elder, day, in, out)
        (a.id, date(2026, 3, 10), "08:00", "16:00"),
        (b.id, date(2026, 3, 10), "09:00", "12:00"),
        (a.id, date(2026, 3, 11), "08:30", None),
    ]
    for elder_id, day, start, end in visits:
        with regions.session() as s:
            daycare.check_in(
                s,
                actor=centre.manager,
                site_id=centre.id,
                id_number=ids[elder_id],
                now=at(start, day),
            )
            if end:
                daycare.check_out(
                    s,
                    actor=centre.manager,
                    site_id=centre.id,
                    id_number=ids[elder_id],
                    now=at(end, day),
                )
    with regions.session() as s:
        stats = daycare.monthly_statistics(s, site_id=centre.id, month=date(2026, 3, 1))
        per = {r["name"]: r for r in stats["per_elder"]}
        # March 2026 has 9 Tuesdays and Wednesdays
        assert per["阿拉坦"] == {
            "elder_id": a.id,
            "name": "阿拉坦",
            "days": 2,
            "expected_days": 9,
            "attendance_rate": round(2 / 9, 4),
            "hours": 8.0,
            "without_check_out": 1,
        }
        assert (per["宝音"]["days"], per["宝音"]["hours"]) == (1, 3.0)
        assert stats["person_days"] == 3 and stats["elders"] == 2
        assert stats["days_with_attendance"] == 2 and stats["average_present"] == 1.5
        assert stats["peak_present"] == 2 and stats["open_days"] == 31
        assert stats["utilisation"] == round(3 / (10 * 31), 4) and stats["hours"] == 11.0
        region = daycare.region_statistics(s, region_code="150100000000", month=date(2026, 3, 1))
        assert [r["site_id"] for r in region] == [centre.id] and "per_elder" not in region[0]
        assert (
            daycare.region_statistics(s, region_code="150200000000", month=date(2026, 3, 1)) == []
        )


def test_the_family_code_goes_to_the_family_mobile_through_the_outbox(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        elder = make_elder(s, name="萨仁")
        s.add(
            EmergencyContact(
                elder_id=elder.id, name="萨仁之子", relation="儿子", phone="13800471009"
            )
        )
        s.flush()
        s.refresh(elder)
        done = daycare.enrol(
            s, actor=centre.manager, site_id=centre.id, elder_id=elder.id, weekdays=["2"]
        )
        assert done.sms_to == "138****1009"
        (msg,) = sms.list_messages(s, region_code="150100000000", ref_type="daycare_code")
        assert msg.template == "daycare_family_code" and msg.to_number == "13800471009"
        assert done.family_code in cipher_of(s).open(msg.body_sealed)
        again = daycare.reissue_family_code(
            s, actor=centre.manager, site_id=centre.id, enrolment_id=done.enrolment.id
        )
        assert again.family_code != done.family_code
        assert len(sms.list_messages(s, region_code="150100000000", ref_type="daycare_code")) == 2
    with regions.session() as s, pytest.raises(daycare.NotEnrolled):
        daycare.check_in(
            s,
            actor=centre.manager,
            site_id=centre.id,
            family_code=done.family_code,
            now=at("08:00"),
        )
