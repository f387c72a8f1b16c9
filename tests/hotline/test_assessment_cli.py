"""``hotline assessment score`` on batches of paper forms, as an assessor would run it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hotline.cli import cli

NAMES = [
    "进食",
    "修饰",
    "洗澡",
    "穿/脱上衣",
    "穿/脱裤子和鞋袜",
    "小便控制",
    "大便控制",
    "如厕",
    "床上体位转移",
    "床椅转移",
    "平地行走",
    "上下楼梯",
    "时间定向",
    "空间定向",
    "人物定向",
    "记忆",
    "理解能力",
    "表达能力",
    "攻击行为",
    "抑郁症状",
    "意识水平",
    "视力",
    "听力",
    "执行日常事务",
    "使用交通工具外出",
    "社会交往能力",
]
FULL = [4] * 11 + [3] + [4] * 6 + [1, 1, 2, 2, 2, 4, 3, 4]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    header = ["编号", "姓名", *NAMES, "诊断", "近30天照护风险事件", "备注"]
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for row in rows:
            w.writerow(row)
    return path


def row(form_id: str, name: str, scores: list[object], **extra: object) -> dict[str, object]:
    return {"编号": form_id, "姓名": name, **dict(zip(NAMES, scores, strict=True)), **extra}


def test_csv_batch_scores_good_forms_and_names_the_bad_item(tmp_path: Path) -> None:
    # F2: 进食 3 and 修饰 2 -> 90 - 1 - 2 = 87 轻度; F03 dementia -> 中度.
    f2 = list(FULL)
    f2[0], f2[1] = 3, 2
    bad = list(FULL)
    bad[11] = 4  # 上下楼梯 has at most 3
    bad[25] = ""  # 社会交往能力 left blank
    path = write_csv(
        tmp_path / "forms.csv",
        [
            row("F1", "张桂兰", FULL, 备注="复印件"),
            row("F2", "巴特尔", f2, 诊断="F03"),
            row("F3", "李淑芬", bad),
        ],
    )
    result = CliRunner().invoke(cli, ["assessment", "score", str(path)])
    assert result.exit_code == 1, result.output
    out = result.output
    f1, rest = out.split("表单 F2", 1)
    f2_text, f3_text = rest.split("表单 F3", 1)
    assert "总分 / total: 90/90" in f1 and "最终等级 / final: 能力完好" in f1
    assert "B.1 自理能力: 29/32" in f2_text and "总分 / total: 87/90" in f2_text
    assert "初步等级 / preliminary: 轻度失能" in f2_text and "最终等级 / final: 中度失能" in f2_text
    assert "B.2.4 上下楼梯: 得分 4 超出 0-3" in f3_text
    assert "B.4.5 社会交往能力: 缺少得分" in f3_text
    assert "共 3 份, 已评分 2 份, 有误 1 份" in out


def test_json_batch_with_json_output(tmp_path: Path) -> None:
    items = dict(zip(NAMES, FULL, strict=True))
    forms = [
        {"form_id": "J1", "items": {**items, "意识水平": 1}, "coma": True},
        {
            "form_id": "J2",
            "items": {**items, "床上体位转移": 0, "床椅转移": 0},
            "risk_events": 2,
        },  # 82 轻度 -> 中度
        {"form_id": "J3", "items": {**items, "攻击行为": 3}},
    ]
    path = tmp_path / "forms.json"
    path.write_text(json.dumps(forms, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["assessment", "score", str(path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert (data["scored"], data["failed"]) == (2, 1)
    j1, j2, j3 = data["forms"]
    assert j1["total"] == 89 and j1["preliminary_grade"]["label"] == "轻度失能"
    assert j1["final_grade"] == {"level": 4, "label": "完全失能"}
    assert j2["dimension_totals"]["B.2"] == 7 and j2["total"] == 82
    assert j2["final_grade"]["label"] == "中度失能"
    assert j3["ok"] is False
    assert j3["errors"] == [
        {
            "field": "B.3.7",
            "rule": "out_of_range",
            "message": "B.3.7 攻击行为: 得分 3 超出 0-1 / score 3 outside 0-1",
        }
    ]


def test_all_good_exits_zero_through_the_installed_command(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ok.csv", [row("A", "王", FULL)])
    hotline = Path(sys.executable).with_name("hotline")
    proc = subprocess.run(
        [str(hotline), "assessment", "score", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "最终等级 / final: 能力完好" in proc.stdout


def test_unreadable_file_exits_two(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")
    result = CliRunner().invoke(cli, ["assessment", "score", str(path)])
    assert result.exit_code == 2
    assert "不是合法的 JSON" in result.output
