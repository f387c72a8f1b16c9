"""The evaluation report of a provider (评估报告), printed to PDF and exported to Excel.

Both are exports of supervision data and are audited.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.assessment.pdf import ChineseDocument
from platform_core.audit import service as audit
from platform_core.evaluation.models import ProviderEvaluation
from platform_core.evaluation.service import METRIC_LABELS, PART_LABELS, get_evaluation
from platform_core.providers.models import STATUS_LABELS, Provider
from platform_core.regions.service import full_name
from platform_core.runtime import settings_of
from platform_core.security.exports import watermark


def _value(key: str, value: object) -> str:
    if value is None:
        return "—"
    if key in ("on_time_rate", "complaint_rate"):
        return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]
    return str(value)


def _status(code: str) -> str:
    return STATUS_LABELS.get(code, code)  # type: ignore[call-overload,no-any-return]


def render_pdf(session: Session, *, actor: Actor, evaluation_id: int) -> bytes:
    row = get_evaluation(session, actor=actor, evaluation_id=evaluation_id)
    provider = session.get(Provider, row.provider_id)
    assert provider is not None
    doc = ChineseDocument(
        "服务商评估报告",
        font_path=settings_of(session).report_font_path,
        subtitle=f"评估期间 {row.period_label} · 报告编号 PE{row.id:06d}",
        watermark=watermark(actor, settings_of(session).timezone),
    )
    doc.heading("一、服务商")
    doc.fields(
        [
            ("名称", provider.name),
            ("统一社会信用代码", provider.credit_code),
            ("所在地区", full_name(session, provider.region_code) or provider.region_code),
            ("评估前等级 / 状态", f"{row.grade_before} / {_status(row.status_before)}"),
        ]
    )
    doc.heading("二、服务指标")
    doc.table(
        ["指标", "数值"],
        [[label, _value(key, row.metrics.get(key))] for key, label in METRIC_LABELS.items()],
        (110, 60),
    )
    doc.heading("三、得分")
    doc.table(
        ["项目", "得分"],
        [[PART_LABELS.get(k, k), f"{v:.1f}"] for k, v in row.parts.items()]
        + [["合计", f"{row.score:.1f}"]],
        (110, 60),
    )
    doc.heading("四、结论")
    doc.fields(
        [
            ("评估等级", row.grade),
            ("诚信分", f"{row.credit_score:.1f}"),
            ("建议状态", _status(row.status_proposed)),
            ("评估后状态", _status(row.status_after) + ("" if row.applied else " (未应用)")),
        ]
    )
    if row.note:
        doc.paragraph("说明: " + row.note)
    doc.signatures(["评估人", "服务商负责人", "民政部门"])
    audit.record(
        session,
        actor=actor,
        action="evaluation.export",
        target_type="provider_evaluation",
        target_id=row.id,
        detail={"format": "pdf"},
    )
    return doc.output()


def render_xlsx(session: Session, *, actor: Actor, evaluation_ids: Sequence[int]) -> bytes:
    rows: list[ProviderEvaluation] = [
        get_evaluation(session, actor=actor, evaluation_id=i) for i in evaluation_ids
    ]
    wb = Workbook()
    ws = wb.active
    ws.title = "评估汇总"
    metric_keys = list(METRIC_LABELS)
    header = [
        "评估编号",
        "服务商",
        "期间",
        "得分",
        "等级",
        "诚信分",
        "评估前状态",
        "建议状态",
        "评估后状态",
        "已应用",
    ]
    header += (
        [METRIC_LABELS[k] for k in metric_keys]
        + [f"{PART_LABELS[k]}得分" for k in PART_LABELS]
        + ["说明"]
    )
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        provider = session.get(Provider, row.provider_id)
        ws.append(
            [
                f"PE{row.id:06d}",
                provider.name if provider else row.provider_id,
                row.period_label,
                row.score,
                row.grade,
                row.credit_score,
                _status(row.status_before),
                _status(row.status_proposed),
                _status(row.status_after),
                "是" if row.applied else "否",
            ]
            + [row.metrics.get(k) for k in metric_keys]
            + [row.parts.get(k) for k in PART_LABELS]
            + [row.note]
        )
    ws.freeze_panes = "C2"
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 14
    ws.column_dimensions["B"].width = 30
    buf = io.BytesIO()
    wb.save(buf)
    audit.record(
        session,
        actor=actor,
        action="evaluation.export",
        target_type="provider_evaluation",
        target_id=",".join(str(i) for i in evaluation_ids)[:64],
        detail={"format": "xlsx", "count": len(rows)},
    )
    return buf.getvalue()
