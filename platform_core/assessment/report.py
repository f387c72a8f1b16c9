"""The printable assessment report (评估报告) of one assessment."""

from __future__ import annotations

from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.assessment.pdf import ChineseDocument
from platform_core.assessment.service import get_elder, view_assessment
from platform_core.assessment.standard import DIMENSIONS, REASONS, AbilityGrade
from platform_core.regions.service import full_name
from platform_core.runtime import settings_of
from platform_core.security.exports import watermark


def render_report(session: Session, *, actor: Actor, assessment_id: int) -> bytes:
    """The report as PDF bytes; printing it is an export of health data and is audited."""
    detail = view_assessment(session, actor=actor, assessment_id=assessment_id, purpose="export")
    row = detail.assessment
    elder = get_elder(session, row.elder_id)
    grade = AbilityGrade(row.final_grade)
    doc = ChineseDocument(
        "老年人能力评估报告",
        font_path=settings_of(session).report_font_path,
        subtitle=f"依据 {row.standard} · 报告编号 {row.id}",
        watermark=watermark(actor, settings_of(session).timezone),
    )
    doc.heading("一、基本信息")
    doc.fields(
        [
            ("姓名", elder.name),
            ("身份证号", elder.id_number_masked),
            ("所在地区", full_name(session, elder.region_code) or elder.region_code),
            ("评估日期", row.assessed_on.isoformat()),
            ("评估原因", REASONS.get(row.reason, row.reason)),
            ("评估机构", row.agency),
            ("评估员", f"{row.assessor_1}、{row.assessor_2}"),
        ]
    )
    if row.is_legacy:
        doc.heading("二、评估结论 (旧标准记录)")
        doc.fields(
            [
                ("原评估等级", f"{row.legacy_grade_label} ({row.standard})"),
                ("对应现行等级", f"{grade.label} (按等级名称对应, 待按 GB/T 42195-2022 复评)"),
            ]
        )
        if detail.legacy_dimensions:
            doc.table(
                ["维度", "等级 (0-3)"],
                [[k, str(v)] for k, v in detail.legacy_dimensions.items()],
                (60, 40),
            )
    else:
        doc.heading("二、评估结果")
        rows = []
        for d in DIMENSIONS:
            for item in d.items:
                score = detail.item_scores.get(item.code, 0)
                rows.append(
                    [item.code, item.name, f"{score}/{item.max_score}", item.options.get(score, "")]
                )
            rows.append(
                [
                    d.code,
                    f"{d.name} 小计",
                    f"{(row.dimension_totals or {}).get(d.code, 0)}/{d.max_score}",
                    "",
                ]
            )
        doc.table(["编号", "评估项", "得分", "说明"], rows, (18, 42, 18, 92))
        doc.heading("三、评估结论")
        prelim = AbilityGrade(row.preliminary_grade or 0)
        doc.fields(
            [("总分", f"{row.total}/90"), ("初步等级", prelim.label), ("最终等级", grade.label)]
        )
        applied = [a["reason"] for a in detail.adjustments]
        doc.paragraph("等级变更依据: " + ("; ".join(applied) if applied else "无"))
    doc.fields([("下次评估", row.next_due_on.isoformat())])
    doc.signatures(["评估员一", "评估员二", "老年人或监护人"])
    return doc.output()
