"""The care office: the 民政 officer's, the community worker's and the meal point's desks over
the care programmes (government purchase, family care beds, home adaptation, meal aid, care-call
campaigns, orders after service, the money), and their live updates on the ``/care`` namespace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, redirect, url_for

from agent_console.realtime import CARE_NS, Connection, Realtime
from agent_console.security import current_actor, guard
from agent_console.views.care_office import (
    adaptation,
    aftercare,
    campaigns,
    care_beds,
    gov_purchase,
    meals,
    money,
)
from agent_console.views.care_office.common import sections
from agent_console.views.common import runtime
from platform_core import clock
from platform_core.accounts.permissions import Permission

bp = Blueprint("care_office", __name__)


@bp.get("/care")
@guard()
def home() -> Any:
    """The first tab the user may open (officers and community workers land here)."""
    first = next(iter(sections()), None)
    if first is None:
        return redirect(url_for("auth.no_console"))
    current_actor()
    return redirect(url_for(first[0]))


def _snapshot(conn: Connection) -> dict[str, Any]:
    with runtime().session() as s:
        return {"runs": gov_purchase.run_snapshot(s, conn.actor.region_code)}


def _local_time(at: datetime | str | None) -> str:
    """An instant (or its ISO form) as the hotline's clock reads it (Beijing time by default)."""
    if not at:
        return ""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return clock.local(when, runtime().settings.timezone).strftime("%Y-%m-%d %H:%M")


def init_app(app: Flask, realtime: Realtime) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(_local_time, "local_time")
    gov_purchase.init_app(app)
    care_beds.init_app(app)
    adaptation.init_app(app)
    meals.init_app(app)
    campaigns.init_app(app, realtime)
    money.init_app(app)
    aftercare.init_app(app)
    realtime.set_snapshot(CARE_NS, _snapshot)

    @realtime.on(CARE_NS, "snapshot", Permission.CARE_CAMPAIGNS)
    def socket_snapshot(conn: Connection, _payload: Any) -> dict[str, Any]:
        return {"snapshot": _snapshot(conn)}

    realtime.on_domain_event(
        "AllowanceRunProgressed",
        lambda env: realtime.emit_to_region("allowance_run", env, namespace=CARE_NS),
    )
