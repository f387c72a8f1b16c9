"""Service orders through their whole life on PostgreSQL, several workers at once.

A fresh PostgreSQL database holds the region dictionary, the catalogue, the demo providers (their
seeding is timed) and demo elders of one 盟市. Each worker thread then takes orders from opening
to closing, one unit of work per command as the console, the provider portal and the jobs give
them: open, submit, dispatch to a covering provider, accept, en route, check in, check out,
confirm, rate, return visit, settle, close. Every command is timed from call to commit.

    python bench/orders_lifecycle.py [--orders 600] [--workers 4] [--elders 300]

Ends with one line ``RESULT {json}``; ``lost`` counts orders that did not reach closed with
twelve logged steps, ``duplicate_numbers`` order numbers handed out twice (both must be 0).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LEAGUE = "150100000000"  # 呼和浩特市
HOME = (40.8414, 111.7519)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1)))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--elders", type=int, default=300)
    args = parser.parse_args()

    from hotline.demo_data.catalogue import seed_catalogue
    from hotline.demo_data.elders import seed_elders
    from hotline.demo_data.providers import seed_providers
    from platform_core.actors import Actor, Role
    from platform_core.db import make_engine, refresh_statistics
    from platform_core.elders.models import Elder
    from platform_core.models import metadata
    from platform_core.orders import confirmation
    from platform_core.orders import service as orders
    from platform_core.orders.models import OrderTransition, ServiceOrder
    from platform_core.providers import service as providers
    from platform_core.regions.service import load_dictionary
    from platform_core.runtime import build_runtime
    from platform_core.settings import Settings

    db_name = f"hotline_bench_orders_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    try:
        engine = make_engine(url)
        metadata.create_all(engine)
        settings = Settings(
            database_url=url,
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            data_dir=Path("/tmp"),
            # the benchmark measures the commands, not a service's time at the home
            order_min_service_min="*=0",
        )
        rt = build_runtime(settings, engine=engine, start_jobs=False)
        with rt.session() as s:
            load_dictionary(s)
            seed_catalogue(s)
        t0 = time.perf_counter()
        with rt.session() as s:
            n_providers = seed_providers(s, rng=random.Random(12349))
        seed_providers_s = time.perf_counter() - t0
        with rt.session() as s:
            seed_elders(s, count=args.elders, seed=12349, league_code=LEAGUE)
        refresh_statistics(engine)
        with rt.session() as s:
            elder_rows = s.execute(
                select(Elder.id, Elder.region_code).where(Elder.status == "active")
            ).all()
            # the best-ranked covering provider per elder region, and a staff member who can clean
            plan: dict[str, tuple[int, int]] = {}
            for _, region in elder_rows:
                if region in plan:
                    continue
                for p in providers.list_providers_covering(
                    s, region_code=region, service_type_code="care_cleaning"
                ):
                    staff = providers.list_staff(s, provider_id=p.id, skill="care_cleaning")
                    if staff:
                        plan[region] = (p.id, staff[0].id)
                        break
        elders = [(eid, region) for eid, region in elder_rows if region in plan]

        agent = Actor(
            kind="user", name="压测坐席", region_code="150000000000", role=Role.AGENT, user_id=1
        )
        supervisor = Actor(
            kind="user",
            name="压测主管",
            region_code="150000000000",
            role=Role.SUPERVISOR,
            user_id=2,
        )
        timings: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        lock = threading.Lock()

        def timed(name: str, fn) -> object:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            with rt.session() as s:
                out = fn(s)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                timings[name].append(elapsed)
            return out

        def lifecycle(elder_id: int, region: str) -> None:
            provider_id, staff_id = plan[region]
            pa = Actor(
                kind="user",
                name="服务商",
                region_code=region,
                role=Role.PROVIDER,
                user_id=3,
                provider_id=provider_id,
            )
            oid = timed(
                "open_order",
                lambda s: (
                    orders.open_order(
                        s,
                        actor=agent,
                        elder_id=elder_id,
                        service_type_code="care_cleaning",
                        source="call",
                        quantity=2,
                    ).id
                ),
            )
            steps = [
                (
                    "submit_for_dispatch",
                    lambda s: orders.submit_for_dispatch(s, actor=agent, order_id=oid),
                ),
                (
                    "dispatch_to",
                    lambda s: orders.dispatch_to(
                        s, actor=agent, order_id=oid, provider_id=provider_id
                    ),
                ),
                ("accept", lambda s: orders.accept(s, actor=pa, order_id=oid, staff_id=staff_id)),
                ("start_travel", lambda s: orders.start_travel(s, actor=pa, order_id=oid)),
                (
                    "check_in",
                    lambda s: orders.check_in(
                        s, actor=pa, order_id=oid, latitude=HOME[0], longitude=HOME[1]
                    ),
                ),
                (
                    "check_out",
                    lambda s: orders.check_out(
                        s,
                        actor=pa,
                        order_id=oid,
                        latitude=HOME[0],
                        longitude=HOME[1],
                        report="完成",
                    ),
                ),
                (
                    "confirm",
                    lambda s: confirmation.confirm_with_code(
                        s,
                        actor=pa,
                        order_id=oid,
                        code=confirmation.issue_code(s, order_id=oid),
                    ),
                ),
                ("rate", lambda s: orders.rate(s, actor=agent, order_id=oid, score=5)),
                (
                    "record_return_visit",
                    lambda s: orders.record_return_visit(
                        s, actor=agent, order_id=oid, result="satisfied"
                    ),
                ),
                (
                    "settle",
                    lambda s: orders.settle(
                        s, actor=supervisor, order_id=oid, settlement_ref="BENCH"
                    ),
                ),
                ("close", lambda s: orders.close(s, actor=supervisor, order_id=oid)),
            ]
            for name, step in steps:
                timed(name, step)

        work = [elders[i % len(elders)] for i in range(args.orders)]
        cursor = iter(work)

        def worker() -> None:
            while True:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                try:
                    lifecycle(*item)
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0

        with rt.session() as s:
            closed = s.scalar(
                select(func.count())
                .select_from(ServiceOrder)
                .where(ServiceOrder.status == "closed")
            )
            complete_logs = s.scalar(
                select(func.count()).select_from(
                    select(OrderTransition.order_id)
                    .group_by(OrderTransition.order_id)
                    .having(func.count() == 12)
                    .subquery()
                )
            )
            numbers = s.scalar(select(func.count(func.distinct(ServiceOrder.order_no))))
            total = s.scalar(select(func.count()).select_from(ServiceOrder))
        rt.close()
        engine.dispose()

        transitions = [v for k, vs in timings.items() if k != "open_order" for v in vs]
        result = {
            "orders": args.orders,
            "workers": args.workers,
            "providers_seeded": n_providers,
            "seed_providers_s": round(seed_providers_s, 2),
            "orders_per_s": round(args.orders / wall, 1),
            "commands_per_s": round(sum(len(v) for v in timings.values()) / wall, 1),
            "open_order_p50_ms": round(percentile(timings["open_order"], 50), 1),
            "open_order_p99_ms": round(percentile(timings["open_order"], 99), 1),
            "transition_p50_ms": round(percentile(transitions, 50), 1),
            "transition_p99_ms": round(percentile(transitions, 99), 1),
            "lost": args.orders - min(closed or 0, complete_logs or 0),
            "duplicate_numbers": (total or 0) - (numbers or 0),
            "errors": len(errors),
        }
        for e in errors[:5]:
            print("error:", e)
        for name in ("open_order", "dispatch_to", "check_in", "settle"):
            print(
                f"{name:>14}: p50 {percentile(timings[name], 50):6.1f} ms  p99 {percentile(timings[name], 99):6.1f} ms"
            )
        print("RESULT " + json.dumps(result, ensure_ascii=False))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
