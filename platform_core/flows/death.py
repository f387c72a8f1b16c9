"""An elder's death, as one use case: record it, and stop everything that served them.

The elders service records the death (and publishes ElderDeceased); this flow then, in the same
unit of work: deactivates the elder's devices and opens a recovery ticket for each (maintenance
staff are told through MaintenanceTicketOpened), closes their open alarms, cancels their open
service orders and recall items, cancels scheduled device return visits, withdraws the family
care bed, ends a government-purchased service (its allowance stops with the month), and cancels
home adaptation not yet under way and meals still booked. Proactive care
calls skip a deceased elder at their next attempt (platform_core.care_calls), and a deactivated
device raises no alarm (platform_core.alarms.intake).

:func:`apply_death` alone is idempotent and runs again whenever ElderDeceased is seen on the bus
(the intake process subscribes), so a death recorded by any other path (an import that calls
the elders service directly) still stops everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, system_actor
from platform_core.alarms import service as alarms
from platform_core.calls import recalls
from platform_core.care_beds import service as beds
from platform_core.care_beds.models import CareBed
from platform_core.devices import maintenance, return_visits
from platform_core.devices import service as devices
from platform_core.devices.models import Device, DeviceStatusChange, MaintenanceTicket
from platform_core.elders import service as elders
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import DomainError
from platform_core.gov_purchase import service as gov
from platform_core.gov_purchase.models import GovPurchaseApplication
from platform_core.home_adaptation import service as adaptation
from platform_core.home_adaptation.models import AdaptationCase
from platform_core.meal_aid import service as meals
from platform_core.meal_aid.models import MealBooking
from platform_core.orders import service as orders

log = logging.getLogger(__name__)
REASON = "老人去世 / the elder died"


@dataclass
class DeathReport:
    elder_id: int
    devices_deactivated: list[int] = field(default_factory=list)
    recovery_tickets: list[int] = field(default_factory=list)
    alarms_closed: list[int] = field(default_factory=list)
    orders_cancelled: list[int] = field(default_factory=list)
    orders_left: list[int] = field(
        default_factory=list
    )  # under way: their own cancel rules refused
    recalls_cancelled: list[int] = field(default_factory=list)
    visits_cancelled: int = 0
    # care modules: (module, record id) of what was withdrawn, terminated or cancelled
    care_stopped: list[tuple[str, int]] = field(default_factory=list)


def record_death_of_elder(
    session: Session, *, elder_id: int, died_on: date, actor: Actor, source: str = ""
) -> DeathReport:
    """Record the death and stop every service and device of the elder."""
    elders.record_death(session, elder_id=elder_id, died_on=died_on, actor=actor, source=source)
    return apply_death(session, elder_id=elder_id, on_behalf_of=actor)


def apply_death(
    session: Session, *, elder_id: int, on_behalf_of: Actor | None = None
) -> DeathReport:
    """Everything that follows a recorded death (does nothing twice)."""
    elder = elders.get_elder(session, elder_id=elder_id)
    report = DeathReport(elder_id)
    if elder.status != ElderStatus.DECEASED:
        return report
    who = on_behalf_of.name if on_behalf_of else "数据交换"
    actor = system_actor(f"系统(登记死亡: {who})"[:64], region_code=elder.region_code)

    for device in devices.deactivate_devices_of_elder(
        session, elder_id=elder_id, actor=actor, reason=REASON
    ):
        report.devices_deactivated.append(device.id)
    for device in _deactivated_unrecovered(session, elder_id, report.devices_deactivated):
        ticket = maintenance.open_recovery(
            session, device=device, elder_id=elder_id, actor=actor, reason=REASON
        )
        report.recovery_tickets.append(ticket.id)

    report.alarms_closed = [
        a.id for a in alarms.close_alarms_of_elder(session, elder_id=elder_id, actor=actor)
    ]

    for order in orders.open_orders_for_elder(session, elder_id=elder_id):
        try:
            with session.begin_nested():
                orders.cancel(session, actor=actor, order_id=order.id, reason=REASON)
            report.orders_cancelled.append(order.id)
        except DomainError as err:
            log.warning(
                "工单 %s 未能取消 / order %s not cancelled: %s", order.id, order.id, err.message
            )
            report.orders_left.append(order.id)

    for item in recalls.list_recalls(session, elder_id=elder_id):
        recalls.cancel_recall(session, recall_id=item.id, actor_name=actor.name, reason="cancelled")
        report.recalls_cancelled.append(item.id)

    report.visits_cancelled = return_visits.cancel_for_elder(session, elder_id=elder_id)
    report.care_stopped = _stop_care(
        session, elder_id=elder_id, actor=actor, died_on=elder.deceased_on
    )
    session.flush()
    return report


def _stop_care(
    session: Session, *, elder_id: int, actor: Actor, died_on: date | None
) -> list[tuple[str, int]]:
    """Withdraw the family care bed, end the government-purchased service (its allowance stops at
    the month of death), cancel home adaptation not yet under way and meals still booked. Each is
    tried on its own savepoint: a step its state machine refuses is logged, not fatal."""
    steps: list[tuple[str, int, Callable[[], object]]] = []
    for bed in session.scalars(
        select(CareBed).where(CareBed.elder_id == elder_id, CareBed.status != "withdrawn")
    ):
        steps.append(
            (
                "care_bed",
                bed.id,
                partial(
                    beds.withdraw,
                    session,
                    actor=actor,
                    care_bed_id=bed.id,
                    reason="death",
                    on=died_on,
                ),
            )
        )
    ended = ("terminated", "withdrawn", "refused", "rejected")
    for app in session.scalars(
        select(GovPurchaseApplication).where(
            GovPurchaseApplication.elder_id == elder_id, GovPurchaseApplication.status.not_in(ended)
        )
    ):
        stop = (
            partial(
                gov.terminate,
                session,
                actor=actor,
                application_id=app.id,
                reason=REASON,
                on=died_on,
            )
            if app.status == "approved"
            else partial(gov.withdraw, session, actor=actor, application_id=app.id, on=died_on)
        )
        steps.append(("gov_purchase", app.id, stop))
    under_way = ("cancelled", "accepted", "settled", "return_visited")
    for case in session.scalars(
        select(AdaptationCase).where(
            AdaptationCase.elder_id == elder_id, AdaptationCase.status.not_in(under_way)
        )
    ):
        steps.append(
            (
                "home_adaptation",
                case.id,
                partial(
                    adaptation.cancel,
                    session,
                    actor=actor,
                    case_id=case.id,
                    reason=REASON,
                    on=died_on,
                ),
            )
        )
    for booking_id in session.scalars(
        select(MealBooking.id).where(
            MealBooking.elder_id == elder_id, MealBooking.status == "booked"
        )
    ):
        steps.append(
            (
                "meal_booking",
                booking_id,
                partial(
                    meals.cancel_booking, session, actor=actor, booking_id=booking_id, reason=REASON
                ),
            )
        )

    stopped: list[tuple[str, int]] = []
    for module, record_id, step in steps:
        try:
            with session.begin_nested():
                step()
            stopped.append((module, record_id))
        except DomainError as err:
            log.warning("%s #%s 未能停止 / not stopped: %s", module, record_id, err.message)
    return stopped


def _deactivated_unrecovered(
    session: Session, elder_id: int, device_ids: list[int]
) -> list[Device]:
    """The devices just deactivated, plus any deactivated earlier for this death that still
    have no recovery ticket (a previous run stopped half way)."""
    earlier = session.scalars(
        select(DeviceStatusChange.device_id).where(
            DeviceStatusChange.elder_id == elder_id,
            DeviceStatusChange.to_status == "deactivated",
        )
    ).all()
    out = []
    for device_id in sorted(set(device_ids) | set(earlier)):
        device = devices.get_device(session, device_id=device_id)
        if device.status == "deactivated" and not _recovery_opened(session, device_id, elder_id):
            out.append(device)
    return out


def _recovery_opened(session: Session, device_id: int, elder_id: int) -> bool:
    return (
        session.scalar(
            select(MaintenanceTicket.id).where(
                MaintenanceTicket.device_id == device_id,
                MaintenanceTicket.kind == "recovery",
                MaintenanceTicket.elder_id == elder_id,
            )
        )
        is not None
    )
