"""Postings, transactions, reversals and balances (记账凭证 and 总账), in integer fen.

A posting is signed: ``amount_fen > 0`` is a debit (借), ``< 0`` a credit (贷). A
transaction balances when its postings sum to zero (in total and inside every book).
Nothing is ever edited: a reversal (冲销) is a new transaction carrying the exact
negation of every posting of the one it cancels (红字冲销, SETTLEMENT.md §8).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from yibao.core.ledger.accounts import Account, Side

__all__ = [
    "Posting",
    "SettlementRef",
    "Transaction",
    "TxKind",
    "balance_of",
    "balances",
    "book_totals",
    "normal_balance",
    "reversal_of",
]

TxKind = Literal["settlement", "reversal", "adjustment", "advance", "clearing"]


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a transaction: an account and a signed amount (debit > 0 > credit)."""

    account: Account
    amount_fen: int

    @property
    def debit_fen(self) -> int:
        return self.amount_fen if self.amount_fen > 0 else 0

    @property
    def credit_fen(self) -> int:
        return -self.amount_fen if self.amount_fen < 0 else 0

    @property
    def side(self) -> Side:
        return Side.CREDIT if self.amount_fen < 0 else Side.DEBIT

    def negated(self) -> Posting:
        return Posting(self.account, -self.amount_fen)


class SettlementRef(NamedTuple):
    """What a settlement transaction is about: the keys ``checks`` and ``reconcile``
    group by (insuree-year for the accumulators; provider, scheme, clr_type and day for
    the daily statements)."""

    settlement_id: str  # setl_id
    encounter_id: str  # mdtrt_id
    insuree_id: str  # psn_no
    provider_code: str  # fixmedins_code
    scheme: str  # employee | resident | none
    accumulator_year: int  # the calendar year of the discharge date (POLICY-PACKS.md)
    clr_type: str  # 清算类别 (11 门诊, 21 住院 …), or "" when not known


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced set of postings booked on one day, never edited afterwards.

    ``id`` is the caller's idempotency key (a settlement's ``setl_id``, say): posting the
    same id twice is the store's to refuse. ``reverses`` names the transaction a
    reversal negates.
    """

    id: str
    booked_on: dt.date
    kind: TxKind
    postings: tuple[Posting, ...]
    settlement: SettlementRef | None = None
    reverses: str | None = None
    narration: str = ""

    @property
    def total_fen(self) -> int:
        """Debits minus credits: zero when the transaction balances."""
        return sum(p.amount_fen for p in self.postings)


def reversal_of(
    tx: Transaction, *, booked_on: dt.date | None = None, tx_id: str | None = None
) -> Transaction:
    """The exact negation of ``tx`` (结算撤销 / 冲销): every posting with its sign flipped.

    ``booked_on`` is the day of the reversal (default: the original's day — pass the
    real day, it decides which daily statement the reversal falls in); ``tx_id``
    defaults to ``"<id>/reversal"``.
    """
    return Transaction(
        id=tx_id if tx_id is not None else f"{tx.id}/reversal",
        booked_on=booked_on if booked_on is not None else tx.booked_on,
        kind="reversal",
        postings=tuple(p.negated() for p in tx.postings),
        settlement=tx.settlement,
        reverses=tx.id,
        narration=f"冲销 {tx.id}",
    )


def balances(txs: Iterable[Transaction]) -> dict[Account, int]:
    """Signed balance (debits - credits) of every account the transactions touch."""
    out: dict[Account, int] = {}
    for tx in txs:
        for p in tx.postings:
            out[p.account] = out.get(p.account, 0) + p.amount_fen
    return out


def balance_of(txs: Iterable[Transaction], account: Account) -> int:
    """Signed balance (debits - credits) of one account."""
    return sum(p.amount_fen for tx in txs for p in tx.postings if p.account == account)


def normal_balance(account: Account, signed_fen: int) -> int:
    """A signed balance on the account's normal side: a liability's credit balance is
    positive, its debit balance negative."""
    return signed_fen if account.type.normal_side is Side.DEBIT else -signed_fen


def book_totals(balances_by_account: Mapping[Account, int]) -> dict[str, int]:
    """Signed total per book: every book of a sound ledger totals zero."""
    out: dict[str, int] = {}
    for account, fen in balances_by_account.items():
        out[account.book] = out.get(account.book, 0) + fen
    return out
