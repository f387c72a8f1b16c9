"""Return visits and provider evaluation: the satisfaction call kept against order, provider and
staff; measures -> score -> grade -> status, applied to the provider and obeyed by dispatch;
reports printed to PDF and Excel; the monthly job."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from platform_core.db import utcnow
from platform_core.dispatch import service as dispatch
from platform_core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from platform_core.evaluation import jobs as evaluation_jobs
from platform_core.evaluation import report
from platform_core.evaluation import service as evaluation
from platform_core.orders import return_visits
from platform_core.orders import service as orders
from platform_core.orders.periods import month_of
from platform_core.providers import service as providers
from tests.order_steps import confirm_by_elder, time_at_home
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import ADMIN, AGENT, HOME, OFFICER, backdate, order_of

rt, world = support.rt, support.world  # the shared fixtures
SOON = timedelta(days=1)


def serve(
    rt,
    provider,
    elder_id: int,
    *,
    late: bool = False,
    rating: int = 5,
    complaint: bool = False,
    service: str = "care_cleaning",
) -> int:
    """One order taken by ``provider`` through to the elder's rating (and a complaint)."""
    with rt.session() as s:
        o = orders.open_order(
            s, actor=AGENT, elder_id=elder_id, service_type_code=service, source="call"
        )
        orders.submit_for_dispatch(s, actor=AGENT, order_id=o.id)
        orders.dispatch_to(s, actor=AGENT, order_id=o.id, provider_id=provider.id)
        p = provider.actor
        orders.accept(s, actor=p, order_id=o.id, staff_id=provider.staff_id)
        orders.start_travel(s, actor=p, order_id=o.id)
        if late:
            o.arrival_due_at = utcnow() - timedelta(minutes=5)
        orders.check_in(s, actor=p, order_id=o.id, latitude=HOME[0], longitude=HOME[1])
        time_at_home(s, o.id)
        orders.check_out(
            s, actor=p, order_id=o.id, latitude=HOME[0], longitude=HOME[1], report="完成"
        )
        confirm_by_elder(s, actor=p, order_id=o.id)
        orders.rate(s, actor=AGENT, order_id=o.id, score=rating)
        if complaint:
            orders.file_complaint(s, actor=AGENT, order_id=o.id, text="服务人员迟到且态度差")
        return o.id


# ---------------------------------------------------------------- return visits


def test_return_visits_are_due_after_completion_and_retried_when_unreachable(world) -> None:
    rt = world.rt
    oid = serve(rt, world.near, world.elder)
    with rt.session() as s:
        assert return_visits.list_due(s, region_code="150100000000") == []  # too soon (24 h)
    backdate(rt, oid, "completed_at", minutes=25 * 60)
    with rt.session() as s:
        (due,) = return_visits.list_due(s, region_code="150100000000")
        assert (
            due["order_id"] == oid
            and due["attempts"] == 0
            and due["elder_phone"].startswith("139****")
        )
        assert (
            return_visits.list_due(s, region_code="150200000000") == []
        )  # another league's agents
        first = return_visits.record_visit(s, actor=AGENT, order_id=oid, result="unreachable")
    assert first.attempt_no == 1 and order_of(rt, oid).status == "rated"
    with rt.session() as s:
        assert return_visits.list_due(s, region_code="150100000000") == []  # tried just now
        later = utcnow() + timedelta(hours=5)
        assert [
            d["attempts"] for d in return_visits.list_due(s, region_code="150100000000", now=later)
        ] == [1]
        return_visits.record_visit(s, actor=AGENT, order_id=oid, result="unreachable")
        third = return_visits.record_visit(s, actor=AGENT, order_id=oid, result="unreachable")
    assert third.attempt_no == 3 and order_of(rt, oid).status == "return_visited"
    assert order_of(rt, oid).return_visit_result == "unreachable"


def test_a_reached_elder_answers_the_survey_kept_against_provider_and_staff(world) -> None:
    rt = world.rt
    oid = serve(rt, world.near, world.elder, rating=4)
    with rt.session() as s:
        with pytest.raises(ValidationFailed) as err:
            return_visits.record_visit(s, actor=AGENT, order_id=oid, result="satisfied")
        assert err.value.code == "satisfaction_required"
        with pytest.raises(ValidationFailed) as err:
            return_visits.record_visit(
                s,
                actor=AGENT,
                order_id=oid,
                result="satisfied",
                satisfaction=5,
                answers={"attitude": 9},
            )
        assert err.value.code == "invalid_survey"
    with rt.session() as s:
        visit = return_visits.record_visit(
            s,
            actor=AGENT,
            order_id=oid,
            result="basically_satisfied",
            satisfaction=4,
            answers={"on_time": True, "attitude": 5, "quality": 4, "use_again": True},
            note="希望周末也能上门",
        )
        assert (visit.provider_id, visit.staff_id, visit.satisfaction) == (
            world.near.id,
            world.near.staff_id,
            4,
        )
    order = order_of(rt, oid)
    assert order.status == "return_visited" and order.return_visit_note == "希望周末也能上门"
    with rt.session() as s, pytest.raises(IllegalTransition):
        return_visits.record_visit(s, actor=AGENT, order_id=oid, result="satisfied", satisfaction=5)
    with rt.session() as s, pytest.raises(PermissionDenied):
        return_visits.record_visit(
            s, actor=world.near.actor, order_id=oid, result="satisfied", satisfaction=5
        )


# ---------------------------------------------------------------- evaluation


def period():
    now = utcnow()
    return now - SOON, now + SOON


def test_measures_score_and_grade_of_a_good_and_a_poor_provider(world) -> None:
    rt = world.rt
    for _ in range(5):
        serve(rt, world.near, world.elder, rating=5)
    poor = [
        serve(rt, world.middle, world.elder, late=True, rating=2),
        serve(rt, world.middle, world.elder, late=True, rating=1, complaint=True),
        serve(rt, world.middle, world.elder, rating=3, complaint=True),
        serve(rt, world.middle, world.elder, late=True, rating=2),
        serve(rt, world.middle, world.elder, rating=3),
    ]
    with rt.session() as s:
        return_visits.record_visit(
            s, actor=AGENT, order_id=poor[0], result="dissatisfied", satisfaction=1
        )
        evaluation.record_credit_event(
            s,
            actor=OFFICER,
            provider_id=world.middle.id,
            kind="violation",
            points=-15,
            reason="无证人员上门",
        )
    start, end = period()
    with rt.session() as s:
        good = evaluation.evaluate_provider(
            s, actor=OFFICER, provider_id=world.near.id, start=start, end=end, label="2025-03"
        )
        bad = evaluation.evaluate_provider(
            s, actor=OFFICER, provider_id=world.middle.id, start=start, end=end, label="2025-03"
        )
    m = bad.metrics
    assert (m["service_count"], m["on_time_due"], m["on_time"]) == (5, 5, 2)
    assert m["on_time_rate"] == pytest.approx(0.4)
    assert (m["complaints"], m["dissatisfied"], m["ratings"]) == (2, 1, 5)
    assert m["avg_rating"] == pytest.approx(2.2)
    assert m["credit_points"] == -15 and m["credit_score"] == 65
    # 30*0.4 + 30*((11+1)/6 - 1)/4 + 20*max(0, 1 - 0.4/0.2) + 20*0.65
    assert bad.parts == {"on_time": 12.0, "satisfaction": 7.5, "complaints": 0.0, "credit": 13.0}
    assert (
        bad.score == 32.5 and bad.grade == "D" and bad.status_after == "suspended" and bad.applied
    )
    assert good.metrics["on_time_rate"] == 1.0 and good.score == 96.0 and good.grade == "A"
    with rt.session() as s:
        near = providers.get_provider(s, provider_id=world.near.id)
        middle = providers.get_provider(s, provider_id=world.middle.id)
        assert (near.grade, near.credit_score, near.status) == ("A", 80.0, "normal")
        assert (middle.grade, middle.credit_score, middle.status) == ("D", 65.0, "suspended")
        assert middle.status_reason.startswith("服务商评估 2025-03")


def test_the_grade_feeds_dispatch(world) -> None:
    rt = world.rt
    for _ in range(5):
        serve(rt, world.near, world.elder, late=True, rating=2)
    start, end = period()
    with rt.session() as s:
        row = evaluation.evaluate_provider(
            s, actor=OFFICER, provider_id=world.near.id, start=start, end=end, label="on demand"
        )
    assert row.status_after in ("warning", "reduced") and row.grade in ("C", "D")
    oid = support.open_order(rt, world.elder)
    with rt.session() as s:
        ranking = dispatch.rank_for(s, orders.get_order(s, order_id=oid))
    near = [c for c in ranking.ranked if c.facts.provider_id == world.near.id][0]
    assert ranking.ranked[0].facts.provider_id == world.middle.id  # no longer first though nearest
    assert near.parts["status"] < 0 and near.parts["grade"] < ranking.ranked[0].parts["grade"]


def test_few_orders_or_a_hand_made_suspension_are_left_alone(world) -> None:
    rt = world.rt
    serve(rt, world.near, world.elder, late=True, rating=1)
    start, end = period()
    with rt.session() as s:
        row = evaluation.evaluate_provider(
            s, actor=OFFICER, provider_id=world.near.id, start=start, end=end, label="2025-03"
        )
        assert not row.applied and row.status_after == "normal" and "不足" in row.note
        providers.set_status(
            s, actor=ADMIN, provider_id=world.far.id, status="suspended", reason="消防检查不合格"
        )
    for _ in range(5):
        serve(rt, world.middle, world.elder)
    with rt.session() as s:
        providers.set_status(
            s, actor=ADMIN, provider_id=world.middle.id, status="suspended", reason="安全事故调查中"
        )
        row = evaluation.evaluate_provider(
            s, actor=OFFICER, provider_id=world.middle.id, start=start, end=end, label="2025-03"
        )
        assert row.applied and row.grade == "A" and row.status_after == "suspended"
        assert "人工暂停" in row.note


def test_only_officers_of_the_region_evaluate_and_record_credit(world) -> None:
    rt = world.rt
    start, end = period()
    baotou = support.OFFICER.__class__(
        kind="user",
        name="包头监管",
        region_code="150200000000",
        role=support.OFFICER.role,
        user_id=30,
    )
    for actor in (AGENT, world.near.actor, baotou):
        with pytest.raises(PermissionDenied), rt.session() as s:
            evaluation.evaluate_provider(
                s, actor=actor, provider_id=world.near.id, start=start, end=end, label="x"
            )
        with pytest.raises(PermissionDenied), rt.session() as s:
            evaluation.record_credit_event(
                s, actor=actor, provider_id=world.near.id, kind="commend", points=5, reason="锦旗"
            )
    with rt.session() as s:
        from platform_core.audit import service as audit

        refused = [
            r for r in audit.list_records(s, limit=100) if r.action.startswith("evaluation.")
        ]
        assert len(refused) == 6 and all(r.result == "denied" for r in refused)


def test_reports_print_to_pdf_and_excel(world) -> None:
    rt = world.rt
    for _ in range(5):
        serve(rt, world.near, world.elder)
    month = month_of(utcnow(), rt.settings.timezone)
    with rt.session() as s:
        rows = evaluation.evaluate_month(s, actor=OFFICER, month=month)
        ids = [r.id for r in rows]
        assert {r.provider_id for r in rows} == {
            world.near.id,
            world.middle.id,
            world.far.id,
            world.saihan.id,
        }
        near_row = next(r for r in rows if r.provider_id == world.near.id)
        pdf = report.render_pdf(s, actor=OFFICER, evaluation_id=near_row.id)
        xlsx = report.render_xlsx(s, actor=OFFICER, evaluation_ids=ids)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "服务商评估报告" in text and world.near.name in text and "按时到场率" in text
    assert f"评估期间 {month}" in text
    sheet = load_workbook(io.BytesIO(xlsx))["评估汇总"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["评估编号", "服务商", "期间", "得分", "等级"]
    by_name = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_name[world.near.name][3] == near_row.score and by_name[world.near.name][4] == "A"
    assert len(by_name) == 4
    with rt.session() as s:
        from platform_core.audit import service as audit

        assert len(audit.list_records(s, action="evaluation.export")) == 2


def test_the_monthly_job_evaluates_last_month_and_schedules_the_next(world) -> None:
    rt = world.rt
    with rt.session() as s:
        assert evaluation_jobs.monthly_evaluation("2025-02") == 4
    nxt = evaluation_jobs.next_run(utcnow(), rt.settings.timezone)
    jobs = [j for j in rt.jobs._heap if j.job_id == f"evaluation-{nxt:%Y-%m}"]
    assert jobs and jobs[0].run_at == pytest.approx(nxt.timestamp())
    assert nxt.day == 1 and nxt.hour == 2
    with rt.session() as s:
        assert (
            len(evaluation.list_evaluations(s, region_code="150000000000", period_label="2025-02"))
            == 4
        )
