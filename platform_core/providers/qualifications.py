"""Whether a practitioner may be sent: their qualifications and certificates (资质证书) on file
and not expired. The rule lives here so every way of naming who goes (the portal, the provider
interface, a command) refuses the same person for the same reason.

A service type may require a named qualification (``HOTLINE_STAFF_REQUIRED_QUALIFICATIONS``,
``"care_bathing=养老护理员,medical_escort=护士执业证书"``; ``*`` for every type); without one,
at least one unexpired qualification is required.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Protocol

# A qualification expiring within this many days is flagged on the provider's staff pages.
EXPIRY_WARNING_DAYS = 30


class Qualification(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def valid_until(self) -> date | None: ...


def is_valid(q: Qualification, today: date) -> bool:
    return q.valid_until is None or q.valid_until >= today


def expiry_state(q: Qualification, today: date) -> str:
    """ "expired", "expiring" (within the warning window) or "valid"."""
    if q.valid_until is None:
        return "valid"
    if q.valid_until < today:
        return "expired"
    if q.valid_until <= today + timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def required_names(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw.split(","):
        key, found, value = item.partition("=")
        if found and key.strip() and value.strip():
            out[key.strip()] = value.strip()
    return out


def refusal(
    name: str,
    qualifications: Iterable[Qualification],
    *,
    service_type_code: str,
    today: date,
    required: Mapping[str, str],
) -> str | None:
    """Why this person may not be sent for this service today, or None when they may."""
    quals = list(qualifications)
    wanted = required.get(service_type_code) or required.get("*")
    if wanted:
        named = [q for q in quals if q.name == wanted]
        if not named:
            return (
                f"服务人员 {name} 缺少「{wanted}」资质, 不能派出 / lacks the required qualification"
            )
        if not any(is_valid(q, today) for q in named):
            until = max((q.valid_until for q in named if q.valid_until), default=None)
            return (
                f"服务人员 {name} 的「{wanted}」已于 {until} 过期, 不能派出 / "
                "the required qualification has expired"
            )
        return None
    if not quals:
        return f"服务人员 {name} 未登记任何资质证书, 不能派出 / no qualification on file"
    if not any(is_valid(q, today) for q in quals):
        latest = max((q.valid_until for q in quals if q.valid_until), default=None)
        return (
            f"服务人员 {name} 的资质证书均已过期 (最近到期 {latest}), 不能派出 / "
            "every qualification has expired"
        )
    return None
