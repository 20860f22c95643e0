"""Daily reconciliation with hospitals (对账): the arithmetic of 3201 and 3202.

The totals come from the journal itself, so a statement can never disagree with the
books: a settlement transaction counts +1 and its amounts, a reversal -1 and the
negated amounts (a reversed settlement nets to zero in count and money), an
adjustment nothing towards the count (``settlement_count``).

- 3201 对总账: ``period_totals`` for (provider, scheme, clr_type, days) compared with
  the hospital's declared ``Totals`` by ``compare_totals``;
- 3202 对明细账: ``detail_rows`` per settlement compared row by row with the hospital's
  by ``compare_details``;
- ``owed_by_fund``: what each fund owes each hospital per day (clearing, 清算).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple

from yibao.core.ledger.accounts import HOSPITAL_PAYABLE
from yibao.core.ledger.journal import Transaction
from yibao.core.ledger.post import posted_amounts

__all__ = [
    "DetailDiff",
    "DetailRow",
    "Difference",
    "Reconciliation",
    "StatementKey",
    "Totals",
    "compare_details",
    "compare_totals",
    "daily_totals",
    "detail_rows",
    "owed_by_fund",
    "period_totals",
    "totals_of",
]


class Totals(NamedTuple):
    """A statement's totals, integer fen (3201/3202 header fields)."""

    medfee_sumamt: int  # 医疗费总额
    fund_pay_sumamt: int  # 基金支付总额 (never the fiscal subsidy)
    acct_pay: int  # 个人账户支付
    psn_cash_pay: int  # 现金支付 (3202's cash_payamt)
    settlement_count: int  # fixmedins_setl_cnt: settlements - reversals

    def __add__(self, other: object) -> Totals:
        if not isinstance(other, Totals):
            return NotImplemented
        return Totals(*(a + b for a, b in zip(self, other, strict=True)))


ZERO = Totals(0, 0, 0, 0, 0)
TOTALS_3201 = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "settlement_count")
TOTALS_3202 = ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "settlement_count")


class StatementKey(NamedTuple):
    provider_code: str
    scheme: str  # employee | resident | none (the codec maps it to insutype)
    clr_type: str
    day: dt.date


_COUNT = {"settlement": 1, "reversal": -1, "adjustment": 0}


def totals_of(tx: Transaction) -> Totals:
    """One transaction's contribution to a statement."""
    p = posted_amounts(tx)
    return Totals(p.to_hospital, p.fund_pay_sumamt, p.acct_pay, p.psn_cash_pay, _COUNT[tx.kind])


def daily_totals(txs: Iterable[Transaction]) -> dict[StatementKey, Totals]:
    """Totals per provider, scheme, clr_type and booking day (settlements only)."""
    out: dict[StatementKey, Totals] = {}
    for tx in txs:
        ref = tx.settlement
        if ref is None:
            continue
        key = StatementKey(ref.provider_code, ref.scheme, ref.clr_type, tx.booked_on)
        out[key] = out.get(key, ZERO) + totals_of(tx)
    return out


def period_totals(
    txs: Iterable[Transaction],
    *,
    provider_code: str,
    begin: dt.date,
    end: dt.date,
    scheme: str | None = None,
    clr_type: str | None = None,
) -> Totals:
    """3201's totals: one provider, days ``begin..end`` inclusive; ``None`` = any."""
    total = ZERO
    for key, t in daily_totals(txs).items():
        if (key.provider_code == provider_code and begin <= key.day <= end
                and scheme in (None, key.scheme) and clr_type in (None, key.clr_type)):  # fmt: skip
            total += t
    return total


class Difference(NamedTuple):
    field: str
    ours: int
    declared: int


class Reconciliation(NamedTuple):
    """对账结果: balanced (平) or the fields that differ (不平)."""

    balanced: bool
    differences: tuple[Difference, ...]


def compare_totals(
    ours: Totals, declared: Totals, *, fields: tuple[str, ...] = TOTALS_3201
) -> Reconciliation:
    """Compare our totals with the hospital's on ``fields`` (3201's by default)."""
    diffs = tuple(Difference(f, getattr(ours, f), getattr(declared, f)) for f in fields
                  if getattr(ours, f) != getattr(declared, f))  # fmt: skip
    return Reconciliation(not diffs, diffs)


class DetailRow(NamedTuple):
    """One settlement (or reversal) as 3202 lists it."""

    settlement_id: str  # setl_id
    encounter_id: str  # mdtrt_id
    insuree_id: str  # psn_no
    refund: bool  # refd_setl_flag: a reversal
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int


DetailKey = tuple[str, bool]  # (settlement_id, refund)


def detail_rows(txs: Iterable[Transaction]) -> dict[DetailKey, DetailRow]:
    """Our 3202 rows, keyed by (settlement id, refund)."""
    out: dict[DetailKey, DetailRow] = {}
    for tx in txs:
        ref = tx.settlement
        if ref is None or tx.kind == "adjustment":
            continue
        t, refund = totals_of(tx), tx.kind == "reversal"
        out[(ref.settlement_id, refund)] = DetailRow(
            ref.settlement_id, ref.encounter_id, ref.insuree_id, refund,
            t.medfee_sumamt, t.fund_pay_sumamt, t.acct_pay)  # fmt: skip
    return out


DetailStatus = Literal["ours_only", "declared_only", "amounts_differ"]


class DetailDiff(NamedTuple):
    settlement_id: str
    refund: bool
    status: DetailStatus  # 中心多 / 医院多 / 金额不符
    differences: tuple[Difference, ...]


_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


def compare_details(
    ours: Mapping[DetailKey, DetailRow], declared: Iterable[DetailRow]
) -> list[DetailDiff]:
    """Every row that is not on both sides with the same amounts, ours first."""
    theirs = {(r.settlement_id, r.refund): r for r in declared}
    out: list[DetailDiff] = []
    for key, row in sorted(ours.items()):
        other = theirs.get(key)
        if other is None:
            out.append(DetailDiff(key[0], key[1], "ours_only", ()))
            continue
        diffs = tuple(Difference(f, getattr(row, f), getattr(other, f)) for f in _AMOUNTS
                      if getattr(row, f) != getattr(other, f))  # fmt: skip
        if diffs:
            out.append(DetailDiff(key[0], key[1], "amounts_differ", diffs))
    out += [DetailDiff(k[0], k[1], "declared_only", ()) for k in sorted(theirs) if k not in ours]
    return out


def owed_by_fund(txs: Iterable[Transaction]) -> dict[tuple[str, str, dt.date], int]:
    """Net credits to ``hospital_payable`` per (provider, fund book, day): what each
    fund owes each hospital from that day's settlements and reversals."""
    out: dict[tuple[str, str, dt.date], int] = {}
    for tx in txs:
        for p in tx.postings:
            if p.account.code == HOSPITAL_PAYABLE.code:
                key = (p.account.key, p.account.book, tx.booked_on)
                out[key] = out.get(key, 0) - p.amount_fen
    return out
