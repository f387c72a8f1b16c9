"""Posting to the time bank: hours earned from confirmed volunteer service, transferred within
a family, redeemed for services, refunded when a redeemed service does not happen.

Every posting is one transaction whose entries sum to zero (``_post`` refuses anything else),
named by a key that makes it happen once (a second posting with the same key returns the
first). The accounts a posting touches are locked in id order, so concurrent postings neither
deadlock nor lose an update, and a member's balance never goes below zero. A member holds at
most ``HOTLINE_TIMEBANK_BALANCE_CAP_H`` hours: what an earning brings past the cap goes to the
league's community pool (公益池, donated), and a transfer that would pass it is refused; a
refund gives back what a redemption took even past the cap (the hours were the member's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import Conflict, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.runtime import settings_of
from platform_core.time_bank.events import TimeBankPosted
from platform_core.time_bank.models import TimeAccount, TimeEntry, TimeTransaction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
VOLUNTEER, ELDER = "member_volunteer", "member_elder"
MEMBER_KINDS = (VOLUNTEER, ELDER)
ISSUANCE, REDEEMED, POOL = "issuance", "redeemed", "pool"
KIND_LABELS = {
    "earn": "志愿服务存入",
    "transfer": "家庭转赠",
    "redeem": "兑换服务",
    "refund": "兑换退回",
}


class TimeBankError(Conflict):
    code = "time_bank_conflict"


class InsufficientHours(TimeBankError):
    code = "insufficient_hours"


class BalanceCapReached(TimeBankError):
    code = "balance_cap_reached"


@dataclass
class LedgerCheck:
    """What :func:`verify_ledger` found: each should be empty and the total zero."""

    total: Decimal = ZERO
    unbalanced: list[int] = field(default_factory=list)  # transaction ids
    mismatched: list[int] = field(default_factory=list)  # account ids: balance != entries
    negative: list[int] = field(default_factory=list)  # member accounts below zero

    @property
    def ok(self) -> bool:
        return self.total == ZERO and not (self.unbalanced or self.mismatched or self.negative)


def hours_of(value: Decimal | int | str | float) -> Decimal:
    """Positive hours to the hundredth (0.5 h, 1.25 h)."""
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            f"时数无效: {value!r} / invalid hours", code="invalid_hours"
        ) from None
    if amount <= ZERO or amount > Decimal("1000"):
        raise ValidationFailed(
            "时数应大于 0 且不超过 1000 / hours must be 0-1000", code="invalid_hours"
        )
    return amount


# ---------------------------------------------------------------- accounts


def account_for(session: Session, *, kind: str, holder_id: int, region_code: str) -> TimeAccount:
    """The account of a member (``holder_id`` the volunteer's or elder's id) or of a league
    (``holder_id`` 0), opened on first use."""
    league = codes.league_of(region_code)
    q = select(TimeAccount).where(
        TimeAccount.kind == kind,
        TimeAccount.holder_id == holder_id,
        TimeAccount.league_code == league,
    )
    found = session.scalar(q)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = TimeAccount(
                kind=kind,
                holder_id=holder_id,
                league_code=league,
                region_code=region_code,
                balance=ZERO,
            )
            session.add(row)
    except IntegrityError:
        # opened at the same moment by a concurrent posting
        found = session.scalar(q)
        if found is None:
            raise
        return found
    return row


def member_account(session: Session, *, kind: str, holder_id: int, region_code: str) -> TimeAccount:
    if kind not in MEMBER_KINDS:
        raise ValueError(kind)
    return account_for(session, kind=kind, holder_id=holder_id, region_code=region_code)


def league_account(session: Session, *, kind: str, region_code: str) -> TimeAccount:
    return account_for(session, kind=kind, holder_id=0, region_code=codes.league_of(region_code))


def find_member_account(session: Session, *, kind: str, holder_id: int) -> TimeAccount | None:
    return session.scalar(
        select(TimeAccount).where(TimeAccount.kind == kind, TimeAccount.holder_id == holder_id)
    )


def get_account(session: Session, *, account_id: int) -> TimeAccount:
    row = session.get(TimeAccount, account_id)
    if row is None:
        raise NotFound("时间账户不存在 / no such account", code="time_account_not_found")
    return row


# ---------------------------------------------------------------- posting


def _cap(session: Session) -> Decimal:
    return Decimal(str(settings_of(session).timebank_balance_cap_h)).quantize(CENT)


class Posting(TypedDict, total=False):
    """What names a posting besides its lines: its idempotency ``key``, when (``at``, now when
    absent), a ``memo`` (the kind's label when empty) and the record it is for (``ref``)."""

    key: Required[str]
    at: datetime | None
    memo: str
    ref: tuple[str, str] | None


def _post(
    session: Session,
    *,
    kind: str,
    actor: Actor,
    lines: Sequence[tuple[TimeAccount, Decimal]],
    reverses_id: int | None = None,
    cap_members: Sequence[int] = (),
    **posting: Unpack[Posting],
) -> TimeTransaction:
    """One balanced transaction, once per ``key``, at ``at`` (now when None) and with the
    kind's label when no ``memo`` is given. ``cap_members``: accounts a credit may not take
    past the cap (BalanceCapReached)."""
    key, at = posting["key"], posting.get("at") or clock.now()
    memo, ref = posting.get("memo") or KIND_LABELS[kind], posting.get("ref")
    existing = session.scalar(select(TimeTransaction).where(TimeTransaction.key == key))
    if existing is not None:
        return existing
    if sum((amount for _, amount in lines), ZERO) != ZERO or not lines:
        raise ValueError(f"unbalanced time-bank posting {key}: {[(a.id, v) for a, v in lines]}")
    ids = sorted({a.id for a, _ in lines})
    # locked in id order, read afresh: the balance as of the lock, not as first read
    locked = {
        a.id: a
        for a in session.scalars(
            select(TimeAccount)
            .where(TimeAccount.id.in_(ids))
            .order_by(TimeAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    change: dict[int, Decimal] = {}
    for account, amount in lines:
        change[account.id] = change.get(account.id, ZERO) + amount
    cap = _cap(session)
    for account_id, delta in change.items():
        account = locked[account_id]
        after = account.balance + delta
        if account.kind in MEMBER_KINDS and after < ZERO:
            raise InsufficientHours(
                f"时间余额不足: 现有 {account.balance} 小时, 需要 {-delta} 小时 / not enough hours",
                balance=str(account.balance),
                needed=str(-delta),
            )
        if account_id in cap_members and delta > ZERO and after > cap:
            raise BalanceCapReached(
                f"对方账户余额将超过上限 {cap} 小时 / the receiving account would pass its cap",
                cap=str(cap),
                balance=str(account.balance),
            )
    txn = TimeTransaction(
        kind=kind,
        key=key,
        at=at,
        actor=actor.label[:100],
        memo=memo[:200],
        ref_type=ref[0] if ref else None,
        ref_id=ref[1] if ref else None,
        reverses_id=reverses_id,
    )
    session.add(txn)
    session.flush()
    for account, amount in lines:
        if amount != ZERO:
            session.add(TimeEntry(transaction_id=txn.id, account_id=account.id, amount=amount))
    for account_id, delta in change.items():
        locked[account_id].balance = locked[account_id].balance + delta
    session.flush()
    session.refresh(txn)
    audit.record(
        session,
        actor=actor,
        action=f"time_bank.{kind}",
        target_type="time_transaction",
        target_id=txn.id,
        detail={"key": key, "lines": [[a.id, str(v)] for a, v in lines if v != ZERO]},
    )
    members = [locked[i] for i in ids if locked[i].kind in MEMBER_KINDS]
    publish_on_commit(
        session,
        TimeBankPosted(
            transaction_id=txn.id,
            kind=kind,
            region_code=(members[0] if members else locked[ids[0]]).region_code,
            account_ids=ids,
        ),
    )
    return txn


def earn(
    session: Session,
    *,
    actor: Actor,
    volunteer_id: int,
    region_code: str,
    hours: Decimal | int | str,
    **posting: Unpack[Posting],
) -> TimeTransaction:
    """Deposit confirmed service hours: from the league's issuance to the volunteer, up to the
    member cap; the rest to the league's community pool."""
    amount = hours_of(hours)
    existing = session.scalar(select(TimeTransaction).where(TimeTransaction.key == posting["key"]))
    if existing is not None:
        return existing
    member = member_account(
        session, kind=VOLUNTEER, holder_id=volunteer_id, region_code=region_code
    )
    issuance = league_account(session, kind=ISSUANCE, region_code=region_code)
    pool = league_account(session, kind=POOL, region_code=region_code)
    session.scalar(
        select(TimeAccount)
        .where(TimeAccount.id == member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    room = max(ZERO, _cap(session) - member.balance)
    kept = min(amount, room)
    lines = [(issuance, -amount), (member, kept)]
    if amount - kept > ZERO:
        lines.append((pool, amount - kept))
    return _post(session, kind="earn", actor=actor, lines=lines, **posting)


def transfer(
    session: Session,
    *,
    actor: Actor,
    from_account: TimeAccount,
    to_account: TimeAccount,
    hours: Decimal | int | str,
    **posting: Unpack[Posting],
) -> TimeTransaction:
    """Move hours from one member to another (the caller checks they are family)."""
    amount = hours_of(hours)
    if from_account.kind not in MEMBER_KINDS or to_account.kind not in MEMBER_KINDS:
        raise ValidationFailed("只能在成员账户之间转赠 / members only", code="not_a_member_account")
    if from_account.id == to_account.id:
        raise ValidationFailed("不能转给自己 / not to oneself", code="same_account")
    return _post(
        session,
        kind="transfer",
        actor=actor,
        lines=[(from_account, -amount), (to_account, amount)],
        cap_members=[to_account.id],
        **posting,
    )


def redeem(
    session: Session,
    *,
    actor: Actor,
    account: TimeAccount,
    hours: Decimal | int | str,
    **posting: Unpack[Posting],
) -> TimeTransaction:
    """Spend a member's hours on a service: to the league's redeemed account."""
    amount = hours_of(hours)
    if account.kind not in MEMBER_KINDS:
        raise ValidationFailed("只能从成员账户兑换 / members only", code="not_a_member_account")
    redeemed = league_account(session, kind=REDEEMED, region_code=account.region_code)
    return _post(
        session,
        kind="redeem",
        actor=actor,
        lines=[(account, -amount), (redeemed, amount)],
        **posting,
    )


def refund(
    session: Session,
    *,
    actor: Actor,
    transaction_id: int,
    at: datetime | None = None,
    memo: str = "",
) -> TimeTransaction:
    """Give a redemption's hours back (its service did not happen): the entries reversed, once."""
    original = session.get(TimeTransaction, transaction_id)
    if original is None or original.kind != "redeem":
        raise NotFound("兑换记录不存在 / no such redemption", code="redemption_not_found")
    ids = [e.account_id for e in original.entries]
    accounts = {
        a.id: a for a in session.scalars(select(TimeAccount).where(TimeAccount.id.in_(ids)))
    }
    return _post(
        session,
        kind="refund",
        key=f"refund:{original.id}",
        at=at,
        actor=actor,
        lines=[(accounts[e.account_id], -e.amount) for e in original.entries],
        memo=memo,
        ref=(original.ref_type, original.ref_id) if original.ref_type and original.ref_id else None,
        reverses_id=original.id,
    )


def find_by_key(session: Session, *, key: str) -> TimeTransaction | None:
    return session.scalar(select(TimeTransaction).where(TimeTransaction.key == key))


def find_by_ref(
    session: Session, *, kind: str, ref_type: str, ref_id: str
) -> TimeTransaction | None:
    return session.scalar(
        select(TimeTransaction).where(
            TimeTransaction.kind == kind,
            TimeTransaction.ref_type == ref_type,
            TimeTransaction.ref_id == ref_id,
        )
    )


# ---------------------------------------------------------------- reading


def statement(session: Session, *, account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """An account's latest movements, newest first, with the running balance after each."""
    account = get_account(session, account_id=account_id)
    rows = session.execute(
        select(TimeEntry, TimeTransaction)
        .join(TimeTransaction, TimeTransaction.id == TimeEntry.transaction_id)
        .where(TimeEntry.account_id == account.id)
        .order_by(TimeEntry.id.desc())
        .limit(limit)
    ).all()
    running = account.balance
    tz = clock.timezone_of(session)
    out = []
    for entry, txn in rows:
        out.append(
            {
                "transaction_id": txn.id,
                "kind": txn.kind,
                "kind_label": KIND_LABELS.get(txn.kind, txn.kind),
                "at": clock.local(txn.at, tz).strftime("%Y-%m-%d %H:%M"),
                "amount": str(entry.amount),
                "balance": str(running),
                "memo": txn.memo,
            }
        )
        running -= entry.amount
    return out


def verify_ledger(session: Session) -> LedgerCheck:
    """The books: every transaction sums to zero, every account's balance is the sum of its
    entries, no member is below zero, and all entries together sum to zero."""
    check = LedgerCheck()
    check.total = Decimal(
        session.scalar(select(func.coalesce(func.sum(TimeEntry.amount), 0))) or 0
    ).quantize(CENT)
    check.unbalanced = list(
        session.scalars(
            select(TimeEntry.transaction_id)
            .group_by(TimeEntry.transaction_id)
            .having(func.sum(TimeEntry.amount) != 0)
        )
    )
    sums = dict(
        session.execute(
            select(TimeEntry.account_id, func.sum(TimeEntry.amount)).group_by(TimeEntry.account_id)
        ).all()
    )
    for account in session.scalars(select(TimeAccount)):
        if Decimal(sums.get(account.id, 0) or 0).quantize(CENT) != account.balance:
            check.mismatched.append(account.id)
        if account.kind in MEMBER_KINDS and account.balance < ZERO:
            check.negative.append(account.id)
    return check
