"""Volunteers: the real-name check at registration (ID number, age, one registration a person,
the card seen, the phone proved by a texted code with its expiry, tries and hourly limit);
activities of a site for the volunteers of its 盟市 (places, check-in by position and time,
hours confirmed by the organiser only, once); hours given to family only."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from platform_core.actors import Role
from platform_core.elders.idcard import make_id_number
from platform_core.elders.models import EmergencyContact
from platform_core.errors import DomainError, NotFound, PermissionDenied
from platform_core.time_bank import service as time_bank
from platform_core.verification import service as verification
from platform_core.volunteers import service as volunteers
from tests.platform_core.care_support import make_elder
from tests.platform_core.community_support import account, day_care_site
from tests.platform_core.time_bank_support import code_sent, register

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 5, 12, 9, 0, tzinfo=TZ)
SITE = (40.8420, 111.7530)


def _attempt(s, centre, *, code: str | None = None, **overrides):
    issued = volunteers.send_phone_code(
        s, actor=centre.manager, site_id=centre.id, phone="13947100001"
    )
    tried = verification.attempt(
        s,
        verification_id=issued.verification_id,
        code=code or code_sent(s, issued.verification_id),
        purpose="volunteer_phone",
    )
    tried.raise_if_refused()
    args = {
        "actor": centre.manager,
        "site_id": centre.id,
        "name": "其木格",
        "id_number": make_id_number("150102", date(1990, 1, 1), 7),
        "phone": "13947100001",
        "skills": ["companionship", "digital"],
        "id_card_seen": True,
        "verification_id": issued.verification_id,
        **overrides,
    }
    return volunteers.register_volunteer(s, **args)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"id_card_seen": False}, "id_card_not_checked"),
        ({"id_number": make_id_number("150102", date(2015, 1, 1), 7)}, "too_young"),
        ({"id_number": "150102199001010071"}, "invalid_id_number"),
        ({"code": "000000"}, "verification_failed"),
        ({"phone": "13947100002"}, "phone_not_verified"),
        ({"skills": ["juggling"]}, "unknown_skill"),
        ({"username": "nobody_here"}, "not_a_volunteer_account"),
    ],
)
def test_the_real_name_check_refuses_with_a_reason(regions, overrides, code) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        with pytest.raises(DomainError) as err:
            _attempt(s, centre, **overrides)
        assert err.value.code == code


def test_one_registration_a_person_and_codes_expire_and_are_limited(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s)
        row = _attempt(s, centre)
        assert row.id_number_masked.startswith("150102") and "*" in row.id_number_masked
        assert row.id_checked_by.startswith(centre.manager.name)
        with pytest.raises(DomainError) as again:
            _attempt(s, centre)
        assert again.value.code == "volunteer_exists"
        # wrong codes cost tries (kept though the request fails), then the code is dead
        issued = verification.issue(
            s,
            actor=centre.manager,
            purpose="volunteer_phone",
            phone="13947100009",
            region_code="150102003001",
        )
        code = code_sent(s, issued.verification_id)
        verification_id = issued.verification_id
    for _ in range(5):
        with regions.session() as s:
            tried = verification.attempt(
                s, verification_id=verification_id, code="999999", purpose="volunteer_phone"
            )
        with pytest.raises(verification.CodeRefused):
            tried.raise_if_refused()
    with regions.session() as s:
        dead = verification.attempt(
            s, verification_id=verification_id, code=code, purpose="volunteer_phone"
        )
        assert (dead.ok, dead.reason) == (False, "expired")
        late = verification.issue(
            s,
            actor=centre.manager,
            purpose="volunteer_phone",
            phone="13947100009",
            region_code="150102003001",
        )
        expired = verification.attempt(
            s,
            verification_id=late.verification_id,
            code=code_sent(s, late.verification_id),
            purpose="volunteer_phone",
            now=late.expires_at + timedelta(seconds=1),
        )
        assert expired.reason == "expired"
        # a proof is used once
        fresh = verification.issue(
            s,
            actor=centre.manager,
            purpose="volunteer_phone",
            phone="13947100019",
            region_code="150102003001",
        )
        assert verification.attempt(
            s,
            verification_id=fresh.verification_id,
            code=code_sent(s, fresh.verification_id),
            purpose="volunteer_phone",
        ).ok
        verification.consume(
            s, verification_id=fresh.verification_id, phone="13947100019", purpose="volunteer_phone"
        )
        with pytest.raises(verification.CodeRefused):
            verification.consume(
                s,
                verification_id=fresh.verification_id,
                phone="13947100019",
                purpose="volunteer_phone",
            )
        for _ in range(3):
            verification.issue(
                s,
                actor=centre.manager,
                purpose="volunteer_phone",
                phone="13947100009",
                region_code="150102003001",
            )
        with pytest.raises(verification.TooManyCodes):
            verification.issue(
                s,
                actor=centre.manager,
                purpose="volunteer_phone",
                phone="13947100009",
                region_code="150102003001",
            )


def test_activities_places_check_in_and_the_organisers_confirmation(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s, position=SITE)
        first, first_login = register(
            s, staff=centre.manager, site_id=centre.id, name="阿拉坦", seq=1, phone="13947100011"
        )
        _, second_login = register(
            s, staff=centre.manager, site_id=centre.id, name="宝音", seq=2, phone="13947100012"
        )
        other_centre = day_care_site(s, region_code="150202001001", name="包头中心")
        _, far_login = register(
            s,
            staff=other_centre.manager,
            site_id=other_centre.id,
            name="其其格",
            seq=3,
            phone="13947100013",
            region_code="150202001001",
        )
        stranger = account(s, role=Role.SITE_MANAGER)
        activity = volunteers.publish_activity(
            s,
            actor=centre.manager,
            site_id=centre.id,
            title="重阳节陪伴",
            starts_at=START,
            ends_at=START + timedelta(hours=2),
            places=1,
        )
        assert activity.hours == Decimal("2.00") and (activity.latitude, activity.longitude) == SITE
        before = START - timedelta(days=1)
        volunteers.sign_up(s, actor=first_login, activity_id=activity.id, now=before)
        with pytest.raises(DomainError) as full:
            volunteers.sign_up(s, actor=second_login, activity_id=activity.id, now=before)
        assert full.value.code == "activity_full"
        with pytest.raises(NotFound):  # another league's activity is not even seen
            volunteers.sign_up(s, actor=far_login, activity_id=activity.id, now=before)
        with pytest.raises(DomainError) as early:
            volunteers.check_in(
                s,
                actor=first_login,
                activity_id=activity.id,
                latitude=SITE[0],
                longitude=SITE[1],
                now=START - timedelta(hours=1),
            )
        assert early.value.code == "check_in_closed"
        with pytest.raises(volunteers.TooFar) as far:
            volunteers.check_in(
                s,
                actor=first_login,
                activity_id=activity.id,
                latitude=SITE[0] + 0.01,
                longitude=SITE[1],
                now=START,
            )
        assert far.value.details["distance_m"] > 1000
        signup = volunteers.check_in(
            s,
            actor=first_login,
            activity_id=activity.id,
            latitude=SITE[0] + 0.001,
            longitude=SITE[1],
            now=START,
        )
        assert signup.check_in_distance_m < 300
        with pytest.raises(PermissionDenied):
            volunteers.confirm_hours(s, actor=stranger, signup_id=signup.id)
        with pytest.raises(DomainError) as many:
            volunteers.confirm_hours(s, actor=centre.manager, signup_id=signup.id, hours="5")
        assert many.value.code == "too_many_hours"
        volunteers.confirm_hours(s, actor=centre.manager, signup_id=signup.id, hours="2.5")
        volunteers.confirm_hours(s, actor=centre.manager, signup_id=signup.id, hours="2.5")
        assert volunteers.account_of(s, first).balance == Decimal("2.50")
        assert time_bank.verify_ledger(s).ok
        page = volunteers.volunteer_page(s, actor=first_login, now=before)
        assert page["balance"] == "2.50" and page["statement"][0]["kind_label"] == "志愿服务存入"
        assert page["activities"][0]["signup"]["status_label"] == "已确认时数"


def test_hours_go_to_family_only(regions) -> None:
    with regions.session() as s:
        centre = day_care_site(s, position=SITE)
        volunteer, login = register(
            s, staff=centre.manager, site_id=centre.id, name="娜仁", seq=4, phone="13947100014"
        )
        mother, stranger = make_elder(s, name="娜仁之母"), make_elder(s, name="邻居")
        s.add(
            EmergencyContact(elder_id=mother.id, name="娜仁", relation="女儿", phone="13947100014")
        )
        s.flush()
        time_bank.earn(
            s,
            actor=centre.manager,
            volunteer_id=volunteer.id,
            region_code=volunteer.region_code,
            hours="10",
            key="earn:test:1",
        )
        volunteers.transfer_to_family(s, actor=login, elder_id=mother.id, hours="4", key="t1")
        volunteers.transfer_to_family(
            s, actor=login, elder_id=mother.id, hours="4", key="t1"
        )  # once
        with pytest.raises(PermissionDenied) as err:
            volunteers.transfer_to_family(s, actor=login, elder_id=stranger.id, hours="1", key="t2")
        assert err.value.code == "not_family"
        assert volunteers.account_of(s, volunteer).balance == Decimal("6.00")
        assert volunteers.elder_account(s, mother).balance == Decimal("4.00")
        family = volunteers.volunteer_page(s, actor=login)["family"]
        assert [(f["relation"], f["balance"]) for f in family] == [("女儿", "4.00")]
        assert "*" in family[0]["name"]
