"""资金与预算: each programme's budget per 盟市 and year against what was spent and what is
committed, a programme past the bureau's warning share flagged; the officer sets budgets."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import act, in_region, page, region_options, scope
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.budgets import service as budgets
from platform_core.errors import ValidationFailed
from platform_core.flows import care_money
from platform_core.regions import codes
from platform_core.regions.service import list_leagues

bp = Blueprint("care_money", __name__)


def _year() -> int:
    raw = (request.args.get("year") or request.form.get("year") or "").strip()
    if not raw:
        return clock.today(runtime().settings.timezone).year
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise ValidationFailed("年度应为四位数字 / year is four digits", code="invalid_year")
    return int(raw)


def _page(error: str | None = None) -> str:
    region, year = scope(), _year()
    actor = current_actor()
    with runtime().session() as s:
        lines = care_money.budget_lines(s, region_code=region, year=year)
        own = codes.normalize_code(actor.region_code)
        leagues = (
            [(r.code, r.name) for r in list_leagues(s) if codes.is_within(r.code, own)]
            if codes.level_of(own) <= 2
            else []
        )
        if codes.level_of(own) == 1:
            leagues.insert(0, (own, "全区"))
        regions = region_options(s)
    return page(
        "care/money.html",
        lines=lines,
        year=year,
        region=region,
        regions=regions,
        leagues=leagues,
        programmes=budgets.PROGRAMMES,
        error=error,
    )


@bp.get("/care/money", endpoint="page")
@guard(Permission.CARE_DECIDE)
def money_page() -> Any:
    return _page()


@bp.post("/care/money/budgets")
@guard(Permission.CARE_DECIDE)
def set_budget() -> Any:
    form = request.form

    def run() -> Any:
        league = form.get("league_code", "").strip()
        try:
            code = codes.normalize_code(league)
        except ValidationFailed:
            raise ValidationFailed(
                "请选择盟市 / choose the league", code="invalid_region"
            ) from None
        in_region(
            code if codes.is_within(code, current_actor().region_code) else None,
            target_type="region",
            target_id=code,
        )
        year = _year()
        with runtime().session() as s:
            budgets.set_budget(
                s,
                actor=current_actor(),
                programme=form.get("programme", ""),
                league_code=code,
                year=year,
                amount=form.get("amount", "").strip() or "x",
                warn_share=form.get("warn_share", "").strip() or None,
            )
        return redirect(url_for("care_money.page", year=year))

    return act(run, lambda error: _page(error))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
