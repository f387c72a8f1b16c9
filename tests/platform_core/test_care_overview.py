"""From a call: the screen pop shows where each care process stands for the elder and which can
be started, and the agent starts any of them in one step with the call's defaults."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from platform_core import clock
from platform_core.assessment import requests as assessment_requests
from platform_core.assessment import service as assessments
from platform_core.care_beds import service as beds
from platform_core.errors import DomainError
from platform_core.flows.care_overview import PROCESSES, care_status_for_elder, start_care_process
from platform_core.gov_purchase import service as gp
from platform_core.home_adaptation import service as ha
from platform_core.meal_aid import service as meals
from platform_core.orders import service as orders
from platform_core.regions.service import load_dictionary
from tests.platform_core.care_support import (
    MODERATE_46,
    add_provider,
    agent,
    install_catalogue,
    jobs_settled,
    make_elder,
    officer,
)

pytestmark = pytest.mark.usefixtures(jobs_settled.__name__)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 3, 10)
EARLY = datetime(2025, 3, 9, 12, 0, tzinfo=TZ)  # the day before: DAY's meals are bookable
CALL = "1741500000.42"


def meal_point(s, *, name="锡林路社区助餐点", region="150102003001", delivers=True, provider=None):
    point = meals.open_meal_point(
        s,
        actor=officer(),
        name=name,
        region_code=region,
        address="锡林路 8 号",
        meal_times={"lunch": "11:30", "dinner": "17:30"},
        delivers=delivers,
        provider_id=provider.id if provider else None,
    )
    for meal in ("lunch", "dinner"):
        meals.publish_menu(
            s,
            actor=officer(),
            meal_point_id=point.id,
            served_on=DAY,
            meal=meal,
            dishes="米饭、番茄炒蛋",
            price=Decimal("15"),
        )
    return point


def by_process(overview: dict) -> dict[str, dict]:
    return {m["process"]: m for m in overview["modules"]}


def test_the_screen_pop_lists_every_process_and_what_can_start(any_runtime) -> None:
    with any_runtime.session() as s:
        load_dictionary(s)
        install_catalogue(s)
        elder = make_elder(s, categories=("subsistence",))
        overview = care_status_for_elder(s, elder_id=elder.id, now=EARLY)
        assert [m["process"] for m in overview["modules"]] == list(PROCESSES)
        assert [m["module"] for m in overview["modules"]] == [
            "assessment",
            "meal_aid",
            "care_beds",
            "home_adaptation",
            "gov_purchase",
            "social_work",
        ]
        states = {p: (m["state"], m["can_start"]) for p, m in by_process(overview).items()}
        assert states == {
            "assessment": ("none", True),
            "meal_aid": ("none", False),  # no meal point serves the elder yet
            "care_bed": ("none", True),
            "home_adaptation": ("none", True),
            "gov_purchase": ("none", True),
            "social_work": ("none", True),
        }
        assert by_process(overview)["meal_aid"]["why_not"] == "附近助餐点暂无可预订的餐次"
        meal_point(s)
        meal = by_process(care_status_for_elder(s, elder_id=elder.id, now=EARLY))["meal_aid"]
        assert (meal["can_start"], meal["start_label"]) == (True, "预订助餐")


def test_an_agent_starts_each_process_from_the_call_in_one_step(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        point = meal_point(s, provider=add_provider(s))
        elder = make_elder(s, categories=("subsistence",))
        results = {
            process: start_care_process(
                s, actor=agent(), elder_id=elder.id, process=process, source_ref=CALL, now=EARLY
            )
            for process in PROCESSES
        }
        assert {p: r["status"]["state"] for p, r in results.items()} == {
            "assessment": "requested",
            "meal_aid": "booked",
            "care_bed": "applied",
            "home_adaptation": "applied",
            "gov_purchase": "submitted",
            "social_work": "referred",
        }
        # the call is each one's origin
        request = assessment_requests.find_open_request(s, elder_id=elder.id)
        assert (request.source, request.source_ref, request.reason) == ("call", CALL, "first")
        meal = results["meal_aid"]["started"]
        assert (meal["meal_point_id"], meal["served_on"], meal["meal"], meal["mode"]) == (
            point.id,
            DAY.isoformat(),
            "午餐",
            "送餐",
        )
        order = orders.get_order(s, order_id=meal["order_id"])
        assert (order.source, order.source_ref, order.service_type_code) == (
            "call",
            CALL,
            "meal_aid_delivery",
        )
        bed = beds.get_care_bed(s, care_bed_id=results["care_bed"]["started"]["care_bed_id"])
        assert (bed.source, bed.call_id) == ("referral", CALL)
        case = ha.get_case(s, case_id=results["home_adaptation"]["started"]["case_id"])
        assert case.call_id == CALL
        app = gp.get_application(
            s, application_id=results["gov_purchase"]["started"]["application_id"]
        )
        assert (app.source, app.call_id, app.applicant_name, app.applicant_relation) == (
            "call",
            CALL,
            elder.name,
            "本人",
        )
        assert results["gov_purchase"]["started"]["notice_title"]
        # the screen pop now says what is under way; only another meal can still be booked
        after = by_process(care_status_for_elder(s, elder_id=elder.id, now=EARLY))
        assert {p: m["can_start"] for p, m in after.items()} == {
            "assessment": False,
            "meal_aid": True,
            "care_bed": False,
            "home_adaptation": False,
            "gov_purchase": False,
            "social_work": False,
        }
        assert after["care_bed"]["why_not"] == "已有进行中的家庭养老床位"
        assert after["meal_aid"]["upcoming"][0]["order_no"] == order.order_no
        elder_id = elder.id
    # a second click is refused by the module, naming what is already open
    for process, code in (
        ("assessment", "assessment_request_open"),
        ("care_bed", "care_bed_already_open"),
        ("home_adaptation", "adaptation_already_open"),
        ("gov_purchase", "application_already_open"),
        ("social_work", "social_case_open"),
    ):
        with pytest.raises(DomainError) as err, regions.session() as s:
            start_care_process(s, actor=agent(), elder_id=elder_id, process=process, now=EARLY)
        assert err.value.code == code
    with pytest.raises(DomainError) as err, regions.session() as s:
        start_care_process(s, actor=agent(), elder_id=elder_id, process="time_bank")
    assert err.value.code == "unknown_care_process"


def test_the_meal_defaults_to_the_nearest_point_and_the_soonest_open_meal(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        # a point of another banner of the league, then one in the elder's own community
        far = meal_point(s, name="赛罕区助餐点", region="150105001001")
        near = meal_point(s, name="锡林路社区助餐点", delivers=False)
        elder = make_elder(s)
        lunch_closed = datetime(2025, 3, 10, 10, 0, tzinfo=TZ)  # 90 min before lunch
        first = start_care_process(
            s, actor=agent(), elder_id=elder.id, process="meal_aid", now=lunch_closed
        )["started"]
        assert (first["meal_point_id"], first["meal"], first["mode"]) == (near.id, "晚餐", "堂食")
        assert "order_id" not in first  # dine-in: no service order
        # the agent picks the other point, which delivers; the dinner there is free
        second = start_care_process(
            s,
            actor=agent(),
            elder_id=elder.id,
            process="meal_aid",
            options={"meal_point_id": far.id},
            now=EARLY,
        )["started"]
        assert (second["meal_point_id"], second["meal"], second["mode"]) == (
            far.id,
            "午餐",
            "送餐",
        )
        # lunch and dinner of the only day with menus are booked: nothing is left
        with pytest.raises(DomainError) as err:
            start_care_process(s, actor=agent(), elder_id=elder.id, process="meal_aid", now=EARLY)
        assert err.value.code == "no_bookable_meal"


def test_a_recorded_assessment_answers_the_request(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s)
        request = assessment_requests.request_assessment(
            s, actor=agent(), elder_id=elder.id, source_ref=CALL
        )
        assert request.reason == "first"
        assessments.record_assessment(
            s,
            actor=officer(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=clock.today() - timedelta(days=1),
            reason="first",
            assessors=["王敏", "赵云"],
        )
        assert (request.status, request.assessment_id) == (
            "done",
            assessments.current_assessment(s, elder_id=elder.id).id,
        )
        status = assessments.status_for_elder(s, elder_id=elder.id)
        assert (status["state"], status["grade_label"]) == ("current", "中度失能")
        # a later call about the same elder asks for an immediate re-assessment
        again = assessment_requests.request_assessment(s, actor=agent(), elder_id=elder.id)
        assert again.reason == "immediate"
        assert assessments.status_for_elder(s, elder_id=elder.id)["request"]["reason_label"] == (
            "即时评估"
        )
        assessment_requests.cancel_request(
            s, actor=agent(), request_id=again.id, reason="家属已自行送医院评估"
        )
        assert assessments.status_for_elder(s, elder_id=elder.id)["state"] == "current"


def test_nothing_starts_for_an_elder_who_died(regions) -> None:
    with regions.session() as s:
        install_catalogue(s)
        meal_point(s)
        elder = make_elder(s)
        elder.status, elder.deceased_on = "deceased", date(2025, 3, 1)
        s.flush()
        overview = care_status_for_elder(s, elder_id=elder.id, now=EARLY)
        assert {m["can_start"] for m in overview["modules"]} == {False}
        assert {m["why_not"] for m in overview["modules"]} == {"老人档案非在册状态"}
        for process in PROCESSES:
            with pytest.raises(DomainError) as err:
                start_care_process(s, actor=agent(), elder_id=elder.id, process=process, now=EARLY)
            assert err.value.code == "elder_not_active", process
