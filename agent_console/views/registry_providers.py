"""The provider registry's pages for civil-affairs officers (服务商管理): the region's providers
with what needs attention, onboarding (licences, service area, services and agreed prices,
capacity, agreement), one provider with its checklist, status changes with reasons and their
history, credit events and the credit record, evaluation reports, and its practitioners.

Pages are forms with CSRF tokens; every command goes to ``platform_core.providers`` (onboarding,
service), ``platform_core.evaluation`` or ``platform_core.flows.provider_registry``, which check
the officer's role and region again and audit.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.errors import DomainError, NotFound, ValidationFailed
from platform_core.evaluation import service as evaluation
from platform_core.flows import provider_registry
from platform_core.orders import service as orders
from platform_core.orders.periods import month_bounds, previous_month
from platform_core.providers import onboarding
from platform_core.providers import service as providers
from platform_core.providers.models import STATUS_LABELS, ProviderStatus

bp = Blueprint("registry_providers", __name__)
_ONBOARDING_FIELDS = (
    "name",
    "credit_code",
    "region_code",
    "contact_phone",
    "kind",
    "address",
    "contact_name",
    "capacity",
    "coverage",
    "licence_kind",
    "licence_number",
    "licence_valid_until",
    "agreement_number",
    "agreement_signed_on",
    "agreement_valid_from",
    "agreement_valid_until",
)
_CODES = re.compile(r"[0-9]{6,12}")


def _form(*names: str, limit: int = 255) -> dict[str, str]:
    return {n: request.form.get(n, "").strip()[:limit] for n in names}


def _region_codes(raw: str) -> list[str]:
    return _CODES.findall(raw[:2000])


def _int(raw: str, what: str, code: str) -> int:
    raw = raw.strip()
    if not (raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 6):
        raise ValidationFailed(f"{what}须为整数 / {what} must be a whole number", code=code)
    return int(raw)


def _prices() -> dict[str, str]:
    return {
        k[len("price_") :][:40]: v.strip()[:12]
        for k, v in request.form.items()
        if k.startswith("price_")
    }


@bp.get("/registry/providers")
@guard(Permission.MANAGE_PROVIDERS)
def providers_page() -> Any:
    status = request.args.get("status", "")
    status = status if status in set(ProviderStatus) else ""
    with runtime().session() as s:
        rows = provider_registry.provider_rows(
            s, actor=current_actor(), text=request.args.get("q", "")[:64], status=status
        )
    return render_template(
        "registry/providers.html", rows=rows, statuses=STATUS_LABELS, args=request.args
    )


def _new_page(form: dict[str, Any], error: str | None, status: int = 200) -> Any:
    """The onboarding form (again with what was typed, when a part was refused)."""
    with runtime().session() as s:
        services = provider_registry.offered_choices(s)
    return render_template(
        "registry/provider_new.html",
        services=services,
        kinds=onboarding.LICENCE_KINDS,
        form=form,
        error=error,
        today=clock.today(runtime().settings.timezone),
    ), status


@bp.get("/registry/providers/new")
@guard(Permission.MANAGE_PROVIDERS)
def provider_new() -> Any:
    return _new_page({}, None)


@bp.post("/registry/providers")
@guard(Permission.MANAGE_PROVIDERS)
def provider_create() -> Any:
    form = _form(*_ONBOARDING_FIELDS)
    services = [c[:40] for c in request.form.getlist("services")[:40]]
    try:
        data = provider_registry.Onboarding(
            name=form["name"],
            credit_code=form["credit_code"],
            region_code=form["region_code"],
            contact_phone=form["contact_phone"],
            service_types=services,
            coverage=_region_codes(form["coverage"]),
            capacity=_int(form["capacity"] or "10", "接单容量", "invalid_capacity"),
            kind=form["kind"][:30],
            address=form["address"],
            contact_name=form["contact_name"][:64],
            prices=_prices(),
            licence_kind=form["licence_kind"],
            licence_number=form["licence_number"],
            licence_valid_until=form["licence_valid_until"],
            agreement_number=form["agreement_number"],
            agreement_signed_on=form["agreement_signed_on"],
            agreement_valid_from=form["agreement_valid_from"],
            agreement_valid_until=form["agreement_valid_until"],
        )
        with runtime().session() as s:
            provider_id = provider_registry.onboard(s, actor=current_actor(), data=data).id
    except DomainError as err:
        # nothing was kept: the form comes back as typed, with why
        typed = {**form, "services": services, "prices": _prices()}
        return _new_page(typed, err.message, err.http_status)
    return redirect(url_for("registry_providers.provider_page", provider_id=provider_id))


@bp.get("/registry/providers/<int:provider_id>")
@guard(Permission.MANAGE_PROVIDERS)
def provider_page(provider_id: int) -> Any:
    with runtime().session() as s:
        p = provider_registry.provider_page(s, actor=current_actor(), provider_id=provider_id)
        services = provider_registry.offered_choices(s)
    settings = runtime().settings
    return render_template(
        "registry/provider.html",
        p=p,
        services=services,
        statuses=STATUS_LABELS,
        kinds=onboarding.LICENCE_KINDS,
        credit_kinds=evaluation.CREDIT_KINDS,
        last_month=previous_month(clock.now(), settings.timezone),
    )


def _order_of_provider(s: Any, provider_id: int, order_no: str) -> int | None:
    if not order_no:
        return None
    order = orders.find_order_by_no(s, order_no=order_no[:20])
    if order is None or order.provider_id != provider_id:
        raise NotFound(
            f"本服务商没有这个工单: {order_no} / no such order of this provider",
            code="order_not_found",
        )
    return order.id


@bp.post("/registry/providers/<int:provider_id>/<action>")
@guard(Permission.MANAGE_PROVIDERS)
def provider_action(provider_id: int, action: str) -> Any:
    actor = current_actor()
    with runtime().session() as s:
        if action == "licence":
            f = _form("kind", "number", "issuer", "valid_from", "valid_until", "note")
            onboarding.add_licence(s, actor=actor, provider_id=provider_id, **f)
        elif action == "agreement":
            f = _form("number", "signed_on", "valid_from", "valid_until")
            onboarding.add_agreement(
                s,
                actor=actor,
                provider_id=provider_id,
                terms=request.form.get("terms", "")[:4000],
                **f,
            )
        elif action == "services":
            providers.update_provider(
                s,
                actor=actor,
                provider_id=provider_id,
                service_types=[c[:40] for c in request.form.getlist("services")[:40]],
            )
        elif action == "prices":
            onboarding.set_prices(s, actor=actor, provider_id=provider_id, prices=_prices())
        elif action == "coverage":
            providers.update_provider(
                s,
                actor=actor,
                provider_id=provider_id,
                coverage=_region_codes(request.form.get("coverage", "")),
            )
        elif action == "capacity":
            providers.update_provider(
                s,
                actor=actor,
                provider_id=provider_id,
                capacity=_int(request.form.get("capacity", ""), "接单容量", "invalid_capacity"),
            )
        elif action == "status":
            providers.set_status(
                s,
                actor=actor,
                provider_id=provider_id,
                status=request.form.get("status", "")[:12],
                reason=request.form.get("reason", "")[:255],
            )
        elif action == "credit":
            kind = request.form.get("kind", "")
            if kind not in evaluation.CREDIT_KINDS:
                raise ValidationFailed("请选择诚信记录类型 / choose a kind", code="invalid_kind")
            evaluation.record_credit_event(
                s,
                actor=actor,
                provider_id=provider_id,
                kind=kind,
                points=_int(request.form.get("points", ""), "分值", "invalid_points"),
                reason=request.form.get("reason", "")[:1000],
                order_id=_order_of_provider(
                    s, provider_id, request.form.get("order_no", "").strip()
                ),
            )
        elif action == "evaluate":
            month = request.form.get("month", "")[:7]
            start, end = month_bounds(month, runtime().settings.timezone)
            evaluation.evaluate_provider(
                s,
                actor=actor,
                provider_id=provider_id,
                start=start,
                end=end,
                label=month,
                kind="monthly",
            )
        else:
            raise ValidationFailed("未知操作 / unknown action", code="unknown_action")
    return redirect(
        url_for("registry_providers.provider_page", provider_id=provider_id) + f"#{action}"
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
