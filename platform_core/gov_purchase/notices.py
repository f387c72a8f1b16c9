"""The wording of the notice issued at each step of the application chain, and its PDF."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.assessment.pdf import ChineseDocument
from platform_core.audit import service as audit
from platform_core.errors import NotFound
from platform_core.gov_purchase.models import GovPurchaseApplication, GovPurchaseNotice
from platform_core.regions.service import require_within
from platform_core.runtime import settings_of

# kind -> (title, body template). Templates see: name, id, applied_on, note, and step values.
TEMPLATES: dict[str, tuple[str, str]] = {
    "submitted": (
        "申请回执",
        "{name}: 您于 {applied_on} 提交的政府购买养老服务申请 (编号 {id}) 已收到, 我们将在规定时限内决定是否受理。",
    ),
    "accepted": (
        "受理通知书",
        "{name}: 您的政府购买养老服务申请 (编号 {id}) 材料齐全, 已于 {on} 受理, 进入初审。",
    ),
    "correction_requested": (
        "补正材料通知书",
        "{name}: 您的申请 (编号 {id}) 需补正以下材料: {note}。请补正后重新提交, 补正期间审核暂停。",
    ),
    "resubmitted": (
        "补正材料回执",
        "{name}: 您于 {on} 补正的材料已收到, 申请 (编号 {id}) 重新进入初审。",
    ),
    "first_reviewed": (
        "初审意见书",
        "{name}: 您的申请 (编号 {id}) 已于 {on} 通过初审, 将安排老年人能力评估。{note}",
    ),
    "assessed": (
        "评估结果告知书",
        "{name}: 依据 GB/T 42195-2022, 您的能力评估结果为 {grade} (评估日期 {assessed_on})。如有异议, 可申请复评。",
    ),
    "in_publicity": (
        "公示",
        "拟为 {name} 提供政府购买养老服务 (申请编号 {id}), 公示期 {publicity_starts_on} 至 {publicity_ends_on}。对公示内容有异议者, 请于公示期内向民政部门反映。",
    ),
    "approved": (
        "审批决定书",
        "{name}: 经审批, 自 {allowance_from} 起为您提供政府购买养老服务, 每月服务补贴 {monthly_allowance} 元, 有效期至 {allowance_until}。补贴仅用于服务, 不发放现金。",
    ),
    "rejected": (
        "不予批准决定书",
        "{name}: 您的申请 (编号 {id}) 经审核不予批准, 理由: {note}。如有异议, 可于 {review_deadline} 前申请复核。",
    ),
    "under_review": ("复核受理通知书", "{name}: 您的申请 (编号 {id}) 已进入复核, 事由: {note}。"),
    "refused": ("复核决定书", "{name}: 经复核, 维持不予批准的决定, 理由: {note}。"),
    "terminated": (
        "终止服务通知书",
        "{name}: 自 {on} 起终止为您提供的政府购买养老服务, 原因: {note}。",
    ),
    "withdrawn": ("撤回申请确认书", "{name}: 您的申请 (编号 {id}) 已于 {on} 撤回。"),
}


def compose(
    app: GovPurchaseApplication,
    kind: str,
    *,
    name: str,
    on: date,
    issued_by: str,
    values: dict[str, Any],
) -> GovPurchaseNotice:
    title, template = TEMPLATES[kind]
    fields = {
        "name": name,
        "id": app.id,
        "applied_on": app.applied_on,
        "on": on,
        "note": "",
        **values,
    }
    body = template.format(**{k: ("" if v is None else v) for k, v in fields.items()})
    number = f"ZFGM-{app.id:06d}-{len(app.notices) + 1:02d}"
    return GovPurchaseNotice(
        kind=kind, number=number, title=title, body=body, issued_on=on, issued_by=issued_by
    )


def render_notice(session: Session, *, actor: Actor, notice_id: int) -> bytes:
    """The notice as a printable PDF (audited: it names the elder)."""
    notice = session.get(GovPurchaseNotice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在: {notice_id} / no such notice", code="notice_not_found")
    require_within(notice.application.region_code, actor.region_code)
    doc = ChineseDocument(
        notice.title,
        font_path=settings_of(session).report_font_path,
        subtitle=f"文号 {notice.number}",
    )
    doc.paragraph(notice.body)
    doc.fields([("出具日期", notice.issued_on.isoformat()), ("经办人", notice.issued_by)])
    doc.signatures(["经办单位 (盖章)"])
    audit.record(
        session,
        actor=actor,
        action="gov_purchase.print_notice",
        target_type="elder",
        target_id=notice.application.elder_id,
        detail={"notice": notice.number},
    )
    return doc.output()
