"""``hotline exchange import``: a department's file taken from the command line, each row's
result printed, the same file a second time answered as already taken."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

from click.testing import CliRunner

from hotline.cli import cli
from platform_core import clock
from platform_core.elders import service as elders
from platform_core.runtime import install_runtime
from tests.platform_core.alarms_support import new_elder
from tests.platform_core.elders_support import new_id_number


def test_a_deaths_file_from_the_command_line(regions, pg_url, base_settings, tmp_path) -> None:
    number = new_id_number()
    with regions.session() as s:
        elder_id = new_elder(s, name="王桂兰", id_number=number)
    path = tmp_path / "deaths.csv"
    day = (clock.today() - timedelta(days=1)).isoformat()
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["死亡注销编号", "身份证号", "姓名", "死亡日期"])
        w.writerow(["SW-CLI-1", number, "王桂兰", day])
        w.writerow(["SW-CLI-2", number[:-1] + ("0" if number[-1] != "0" else "1"), "王", day])
    env = {
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_KEY": base_settings.data_key,
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_REDIS_URL": "",
    }
    args = ["exchange", "import", str(path), "--kind", "deaths", "--region", "150100000000"]
    try:
        first = CliRunner().invoke(cli, args, env=env)
        assert first.exit_code == 0, first.output
        result = json.loads(first.output[first.output.index("{") :])
        assert (result["accepted"], result["refused"], result["duplicate"]) == (1, 1, False)
        assert result["results"][1]["code"] == "invalid_id_number"
        assert number not in first.output
        again = CliRunner().invoke(cli, args, env=env)
        assert json.loads(again.output[again.output.index("{") :])["duplicate"] is True
    finally:
        install_runtime(regions)
    with regions.session() as s:
        assert elders.get_elder(s, elder_id=elder_id).status == "deceased"
