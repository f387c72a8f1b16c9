"""助餐: the officer's and community worker's desk over meal points (open one, its menus with
prices and booking windows, daily and monthly statistics, the month's settlement and export),
and the meal point's own counter for a tablet: today's booked meal found by the elder's ID
number or the booking's code, served after the identity check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Flask, redirect, request, url_for

from agent_console.security import current_actor, guard
from agent_console.views.care_office.common import (
    act,
    date_arg,
    download,
    in_region,
    month_arg,
    page,
    page_arg,
    region_options,
    scope,
)
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Role
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.meal_aid import desk
from platform_core.meal_aid import service as meals
from platform_core.providers.service import list_providers

bp = Blueprint("care_meals", __name__)


def _point(s: Any, meal_point_id: int) -> Any:
    point = meals.get_meal_point(s, meal_point_id=meal_point_id)
    in_region(point.region_code, target_type="meal_point", target_id=meal_point_id)
    return point


# ---------------------------------------------------------------- the office's desk


@bp.get("/care/meals", endpoint="points")
@guard(Permission.CARE_CASEWORK)
def points_list() -> Any:
    region = scope()
    with runtime().session() as s:
        rows = desk.points(s, region_code=region, page=page_arg())
        regions = region_options(s)
        providers = list_providers(s, region_code=current_actor().region_code)
        return page(
            "care/meal_points.html",
            rows=rows,
            regions=regions,
            region=region,
            providers=providers,
            meals=meals.MEALS,
            args=request.args,
            error=None,
        )


@bp.post("/care/meals")
@guard(Permission.CARE_CASEWORK)
def open_point() -> Any:
    form = request.form

    def run() -> Any:
        times = {
            meal: form.get(f"time_{meal}", "").strip()
            for meal in meals.MEALS
            if form.get(f"time_{meal}", "").strip()
        }
        provider = form.get("provider_id", "")
        with runtime().session() as s:
            point = meals.open_meal_point(
                s,
                actor=current_actor(),
                name=form.get("name", "").strip()[:80],
                region_code=form.get("region_code", "").strip(),
                address=form.get("address", "").strip()[:255],
                meal_times=times,
                delivers=form.get("delivers") == "1",
                provider_id=int(provider) if provider.isdigit() else None,
            )
            point_id = point.id
        return redirect(url_for("care_meals.point", meal_point_id=point_id))

    return act(run, lambda error: _points_page(error))


def _points_page(error: str) -> str:
    with runtime().session() as s:
        return page(
            "care/meal_points.html",
            rows=desk.points(s, region_code=current_actor().region_code),
            regions=region_options(s),
            region=current_actor().region_code,
            providers=list_providers(s, region_code=current_actor().region_code),
            meals=meals.MEALS,
            args={},
            error=error,
        )


def _point_page(meal_point_id: int, error: str | None = None) -> str:
    day = date_arg("day", "统计日期") or clock.today(runtime().settings.timezone)
    month = month_arg()
    with runtime().session() as s:
        point = _point(s, meal_point_id)
        menus, policy = desk.menus(s, meal_point_id=point.id, start=day - timedelta(days=1), days=8)
        return page(
            "care/meal_point.html",
            point=point,
            menus=menus,
            policy=policy,
            day=day,
            month=month,
            daily=meals.daily_statistics(s, meal_point_id=point.id, day=day),
            monthly=meals.monthly_statistics(s, meal_point_id=point.id, month=month),
            settlement=desk.settlement_of(s, meal_point_id=point.id, month=month),
            meals=meals.MEALS,
            error=error,
            may_settle=allows(current_actor().role, Permission.CARE_DECIDE),
            today=clock.today_in(s),
        )


@bp.get("/care/meals/<int:meal_point_id>")
@guard(Permission.CARE_CASEWORK)
def point(meal_point_id: int) -> Any:
    return _point_page(meal_point_id)


@bp.post("/care/meals/<int:meal_point_id>/menus")
@guard(Permission.CARE_CASEWORK)
def publish_menu(meal_point_id: int) -> Any:
    form = request.form

    def run() -> Any:
        served_on = date_arg("served_on", "供餐日期")
        if served_on is None:
            raise ValidationFailed("请填写供餐日期 / date required", code="invalid_date")
        capacity = form.get("capacity", "").strip()
        try:
            price = Decimal(form.get("price", "").strip())
        except InvalidOperation:
            raise ValidationFailed(
                "价格应为数字 / price must be a number", code="invalid_menu"
            ) from None
        with runtime().session() as s:
            _point(s, meal_point_id)
            meals.publish_menu(
                s,
                actor=current_actor(),
                meal_point_id=meal_point_id,
                served_on=served_on,
                meal=form.get("meal", ""),
                dishes=form.get("dishes", "").strip()[:255],
                price=price,
                capacity=int(capacity) if capacity.isdigit() else None,
            )
        return redirect(url_for("care_meals.point", meal_point_id=meal_point_id))

    return act(run, lambda error: _point_page(meal_point_id, error))


@bp.post("/care/meals/<int:meal_point_id>/settle")
@guard(Permission.CARE_DECIDE)
def settle(meal_point_id: int) -> Any:
    month = month_arg()

    def run() -> Any:
        with runtime().session() as s:
            _point(s, meal_point_id)
            meals.settle_month(s, actor=current_actor(), meal_point_id=meal_point_id, month=month)
        return redirect(
            url_for("care_meals.point", meal_point_id=meal_point_id, month=f"{month:%Y-%m}")
        )

    return act(run, lambda error: _point_page(meal_point_id, error))


@bp.get("/care/meals/<int:meal_point_id>/settlement.<fmt>")
@guard(Permission.CARE_DECIDE)
def export(meal_point_id: int, fmt: str) -> Any:
    if fmt not in ("csv", "xlsx"):
        raise NotFound("不支持的格式 / unknown format")
    month = month_arg()
    with runtime().session() as s:
        _point(s, meal_point_id)
        make = desk.export_csv if fmt == "csv" else desk.export_xlsx
        data = make(s, actor=current_actor(), meal_point_id=meal_point_id, month=month)
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return download(data, f"meals-{meal_point_id}-{month:%Y-%m}.{fmt}", mimetype)


# ---------------------------------------------------------------- the point's counter


@bp.get("/meal-points", endpoint="desks")
@guard(Permission.MEAL_POINT_DESK)
def desks_list() -> Any:
    """The counters the user may serve at: a provider's own points, else the region's."""
    actor = current_actor()
    with runtime().session() as s:
        if actor.role == Role.PROVIDER:
            rows = desk.points_run_by(s, provider_id=actor.provider_id or 0)
        else:
            rows = list(desk.points(s, region_code=actor.region_code, size=200).rows)
        if len(rows) == 1:
            return redirect(url_for("care_meals.counter", meal_point_id=rows[0].id))
        return page("care/meal_desks.html", rows=rows, error=None)


def _counter_point(s: Any, meal_point_id: int) -> Any:
    point = _point(s, meal_point_id)
    actor = current_actor()
    if actor.role == Role.PROVIDER and point.provider_id != actor.provider_id:
        raise PermissionDenied("只有本助餐点的运营方可以操作 / not this point's operator")
    return point


def _counter(meal_point_id: int, **context: Any) -> str:
    with runtime().session() as s:
        point = _counter_point(s, meal_point_id)
        today = clock.today_in(s)
        return page(
            "care/meal_counter.html",
            point=point,
            daily=meals.daily_statistics(s, meal_point_id=point.id, day=today),
            today=today,
            meals=meals.MEALS,
            **{"found": None, "id_number": None, "answer": None, "refusal": None, **context},
        )


@bp.get("/meal-points/<int:meal_point_id>")
@guard(Permission.MEAL_POINT_DESK)
def counter(meal_point_id: int) -> Any:
    return _counter(meal_point_id)


@bp.post("/meal-points/<int:meal_point_id>/look-up")
@guard(Permission.MEAL_POINT_DESK)
def look_up(meal_point_id: int) -> Any:
    query = request.form.get("query", "")[:40]

    def run() -> Any:
        with runtime().session() as s:
            _counter_point(s, meal_point_id)
            found, id_number = desk.look_up_today(
                s, actor=current_actor(), meal_point_id=meal_point_id, query=query
            )
            shown = [
                {
                    "id": f.booking.id,
                    "code": f.booking.code,
                    "name": f.elder_name,
                    "meal": f.meal_label,
                    "mode": f.mode_label,
                    "status": f.booking.status,
                    "status_label": f.status_label,
                }
                for f in found
            ]
        return _counter(meal_point_id, found=shown, id_number=id_number)

    return act(run, lambda error: _counter(meal_point_id, refusal=error))


@bp.post("/meal-points/<int:meal_point_id>/redeem")
@guard(Permission.MEAL_POINT_DESK)
def redeem(meal_point_id: int) -> Any:
    raw = request.form.get("booking_id", "")
    id_number = request.form.get("id_number", "").strip()[:20]

    def run() -> Any:
        if not raw.isdigit():
            raise ValidationFailed(
                "请选择要核销的预订 / choose the booking", code="booking_required"
            )
        with runtime().session() as s:
            _counter_point(s, meal_point_id)
            booking = meals.get_booking(s, booking_id=int(raw))
            if booking.meal_point_id != meal_point_id:
                raise NotFound("预订不存在 / no such booking", code="meal_booking_not_found")
        # the redemption is its own unit of work: its refusals are audited in theirs
        with runtime().session() as s:
            done = meals.redeem_meal(
                s, actor=current_actor(), booking_id=int(raw), method="id_card", id_number=id_number
            )
            answer = f"核销成功: {meals.MEALS[done.meal]}, 补贴 {done.subsidy} 元, 自付 {done.self_pay} 元"
        return _counter(meal_point_id, answer=answer)

    return act(run, lambda error: _counter(meal_point_id, refusal=error))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
