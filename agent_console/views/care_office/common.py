"""What the care office's pages share: the region a list is narrowed to, pages and dates from
the query string, refusals shown on the page they came from, files served without caching."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response, current_app, g, render_template, request

from agent_console import i18n
from agent_console.security import audit_refusal, current_actor, require_region
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.elders.service import find_elder_by_id_number
from platform_core.errors import (
    DomainError,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.paging import clamp_page
from platform_core.regions import codes
from platform_core.regions.service import regions_within

PAGE_SIZE = 50
# the care office's sections, in the order of its tabs: (endpoint, label, any of permissions)
SECTIONS: tuple[tuple[str, str, tuple[Permission, ...]], ...] = (
    ("care_gp.queue", "政府购买服务", (Permission.CARE_CASEWORK,)),
    ("care_beds.beds", "家庭养老床位", (Permission.CARE_CASEWORK,)),
    ("care_adapt.cases", "适老化改造", (Permission.CARE_CASEWORK,)),
    ("care_meals.points", "助餐", (Permission.CARE_CASEWORK,)),
    ("care_calls.campaigns", "关怀外呼", (Permission.CARE_CAMPAIGNS,)),
    ("care_after.page", "回访与投诉", (Permission.AFTERCARE,)),
    ("care_money.page", "资金与预算", (Permission.CARE_DECIDE,)),
)


def may(*permissions: Permission) -> bool:
    role = current_actor().role
    return any(allows(role, p) for p in permissions)


def require_permission(permission: Permission) -> None:
    """A step within a page that needs more than the page does (a decision on a case):
    refused and audited like a guard."""
    if not allows(current_actor().role, permission):
        audit_refusal("http.forbidden", reason=f"role lacks {permission.value}")
        raise PermissionDenied(
            "当前角色无权执行此操作 / your role may not do this", permission=permission.value
        )


def sections() -> list[tuple[str, str]]:
    return [
        (e, label)
        for e, label, needs in SECTIONS
        if e in current_app.view_functions and may(*needs)
    ]


def page(template: str, **context: Any) -> str:
    """A care office page with its tabs."""
    return render_template(template, sections=sections(), **context)


def page_arg() -> int:
    raw = request.args.get("page", "1")
    return clamp_page(int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 1)


def _day(raw: str, what: str) -> date:
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValidationFailed(
            f"{what}格式应为 YYYY-MM-DD: {raw[:10]} / bad date", code="invalid_date"
        ) from None


def date_arg(name: str, what: str = "日期") -> date | None:
    raw = (request.args.get(name) or request.form.get(name) or "").strip()
    return _day(raw, what) if raw else None


def month_arg(name: str = "month") -> date:
    """``YYYY-MM`` (or a day of it); this month by default."""
    raw = (request.args.get(name) or request.form.get(name) or "").strip()
    if not raw:
        return clock.today(runtime().settings.timezone).replace(day=1)
    return _day(raw + "-01" if len(raw) == 7 else raw, "月份").replace(day=1)


def scope() -> str:
    """The region the list is narrowed to (``region`` in the query): the user's own by default;
    one outside it is refused and audited."""
    actor = current_actor()
    raw = (request.args.get("region") or request.form.get("region") or "").strip()
    if not raw:
        return actor.region_code
    try:
        code = codes.normalize_code(raw)
    except DomainError:
        raise ValidationFailed("地区代码不正确 / bad region code", code="invalid_region") from None
    require_region(
        code if codes.is_within(code, actor.region_code) else None,
        target_type="region",
        target_id=code,
    )
    return code


def region_options(session: Any) -> list[tuple[str, str]]:
    """The user's region and what lies below it down to the 旗县区 (the filters' choices), in one
    query, each indented by its depth under the user's region."""
    own = current_actor().region_code
    top = codes.level_of(own)
    rows = regions_within(session, own, max_level=3)
    return [(r.code, "\u3000" * (r.level - top) + r.name) for r in rows] or [(own, own)]


def elders_by_id_number(session: Any, raw: str) -> list[int] | None:
    """The elder an ID number names, for a list's filter (None: no filter); the lookup goes
    through the keyed index, so the number itself is never compared in clear."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        elder = find_elder_by_id_number(session, id_number=raw)
    except DomainError:
        raise ValidationFailed(
            "身份证号格式不正确 / bad ID number", code="invalid_id_number"
        ) from None
    if elder is None or not codes.is_within(elder.region_code, current_actor().region_code):
        return []
    return [elder.id]


def applying_elder(session: Any, id_number: str) -> Elder:
    """The elder an application at the counter names by ID number, refused when there is none
    or they live outside the officer's region; every care programme's form starts so."""
    elder = find_elder_by_id_number(session, id_number=id_number)
    if elder is None:
        raise NotFound("未找到该身份证号的老人档案 / no elder with this ID number")
    in_region(elder.region_code, target_type="elder", target_id=elder.id)
    return elder


def audit_view(
    session: Any, *, action: str, elder_id: int, target_type: str, target_id: Any
) -> None:
    """Opening a case shows the elder's name in clear: a profile view, audited."""
    audit.record(
        session,
        actor=current_actor(),
        action=action,
        target_type="elder",
        target_id=elder_id,
        detail={target_type: target_id},
        source_ip=request.remote_addr,
    )


def in_region(record_region: str | None, *, target_type: str, target_id: Any) -> None:
    require_region(record_region, target_type=target_type, target_id=target_id)


def refused(err: DomainError) -> str:
    """The message of a refusal in the user's language (the page shows it beside the form)."""
    if isinstance(err, OutOfRegion):
        raise err
    audit_refusal("care.refused", reason=err.code)
    return i18n.localize(g.get("lang", i18n.DEFAULT), err.message)


def act(run: Callable[[], Any], redisplay: Callable[[str], Any]) -> Any:
    """Run a page action; a refusal re-renders the page with its reason (status 409)."""
    try:
        return run()
    except OutOfRegion:
        raise
    except DomainError as err:
        return redisplay(refused(err)), 409


def download(data: bytes, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def chain_list(
    template: str,
    listing: Callable[..., Any],
    status_labels: Mapping[str, str],
    extra: Callable[[], dict[str, Any]] = dict,
) -> str:
    """A care chain's list page (beds, adaptation cases, purchase applications): the region in
    scope, one status, an elder's ID number and the page from the query; ``extra`` reads the
    list's own filters (read inside the unit of work, after the status)."""
    region = scope()
    status = request.args.get("status", "")
    with runtime().session() as s:
        rows = listing(
            s,
            region_code=region,
            statuses=[status] if status in status_labels else [],
            **extra(),
            elder_ids=elders_by_id_number(s, request.args.get("id_number", "")),
            page=page_arg(),
        )
        regions = region_options(s)
    return page(
        template,
        rows=rows,
        regions=regions,
        region=region,
        statuses=status_labels,
        args=request.args,
    )
