"""Bulk import at a region's size: 100,000 elders and 20,000 devices from Excel files.

    python bench/registry_import.py [--elders 100000] [--devices 20000] [--database-url URL]

A fresh PostgreSQL database (on the shared server unless ``--database-url`` names another) is
given the region dictionary. The two files are written as departments send them (in a child
process, so their making does not count towards this process's memory), then each is staged
and run through the import exactly as the console's job runs it: the whole file checked (the
dry run), then checked again and written in one transaction. Rows per second count both
passes. Afterwards the registry's list is timed at that size: the first and the last page, and
searches by name, ID number and phone.

Ends with one line ``RESULT {json}``; keys carry their units.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402
from sqlalchemy import text  # noqa: E402

from platform_core.actors import Actor, Role  # noqa: E402
from platform_core.db import make_engine, refresh_statistics  # noqa: E402
from platform_core.devices import imports as device_imports  # noqa: E402
from platform_core.devices.schemas import imei_check_digit  # noqa: E402
from platform_core.elders import imports as elder_imports  # noqa: E402
from platform_core.elders import registry  # noqa: E402
from platform_core.elders.idcard import make_id_number  # noqa: E402
from platform_core.flows import registry_imports as flow  # noqa: E402
from platform_core.models import metadata  # noqa: E402
from platform_core.regions.service import load_dictionary  # noqa: E402
from platform_core.runtime import build_runtime, install_runtime  # noqa: E402
from platform_core.settings import Settings  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Hohhot's counties, each with townships and villages the import creates on first sight
COUNTIES = ("150102", "150103", "150104", "150105", "150121", "150122", "150123", "150124")
OFFICER = Actor(
    kind="user", name="bench_officer", region_code="150100000000", role=Role.OFFICER, user_id=1
)


def write_elders(path: str, count: int) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("老年人基础信息")
    ws.append([c.printed for c in elder_imports.COLUMNS])
    living = ("独居", "空巢", "与家人同住")
    cats = ("", "低保", "高龄", "低保、高龄", "特困(五保)", "残疾(肢体残疾2级)")
    for i in range(count):
        county = COUNTIES[i % len(COUNTIES)]
        # (i // 1000, i % 1000) names the row: birth date and sequence make ID numbers unique
        born = date(1930, 1, 1) + timedelta(days=(i // 1000) * 97 + i % 7)
        region = f"{county}{1 + i % 9:03d}{1 + i % 30:03d}"
        ws.append(
            [
                f"老人{chr(0x4E00 + i % 20000)}{chr(0x4E00 + (i // 20000) % 20000)}",
                make_id_number(county, born, i % 1000),
                "蒙古族" if i % 4 == 0 else "汉族",
                f"某街道 {i % 300} 号楼 {i % 6 + 1} 单元 {i % 30 + 101}",
                region,
                "",
                f"139{i:08d}",
                f"69{i % 100000:05d}" if i % 3 == 0 else "",
                living[i % 3],
                cats[i % len(cats)],
                "王小明" if i % 2 == 0 else "",
                "儿子" if i % 2 == 0 else "",
                f"138{i:08d}" if i % 2 == 0 else "",
                "是" if i % 4 == 0 else ("否" if i % 2 == 0 else ""),
            ]
        )
    wb.save(path)


def write_devices(path: str, count: int) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("智能设备入库")
    ws.append([c.printed for c in device_imports.COLUMNS])
    kinds = ("一键呼叫挂件", "一键呼叫座机", "智能手表", "烟感", "跌倒探测器")
    for i in range(count):
        body = f"86{i:012d}"
        ws.append(
            [
                kinds[i % len(kinds)],
                f"BENCH-{i:07d}",
                body + imei_check_digit(body),
                f"147{i:08d}" if i % len(kinds) < 3 else "",
                "某科技",
                "M-1",
                "",
            ]
        )
    wb.save(path)


def _make_files(folder: str, elders: int, devices: int) -> None:
    write_elders(os.path.join(folder, "elders.xlsx"), elders)
    write_devices(os.path.join(folder, "devices.xlsx"), devices)


def _import(rt, kind: str, content: bytes) -> dict[str, float]:
    started = time.perf_counter()
    with rt.session() as s:
        batch = flow.stage_import(
            s,
            actor=OFFICER,
            kind=kind,
            filename=f"{kind}.xlsx",
            content=content,
            source_department="基准测试",
        )
        batch_id = batch.id
    with rt.session() as s:
        flow.request_run(s, actor=OFFICER, batch_id=batch_id, write=True)
    status = flow.run_batch(rt.session_factory, batch_id)
    seconds = time.perf_counter() - started
    with rt.session() as s:
        batch = s.get(flow.ImportBatch, batch_id)
        assert status == "imported", (status, batch.problems[:5], batch.error)
        return {"rows": batch.total_rows, "new": batch.new_rows, "seconds": seconds}


def _timed_ms(work) -> float:  # noqa: ANN001
    started = time.perf_counter()
    work()
    return round((time.perf_counter() - started) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    name = f"hotline_bench_registry_{os.getpid()}"
    admin = make_engine(args.admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    folder = tempfile.mkdtemp(prefix="registry-bench-")
    try:
        made = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=_make_files, args=(folder, args.elders, args.devices)
        )
        child.start()
        child.join()
        files_s = time.perf_counter() - made
        elders_file = Path(folder, "elders.xlsx").read_bytes()
        devices_file = Path(folder, "devices.xlsx").read_bytes()
        settings = Settings(
            data_dir=Path(folder),
            database_url=url,
            secret_key=secrets.token_urlsafe(16),
            data_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            ami_secret="bench",
            registry_import_max_mb=50,
        )
        engine = make_engine(url)
        metadata.create_all(engine)
        rt = build_runtime(settings, engine=engine)
        install_runtime(rt)
        with rt.session() as s:
            load_dictionary(s)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elders = _import(rt, "elders", elders_file)
        devices = _import(rt, "devices", devices_file)
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        refresh_statistics(engine)
        with rt.session() as s:
            i = 54_321 % max(args.elders, 1)
            number = make_id_number(
                COUNTIES[i % len(COUNTIES)],
                date(1930, 1, 1) + timedelta(days=(i // 1000) * 97 + i % 7),
                i % 1000,
            )
            timings = {
                "list_first_page_ms": _timed_ms(
                    lambda: registry.search(s, actor=OFFICER, query=registry.ElderQuery(), page=0)
                ),
                "list_last_page_ms": _timed_ms(
                    lambda: registry.search(
                        s, actor=OFFICER, query=registry.ElderQuery(), page=10**6
                    )
                ),
                "search_name_ms": _timed_ms(
                    lambda: registry.search(
                        s, actor=OFFICER, query=registry.ElderQuery(text="老人一")
                    )
                ),
                "search_id_number_ms": _timed_ms(
                    lambda: registry.search(
                        s, actor=OFFICER, query=registry.ElderQuery(text=number)
                    )
                ),
                "search_phone_ms": _timed_ms(
                    lambda: registry.search(
                        s, actor=OFFICER, query=registry.ElderQuery(text="13900050000")
                    )
                ),
                "search_county_alone_ms": _timed_ms(
                    lambda: registry.search(
                        s,
                        actor=OFFICER,
                        query=registry.ElderQuery(
                            region_code="150105000000", living_arrangement="alone"
                        ),
                    )
                ),
            }
        total_s = elders["seconds"] + devices["seconds"]
        result = {
            "elders": elders["new"],
            "devices": devices["new"],
            "elders_file_bytes": len(elders_file),
            "devices_file_bytes": len(devices_file),
            "files_written_s": round(files_s, 1),
            "elders_import_s": round(elders["seconds"], 1),
            "elders_rows_per_s": round(elders["rows"] / elders["seconds"]),
            "devices_import_s": round(devices["seconds"], 1),
            "devices_rows_per_s": round(devices["rows"] / devices["seconds"]),
            "import_total_s": round(total_s, 1),
            "peak_rss_mb": round(rss_peak / 1024),
            "rss_before_import_mb": round(rss_before / 1024),
            **timings,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        rt.close()
        install_runtime(None)
    finally:
        for f in Path(folder).glob("*"):
            f.unlink()
        os.rmdir(folder)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
