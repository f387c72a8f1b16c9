"""The elder's evidence behind a confirmation (老人确认凭证), and the rules on time at the home.

A service is confirmed by the elder, never by the provider's word: whatever channel moves an
order to ``confirmed`` (the portal, the provider API, the console, a meal redemption) hands
:func:`orders.service.confirm` an :class:`Evidence`, and the domain checks it against what the
database holds before the step is taken:

- ``code``: the elder's SMS code, verified and spent (its row marked used) for this order;
- ``signature``: a signature photo uploaded for this order;
- ``identity_check``: a check of the elder's identity at the door recorded by a care module
  (a meal redeemed with the elder's ID card or a face match); modules register how theirs is
  verified with :func:`register_verifier`.

Settlement pays only orders whose confirmation carries one of these kinds
(:data:`EVIDENCED_KINDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.orders.models import OrderConfirmationCode, OrderPhoto, ServiceOrder
from platform_core.settings import Settings, SettingsError, parse_pairs

CODE, SIGNATURE, IDENTITY_CHECK = "code", "signature", "identity_check"
EVIDENCED_KINDS = frozenset({CODE, SIGNATURE, IDENTITY_CHECK})
KIND_LABELS = {CODE: "短信确认码", SIGNATURE: "老人签名", IDENTITY_CHECK: "身份核验"}


@dataclass(frozen=True)
class Evidence:
    kind: str
    ref: str  # the code row, the photo, or the module's record that proves it
    label: str = ""  # how it was checked, for the history ("身份证", "人脸识别")

    @property
    def stored(self) -> str:
        """What the order keeps: ``kind:ref``."""
        return f"{self.kind}:{self.ref}"[:60]


def _code(session: Session, order: ServiceOrder, ref: str) -> bool:
    row = session.scalar(
        select(OrderConfirmationCode).where(OrderConfirmationCode.order_id == order.id)
    )
    # the code was checked and spent for this order in this unit of work (confirmation.py)
    return row is not None and str(row.id) == ref and row.used_at is not None


def _signature(session: Session, order: ServiceOrder, ref: str) -> bool:
    if not ref.isascii() or not ref.isdigit():
        return False
    photo = session.get(OrderPhoto, int(ref))
    return photo is not None and photo.order_id == order.id and photo.kind == "signature"


Verifier = Callable[[Session, ServiceOrder, str], bool]
_VERIFIERS: dict[str, Verifier] = {CODE: _code, SIGNATURE: _signature}


def register_verifier(kind: str, verify: Verifier) -> None:
    """A care module says how its evidence of the elder's identity is checked."""
    if kind not in EVIDENCED_KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}")
    _VERIFIERS[kind] = verify


def holds(session: Session, order: ServiceOrder, evidence: Evidence | None) -> bool:
    """Whether ``evidence`` proves the elder confirmed ``order``."""
    if not isinstance(evidence, Evidence) or evidence.kind not in EVIDENCED_KINDS:
        return False
    verify = _VERIFIERS.get(evidence.kind)
    return verify is not None and verify(session, order, evidence.ref)


def is_evidenced(order: ServiceOrder) -> bool:
    """Whether the order's confirmation carried the elder's evidence (what settlement pays)."""
    stored = order.confirmation_evidence or ""
    return order.confirmed_at is not None and stored.partition(":")[0] in EVIDENCED_KINDS


# ---------------------------------------------------------------- time at the home


def min_service_minutes(settings: Settings, service_type_code: str) -> float:
    """The shortest service a check-out may close, in minutes (``code=minutes,*=default``)."""
    pairs = parse_pairs(settings.order_min_service_min, variable="order_min_service_min")
    raw = pairs.get(service_type_code, pairs.get("*", "0"))
    try:
        minutes = float(raw)
    except ValueError as exc:
        raise SettingsError(
            f"HOTLINE_ORDER_MIN_SERVICE_MIN: {raw!r} 不是数字 / is not a number"
        ) from exc
    return max(0.0, minutes)
