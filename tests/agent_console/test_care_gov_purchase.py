"""The government-purchase desk over HTTP: the queue by region with filters and pages, each step
a page action by the role that takes it, the notice of each step printable, refusals shown with
their reason, another region's officer refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from platform_core.audit.models import AuditRecord
from platform_core.gov_purchase import service as gp
from platform_core.gov_purchase.models import GovPurchaseApplication
from tests.agent_console.care_office_support import CareWorld, care_world  # noqa: F401
from tests.agent_console.conftest import login
from tests.platform_core.care_support import agent, make_elder


def _client(app, username: str):  # noqa: ANN202
    client = app.test_client()
    return client, login(client, username)


def _post(client, token: str, url: str, **form):  # noqa: ANN001, ANN202
    return client.post(url, data={"csrf_token": token, **form})


def _app(cw: CareWorld) -> GovPurchaseApplication:
    with cw.runtime.session() as s:
        app = s.scalar(select(GovPurchaseApplication))
        s.expunge(app)
        return app


def _past_publicity(cw: CareWorld, app_id: int) -> None:
    """The publicity period has run its course (the calendar moved on)."""
    with cw.runtime.session() as s:
        app = s.get(GovPurchaseApplication, app_id)
        days = (app.publicity_ends_on - app.publicity_starts_on).days + 1
        app.publicity_starts_on -= timedelta(days=days)
        app.publicity_ends_on -= timedelta(days=days)


def test_the_chain_from_counter_to_approval_with_a_notice_at_each_step(
    app,
    care_world: CareWorld,  # noqa: F811
) -> None:
    cw = care_world
    worker, token = _client(app, "community_hhht")
    assert worker.get("/care").headers["Location"].endswith("/care/gov-purchase")
    resp = _post(
        worker,
        token,
        "/care/gov-purchase",
        id_number=cw.id_numbers["hhht"],
        applicant="王小明",
        relation="子女",
    )
    assert resp.status_code == 302
    app_id = _app(cw).id
    url = f"/care/gov-purchase/{app_id}"
    page = worker.get(url).get_data(as_text=True)
    assert "已申请" in page and "巴特尔" in page and "申请回执" in page
    assert cw.id_numbers["hhht"] not in page  # masked until revealed
    for action in ("accept", "pass_first_review", "record_assessment", "start_publicity"):
        assert _post(worker, token, f"{url}/{action}").status_code == 302, action
    page = worker.get(url).get_data(as_text=True)
    assert "公示中" in page and "期满后方可批准" in page
    # the assessment the step linked: its report, read from the application
    assert f"{url}/assessment.pdf" in page
    report = worker.get(f"{url}/assessment.pdf")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    assert report.headers["Cache-Control"] == "no-store"
    # the decision is the officer's: not offered to the community worker, refused if sent
    assert "gp-do-approve" not in page
    assert _post(worker, token, f"{url}/approve").status_code == 403

    officer, otoken = _client(app, "officer_hhht")
    resp = _post(officer, otoken, f"{url}/approve")
    assert resp.status_code == 409 and "期满后方可批准" in resp.get_data(as_text=True)
    _past_publicity(cw, app_id)
    assert _post(officer, otoken, f"{url}/approve").status_code == 302
    page = officer.get(url).get_data(as_text=True)
    assert "已批准" in page and "200.00 元" in page
    kinds = re.findall(r'data-testid="notice-pdf-(\w+)"', page)
    assert kinds == [
        "submitted",
        "accepted",
        "first_reviewed",
        "assessed",
        "in_publicity",
        "approved",
    ]
    with cw.runtime.session() as s:
        notice = gp.get_application(s, application_id=app_id).notices[-1]
        notice_id, number = notice.id, notice.number
    pdf = officer.get(f"/care/gov-purchase/notices/{notice_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and pdf.headers["Cache-Control"] == "no-store"
    with cw.runtime.session() as s:
        actions = [r.action for r in s.scalars(select(AuditRecord).order_by(AuditRecord.id))]
        printed = s.scalar(
            select(AuditRecord).where(AuditRecord.action == "gov_purchase.print_notice")
        )
    for step in (
        "apply",
        "accept",
        "pass_first_review",
        "record_assessment",
        "start_publicity",
        "approve",
    ):
        assert f"gov_purchase.{step}" in actions
    assert "gov_purchase.view_application" in actions
    assert "assessment.export" in actions
    assert printed.detail == {"notice": number}


def test_a_refusal_needs_its_reason_and_prints_it(app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    with cw.runtime.session() as s:
        app_id = gp.apply(
            s, actor=agent(), elder_id=cw.world.elders["hhht"], applicant_name="本人"
        ).id
    officer, token = _client(app, "officer_hhht")
    url = f"/care/gov-purchase/{app_id}"
    assert _post(officer, token, f"{url}/accept").status_code == 302
    resp = _post(officer, token, f"{url}/reject", reason="")
    assert resp.status_code == 409 and "请填写不予批准的理由" in resp.get_data(as_text=True)
    assert _post(officer, token, f"{url}/reject", reason="家庭收入超过标准").status_code == 302
    page = officer.get(url).get_data(as_text=True)
    assert "不予批准" in page and "家庭收入超过标准" in page and "notice-pdf-rejected" in page


def test_another_regions_officer_is_refused_and_audited(app, care_world: CareWorld) -> None:  # noqa: F811
    cw = care_world
    with cw.runtime.session() as s:
        app_id = gp.apply(
            s, actor=agent(), elder_id=cw.world.elders["hhht"], applicant_name="本人"
        ).id
        notice_id = gp.get_application(s, application_id=app_id).notices[0].id
    baotou, token = _client(app, "officer_bt")
    assert baotou.get(f"/care/gov-purchase/{app_id}").status_code == 403
    assert baotou.get(f"/care/gov-purchase/notices/{notice_id}.pdf").status_code == 403
    assert _post(baotou, token, f"/care/gov-purchase/{app_id}/accept").status_code == 403
    assert baotou.get(f"/care/gov-purchase/{app_id}/assessment.pdf").status_code == 403
    assert baotou.get("/care/gov-purchase?region=150100000000").status_code == 403
    listed = baotou.get("/care/gov-purchase").get_data(as_text=True)
    assert f'data-application="{app_id}"' not in listed
    with cw.runtime.session() as s:
        assert _app(cw).status == "submitted"
        refusals = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "http.out_of_region",
                AuditRecord.actor_user_id == cw.world.users["officer_bt"],
            )
        ).all()
    assert len(refusals) == 5
    # an agent has no care office at all
    agent_client, _ = _client(app, "agent_hhht")
    assert agent_client.get("/care/gov-purchase").status_code == 403


@pytest.mark.parametrize("filters", [{"status": "accepted"}, {"region": "150102000000"}])
def test_the_queue_pages_and_filters_in_the_database(app, care_world: CareWorld, filters) -> None:  # noqa: F811
    cw = care_world
    with cw.runtime.session() as s:
        for i in range(57):
            elder = make_elder(s, name=f"老人{i}", region_code="150102003001")
            application = gp.apply(s, actor=agent(), elder_id=elder.id, applicant_name="本人")
            if i % 3 == 0:
                gp.accept(s, actor=agent(), application_id=application.id)
        other = make_elder(s, name="别区老人", region_code="150105001001")
        gp.apply(s, actor=agent(), elder_id=other.id, applicant_name="本人")
    officer, _ = _client(app, "officer_hhht")
    first = officer.get("/care/gov-purchase", query_string=filters).get_data(as_text=True)
    expected = 19 if filters.get("status") else 57
    assert f"共 {expected} 条" in first
    shown = len(re.findall(r"data-application=", first))
    assert shown == min(50, expected)
    if expected > 50:
        second = officer.get("/care/gov-purchase", query_string={**filters, "page": 2}).get_data(
            as_text=True
        )
        assert len(re.findall(r"data-application=", second)) == expected - 50
