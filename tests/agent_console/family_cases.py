"""The family's endpoints for the guard walk of test_guards: the family member's own pages need
a family login (the link to the elder is checked in test_family); the hotline's page that
invites family members is scoped to the elder's region."""

from __future__ import annotations

from typing import Any


def family_cases(case: Any) -> dict[str, Any]:
    return {
        "family.login_page": case(public=True),
        "family.login_submit": case(public=True),
        "family.join_page": case(public=True),
        "family.join_submit": case(public=True),
        "family.home": case("GET", "/family"),
        "family.elder_page": case("GET", "/family/elders/{elder_bt}"),
        "family.rate": case("POST", "/family/orders/999999/rate", {"score": "5"}),
        "family.family_of_elder": case("GET", "/elders/{elder_bt}/family", scope="elder"),
        "family.invite": case(
            "POST",
            "/elders/{elder_bt}/family",
            {"name": "王小明", "relation": "儿子", "phone": "13800472001"},
            scope="elder",
        ),
        "family.revoke_link": case("POST", "/family-links/999999/revoke", {}, scope="content"),
        "family.revoke_invitation": case(
            "POST", "/family-invitations/999999/revoke", {}, scope="content"
        ),
    }
