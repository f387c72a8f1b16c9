"""The care office's lists at 100,000 elders: p50 / p95 of each list page, the slowest named.

    python bench/care_lists.py [--elders 100000] [--requests 30] [--admin-url URL]

Creates a dedicated PostgreSQL database (dropped at the end), seeds it with ``hotline seed``'s
generator (``hotline seed --elders 100000`` does the same for a console), then gives the care
programmes the volume a region of that size has: government-purchase applications for one elder
in five (their allowances for approved ones), family care beds and home-adaptation cases for one
in twenty, meal points, a care-call campaign over a third of the elders, service orders with
return visits due and complaints. Each list page is then asked ``--requests`` times through the
console (Flask, the real views, a province officer's login: the widest scope) as a user would:
first pages, filtered pages and deep pages. The time is the whole request.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, func, insert, select, text  # noqa: E402

from agent_console import create_app  # noqa: E402
from hotline.demo_data.elders import seed_elders  # noqa: E402
from platform_core import clock  # noqa: E402
from platform_core.accounts import service as accounts  # noqa: E402
from platform_core.actors import Role, system_actor  # noqa: E402
from platform_core.care_beds.models import CareBed  # noqa: E402
from platform_core.care_calls.models import CareCall, CareCampaign  # noqa: E402
from platform_core.catalogue.service import install_defaults  # noqa: E402
from platform_core.db import make_engine, refresh_statistics  # noqa: E402
from platform_core.elders.models import Elder  # noqa: E402
from platform_core.gov_purchase.models import (  # noqa: E402
    GovPurchaseApplication,
    ServiceAllowance,
)
from platform_core.home_adaptation.models import AdaptationCase  # noqa: E402
from platform_core.meal_aid import service as meals  # noqa: E402
from platform_core.models import metadata  # noqa: E402
from platform_core.orders.models import OrderComplaint, ServiceOrder  # noqa: E402
from platform_core.regions.service import load_dictionary  # noqa: E402
from platform_core.runtime import build_runtime, install_runtime  # noqa: E402
from platform_core.settings import Settings  # noqa: E402

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "Steppe-Wind-2026"
GP_STATUSES = (
    "submitted",
    "accepted",
    "first_reviewed",
    "assessed",
    "in_publicity",
    "approved",
    "approved",
    "rejected",
    "withdrawn",
)
BED_STATUSES = ("applied", "assessed", "contracted", "planned", "in_service", "withdrawn")
CASE_STATUSES = ("applied", "eligible", "home_assessed", "planned", "signed", "accepted", "settled")


def _with_defaults(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every column the model fills by default (bulk inserts skip the ORM)."""
    defaults = {
        c.name: c.default.arg
        for c in table.columns
        if c.default is not None and not callable(c.default.arg)
    }
    # callable defaults (now, an empty list or map) take SQLAlchemy's execution context
    computed = {
        c.name: c.default.arg(None)
        for c in table.columns
        if c.default is not None and callable(c.default.arg)
    }
    return [{**computed, **defaults, **r} for r in rows]


def _bulk(session: Any, model: Any, rows: list[dict[str, Any]], batch: int = 5000) -> None:
    table = model.__table__
    for i in range(0, len(rows), batch):
        session.execute(insert(table), _with_defaults(table, rows[i : i + batch]))
    session.commit()


def seed_care(session: Any, *, today: Any) -> dict[str, int]:
    """The programmes' records for the seeded elders (a share of them each), in bulk."""
    elders = session.execute(
        select(Elder.id, Elder.region_code, Elder.address).order_by(Elder.id)
    ).all()
    month = today.replace(day=1)
    apps, beds, cases, calls, orders = [], [], [], [], []
    for n, (elder_id, region, address) in enumerate(elders):
        if n % 5 == 0:
            status = GP_STATUSES[(n // 5) % len(GP_STATUSES)]
            approved = status == "approved"
            apps.append(
                {
                    "elder_id": elder_id,
                    "region_code": region,
                    "status": status,
                    "applicant_name": "本人",
                    "applicant_relation": "本人",
                    "applied_on": today - timedelta(days=n % 365),
                    "monthly_allowance": Decimal("200") if approved else None,
                    "allowance_from": month if approved else None,
                    "allowance_until": month + timedelta(days=360) if approved else None,
                }
            )
        if n % 20 == 0:
            beds.append(
                {
                    "elder_id": elder_id,
                    "region_code": region,
                    "household_key": f"{region}:{address}"[:300],
                    "status": BED_STATUSES[(n // 20) % len(BED_STATUSES)],
                    "source": "referral",
                }
            )
        if n % 20 == 7:
            cases.append(
                {
                    "elder_id": elder_id,
                    "region_code": region,
                    "household_key": f"{region}:{address}"[:300],
                    "status": CASE_STATUSES[(n // 20) % len(CASE_STATUSES)],
                }
            )
        if n % 3 == 0:
            calls.append(
                {
                    "elder_id": elder_id,
                    "region_code": region,
                    "number": "04716900000",
                    "status": ("pending", "well", "retry", "unreachable")[n % 4],
                    "attempts": n % 3,
                }
            )
        if n % 5 == 1:
            orders.append((elder_id, region, n))
    _bulk(session, GovPurchaseApplication, apps)
    approved = session.execute(
        select(
            GovPurchaseApplication.id,
            GovPurchaseApplication.elder_id,
            GovPurchaseApplication.region_code,
        ).where(GovPurchaseApplication.status == "approved")
    ).all()
    _bulk(
        session,
        ServiceAllowance,
        [
            {
                "application_id": a,
                "elder_id": e,
                "region_code": r,
                "month": month,
                "granted": Decimal("200"),
                "consumed": Decimal(str(a % 200)),
            }
            for a, e, r in approved
        ],
    )
    _bulk(session, CareBed, beds)
    _bulk(session, AdaptationCase, cases)
    session.execute(
        insert(CareCampaign.__table__),
        _with_defaults(
            CareCampaign.__table__,
            [
                {
                    "name": "寒潮关怀",
                    "region_code": "150000000000",
                    "criteria": {"min_age": 60},
                    "max_attempts": 3,
                    "retry_interval_min": 30,
                    "scheduled_for": clock.now(),
                    "created_by": "bench",
                }
            ],
        ),
    )
    campaign_id = session.scalar(select(func.max(CareCampaign.id)))
    _bulk(session, CareCall, [{**c, "campaign_id": campaign_id} for c in calls])
    done = clock.now() - timedelta(days=2)
    order_rows = [
        {
            "order_no": f"GD{n:010d}",
            "elder_id": elder_id,
            "region_code": region,
            "service_type_code": "care_cleaning",
            "category": "daily_care",
            "source": "call",
            "status": ("confirmed", "rated", "complaint", "settled", "return_visited")[
                (n // 5) % 5
            ],
            "unit_price": Decimal("50"),
            "price": Decimal("50"),
            "subsidy": Decimal("25"),
            "self_pay": Decimal("25"),
            "response_minutes": 30,
            "response_due_at": done,
            "opened_at": done - timedelta(hours=3),
            "completed_at": done,
            "complaint_at": done if (n // 5) % 5 == 2 else None,
        }
        for elder_id, region, n in orders
    ]
    _bulk(session, ServiceOrder, order_rows)
    complained = session.execute(
        select(ServiceOrder.id, ServiceOrder.region_code).where(ServiceOrder.status == "complaint")
    ).all()
    _bulk(
        session,
        OrderComplaint,
        [
            {
                "order_id": o,
                "region_code": r,
                "text": "服务人员迟到",
                "opened_by": "bench",
                "status": ("open", "handling", "closed")[o % 3],
            }
            for o, r in complained
        ],
    )
    return {
        "applications": len(apps),
        "allowances": len(approved),
        "beds": len(beds),
        "cases": len(cases),
        "care_calls": len(calls),
        "orders": len(order_rows),
        "complaints": len(complained),
        "campaign_id": campaign_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12349)
    parser.add_argument(
        "--admin-url", default=os.environ.get("HOTLINE_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN)
    )
    args = parser.parse_args()

    name = f"hotline_bench_care_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    runtime = None
    result: dict[str, Any] = {}
    try:
        settings = Settings(
            data_dir=Path(tempfile.mkdtemp(prefix="hotline-bench-")),
            database_url=url,
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(16),
            totp_roles="",  # the officer logs in with a password only: this times lists
        )
        runtime = build_runtime(settings, start_jobs=False)
        install_runtime(runtime)
        metadata.create_all(runtime.engine)
        today = clock.today(settings.timezone)
        with runtime.session() as s:
            load_dictionary(s)
            install_defaults(s, actor=system_actor())
            accounts.create_user(
                s,
                actor=system_actor(),
                username="officer_all",
                password=PASSWORD,
                role=Role.OFFICER,
                region_code="150000000000",
                display_name="officer_all",
            )
        started = time.perf_counter()
        session = runtime.session_factory()
        try:
            report = seed_elders(
                session, count=args.elders, seed=args.seed, after_batch=lambda _n: session.commit()
            )
            session.commit()
            seed_elders_s = time.perf_counter() - started
            started = time.perf_counter()
            care = seed_care(session, today=today)
        finally:
            session.close()
        with runtime.session() as s:
            for i in range(120):  # meal points across the region
                meals.open_meal_point(
                    s,
                    actor=system_actor(),
                    name=f"社区助餐点{i}",
                    region_code=["150102003001", "150203001001", "150402001001"][i % 3],
                    address=f"助餐路 {i} 号",
                    meal_times={"lunch": "11:30"},
                )
        seed_care_s = time.perf_counter() - started
        refresh_statistics(runtime.engine)
        print(
            f"seeded {report.created} elders in {seed_elders_s:.1f}s; care records {care} "
            f"in {seed_care_s:.1f}s",
            file=sys.stderr,
        )

        app = create_app(runtime, relay=False)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = json.loads(
            re.search(r'id="page-config">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
        )["csrf"]
        resp = client.post(
            "/login", data={"username": "officer_all", "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        campaign = care["campaign_id"]
        lists = {
            "gov_purchase_queue": "/care/gov-purchase",
            "gov_purchase_queue_accepted": "/care/gov-purchase?status=accepted",
            "gov_purchase_queue_league_page_40": "/care/gov-purchase?region=150100000000&page=40",
            "gov_purchase_allowances": "/care/gov-purchase/allowances",
            "gov_purchase_allowances_page_20": "/care/gov-purchase/allowances?page=20",
            "care_beds": "/care/beds",
            "care_beds_in_service": "/care/beds?status=in_service",
            "home_adaptation": "/care/adaptation?status=signed",
            "meal_points": "/care/meals",
            "campaigns": "/care/campaigns",
            "campaign_calls": f"/care/campaigns/{campaign}",
            "campaign_calls_page_300": f"/care/campaigns/{campaign}?page=300",
            "campaign_calls_unreachable": f"/care/campaigns/{campaign}?status=unreachable",
            "aftercare_due_visits": "/care/aftercare?tab=visits",
            "aftercare_complaints": "/care/aftercare?tab=complaints&status=open",
            "aftercare_to_close": "/care/aftercare?tab=closing",
            "money": "/care/money",
        }
        timings: dict[str, list[float]] = {}
        for label, path in lists.items():
            for _ in range(3):  # warm the pool, templates and PostgreSQL's buffers
                assert client.get(path).status_code == 200, (label, path)
            seen = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = client.get(path)
                seen.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (label, response.status_code)
            seen.sort()
            timings[label] = seen

        def p95(xs: list[float]) -> float:
            return xs[min(len(xs) - 1, int(round(len(xs) * 0.95)) - 1)]

        for label, xs in timings.items():
            print(
                f"{label:40s} p50 {statistics.median(xs):7.1f} ms  p95 {p95(xs):7.1f} ms",
                file=sys.stderr,
            )
        slowest = max(timings, key=lambda k: p95(timings[k]))
        result = {
            "elders": report.created,
            "slowest_list": slowest,
            "slowest_p95_ms": round(p95(timings[slowest]), 1),
            "slowest_p50_ms": round(statistics.median(timings[slowest]), 1),
            "p95_ms": {k: round(p95(v), 1) for k, v in timings.items()},
            "requests_per_list": args.requests,
            "applications": care["applications"],
            "care_calls": care["care_calls"],
            "orders": care["orders"],
            "seed_elders_s": round(seed_elders_s, 1),
            "seed_care_s": round(seed_care_s, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        if runtime is not None:
            install_runtime(None)
            runtime.close()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
