"""A year of the time bank replayed through the real services: activities published, volunteers
signing up, checking in (some too far away), organisers confirming hours (some past the member
cap), hours given to family (some refused: not enough, past the cap, not family), services
redeemed by volunteers and by site staff, and some of those orders cancelled. An independent
model follows every step; at the end every account's balance equals the model's, every
transaction sums to zero and the whole ledger sums to zero: no hour created or lost."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from platform_core.actors import Actor, Role
from platform_core.elders.models import EmergencyContact
from platform_core.errors import DomainError
from platform_core.flows import care_orders, time_bank_services
from platform_core.regions.service import load_dictionary
from platform_core.time_bank import service as time_bank
from platform_core.time_bank.models import TimeAccount, TimeEntry, TimeTransaction
from platform_core.volunteers import service as volunteers
from tests.conftest import _runtime
from tests.platform_core.care_support import install_catalogue, make_elder
from tests.platform_core.community_support import day_care_site
from tests.platform_core.time_bank_support import register

TZ = ZoneInfo("Asia/Shanghai")
SITE = (40.8420, 111.7530)
CAP = Decimal("40.00")
H = Decimal


def local(day: datetime, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return day.replace(hour=h, minute=m)


@pytest.fixture
def capped(base_settings, pg_engine, pg_url):
    """PostgreSQL with a member cap of 40 hours, so a year of service meets it."""
    settings = base_settings.with_overrides(database_url=pg_url, timebank_balance_cap_h=float(CAP))
    for rt in _runtime(settings, pg_engine):
        with rt.session() as s:
            load_dictionary(s)
        yield rt


@pytest.fixture
def bank(capped):
    """A day care centre, 8 volunteers with accounts, 5 elders (3 with a volunteer in their
    family) and the catalogue."""
    rt = capped
    with rt.session() as s:
        install_catalogue(s)
        centre = day_care_site(s, position=SITE, capacity=None)
        people = []
        for i in range(8):
            row, login = register(
                s,
                staff=centre.manager,
                site_id=centre.id,
                name=f"志愿者{i}",
                seq=i,
                phone=f"1390471{i:04d}",
            )
            people.append((row.id, login))
        elders = [make_elder(s, name=f"老人{i}") for i in range(5)]
        # family: volunteer 0 is elder 0's son, volunteer 1 elder 1's daughter, volunteer 2 both 2's and 1's niece
        for v, e, relation in ((0, 0, "儿子"), (1, 1, "女儿"), (2, 2, "侄女"), (2, 1, "侄女")):
            s.add(
                EmergencyContact(
                    elder_id=elders[e].id,
                    name=f"志愿者{v}",
                    relation=relation,
                    phone=f"1390471{v:04d}",
                )
            )
        s.flush()
        return {
            "site": centre.id,
            "manager": centre.manager,
            "volunteers": people,
            "elders": [e.id for e in elders],
            "family": {0: {elders[0].id}, 1: {elders[1].id}, 2: {elders[2].id, elders[1].id}},
        }


def test_a_year_of_activity_leaves_every_balance_as_the_model_and_the_ledger_at_zero(
    capped, bank
) -> None:
    rt, rng = capped, random.Random(20250101)
    model: dict[tuple[str, int], Decimal] = defaultdict(
        lambda: H("0.00")
    )  # ("v"|"e", id) and league accounts
    counts: dict[str, int] = defaultdict(int)
    manager: Actor = bank["manager"]
    vols = bank["volunteers"]
    elders = bank["elders"]
    redeemed_orders: list[tuple[int, str, int, Decimal]] = []  # (order id, "v"|"e", holder, hours)

    def member(kind: str, holder: int) -> Decimal:
        return model[(kind, holder)]

    def earn(vid: int, hours: Decimal) -> None:
        kept = min(hours, max(H("0"), CAP - member("v", vid)))
        model[("v", vid)] += kept
        model[("pool", 0)] += hours - kept
        model[("issuance", 0)] -= hours
        counts["earned"] += 1
        counts["overflow"] += hours > kept

    day = datetime(2025, 1, 1, tzinfo=TZ)
    while day.year == 2025:
        # two activities a week, of varying size and length
        if day.weekday() in (1, 4):
            start = local(day, rng.choice(["09:00", "14:00"]))
            length = rng.choice([1.5, 2, 3])
            with rt.session() as s:
                activity = volunteers.publish_activity(
                    s,
                    actor=manager,
                    site_id=bank["site"],
                    title=f"{day:%m月%d日}陪伴活动",
                    starts_at=start,
                    ends_at=start + timedelta(hours=length),
                    places=rng.randint(1, 5),
                    hours=str(length),
                )
                activity_id, places = activity.id, activity.places
            joined = []
            for vid, login in rng.sample(vols, rng.randint(1, len(vols))):
                with rt.session() as s:
                    try:
                        volunteers.sign_up(
                            s, actor=login, activity_id=activity_id, now=start - timedelta(days=2)
                        )
                        joined.append((vid, login))
                    except DomainError as err:
                        assert err.code == "activity_full" and len(joined) == places
                        counts["full"] += 1
            for vid, login in joined:
                if rng.random() < 0.1:
                    continue  # did not come
                far = rng.random() < 0.15
                with rt.session() as s:
                    if far:  # checked in from the bus stop 1 km away: refused, then at the door
                        with pytest.raises(volunteers.TooFar):
                            volunteers.check_in(
                                s,
                                actor=login,
                                activity_id=activity_id,
                                latitude=SITE[0] + 0.009,
                                longitude=SITE[1],
                                now=start,
                            )
                        counts["too_far"] += 1
                with rt.session() as s:
                    signup = volunteers.check_in(
                        s,
                        actor=login,
                        activity_id=activity_id,
                        latitude=SITE[0] + 0.0005,
                        longitude=SITE[1],
                        now=start + timedelta(minutes=5),
                    )
                    signup_id = signup.id
                hours = H(str(length)) if rng.random() < 0.8 else H(str(length)) + H("0.5")
                with rt.session() as s:
                    volunteers.confirm_hours(
                        s,
                        actor=manager,
                        signup_id=signup_id,
                        hours=hours,
                        now=start + timedelta(hours=length),
                    )
                    # the organiser's second press changes nothing
                    volunteers.confirm_hours(s, actor=manager, signup_id=signup_id, hours=hours)
                earn(vid, hours)
        # transfers within the family, now and then
        if rng.random() < 0.35:
            vid_index = rng.choice([0, 1, 2])
            vid, login = vols[vid_index]
            elder_id = rng.choice(sorted(bank["family"][vid_index]))
            hours = H(rng.choice(["1", "2.5", "5", "12", "60"]))
            key = f"{day:%Y%m%d}"
            with rt.session() as s:
                try:
                    volunteers.transfer_to_family(
                        s,
                        actor=login,
                        elder_id=elder_id,
                        hours=hours,
                        key=key,
                        now=local(day, "20:00"),
                    )
                    ok = None
                except DomainError as err:
                    ok = err.code
            expected = (
                "insufficient_hours"
                if hours > member("v", vid)
                else "balance_cap_reached"
                if member("e", elder_id) + hours > CAP
                else None
            )
            assert ok == expected, (
                day,
                vid,
                elder_id,
                hours,
                member("v", vid),
                member("e", elder_id),
            )
            if ok is None:
                model[("v", vid)] -= hours
                model[("e", elder_id)] += hours
                counts["transfers"] += 1
            else:
                counts[f"refused_{ok}"] += 1
        # a volunteer tries to give hours to a stranger: refused
        if day.day == 15:
            with rt.session() as s, pytest.raises(DomainError) as err:
                volunteers.transfer_to_family(
                    s, actor=vols[3][1], elder_id=elders[4], hours="1", key=f"x{day:%m}"
                )
            assert err.value.code == "not_family"
        # redemptions: volunteers for family, staff from an elder's own hours
        if day.weekday() == 6 and rng.random() < 0.6:
            hours = H(rng.choice(["1", "2", "3"]))
            if rng.random() < 0.5:
                vid_index = rng.choice([0, 1, 2])
                vid, login = vols[vid_index]
                elder_id, payer, holder, actor = (
                    rng.choice(sorted(bank["family"][vid_index])),
                    "v",
                    vid,
                    login,
                )
            else:
                elder_id = rng.choice(elders[:3])
                payer, holder, actor = "e", elder_id, manager
            with rt.session() as s:
                try:
                    done = time_bank_services.redeem_for_service(
                        s,
                        actor=actor,
                        elder_id=elder_id,
                        service_type_code="comfort_visit",
                        hours=hours,
                        key=f"{day:%Y%m%d}",
                        now=local(day, "10:00"),
                    )
                    result, order_id = None, done.order.id
                except DomainError as err:
                    result, order_id = err.code, None
            assert result == ("insufficient_hours" if hours > member(payer, holder) else None), (
                day,
                payer,
                holder,
            )
            if result is None:
                model[(payer, holder)] -= hours
                model[("redeemed", 0)] += hours
                redeemed_orders.append((order_id, payer, holder, hours))
                counts["redeemed"] += 1
        # some redeemed services do not happen: cancelling the order gives the hours back
        if day.day == 28 and redeemed_orders and rng.random() < 0.7:
            order_id, payer, holder, hours = redeemed_orders.pop(
                rng.randrange(len(redeemed_orders))
            )
            officer = Actor(
                kind="user", name="坐席", region_code="150100000000", role=Role.AGENT, user_id=None
            )
            with rt.session() as s:
                care_orders.cancel_care_order(
                    s, actor=officer, order_id=order_id, reason="老人住院, 取消服务"
                )
            model[(payer, holder)] += hours
            model[("redeemed", 0)] -= hours
            counts["refunds"] += 1
        day += timedelta(days=1)

    # the year exercised every rule
    assert counts["earned"] > 150 and counts["overflow"] > 0 and counts["too_far"] > 0
    assert counts["transfers"] > 10 and counts["refused_insufficient_hours"] > 0
    assert (
        counts["refused_balance_cap_reached"] > 0
        and counts["redeemed"] > 5
        and counts["refunds"] > 0
    )
    with rt.session() as s:
        check = time_bank.verify_ledger(s)
        assert check.ok, check
        accounts = s.scalars(select(TimeAccount)).all()
        seen = {}
        for account in accounts:
            key = {
                time_bank.VOLUNTEER: ("v", account.holder_id),
                time_bank.ELDER: ("e", account.holder_id),
            }.get(account.kind, (account.kind, 0))
            seen[key] = account.balance
            assert account.balance == model[key], (key, account.balance, model[key])
            # the cap limits what earning and giving bring; a refund gives back what was spent
            assert account.kind not in time_bank.MEMBER_KINDS or account.balance >= 0
        assert {k for k, v in model.items() if v != 0} <= set(seen)
        assert sum(model.values()) == 0 and sum(seen.values()) == 0
        # every transaction balances, and nothing was posted twice
        keys = s.scalars(select(TimeTransaction.key)).all()
        assert len(keys) == len(set(keys))
        for txn in s.scalars(select(TimeTransaction)):
            assert sum(e.amount for e in txn.entries) == 0, txn.key
        assert s.scalar(select(TimeEntry.id).where(TimeEntry.amount == 0)) is None
