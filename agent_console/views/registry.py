"""The elder registry's pages (老年人档案管理) and the imports of the registries: search a page
at a time, create, edit with provenance, contacts and key holders, consent, a death, an audited
export, and the Excel import with its dry run and progress.

Pages are forms with CSRF tokens (no script needed, except the progress poll); every command
goes to ``platform_core.elders.registry`` or ``platform_core.flows``, which check the keeper's
permission and region again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from agent_console import i18n
from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.chats import service as chats
from platform_core.devices import imports as device_imports
from platform_core.elders import imports as elder_imports
from platform_core.elders import registry
from platform_core.elders import service as elders
from platform_core.elders.schemas import ConsentIn, ContactIn
from platform_core.elders.vocabulary import (
    CATEGORY_LABELS,
    LIVING_LABELS,
    STATUS_LABELS,
)
from platform_core.errors import ValidationFailed
from platform_core.flows import department_batches, registry_imports
from platform_core.flows.death import record_death_of_elder

bp = Blueprint("registry", __name__)
_TEMPLATES = {"elders": elder_imports.template_bytes, "devices": device_imports.template_bytes}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Multipart overhead allowed above the file size limit before the request is cut off.
UPLOAD_MARGIN = 256 * 1024


def upload_limit(view: Any) -> Any:
    """Mark a view that takes a registry file: its request may be as large as the file limit
    (the app's hook raises the request limit before anything reads the body)."""
    view.hotline_upload_bytes = lambda settings: (
        settings.registry_import_max_mb * 1024 * 1024 + UPLOAD_MARGIN
    )
    return view


def _query() -> registry.ElderQuery:
    args = request.args
    return registry.ElderQuery(
        text=args.get("q", "")[:64],
        address=args.get("address", "")[:100],
        region_code=args.get("region", "")[:12],
        status=args.get("status", "") if args.get("status") in STATUS_LABELS else "",
        category=args.get("category", "") if args.get("category") in CATEGORY_LABELS else "",
        living_arrangement=args.get("living", "") if args.get("living") in LIVING_LABELS else "",
    )


def _page_number() -> int:
    raw = request.args.get("page", "0")
    return min(int(raw), 100_000) if raw.isascii() and raw.isdigit() else 0


@bp.get("/registry/elders")
@guard(Permission.MANAGE_ELDERS)
def elders_page() -> Any:
    query = _query()
    per_page = runtime().settings.registry_page_size
    with runtime().session() as s:
        page = registry.search(
            s, actor=current_actor(), query=query, page=_page_number(), per_page=per_page
        )
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "registry/elders.html",
        page=page,
        args=args,
        statuses=STATUS_LABELS,
        categories=CATEGORY_LABELS,
        livings=LIVING_LABELS,
        may_export=allows(current_actor().role, Permission.EXPORT_ELDERS),
    )


@bp.get("/registry/elders/export.xlsx")
@guard(Permission.EXPORT_ELDERS)
def elders_export() -> Any:
    with runtime().session() as s:
        data = registry.export_xlsx(
            s, actor=current_actor(), query=_query(), tz=runtime().settings.timezone
        )
    response = Response(data, mimetype=XLSX)
    response.headers["Content-Disposition"] = "attachment; filename=elders.xlsx"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/registry/elders/new")
@guard(Permission.MANAGE_ELDERS)
def elder_new() -> Any:
    return render_template("registry/elder_new.html", livings=LIVING_LABELS, form={}, error=None)


def _form(*names: str) -> dict[str, str]:
    return {n: request.form.get(n, "").strip()[:255] for n in names}


@bp.post("/registry/elders")
@guard(Permission.MANAGE_ELDERS)
def elder_create() -> Any:
    form = _form("name", "id_number", "address", "region_code", "mobile", "living_arrangement")
    data: dict[str, Any] = {k: v for k, v in form.items() if k != "mobile"}
    if form["mobile"]:
        data["phones"] = [{"number": form["mobile"], "kind": "mobile"}]
    with runtime().session() as s:
        elder = registry.create_elder(s, actor=current_actor(), data=data)
        elder_id = elder.id
    return redirect(url_for("registry.elder_page", elder_id=elder_id))


def _elder_record(s: Any, actor: Actor, elder_id: int) -> dict[str, Any]:
    """What the elder's registry page shows (its reveal shows the same with the number)."""
    record = registry.record_of(s, actor=actor, elder_id=elder_id)
    record["departments"] = department_batches.department_facts(
        s, elder_id=elder_id, tz=runtime().settings.timezone
    )
    profile = elders.elder_profile(s, elder_id=elder_id, actor=actor, source_ip=request.remote_addr)
    # the online conversations are kept on the elder's record (reading them is audited)
    chat_history = chats.history_for_elder(s, actor=actor, elder_id=elder_id)
    return {
        "p": profile,
        "record": record,
        "chats": chat_history,
        "may_see_photos": allows(actor.role, Permission.VIEW_ELDER),
        "livings": LIVING_LABELS,
        "categories": CATEGORY_LABELS,
    }


@bp.get("/registry/elders/<int:elder_id>")
@guard(Permission.MANAGE_ELDERS)
def elder_page(elder_id: int) -> Any:
    actor = current_actor()
    with runtime().session() as s:
        shown = _elder_record(s, actor, elder_id)
    return render_template(
        "registry/elder.html",
        **shown,
        revealed=None,
        may_reveal=allows(actor.role, Permission.REVEAL_PERSONAL),
    )


@bp.post("/registry/elders/<int:elder_id>/reveal")
@guard(Permission.REVEAL_PERSONAL)
def elder_reveal(elder_id: int) -> Any:
    actor = current_actor()
    _keeper(elder_id, "elder.reveal_id_number")
    with runtime().session() as s:
        number = elders.reveal_id_number(
            s,
            elder_id=elder_id,
            actor=actor,
            reason=request.form.get("reason", "")[:100],
            source_ip=request.remote_addr,
        )
        shown = _elder_record(s, actor, elder_id)
    response = Response(
        render_template("registry/elder.html", **shown, revealed=number, may_reveal=True)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _keeper(elder_id: int, action: str) -> None:
    with runtime().session() as s:
        registry.check_keeper(s, actor=current_actor(), elder_id=elder_id, action=action)


def _back(elder_id: int) -> Any:
    return redirect(url_for("registry.elder_page", elder_id=elder_id))


@bp.post("/registry/elders/<int:elder_id>/edit")
@guard(Permission.MANAGE_ELDERS)
def elder_edit(elder_id: int) -> Any:
    _keeper(elder_id, "elder.update")
    form = _form("name", "address", "household_address", "region_code", "living_arrangement")
    changes: dict[str, Any] = {k: v for k, v in form.items() if v}
    if "categories" in request.form:
        changes["categories"] = [
            {"category": c} for c in request.form.getlist("category") if c in CATEGORY_LABELS
        ]
    if not changes:
        raise ValidationFailed("没有要修改的内容 / nothing to change", code="nothing_to_change")
    with runtime().session() as s:
        registry.edit_elder(s, actor=current_actor(), elder_id=elder_id, changes=changes)
    return _back(elder_id)


@bp.post("/registry/elders/<int:elder_id>/contacts")
@guard(Permission.MANAGE_ELDERS)
def contact_add(elder_id: int) -> Any:
    _keeper(elder_id, "elder.add_contact")
    form = _form("name", "relation", "phone", "priority")
    contact = ContactIn.model_validate(
        {
            "name": form["name"],
            "relation": form["relation"] or "其他",
            "phone": form["phone"],
            "priority": int(form["priority"]) if form["priority"].isdigit() else 1,
            "holds_key": request.form.get("holds_key") == "1",
        }
    )
    with runtime().session() as s:
        registry.add_elder_contact(s, actor=current_actor(), elder_id=elder_id, contact=contact)
    return _back(elder_id)


@bp.post("/registry/elders/<int:elder_id>/contacts/<int:contact_id>/<action>")
@guard(Permission.MANAGE_ELDERS)
def contact_change(elder_id: int, contact_id: int, action: str) -> Any:
    _keeper(elder_id, "elder.change_contact")
    actor = current_actor()
    with runtime().session() as s:
        if action in ("key", "no_key"):
            registry.set_key_holder(
                s, actor=actor, elder_id=elder_id, contact_id=contact_id, holds_key=action == "key"
            )
        elif action == "remove":
            registry.remove_contact(s, actor=actor, elder_id=elder_id, contact_id=contact_id)
        else:
            raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    return _back(elder_id)


def _date(name: str) -> date:
    raw = request.form.get(name, "")[:10]
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"日期格式应为 YYYY-MM-DD: {raw} / bad date", code="invalid_date"
        ) from None


@bp.post("/registry/elders/<int:elder_id>/consents")
@guard(Permission.MANAGE_ELDERS)
def consent_add(elder_id: int) -> Any:
    _keeper(elder_id, "elder.record_consent")
    form = _form("consenter_name", "consenter_relation")
    consent = ConsentIn.model_validate(
        {
            "consenter_name": form["consenter_name"],
            "consenter_relation": form["consenter_relation"] or "本人",
            "by_guardian": request.form.get("by_guardian") == "1",
            "scope": request.form.getlist("scope") or ["基础信息"],
            "consented_on": _date("consented_on"),
        }
    )
    with runtime().session() as s:
        registry.add_consent(s, actor=current_actor(), elder_id=elder_id, consent=consent)
    return _back(elder_id)


@bp.post("/registry/elders/<int:elder_id>/consents/<int:consent_id>/withdraw")
@guard(Permission.MANAGE_ELDERS)
def consent_withdraw(elder_id: int, consent_id: int) -> Any:
    _keeper(elder_id, "elder.withdraw_consent")
    with runtime().session() as s:
        registry.withdraw_consent(
            s,
            actor=current_actor(),
            elder_id=elder_id,
            consent_id=consent_id,
            on=_date("withdrawn_on"),
        )
    return _back(elder_id)


@bp.post("/registry/elders/<int:elder_id>/death")
@guard(Permission.MANAGE_ELDERS)
def elder_death(elder_id: int) -> Any:
    _keeper(elder_id, "elder.record_death")
    actor = current_actor()
    died_on = _date("died_on")
    with runtime().session() as s:
        record_death_of_elder(
            s,
            elder_id=elder_id,
            died_on=died_on,
            actor=actor,
            source=request.form.get("source", "登记")[:60],
        )
    return _back(elder_id)


# ---------------------------------------------------------------- imports


def _kind_permission(kind: str) -> None:
    spec = registry_imports.KINDS.get(kind)
    if spec is None:
        raise ValidationFailed("未知的导入类型 / unknown import kind", code="unknown_kind")


@bp.get("/registry/imports/<kind>")
@guard()
def imports_page(kind: str) -> Any:
    _kind_permission(kind)
    tz = runtime().settings.timezone
    with runtime().session() as s:
        batches = [
            registry_imports.batch_view(b, tz)
            for b in registry_imports.list_batches(s, actor=current_actor(), kind=kind)
        ]
    return render_template(
        "registry/imports.html",
        kind=kind,
        batches=batches,
        label=registry_imports.KINDS[kind].label,
        max_mb=runtime().settings.registry_import_max_mb,
    )


@bp.get("/registry/imports/<kind>/template.xlsx")
@guard()
def import_template(kind: str) -> Any:
    _kind_permission(kind)
    response = Response(_TEMPLATES[kind](), mimetype=XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename={kind}-template.xlsx"
    return response


@bp.post("/registry/imports/<kind>")
@guard()
@upload_limit
def import_upload(kind: str) -> Any:
    _kind_permission(kind)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("请选择要上传的 Excel 文件 / choose a file", code="file_required")
    limit = runtime().settings.registry_import_max_mb * 1024 * 1024
    content = upload.read(limit + 1)
    with runtime().session() as s:
        batch = registry_imports.stage_import(
            s,
            actor=current_actor(),
            kind=kind,
            filename=upload.filename,
            content=content,
            source_department=request.form.get("source", ""),
        )
        batch_id = batch.id
    return _run(batch_id, write=False)


def _run(batch_id: int, *, write: bool) -> Any:
    with runtime().session() as s:
        registry_imports.request_run(s, actor=current_actor(), batch_id=batch_id, write=write)
    runtime().jobs.enqueue(registry_imports.JOB, batch_id)
    return redirect(url_for("registry.import_batch", batch_id=batch_id))


@bp.post("/registry/imports/batch/<int:batch_id>/<step>")
@guard()
def import_step(batch_id: int, step: str) -> Any:
    if step not in ("check", "import"):
        raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    return _run(batch_id, write=step == "import")


def _batch(batch_id: int) -> dict[str, Any]:
    tz = runtime().settings.timezone
    with runtime().session() as s:
        view = registry_imports.batch_view(
            registry_imports.get_batch(s, actor=current_actor(), batch_id=batch_id), tz
        )
    lang = g.get("lang", i18n.DEFAULT)
    for p in view["problems"]:
        p["message"] = i18n.localize(lang, p["message"])
    view["error"] = i18n.localize(lang, view["error"])
    return view


@bp.get("/registry/imports/batch/<int:batch_id>")
@guard()
def import_batch(batch_id: int) -> Any:
    view = _batch(batch_id)
    return render_template(
        "registry/import_batch.html", b=view, label=registry_imports.KINDS[view["kind"]].label
    )


@bp.get("/api/registry/imports/<int:batch_id>")
@guard()
def import_progress(batch_id: int) -> Any:
    view = _batch(batch_id)
    return jsonify(
        {
            k: view[k]
            for k in (
                "id",
                "status",
                "status_label",
                "finished",
                "rows",
                "done",
                "percent",
                "new",
                "unchanged",
                "bad_rows",
            )
        }
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
