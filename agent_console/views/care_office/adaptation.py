"""适老化改造 desk: cases by region and status; eligibility, the home assessment, the plan and
quote within the household's cap, the signature, the works with a photo of every item before and
after, acceptance (or rework), payment and the return visit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Flask, Response, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    act,
    applying_elder,
    audit_view,
    chain_list,
    in_region,
    page,
    require_permission,
)
from agent_console.views.common import check_note, runtime
from platform_core.accounts.permissions import Permission, allows
from platform_core.errors import ValidationFailed
from platform_core.home_adaptation import desk
from platform_core.home_adaptation import service as ha
from platform_core.providers.service import get_provider, list_providers

bp = Blueprint("care_adapt", __name__)
ITEM_ROWS = 5
RELATIONS = ("本人", "配偶", "子女", "其他亲属", "其他")
# room for the form's fields around the photos of one step
_UPLOAD_MARGIN = 64 * 1024


@bp.get("/care/adaptation", endpoint="cases")
@guard(Permission.CARE_CASEWORK)
def cases_list() -> Any:
    return chain_list("care/adapt_list.html", desk.cases, ha.STATUS_LABELS)


@bp.get("/care/adaptation/new")
@guard(Permission.CARE_CASEWORK)
def new() -> Any:
    return page("care/adapt_new.html", error=None, form={})


@bp.post("/care/adaptation")
@guard(Permission.CARE_CASEWORK)
def apply() -> Any:
    form = {"id_number": request.form.get("id_number", "").strip()[:32]}

    def run() -> Any:
        with runtime().session() as s:
            elder = applying_elder(s, form["id_number"])
            case = ha.apply_for_adaptation(s, actor=current_actor(), elder_id=elder.id)
            case_id = case.id
        return redirect(url_for("care_adapt.case", case_id=case_id))

    return act(run, lambda error: page("care/adapt_new.html", error=error, form=form))


def _detail(case_id: int, error: str | None = None) -> str:
    with runtime().session() as s:
        view = desk.case_view(s, case_id=case_id)
        in_region(view.case.region_code, target_type="home_adaptation", target_id=case_id)
        audit_view(
            s,
            action="home_adaptation.view",
            elder_id=view.elder.id,
            target_type="case_id",
            target_id=case_id,
        )
        decide = allows(current_actor().role, Permission.CARE_DECIDE)
        return page(
            "care/adapt_case.html",
            view=view,
            case=view.case,
            actions=[(a, label) for a, label in view.actions if decide or a != "settle"],
            error=error,
            item_rows=ITEM_ROWS,
            relations=RELATIONS,
            providers=list_providers(s, region_code=view.case.region_code)
            if view.case.status == "signed"
            else [],
            step_labels={"apply": "申请", **ha.ACTION_LABELS},
            status_labels=ha.STATUS_LABELS,
        )


@bp.get("/care/adaptation/<int:case_id>")
@guard(Permission.CARE_CASEWORK)
def case(case_id: int) -> Any:
    return _detail(case_id)


def _items() -> list[dict[str, Any]]:
    items = []
    for i in range(ITEM_ROWS):
        name = request.form.get(f"name_{i}", "").strip()[:80]
        cost = request.form.get(f"cost_{i}", "").strip()[:14]
        if not name and not cost:
            continue
        try:
            amount = Decimal(cost)
        except InvalidOperation:
            raise ValidationFailed(
                f"「{name}」的金额应为数字 / cost must be a number", code="invalid_plan_item"
            ) from None
        items.append({"name": name, "cost": amount, "basic": request.form.get(f"basic_{i}") == "1"})
    return items


def _photos(case_id: int, which: str) -> dict[int, ha.Photo]:
    limit = runtime().settings.order_photo_max_bytes
    photos = {}
    for key, upload in request.files.items():
        prefix = f"{which}_"
        if not key.startswith(prefix) or not key[len(prefix) :].isdigit() or not upload.filename:
            continue
        data = upload.read(limit + 1)
        if len(data) > limit:
            raise ValidationFailed(
                f"照片 {upload.filename} 超过 {limit // 1024 // 1024} MB / photo too large",
                code="photo_too_large",
            )
        photos[int(key[len(prefix) :])] = ha.Photo(upload.filename, data)
    return photos


def _take(s: Any, case_id: int, action: str) -> None:
    actor, form = current_actor(), request.form
    if action in ("find_eligible", "find_ineligible"):
        ha.check_eligibility(s, actor=actor, case_id=case_id)
    elif action == "assess_home":
        ha.assess_home(
            s,
            actor=actor,
            case_id=case_id,
            findings=check_note(form.get("findings", "")).splitlines(),
        )
    elif action == "plan":
        ha.propose_plan(s, actor=actor, case_id=case_id, items=_items())
    elif action == "sign":
        relation = form.get("signer_relation", "本人")
        ha.sign_plan(
            s,
            actor=actor,
            case_id=case_id,
            signer_name=form.get("signer_name", "")[:64],
            signer_relation=relation if relation in RELATIONS else "本人",
        )
    elif action == "start_works":
        raw = form.get("provider_id", "")
        if not raw.isdigit():
            raise ValidationFailed("请选择施工单位 / choose the provider", code="provider_required")
        provider = get_provider(s, provider_id=int(raw))
        ha.start_works(
            s,
            actor=actor,
            case_id=case_id,
            provider_id=provider.id,
            before_photos=_photos(case_id, "before"),
        )
    elif action == "complete_works":
        ha.complete_works(s, actor=actor, case_id=case_id, after_photos=_photos(case_id, "after"))
    elif action in ("accept", "require_rework"):
        ha.inspect_works(
            s,
            actor=actor,
            case_id=case_id,
            passed=action == "accept",
            note=check_note(form.get("note", "")),
        )
    elif action == "settle":
        require_permission(Permission.CARE_DECIDE)
        ha.settle(s, actor=actor, case_id=case_id)
    elif action == "return_visit":
        raw = form.get("satisfaction", "")
        if raw not in ("1", "2", "3", "4", "5"):
            raise ValidationFailed(
                "请选择满意度 1-5 / satisfaction 1-5", code="invalid_satisfaction"
            )
        ha.record_return_visit(
            s,
            actor=actor,
            case_id=case_id,
            satisfaction=int(raw),
            note=check_note(form.get("note", "")),
        )
    elif action == "cancel":
        reason = check_note(form.get("reason", "")).strip()
        if not reason:
            raise ValidationFailed("请填写取消原因 / a reason is required", code="reason_required")
        ha.cancel(s, actor=actor, case_id=case_id, reason=reason)
    else:
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")


@bp.post("/care/adaptation/<int:case_id>/<action>")
@guard(Permission.CARE_CASEWORK)
def step(case_id: int, action: str) -> Any:
    if action in ("start_works", "complete_works"):
        # the photos of every item of the case in one request
        request.max_content_length = (
            runtime().settings.order_photo_max_bytes * ITEM_ROWS * 2 + _UPLOAD_MARGIN
        )

    def run() -> Any:
        with runtime().session() as s:
            current = ha.get_case(s, case_id=case_id)
            in_region(current.region_code, target_type="home_adaptation", target_id=case_id)
            _take(s, case_id, action)
        return redirect(url_for("care_adapt.case", case_id=case_id))

    return act(run, lambda error: _detail(case_id, error))


@bp.get("/care/adaptation/photos/<int:item_id>/<which>")
@guard(Permission.CARE_CASEWORK)
def photo(item_id: int, which: str) -> Any:
    with runtime().session() as s:
        case_region = desk.case_of_item(s, item_id=item_id).region_code
        in_region(case_region, target_type="home_adaptation_item", target_id=item_id)
        data, mimetype = desk.read_photo(s, actor=current_actor(), item_id=item_id, which=which)
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
