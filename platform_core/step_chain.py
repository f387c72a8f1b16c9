"""The fixed step chain of an applied-for care process, shared by its modules.

Family care beds, home adaptation and government-purchased services each move a record
(a bed, a case, an application) through named actions from one status to the next. The rules
they share live here: an action the chain does not allow from the current status is refused
with a message naming both in Chinese first; an allowed one records a step (date, owner, note),
audits it, and changes nothing else. What a step means (events, notices, orders) stays with the
module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Protocol

from sqlalchemy import Date, Select, String, Text, select
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import IllegalTransition
from platform_core.events import DomainEvent, publish_on_commit
from platform_core.regions.service import require_within, within


class ChainRecord(Protocol):
    """A bed, a case or an application: what a chain moves."""

    id: Any
    status: Any
    region_code: Any
    steps: Any


class StepRow:
    """The columns of every chain's step table (a mixin beside ``Base``): which action, from
    and to which status, on which day, by whom, why. A module's table adds the key of its
    record; ``status_length`` is the width of the module's status column."""

    status_length: ClassVar[int] = 20

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(24))

    @declared_attr
    def from_status(cls) -> Mapped[str | None]:
        return mapped_column(String(cls.status_length))

    @declared_attr
    def to_status(cls) -> Mapped[str]:
        return mapped_column(String(cls.status_length))

    on: Mapped[date] = mapped_column(Date)
    owner: Mapped[str] = mapped_column(String(64))
    owner_user_id: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class StepChain:
    """One module's statuses, actions and allowed moves, and how its records are named."""

    noun_zh: str  # 床位, 改造案, 申请: "床位当前为「已申请」"
    noun_en: str  # "a bed", "a case", "an application"
    audit_prefix: str  # audit action "<prefix>.<action>"
    target_type: str  # audit target type
    step_model: type  # the record's step row (action, from/to status, on, owner, note)
    transitions: Mapping[tuple[str, str], str]
    status_labels: Mapping[str, str]
    action_labels: Mapping[str, str]
    # announced after each step as step_taken(record id, elder id, region, action, new status)
    # (None: the module announces its steps itself)
    step_taken: Callable[[int, int, str, str, str], DomainEvent] | None = None

    def _announce(self, session: Session, record: Any, action: str, status: str) -> None:
        if self.step_taken is not None:
            publish_on_commit(
                session,
                self.step_taken(record.id, record.elder_id, record.region_code, action, status),
            )

    def status_card(
        self, record: Any | None, *, module: str, label: str, id_key: str
    ) -> dict[str, Any]:
        """The elder's line for this programme on the care status: the record's state, since
        when and by whom (``state`` "none" when the elder has no record)."""
        base: dict[str, Any] = {"module": module, "label": label}
        if record is None:
            return {**base, "state": "none", "state_label": "未申请"}
        last = record.steps[-1] if record.steps else None
        return {
            **base,
            id_key: record.id,
            "state": record.status,
            "state_label": self.status_labels[record.status],
            "since": last.on.isoformat() if last else None,
            "owner": last.owner if last else None,
        }

    def allows(self, status: str, action: str) -> bool:
        return (status, action) in self.transitions

    def next_status(self, record: ChainRecord, action: str) -> str:
        """Where ``action`` takes ``record``, or IllegalTransition saying why it cannot."""
        new = self.transitions.get((record.status, action))
        if new is None:
            label = self.status_labels.get(record.status, record.status)
            raise IllegalTransition(
                f"{self.noun_zh}当前为「{label}」, 不能{self.action_labels.get(action, action)} / "
                f"cannot {action} {self.noun_en} that is {record.status}",
                status=record.status,
                action=action,
            )
        return new

    def record_step(
        self,
        session: Session,
        *,
        actor: Actor,
        record: ChainRecord,
        action: str,
        from_status: str | None,
        to_status: str,
        on: date | None,
        note: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append the step row and its audit entry; the record's status is already set."""
        record.steps.append(
            self.step_model(
                action=action,
                from_status=from_status,
                to_status=to_status,
                on=on or clock.today_in(session),
                owner=actor.name,
                owner_user_id=actor.user_id,
                note=note,
            )
        )
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=f"{self.audit_prefix}.{action}",
            target_type=self.target_type,
            target_id=record.id,
            detail=dict(detail) if detail is not None else {"from": from_status, "to": to_status},
        )

    def open(
        self,
        session: Session,
        *,
        actor: Actor,
        record: ChainRecord,
        on: date | None,
        detail: Mapping[str, Any],
        action: str = "apply",
    ) -> None:
        """A new record enters the chain at its first status: added, given its id, and its
        first step (from no status) recorded and audited."""
        session.add(record)
        session.flush()
        self.record_step(
            session,
            actor=actor,
            record=record,
            action=action,
            from_status=None,
            to_status=record.status,
            on=on,
            detail=detail,
        )
        self._announce(session, record, action, record.status)

    def move(
        self,
        session: Session,
        *,
        actor: Actor,
        record: ChainRecord,
        action: str,
        on: date | None,
        note: str = "",
    ) -> tuple[str, str]:
        """Take ``action`` on a record of the actor's region; returns (previous, new) status."""
        require_within(record.region_code, actor.region_code)
        new = self.next_status(record, action)
        previous, record.status = record.status, new
        self.record_step(
            session,
            actor=actor,
            record=record,
            action=action,
            from_status=previous,
            to_status=new,
            on=on,
            note=note,
        )
        self._announce(session, record, action, new)
        return previous, new


def records_in(
    model: Any, *, region_code: str, statuses: Sequence[str], elder_ids: Sequence[int] | None
) -> Select[Any]:
    """The ids of a chain's records (a bed, a case) in the region and below, newest first: of
    ``statuses`` (all when empty) and of ``elder_ids`` (all when None)."""
    q = select(model.id).where(within(model.region_code, region_code)).order_by(model.id.desc())
    if statuses:
        q = q.where(model.status.in_(list(statuses)))
    if elder_ids is not None:
        q = q.where(model.elder_id.in_(list(elder_ids) or [0]))
    return q
