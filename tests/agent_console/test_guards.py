"""Every endpoint and Socket.IO handler is guarded: walk the app, so a new one without a check
fails here until it is added to the tables below with the way it is scoped."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from agent_console.security import GUARD_ATTR
from platform_core.audit import service as audit
from platform_core.calls.models import Call
from platform_core.calls.recalls import open_recall_request
from platform_core.db import utcnow
from tests.agent_console.conftest import csrf_of, login


@dataclass(frozen=True)
class Case:
    method: str = "GET"
    path: str = ""
    body: dict | None = None
    public: bool = False
    # "elder": the path names another region's elder; "call": another region's call; "agent": another
    # region's agent; "region": another region by its code; "content": the answer is filtered to
    # the user's region; "self": own data only
    scope: str = "self"


ENDPOINTS: dict[str, Case] = {
    "auth.login": Case(public=True),
    "auth.login_submit": Case(public=True),
    "auth.set_language": Case(public=True),
    # operations: health for load balancers, metrics only from metrics_allow (test_operations)
    "ops.healthz": Case(public=True),
    "ops.readyz": Case(public=True),
    "ops.metrics": Case(public=True),
    "auth.logout": Case(public=True),
    "auth.login_step": Case(public=True),
    "auth.login_step_submit": Case(public=True),
    "auth.login_step_done": Case(public=True),
    "auth.index": Case("GET", "/"),
    "auth.no_console": Case("GET", "/no-console"),
    "agent.console": Case("GET", "/agent"),
    "agent.snapshot": Case("GET", "/api/agent/snapshot"),
    "agent.queue_login": Case("POST", "/api/agent/queue-login", {}),
    "agent.queue_logout": Case("POST", "/api/agent/queue-logout", {}),
    "agent.pause": Case("POST", "/api/agent/pause", {"reason": "break"}),
    "agent.ready": Case("POST", "/api/agent/ready", {}),
    "agent.disposition": Case("POST", "/api/agent/disposition", {"disposition": "resolved"}),
    "agent.transfer": Case(
        "POST", "/api/calls/{call_bt}/transfer", {"target": "PJSIP/8003"}, scope="call"
    ),
    "agent.hangup": Case("POST", "/api/calls/{call_bt}/hangup", {}, scope="call"),
    "agent.recall_callback": Case("POST", "/api/recalls/{recall_bt}/callback", {}, scope="recall"),
    "agent.recalls": Case("GET", "/api/recalls", scope="content"),
    "agent.profile": Case("GET", "/api/elders/{elder_bt}/profile", scope="elder"),
    "agent.reveal": Case(
        "POST", "/api/elders/{elder_bt}/reveal", {"field": "id_number"}, scope="elder"
    ),
    "agent.quick_register": Case(
        "POST",
        "/api/elders",
        {
            "name": "乌云",
            "id_number": "150202194103090226",
            "phone": "13900472999",
            "address": "包头某处",
            "region_code": "150202000000",
        },
        scope="elder",
    ),
    "agent.open_order": Case(
        "POST", "/api/elders/{elder_bt}/orders", {"service_type_code": "cleaning"}, scope="elder"
    ),
    "agent.service_types": Case("GET", "/api/catalogue/service-types"),
    "regions.picker": Case("GET", "/api/regions/picker?parent=150200000000", scope="elder"),
    "regions.read_id_number": Case(
        "POST", "/api/elders/id-number", {"id_number": "150202194103090226"}, scope="content"
    ),
    "supervisor.wallboard": Case("GET", "/wallboard"),
    "supervisor.wallboard_data": Case("GET", "/api/wallboard", scope="content"),
    "supervisor.monitor": Case(
        "POST", "/api/monitor", {"agent_interface": "PJSIP/8002", "mode": "listen"}, scope="agent"
    ),
    "reports.page": Case("GET", "/reports"),
    "reports.kpi": Case("GET", "/api/reports/kpi", scope="content"),
    "reports.export_csv": Case("GET", "/reports/export.csv", scope="content"),
    "reports.export_xlsx": Case("GET", "/reports/export.xlsx", scope="content"),
    # 监管大数据: the user's region and below; another region asked for by its code is refused
    "supervision.page": Case("GET", "/supervision"),
    "supervision.screen": Case("GET", "/supervision/screen"),
    "supervision.staffing_page": Case("GET", "/supervision/staffing"),
    "supervision.figure": Case(
        "GET", "/api/supervision/figures/calls?region=150200000000", scope="region"
    ),
    "supervision.screen_data": Case(
        "GET", "/api/supervision/screen?region=150200000000", scope="region"
    ),
    "supervision.export_xlsx": Case(
        "GET", "/supervision/export.xlsx?figure=calls&region=150200000000", scope="region"
    ),
    "supervision.staffing_data": Case("GET", "/api/supervision/staffing?days=1"),
    "supervision.staffing_now": Case("GET", "/api/supervision/staffing/now"),
}

ENDPOINTS.update(
    {
        # one's own logins; accounts (the domain checks each duty again); the audit trail
        "admin.my_sessions": Case("GET", "/account/sessions"),
        "admin.end_my_session": Case("POST", "/account/sessions/end", {}),
        "admin.users": Case("GET", "/admin/users", scope="content"),
        "admin.user_action": Case("POST", "/admin/users/1/unlock", {}, scope="content"),
        "admin.change_role": Case("POST", "/admin/users/1/role", {}, scope="content"),
        "admin.user_sessions": Case("GET", "/admin/users/1/sessions", scope="content"),
        "admin.end_user_session": Case("POST", "/admin/users/1/sessions/end", {}, scope="content"),
        "admin.audit_page": Case("GET", "/audit", scope="content"),
        "admin.audit_export": Case("GET", "/audit/export.csv", scope="content"),
        "admin.audit_verify": Case("POST", "/audit/verify", {}, scope="content"),
    }
)

from tests.agent_console.provider_cases import provider_cases  # noqa: E402

ENDPOINTS.update(provider_cases(Case))

from tests.agent_console.alarm_cases import alarm_cases  # noqa: E402

ENDPOINTS.update(alarm_cases(Case))

from tests.agent_console.care_cases import care_cases  # noqa: E402

ENDPOINTS.update(care_cases(Case))

from tests.agent_console.registry_cases import registry_cases  # noqa: E402

ENDPOINTS.update(registry_cases(Case))

from tests.agent_console.care_office_cases import care_office_cases  # noqa: E402
from tests.agent_console.family_cases import family_cases  # noqa: E402

ENDPOINTS.update(care_office_cases(Case))
ENDPOINTS.update(family_cases(Case))

from tests.agent_console.community_cases import SOCKET_EVENTS as COMMUNITY_EVENTS  # noqa: E402
from tests.agent_console.community_cases import community_cases  # noqa: E402

ENDPOINTS.update(community_cases(Case))

from tests.agent_console.chat_cases import SOCKET_EVENTS as CHAT_EVENTS  # noqa: E402
from tests.agent_console.chat_cases import chat_cases  # noqa: E402

ENDPOINTS.update(chat_cases(Case))

SOCKET_EVENTS = {
    ("/agent", "snapshot"): "self",
    ("/agent", "screen_pop"): "elder",
    ("/agent", "elder_orders"): "elder",
    ("/supervisor", "snapshot"): "content",
    ("/care", "snapshot"): "content",
    ("/provider", "snapshot"): "self",  # the provider's own inbox counts
    **COMMUNITY_EVENTS,
    **CHAT_EVENTS,
    ("/care", "follow_campaign"): "content",  # the campaign's region (test_care_campaigns_desk)
}


@pytest.fixture
def baotou_records(world) -> dict[str, object]:
    """A call answered on a Baotou desk and a Baotou recall: what the Hohhot users must not touch."""
    with world.runtime.session() as s:
        s.add(
            Call(
                linkedid="1700000000.99",
                uniqueid="1700000000.99",
                channel="PJSIP/trunk-00000063",
                caller_number=world.phones["bt"],
                elder_id=world.elders["bt"],
                region_code="150202000000",
                agent_interface="PJSIP/8002",
                started_at=utcnow(),
            )
        )
        recall = open_recall_request(
            s,
            linkedid="1700000000.98",
            number=world.phones["bt"],
            elder_id=world.elders["bt"],
            queue="hotline-general",
            at=utcnow(),
            region_code="150202000000",
        )
        return {"call_bt": "1700000000.99", "recall_bt": recall.id}


def _path(case: Case, world, records: dict[str, object] | None = None) -> str:
    records = records or {"call_bt": "1700000000.99", "recall_bt": 999999}
    return case.path.format(elder_bt=world.elders["bt"], **records)


def _page_error_code(resp) -> str | None:
    match = re.search(r'data-code="([a-z_]+)"', resp.get_data(as_text=True))
    return match.group(1) if match else None


def test_every_endpoint_has_a_guard_and_a_case(app) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints == set(ENDPOINTS), f"untested endpoints: {endpoints - set(ENDPOINTS)}"
    for endpoint in endpoints:
        assert hasattr(app.view_functions[endpoint], GUARD_ATTR), f"{endpoint} has no guard"


def test_every_socket_handler_is_listed(app) -> None:
    handlers = {(h.namespace, h.event) for h in app.extensions["hotline_realtime"].handlers}
    assert handlers == set(SOCKET_EVENTS)


def test_unauthenticated_requests_are_refused_and_audited(app, world) -> None:
    client = app.test_client()
    token = csrf_of(
        client.get("/login").get_data(as_text=True)
    )  # a valid pre-login token: CSRF is not the refusal
    for endpoint, case in ENDPOINTS.items():
        if case.public:
            continue
        resp = client.open(
            _path(case, world), method=case.method, json=case.body, headers={"X-CSRF-Token": token}
        )
        if case.path.startswith("/api/"):
            assert resp.status_code == 401, endpoint
            assert resp.json["code"] == "not_authenticated"
        else:
            assert resp.status_code in (302, 401), endpoint
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"], endpoint
    with world.runtime.session() as s:
        refused = audit.list_records(s, action="http.unauthenticated", limit=1000)
    assert len(refused) == sum(1 for c in ENDPOINTS.values() if not c.public)


@pytest.mark.parametrize("username", ["agent_hhht", "sup_hhht"])
def test_other_regions_records_are_refused_on_every_endpoint(
    app, world, baotou_records, username
) -> None:
    client = app.test_client()
    token = login(client, username)
    for endpoint, case in ENDPOINTS.items():
        if case.scope not in ("elder", "call", "agent", "recall", "region"):
            continue
        resp = client.open(
            _path(case, world, baotou_records),
            method=case.method,
            json=case.body,
            headers={"X-CSRF-Token": token},
        )
        assert resp.status_code == 403, (endpoint, resp.status_code, resp.get_data(as_text=True))
        # a page answers with the error page, an API with the error's code
        code = resp.json["code"] if resp.is_json else _page_error_code(resp)
        # an agent may not monitor at all: refused for the role before the region is looked at
        assert code in (
            ("out_of_region",) if username == "sup_hhht" else ("out_of_region", "permission_denied")
        ), endpoint
    with world.runtime.session() as s:
        assert s.get(Call, "1700000000.99").ended_at is None  # nothing was done to the call
        assert not [
            r
            for r in audit.list_records(
                s, action="elder.view_profile", target_id=str(world.elders["bt"])
            )
            if r.result == "ok"
        ]
    with world.runtime.session() as s:
        assert audit.list_records(
            s, action="http.out_of_region", actor_user_id=world.users[username]
        )


def test_roles_without_the_permission_are_refused(app, world) -> None:
    client = app.test_client()
    token = login(client, "officer_hhht")
    for endpoint in (
        "agent.console",
        "agent.snapshot",
        "agent.profile",
        "agent.open_order",
        "supervisor.monitor",
        "care.start",
        "assessment.form",
        "assessment.record",
    ):
        case = ENDPOINTS[endpoint]
        path = _path(case, world).replace(str(world.elders["bt"]), str(world.elders["hhht"]))
        resp = client.open(
            path, method=case.method, json=case.body, headers={"X-CSRF-Token": token}
        )
        assert resp.status_code == 403, endpoint
    with world.runtime.session() as s:
        assert (
            len(
                audit.list_records(
                    s, action="http.forbidden", actor_user_id=world.users["officer_hhht"]
                )
            )
            >= 8
        )
