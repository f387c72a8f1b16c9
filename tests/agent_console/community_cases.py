"""The community endpoints (service sites and day care) for the guard tables of test_guards.
Their region refusals (another 盟市's site, its elders) are tested in test_sites_console."""

from __future__ import annotations

from typing import Any


def community_cases(case: Any) -> dict[str, Any]:
    return {
        "sites.registry_page": case("GET", "/sites"),
        "sites.list_sites": case("GET", "/api/sites", scope="content"),
        "sites.register": case(
            "POST",
            "/api/sites",
            {"kind": "day_care", "name": "x", "region_code": "150202000000", "address": "x"},
            scope="content",
        ),
        "sites.detail": case("GET", "/api/sites/999999", scope="content"),
        "sites.update": case("POST", "/api/sites/999999", {"capacity": 3}, scope="content"),
        "sites.set_status": case("POST", "/api/sites/999999/status", {"status": "open"}),
        "sites.add_staff": case(
            "POST", "/api/sites/999999/staff", {"name": "x", "post": "cook"}, scope="content"
        ),
        "sites.remove_staff": case("POST", "/api/sites/999999/staff/1/remove", {}, scope="content"),
        "sites.add_photo": case("POST", "/api/sites/999999/photos", {}, scope="content"),
        "sites.photo": case("GET", "/api/sites/999999/photos/1", scope="content"),
        "sites.region_statistics": case("GET", "/api/sites/daycare-statistics", scope="content"),
        "sites.sites_for_elder": case("GET", "/api/elders/{elder_bt}/sites", scope="elder"),
        "sites.desk_page": case("GET", "/site"),
        "sites.desk": case("GET", "/api/site-desk"),
        "sites.roster": case("GET", "/api/site-desk/999999/roster", scope="content"),
        "sites.check_in": case(
            "POST", "/api/site-desk/999999/check-in", {"family_code": "12345678"}, scope="content"
        ),
        "sites.check_out": case(
            "POST", "/api/site-desk/999999/check-out", {"family_code": "12345678"}, scope="content"
        ),
        "sites.enrol": case(
            "POST",
            "/api/site-desk/999999/enrolments",
            {"id_number": "150202194103090226", "weekdays": ["1"]},
            scope="content",
        ),
        "sites.reissue_code": case(
            "POST", "/api/site-desk/999999/enrolments/1/code", {}, scope="content"
        ),
        "sites.end_enrolment": case(
            "POST", "/api/site-desk/999999/enrolments/1/end", {"reason": "x"}, scope="content"
        ),
        "sites.statistics": case("GET", "/api/site-desk/999999/statistics", scope="content"),
        # social work: its region refusals are in test_casework_console
        "casework.page": case("GET", "/casework"),
        "casework.desk": case("GET", "/api/casework"),
        "casework.case": case("GET", "/api/casework/cases/999999", scope="content"),
        "casework.accept": case("POST", "/api/casework/cases/999999/accept", {}, scope="content"),
        "casework.decline": case(
            "POST", "/api/casework/cases/999999/decline", {"reason": "x"}, scope="content"
        ),
        "casework.assess": case(
            "POST",
            "/api/casework/cases/999999/assess",
            {"needs": {"mental": {"level": "high"}}},
            scope="content",
        ),
        "casework.plan": case(
            "POST",
            "/api/casework/cases/999999/plan",
            {"goals": ["x"], "services": ["visiting"]},
            scope="content",
        ),
        "casework.visit": case(
            "POST",
            "/api/casework/cases/999999/visits",
            {"kind": "home", "notes": "x"},
            scope="content",
        ),
        "casework.review": case(
            "POST",
            "/api/casework/cases/999999/review",
            {"progress": "x", "decision": "continue"},
            scope="content",
        ),
        "casework.close": case(
            "POST", "/api/casework/cases/999999/close", {"reason": "goals_met"}, scope="content"
        ),
        "casework.supervision_page": case("GET", "/casework/supervision"),
        "casework.supervision": case("GET", "/api/casework/supervision", scope="content"),
        "casework.refer": case(
            "POST",
            "/api/casework/referrals",
            {"id_number": "150202194103090226", "reason": "x"},
            scope="content",
        ),
        "casework.assign": case(
            "POST", "/api/casework/cases/999999/assign", {"worker_id": 1}, scope="content"
        ),
        "casework.register_worker": case(
            "POST", "/api/casework/workers", {"username": "nobody"}, scope="content"
        ),
        # volunteers and the time bank: region refusals in test_volunteering_console
        "volunteering.desk_page": case("GET", "/site/volunteers"),
        "volunteering.send_code": case(
            "POST",
            "/api/site-desk/999999/volunteers/code",
            {"phone": "13900000000"},
            scope="content",
        ),
        "volunteering.check_code": case(
            "POST", "/api/site-desk/999999/volunteers/code/1", {"code": "123456"}, scope="content"
        ),
        "volunteering.register": case(
            "POST",
            "/api/site-desk/999999/volunteers",
            {
                "name": "张三",
                "id_number": "150202194103090226",
                "phone": "13900000000",
                "id_card_seen": True,
                "verification_id": 1,
            },
            scope="content",
        ),
        "volunteering.list_volunteers": case(
            "GET", "/api/site-desk/999999/volunteers", scope="content"
        ),
        "volunteering.activities": case("GET", "/api/site-desk/999999/activities", scope="content"),
        "volunteering.publish": case(
            "POST",
            "/api/site-desk/999999/activities",
            {
                "title": "x",
                "starts_at": "2030-01-01T09:00",
                "ends_at": "2030-01-01T10:00",
                "places": 1,
            },
            scope="content",
        ),
        "volunteering.confirm": case(
            "POST", "/api/activity-signups/999999/confirm", {}, scope="content"
        ),
        "volunteering.absent": case(
            "POST", "/api/activity-signups/999999/absent", {}, scope="content"
        ),
        "volunteering.redeem_for_elder": case(
            "POST",
            "/api/site-desk/999999/redeem",
            {
                "id_number": "150202194103090226",
                "service_type_code": "comfort_visit",
                "hours": "1",
                "key": "k",
            },
            scope="content",
        ),
        "volunteering.page": case("GET", "/volunteer"),
        "volunteering.my_page": case("GET", "/api/volunteer"),
        "volunteering.sign_up": case("POST", "/api/volunteer/activities/999999/sign-up", {}),
        "volunteering.cancel_signup": case("POST", "/api/volunteer/activities/999999/cancel", {}),
        "volunteering.check_in": case(
            "POST",
            "/api/volunteer/activities/999999/check-in",
            {"latitude": 40.8, "longitude": 111.7},
        ),
        "volunteering.transfer": case(
            "POST", "/api/volunteer/transfer", {"elder_id": 1, "hours": "1", "key": "k"}
        ),
        "volunteering.redeem": case(
            "POST",
            "/api/volunteer/redeem",
            {"elder_id": 1, "service_type_code": "comfort_visit", "hours": "1", "key": "k"},
        ),
    }


SOCKET_EVENTS = {
    ("/site", "snapshot"): "self",
    ("/casework", "snapshot"): "self",
    ("/volunteer", "snapshot"): "self",
}
