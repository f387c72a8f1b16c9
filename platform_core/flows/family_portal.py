"""What a family member sees on their phone (用户端): the elders they were invited for, each
one's service orders, alarms and devices, and the rating of a service they watched.

Only linked elders (``family.service.require_link``); personal data masked (no ID numbers,
phones masked, the address cut to its administrative part, no positions); every look at an
elder is audited. A rating goes through the order's own command, given as the family member.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.alarms import service as alarms
from platform_core.alarms.vocabulary import ALARM_TYPE_LABELS, AlarmStatus, AlarmType
from platform_core.alarms.vocabulary import STATUS_LABELS as ALARM_STATUS_LABELS
from platform_core.audit import service as audit
from platform_core.catalogue.models import ServiceType
from platform_core.devices import service as devices
from platform_core.devices.lifecycle import DEVICE_TYPE_LABELS, DeviceStatus, DeviceType
from platform_core.devices.lifecycle import STATUS_LABELS as DEVICE_STATUS_LABELS
from platform_core.elders.models import Elder
from platform_core.family import service as family
from platform_core.orders import service as orders
from platform_core.orders.states import STATUS_LABELS as ORDER_STATUS_LABELS
from platform_core.orders.states import OrderStatus
from platform_core.providers.models import Provider, ProviderStaff
from platform_core.security.masking import mask_address, mask_name

ORDERS_SHOWN = 30
ALARMS_SHOWN = 20
RATED_BY = "家属 (用户端)"


def _local(session: Session, at: datetime | None) -> str:
    return clock.local(at, clock.timezone_of(session)).strftime("%Y-%m-%d %H:%M") if at else ""


def home(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """The member's elders, each with what is going on now."""
    out = []
    for link, elder in family.linked_elders(session, actor=actor):
        open_orders = orders.open_orders_for_elder(session, elder_id=elder.id)
        open_alarms = [
            a for a in alarms.list_alarms_for_elder(session, elder_id=elder.id) if a.active
        ]
        out.append(
            {
                "elder_id": elder.id,
                "name": elder.name,
                "relation": link.relation,
                "status": elder.status,
                "open_orders": len(open_orders),
                "open_alarms": len(open_alarms),
            }
        )
    return out


def elder_overview(session: Session, *, actor: Actor, elder_id: int) -> dict[str, Any]:
    """One linked elder's orders, alarms and devices (the look is audited)."""
    link = family.require_link(session, actor=actor, elder_id=elder_id, action="family.view_elder")
    elder = session.get(Elder, link.elder_id)
    assert elder is not None
    rows = orders.list_orders(session, elder_id=elder.id, limit=ORDERS_SHOWN)
    services = {
        st.code: st.name
        for st in session.scalars(
            select(ServiceType).where(ServiceType.code.in_({o.service_type_code for o in rows}))
        )
    }
    provider_names = dict(
        session.execute(
            select(Provider.id, Provider.name).where(
                Provider.id.in_({o.provider_id for o in rows if o.provider_id})
            )
        ).all()
    )
    staff_names = dict(
        session.execute(
            select(ProviderStaff.id, ProviderStaff.name).where(
                ProviderStaff.id.in_({o.staff_id for o in rows if o.staff_id})
            )
        ).all()
    )
    order_rows = [
        {
            "id": o.id,
            "order_no": o.order_no,
            "service": services.get(o.service_type_code, o.service_type_code),
            "status": o.status,
            "status_label": ORDER_STATUS_LABELS.get(o.status, o.status),
            "opened_at": _local(session, o.opened_at),
            "completed_at": _local(session, o.completed_at),
            "provider": provider_names.get(o.provider_id, "") if o.provider_id else "",
            "staff": mask_name(staff_names.get(o.staff_id, "")) if o.staff_id else "",
            "rating": o.rating,
            "rateable": o.status == OrderStatus.CONFIRMED,
        }
        for o in rows
    ]
    alarm_rows = [
        {
            "id": a.id,
            "type_label": ALARM_TYPE_LABELS.get(AlarmType(a.alarm_type), a.alarm_type),
            "status_label": ALARM_STATUS_LABELS.get(AlarmStatus(a.status), a.status),
            "received_at": _local(session, a.received_at),
            "closed_at": _local(session, a.closed_at),
            "active": a.active,
        }
        for a in alarms.list_alarms_for_elder(session, elder_id=elder.id, limit=ALARMS_SHOWN)
    ]
    device_rows = [
        {
            "type_label": DEVICE_TYPE_LABELS.get(DeviceType(d.device_type), d.device_type),
            "status": d.status,
            "status_label": DEVICE_STATUS_LABELS.get(DeviceStatus(d.status), d.status),
            "battery_pct": d.battery_pct,
            "last_heartbeat_at": _local(session, d.last_heartbeat_at),
        }
        for d in devices.list_devices_for_elder(session, elder_id=elder.id)
        if d.status not in (DeviceStatus.DEACTIVATED, DeviceStatus.REPLACED)
    ]
    audit.record(
        session,
        actor=actor,
        action="family.view_elder",
        target_type="elder",
        target_id=elder.id,
        detail={"orders": len(order_rows), "alarms": len(alarm_rows)},
    )
    return {
        "elder": {
            "id": elder.id,
            "name": elder.name,
            "address": mask_address(elder.address),
            "status": elder.status,
            "relation": link.relation,
        },
        "orders": order_rows,
        "alarms": alarm_rows,
        "devices": device_rows,
    }


def rate_order(
    session: Session, *, actor: Actor, order_id: int, score: int, comment: str = ""
) -> int:
    """The family member rates a confirmed service of their elder (1-5), as themselves; the
    order's elder must be linked to them. Returns the elder's id."""
    order = orders.get_order(session, order_id=order_id)
    family.require_link(session, actor=actor, elder_id=order.elder_id, action="family.rate")
    # the order's own command, given by the member for this order's region only
    as_family = Actor(
        kind="family",
        name=actor.name,
        region_code=order.region_code,
        user_id=actor.user_id,
    )
    orders.rate(
        session,
        actor=as_family,
        order_id=order.id,
        score=score,
        comment=comment.strip()[:500],
        rated_by=RATED_BY,
    )
    return order.elder_id
