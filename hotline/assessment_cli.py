"""``hotline assessment``: score batches of paper GB/T 42195-2022 forms, print reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from platform_core.assessment.forms import FormOutcome, UnreadableFormFile, score_file
from platform_core.assessment.standard import DIMENSIONS


@click.group()
def assessment() -> None:
    """老年人能力评估 / elder ability assessment (GB/T 42195-2022)."""


def _human(outcome: FormOutcome) -> str:
    form = outcome.form
    head = f"表单 {form.form_id}" + (f" {form.elder_name}" if form.elder_name else "")
    if outcome.result is None:
        lines = [f"{head}: 有误, 未评分 / not scored"]
        lines += [f"  - {p.message}" for p in outcome.problems]
        return "\n".join(lines)
    r = outcome.result
    lines = [f"{head}:"]
    for d in DIMENSIONS:
        lines.append(f"  {d.code} {d.name}: {r.dimension_totals[d.code]}/{d.max_score}")
    lines.append(f"  总分 / total: {r.total}/90")
    lines.append(f"  初步等级 / preliminary: {r.preliminary_grade.label}")
    lines.append(f"  最终等级 / final: {r.final_grade.label}")
    for a in r.adjustments:
        lines.append(f"  {'调整' if a.applied else '已考虑'}: {a.reason}")
    return "\n".join(lines)


@assessment.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="机器可读的 JSON 输出 / JSON for machines")
def score(file: Path, as_json: bool) -> None:
    """为一批纸质评估表评分 (JSON 或 CSV, 每条记录一张表) / score a batch of paper forms.

    退出码 / exit status: 0 全部评分, 1 有表单有误 (其余照常评分), 2 文件无法读取。
    """
    try:
        outcomes = score_file(file)
    except UnreadableFormFile as exc:
        click.echo(exc.message, err=True)
        sys.exit(2)
    failed = sum(1 for o in outcomes if not o.ok)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "forms": [o.as_dict() for o in outcomes],
                    "scored": len(outcomes) - failed,
                    "failed": failed,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for o in outcomes:
            click.echo(_human(o))
        click.echo(
            f"共 {len(outcomes)} 份, 已评分 {len(outcomes) - failed} 份, 有误 {failed} 份 / "
            f"{len(outcomes)} forms, {len(outcomes) - failed} scored, {failed} with errors"
        )
    if failed:
        sys.exit(1)
