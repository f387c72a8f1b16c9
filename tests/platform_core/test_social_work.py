"""Social work: a referral from the call (the screen pop's two clicks) or from an officer, the
region's queue, assignment within a worker's caseload, intake, needs assessment, plan, visits
with their notes (sealed), review and closing; only the case's worker works it; overdue visits
and caseloads for the supervising officers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.flows import key_rotation as rotation
from platform_core.flows.care_overview import care_status_for_elder, start_care_process
from platform_core.social_work import service as social
from platform_core.social_work.models import SocialCase
from tests.platform_core.care_support import agent, make_elder
from tests.platform_core.community_support import account

CALL = "1741900000.7"
NEEDS = {
    "mental": {"level": "high", "note": "老伴去世后情绪低落, 夜间失眠"},
    "social": {"level": "medium", "note": "子女在外地, 很少来往"},
    "daily_living": {"level": "none", "note": ""},
}


def officer(region: str = "150100000000") -> Actor:
    return Actor(kind="user", name="民政赵敏", region_code=region, role=Role.OFFICER)


def worker(s, *, region: str = "150102000000", cap: int | None = None) -> Actor:
    actor = account(s, role=Role.SOCIAL_WORKER, region_code=region)
    social.register_worker(
        s,
        actor=officer(region[:4] + "00000000"),
        user_id=actor.user_id,
        organisation="青城社工站",
        qualification="social_worker",
        max_caseload=cap,
    )
    return actor


def test_a_case_from_the_call_to_its_closing(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, name="格日勒", region_code="150102003001")
        me = worker(s)
        started = start_care_process(
            s, actor=agent(), elder_id=elder.id, process="social_work", source_ref=CALL
        )
        assert started["status"]["state"] == "referred" and started["status"]["can_start"] is False
        case_id = started["started"]["case_id"]
        case = s.get(SocialCase, case_id)
        assert (case.source, case.source_ref, case.region_code) == ("hotline", CALL, "150102003001")
        assert case.case_no.startswith("SG") and case.case_no.endswith(f"{case.id:05d}")
        with pytest.raises(Conflict) as again:
            start_care_process(s, actor=agent(), elder_id=elder.id, process="social_work")
        assert again.value.code == "social_case_open"
        pop = {m["process"]: m for m in care_status_for_elder(s, elder_id=elder.id)["modules"]}
        assert pop["social_work"]["why_not"] == "已有进行中的社工个案"
        worker_id = social.worker_of(s, user_id=me.user_id).id
        social.assign_case(s, actor=officer(), case_id=case_id, worker_id=worker_id)
        social.accept_case(s, actor=me, case_id=case_id, note="电话联系老人, 同意入户")
        social.assess_needs(s, actor=me, case_id=case_id, needs=NEEDS)
        social.set_plan(
            s,
            actor=me,
            case_id=case_id,
            goals=["情绪稳定, 睡眠改善", "每月参加一次社区活动"],
            services=["visiting", "counselling", "group"],
            visit_interval_days=7,
        )
        today = clock.today_in(s)
        assert s.get(SocialCase, case_id).next_visit_due == today + timedelta(days=7)
        visit = social.record_visit(
            s,
            actor=me,
            case_id=case_id,
            kind="home",
            notes="入户陪伴聊天一小时, 老人愿意参加书法小组",
        )
        assert visit.next_due == today + timedelta(days=7)
        social.review_case(
            s, actor=me, case_id=case_id, progress="情绪明显好转", decision="continue"
        )
        assert social.caseloads(s, region_code="150100000000")[0]["open_cases"] == 1
        detail = social.case_detail(s, actor=me, case_id=case_id)
        assert detail["needs"]["mental"] == {
            "level": "high",
            "note": "老伴去世后情绪低落, 夜间失眠",
        }
        assert detail["plan"]["services"] == ["visiting", "counselling", "group"]
        assert [v["kind_label"] for v in detail["visits"]][-1] == "入户探访"
        assert "回顾评估" in [v["kind_label"] for v in detail["visits"]]
        assert [st["label"] for st in detail["steps"]] == [
            "转介",
            "接案",
            "评估需求",
            "制定服务计划",
            "记录探访",
            "回顾评估",
        ]
        social.close_case(
            s, actor=me, case_id=case_id, reason="goals_met", note="目标达成, 转入常规探访"
        )
        closed = s.get(SocialCase, case_id)
        assert (closed.status, closed.close_reason, closed.next_visit_due) == (
            "closed",
            "goals_met",
            None,
        )
        assert social.caseloads(s, region_code="150100000000")[0]["open_cases"] == 0
        # a new referral may follow once the case is closed
        again_case = social.refer_case(
            s, actor=officer(), elder_id=elder.id, reason="复发", source="officer"
        )
        assert again_case.id != case_id
        # the notes are sealed at rest and every reading is audited
        raw = s.execute(
            text("SELECT needs_sealed, plan_sealed FROM social_cases WHERE id = :i"), {"i": case_id}
        ).one()
        assert "失眠" not in raw[0] and "书法" not in raw[1]
        assert audit.list_records(s, action="social_case.view", target_id=str(elder.id))
        assert set(rotation.count_stale(s)) >= {
            "social_cases.referral_sealed",
            "social_cases.needs_sealed",
            "social_case_visits.notes_sealed",
        }


def test_only_the_cases_worker_works_it_and_refusals_are_audited(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, region_code="150102003001")
        mine, other = worker(s), worker(s)
        far = worker(s, region="150202000000")
        case = social.refer_case(s, actor=agent(), elder_id=elder.id, reason="独居无人照看")
        social.accept_case(s, actor=mine, case_id=case.id)  # taken from the area's queue
        for actor, expected in ((other, social.NotYourCase), (far, OutOfRegion)):
            with pytest.raises(expected):
                social.record_visit(s, actor=actor, case_id=case.id, kind="phone", notes="越权记录")
            with pytest.raises(expected):
                social.case_detail(s, actor=actor, case_id=case.id)
        with pytest.raises(PermissionDenied):
            social.assign_case(s, actor=agent(), case_id=case.id, worker_id=1)
        with pytest.raises(IllegalTransition):
            social.set_plan(s, actor=mine, case_id=case.id, goals=["x"], services=["visiting"])
        with pytest.raises(ValidationFailed) as bad:
            social.assess_needs(s, actor=mine, case_id=case.id, needs={"mental": {"level": "none"}})
        assert bad.value.code == "no_needs"
        with pytest.raises(ValidationFailed):
            social.assess_needs(
                s, actor=mine, case_id=case.id, needs={"astrology": {"level": "high"}}
            )
        case_id = case.id
    with regions.session() as s:
        reasons = sorted(
            r.detail["reason"]
            for r in audit.list_records(s, target_id=str(case_id))
            if r.result == "denied"
        )
        assert reasons.count("not_your_case") == 2 and reasons.count("out_of_region") == 2
        with pytest.raises(OutOfRegion):
            social.case_detail(s, actor=officer("150200000000"), case_id=case_id)


def test_caseload_limits_assignment_and_claiming(regions) -> None:
    with regions.session() as s:
        me = worker(s, cap=1)
        first, second = (make_elder(s, region_code="150102003001") for _ in range(2))
        a = social.refer_case(s, actor=agent(), elder_id=first.id, reason="需要陪伴")
        b = social.refer_case(
            s, actor=agent(), elder_id=second.id, reason="需要陪伴", urgency="urgent"
        )
        assert [c.id for c in social.waiting_referrals(s, region_code="150100000000")] == [
            b.id,
            a.id,
        ]
        worker_id = social.worker_of(s, user_id=me.user_id).id
        social.assign_case(s, actor=officer(), case_id=a.id, worker_id=worker_id)
        with pytest.raises(social.CaseloadFull) as full:
            social.assign_case(s, actor=officer(), case_id=b.id, worker_id=worker_id)
        assert full.value.details == {"load": 1, "max_caseload": 1}
        with pytest.raises(social.CaseloadFull):
            social.accept_case(s, actor=me, case_id=b.id)
        social.assign_case(
            s,
            actor=officer(),
            case_id=b.id,
            worker_id=worker_id,
            override_reason="紧急个案, 暂由其兼管",
        )
        assert social.caseload(s, worker_id=worker_id) == 2
        social.accept_case(s, actor=me, case_id=a.id)
        social.decline_case(s, actor=me, case_id=a.id, reason="与老人家属相识, 需回避")
        back = s.get(SocialCase, a.id)
        assert (back.status, back.worker_id) == ("referred", None)
        assert [c.id for c in social.waiting_referrals(s, region_code="150100000000")] == [a.id]


def test_overdue_visits_are_listed_and_announced(regions) -> None:
    seen: list[dict] = []
    regions.event_bus.subscribe(
        lambda env: seen.append(env) if env["type"] == "SocialVisitOverdue" else None
    )
    with regions.session() as s:
        me = worker(s)
        elder = make_elder(s, region_code="150102003001")
        case = social.refer_case(s, actor=agent(), elder_id=elder.id, reason="需要探访")
        social.accept_case(s, actor=me, case_id=case.id)
        social.assess_needs(s, actor=me, case_id=case.id, needs=NEEDS)
        social.set_plan(
            s,
            actor=me,
            case_id=case.id,
            goals=["按期探访"],
            services=["visiting"],
            visit_interval_days=14,
        )
        today = clock.today_in(s)
        assert (
            social.overdue_visits(s, region_code="150100000000", today=today + timedelta(days=14))
            == []
        )
        late = social.overdue_visits(
            s, region_code="150100000000", today=today + timedelta(days=17)
        )
        assert [(o.case.id, o.days_late) for o in late] == [(case.id, 3)]
        assert (
            social.overdue_visits(s, region_code="150200000000", today=today + timedelta(days=17))
            == []
        )
        load = social.caseloads(s, region_code="150100000000", today=today + timedelta(days=17))
        assert load[0]["overdue_visits"] == 1
        assert (
            social.announce_overdue(s, region_code="150000000000", today=today + timedelta(days=17))
            == 1
        )
        summary = social.case_summary(
            s, s.get(SocialCase, case.id), today=today + timedelta(days=17)
        )
        assert (summary["overdue"], summary["days_late"]) == (True, 3)
        case_id, worker_user = case.id, me.user_id
    regions.event_bus.drain()
    assert [
        (e["data"]["case_id"], e["data"]["worker_user_id"], e["data"]["days_late"]) for e in seen
    ] == [(case_id, worker_user, 3)]


def test_a_worker_account_is_registered_once_by_an_officer_of_its_region(regions) -> None:
    with regions.session() as s:
        me = account(s, role=Role.SOCIAL_WORKER, region_code="150102000000")
        an_agent = account(s, role=Role.AGENT, region_code="150102000000")
        with pytest.raises(ValidationFailed):
            social.register_worker(s, actor=officer(), user_id=an_agent.user_id)
        with pytest.raises(OutOfRegion):
            social.register_worker(s, actor=officer("150200000000"), user_id=me.user_id)
        social.register_worker(s, actor=officer(), user_id=me.user_id)
        with pytest.raises(Conflict):
            social.register_worker(s, actor=officer(), user_id=me.user_id)
        assert s.scalar(select(SocialCase.id)) is None
