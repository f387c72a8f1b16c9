"""关怀外呼: care-call campaigns created over a filter of the region's elders (e.g. living alone
and 80 or older), scheduled, and followed live: each attempt and outcome, and the escalations
they started (the text to the family, the visit order)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, redirect, request, url_for
from pydantic import Field

from agent_console.realtime import CARE_NS, Connection, Realtime
from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    act,
    in_region,
    page,
    page_arg,
    region_options,
    scope,
)
from agent_console.views.common import runtime
from agent_console.views.schemas import Strict
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.care_calls import desk, jobs
from platform_core.care_calls import service as care_calls
from platform_core.elders.vocabulary import CATEGORY_LABELS, LIVING_LABELS
from platform_core.errors import OutOfRegion, ValidationFailed
from platform_core.regions import codes

bp = Blueprint("care_calls", __name__)
CAMPAIGN_EVENTS = (
    "CareCallAttempted",
    "CareHelpRequested",
    "CareCallUnreachable",
    "CareCampaignFinished",
)


def _room(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def _number(name: str, what: str, low: int, high: int) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValidationFailed(
            f"{what}应为 {low}-{high} 的整数 / out of range", code="invalid_number"
        )
    return int(raw)


def _criteria() -> care_calls.CareCriteria:
    form = request.form
    return care_calls.CareCriteria(
        min_age=_number("min_age", "年龄", 60, 120),
        categories=tuple(
            c for c in form.getlist("categories") if c in {k.value for k in CATEGORY_LABELS}
        ),
        living_arrangements=tuple(
            a for a in form.getlist("living") if a in {k.value for k in LIVING_LABELS}
        ),
        match_all=form.get("match") == "all",
    )


def _form_page(error: str | None = None, preview: int | None = None) -> str:
    with runtime().session() as s:
        regions = region_options(s)
        rows = desk.campaigns(s, region_code=scope(), page=page_arg())
    return page(
        "care/campaigns.html",
        rows=rows,
        regions=regions,
        region=scope(),
        categories={k.value: v for k, v in CATEGORY_LABELS.items()},
        living={k.value: v for k, v in LIVING_LABELS.items()},
        reasons=desk.REASONS,
        form=request.form,
        preview=preview,
        error=error,
        args=request.args,
    )


@bp.get("/care/campaigns", endpoint="campaigns")
@guard(Permission.CARE_CAMPAIGNS)
def campaigns_list() -> Any:
    return _form_page()


def _target_region() -> str:
    raw = request.form.get("region_code", "").strip() or current_actor().region_code
    code = codes.normalize_code(raw)
    in_region(
        code if codes.is_within(code, current_actor().region_code) else None,
        target_type="region",
        target_id=code,
    )
    return code


@bp.post("/care/campaigns/preview")
@guard(Permission.CARE_CAMPAIGNS)
def preview() -> Any:
    def run() -> Any:
        region, criteria = _target_region(), _criteria()
        with runtime().session() as s:
            count = care_calls.count_eligible(
                s, region_code=region, criteria=criteria, today=clock.today_in(s)
            )
        return _form_page(preview=count)

    return act(run, lambda error: _form_page(error=error))


@bp.post("/care/campaigns")
@guard(Permission.CARE_CAMPAIGNS)
def create() -> Any:
    form = request.form

    def run() -> Any:
        region, criteria = _target_region(), _criteria()
        raw_at = form.get("scheduled_for", "").strip()
        tz = clock.zone(runtime().settings.timezone)
        try:
            at = datetime.fromisoformat(raw_at).replace(tzinfo=tz) if raw_at else None
        except ValueError:
            raise ValidationFailed(
                "开始时间格式不正确 / bad start time", code="invalid_time"
            ) from None
        name = form.get("name", "").strip()
        if not name:
            raise ValidationFailed("请填写计划名称 / a name is required", code="name_required")
        reason = form.get("reason", "routine")
        with runtime().session() as s:
            campaign = care_calls.create_campaign(
                s,
                actor=current_actor(),
                name=name,
                region_code=region,
                criteria=criteria,
                reason=reason if reason in desk.REASONS else "other",
                scheduled_for=at,
                max_attempts=_number("max_attempts", "尝试次数", 1, 10),
                retry_interval_min=_number("retry_interval_min", "重拨间隔", 1, 1440),
            )
            campaign_id, starts = campaign.id, campaign.scheduled_for
        # committed: its first attempts may be queued now
        jobs.schedule_campaign(runtime(), campaign_id, at=starts if at else None)
        return redirect(url_for("care_calls.campaign", campaign_id=campaign_id))

    return act(run, lambda error: _form_page(error=error))


def _campaign(s: Any, campaign_id: int) -> Any:
    campaign = care_calls.get_campaign(s, campaign_id=campaign_id)
    in_region(campaign.region_code, target_type="care_campaign", target_id=campaign_id)
    return campaign


def _campaign_page(campaign_id: int, error: str | None = None) -> str:
    status = request.args.get("status", "")
    with runtime().session() as s:
        campaign = _campaign(s, campaign_id)
        rows = desk.campaign_calls(
            s,
            campaign_id=campaign.id,
            statuses=[status] if status in desk.CALL_STATUS else [],
            page=page_arg(),
        )
        return page(
            "care/campaign.html",
            campaign=campaign,
            status_label=desk.CAMPAIGN_STATUS.get(campaign.status, campaign.status),
            summary=desk.summary(s, campaign_id=campaign.id),
            call_status=desk.CALL_STATUS,
            reasons=desk.REASONS,
            living={k.value: v for k, v in LIVING_LABELS.items()},
            categories={k.value: v for k, v in CATEGORY_LABELS.items()},
            rows=rows,
            args=request.args,
            error=error,
        )


@bp.get("/care/campaigns/<int:campaign_id>")
@guard(Permission.CARE_CAMPAIGNS)
def campaign(campaign_id: int) -> Any:
    return _campaign_page(campaign_id)


@bp.post("/care/campaigns/<int:campaign_id>/cancel")
@guard(Permission.CARE_CAMPAIGNS)
def cancel(campaign_id: int) -> Any:
    def run() -> Any:
        with runtime().session() as s:
            _campaign(s, campaign_id)
            care_calls.cancel_campaign(s, actor=current_actor(), campaign_id=campaign_id)
        return redirect(url_for("care_calls.campaign", campaign_id=campaign_id))

    return act(run, lambda error: _campaign_page(campaign_id, error))


class FollowCampaignIn(Strict):
    campaign_id: int = Field(ge=1)
    care_call_ids: list[int] = Field(default_factory=list, max_length=200)


def _row(r: desk.CallRow) -> dict[str, Any]:
    return {
        "care_call_id": r.care_call_id,
        "status": r.status,
        "status_label": r.status_label,
        "attempts": r.attempts,
        "last_result": r.last_result,
        "notice": r.notice,
        "visit_order": r.visit_order,
    }


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)

    @realtime.on(CARE_NS, "follow_campaign", Permission.CARE_CAMPAIGNS, FollowCampaignIn)
    def follow(conn: Connection, payload: FollowCampaignIn) -> dict[str, Any]:
        """The campaign as it stands (its counts, the rows on the page) and its events after."""
        with runtime().session() as s:
            campaign = care_calls.get_campaign(s, campaign_id=payload.campaign_id)
            if not codes.is_within(campaign.region_code, conn.actor.region_code):
                raise OutOfRegion("无权访问其他地区的数据 / outside your region")
            out = {
                "campaign_id": campaign.id,
                "status": campaign.status,
                "status_label": desk.CAMPAIGN_STATUS.get(campaign.status, campaign.status),
                "summary": desk.summary(s, campaign_id=campaign.id),
                "rows": [
                    _row(r)
                    for r in desk.calls_by_id(
                        s, campaign_id=campaign.id, care_call_ids=payload.care_call_ids
                    )
                ],
            }
        realtime.follow(CARE_NS, request.sid, _room(payload.campaign_id))  # type: ignore[attr-defined]
        return out

    def relay(envelope: dict[str, Any]) -> None:
        campaign_id = (envelope.get("data") or {}).get("campaign_id")
        if campaign_id:
            realtime.emit_local(
                "campaign_event", envelope, namespace=CARE_NS, to=_room(campaign_id)
            )

    for event in CAMPAIGN_EVENTS:
        realtime.on_domain_event(event, relay)
