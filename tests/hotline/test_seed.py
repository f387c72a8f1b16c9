"""``hotline seed`` through the real command line, against the test PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select, text

from hotline.cli import cli
from hotline.demo_data.elders import generate_people, prepare_villages
from platform_core import clock
from platform_core.calls.identification import identify_caller
from platform_core.devices.models import Device
from platform_core.elders.idcard import parse_id_number
from platform_core.elders.models import Elder, ElderPhone, EmergencyContact
from platform_core.regions import codes
from platform_core.regions.service import canonical_code
from platform_core.runtime import install_runtime


def _seed(runtime, *args: str):
    env = {
        "HOTLINE_DATABASE_URL": runtime.settings.database_url,
        "HOTLINE_DATA_KEY": runtime.settings.data_key,
        "HOTLINE_SECRET_KEY": runtime.settings.secret_key,
        "HOTLINE_DATA_DIR": str(runtime.settings.data_dir),
        "HOTLINE_REDIS_URL": "",
    }
    try:
        result = CliRunner().invoke(cli, ["seed", *args], env=env, catch_exceptions=False)
    finally:
        install_runtime(runtime)  # the command installed (and closed) its own
    assert result.exit_code == 0, result.output
    return result.output


def test_seed_builds_a_consistent_demo_league_and_tops_up(runtime) -> None:
    out = _seed(runtime, "--elders", "240", "--seed", "7", "--league", "150300")
    assert "老人新建 240 名" in out
    with runtime.session() as s:
        # the planner knows the new size at once (statistics refreshed after the bulk load)
        assert s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'elders'")) == 240
        elders = list(s.scalars(select(Elder)))
        assert len(elders) == 240
        cipher = runtime.cipher
        today = clock.today()
        for e in elders:
            parsed = parse_id_number(cipher.open(e.id_number_sealed))
            # the ID number agrees with the elder: birthplace county, birth date, sex
            assert canonical_code(s, parsed.area_code)[:6] == e.region_code[:6]
            assert parsed.birth_date == e.birth_date and parsed.sex == e.sex
            assert parsed.age_on(today) >= 60
            assert e.region_code.startswith("1503") and codes.level_of(e.region_code) == 5
            assert codes.township_kind(e.region_code) and codes.village_kind(e.region_code)
        assert {e.ethnicity_code for e in elders} >= {"01", "02"}
        assert any(e.status == "deceased" for e in elders)
        assert 240 <= s.scalar(select(func.count()).select_from(EmergencyContact)) <= 720
        sims = list(s.scalars(select(Device.sim_number).where(Device.sim_number.is_not(None))))
        assert sims and len(sims) == len(set(sims))
        # deterministic: the database holds exactly the people the generator makes for seed 7
        villages, created = prepare_villages(s, league_code="150300")
        assert created == 0
        expected = {
            p.id_number for p in generate_people(7, 240, villages, today, datetime.now(UTC))
        }
        assert {cipher.open(e.id_number_sealed) for e in elders} == expected
        # and caller identification finds a seeded elder by a phone in another written form
        number, elder_id = s.execute(
            select(ElderPhone.number, ElderPhone.elder_id)
            .join(Elder)
            .where(Elder.status == "active")
            .limit(1)
        ).one()
        who = identify_caller(s, number="+86 " + number.lstrip("0"))
        assert elder_id in {m.elder_id for m in who.matches}

    again = _seed(runtime, "--elders", "240", "--seed", "7", "--league", "150300")
    assert "老人新建 0 名" in again and "已存在 240 名" in again
    more = _seed(runtime, "--elders", "300", "--seed", "7", "--league", "150300")
    assert "老人新建 60 名" in more
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Elder)) == 300


def test_seed_refuses_a_league_that_does_not_exist(runtime) -> None:
    env = {
        "HOTLINE_DATABASE_URL": runtime.settings.database_url,
        "HOTLINE_DATA_KEY": runtime.settings.data_key,
        "HOTLINE_DATA_DIR": str(runtime.settings.data_dir),
    }
    try:
        result = CliRunner().invoke(cli, ["seed", "--elders", "5", "--league", "150102"], env=env)
    finally:
        install_runtime(runtime)
    assert result.exit_code == 2
    assert "不是盟市代码" in result.output
