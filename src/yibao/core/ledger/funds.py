"""Fund management on the ledger (issue 20): prepayments (预付), the monthly clearing with
each hospital (月度结算清算) and finance's payment of a hospital's subsidy claim (财政补助
申报拨付) — each one balanced transaction, inside one book at a time.

=============================  ===================================  ===========================
movement                       debit (book : key)                   credit (book : key)
=============================  ===================================  ===========================
prepayment (``advance``)       advance_receivable fund : provider   fund_bank fund
monthly clearing (``clearing``)  hospital_payable fund : provider   supervision_deduction fund :
                               (what the month's settlements owe)   provider (recovered),
                                                                    advance_receivable fund :
                                                                    provider (prepayment
                                                                    offset), fund_bank fund
                                                                    (the payment: the rest)
subsidy claim paid (``clearing``)  fiscal_payable fiscal : provider  fund_bank fiscal
=============================  ===================================  ===========================

A correction is the exact negation (``correction_of``: same kind, ``reverses`` set).
Pure: ids and dates are arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from yibao.core.ledger.accounts import (
    ADVANCE_RECEIVABLE,
    CENTRAL_RECEIVABLE,
    CENTRAL_SHARE,
    FISCAL,
    FISCAL_PAYABLE,
    FUND_BANK,
    HOSPITAL_PAYABLE,
    SUPERVISION_DEDUCTION,
    Account,
)
from yibao.core.ledger.journal import Posting, Transaction
from yibao.core.money import BP_ONE, mul_bp

__all__ = [
    "Baseline",
    "StatementLine",
    "central_due",
    "central_true_up",
    "clearing_lines",
    "clearing_tx",
    "correction_of",
    "prepayment_baseline",
    "prepayment_tx",
    "split_by_weight",
    "subsidy_payment_tx",
]


class Baseline(NamedTuple):
    """The prepayment formula's figures (fen): ``months`` × last year's average monthly
    fund payment, plus expected COVID patients × the average fund cost of a confirmed
    stay."""

    prior_year_paid_fen: int
    monthly_avg_fen: int  # prior_year_paid / 12, half up
    months: int
    ordinary_fen: int  # months × monthly_avg
    expected_patients: int
    covid_stay_fen: int  # average fund cost of one confirmed stay
    covid_fen: int  # expected_patients × covid_stay
    total_fen: int


def prepayment_baseline(*, prior_year_paid_fen: int, months: int, expected_patients: int,
                        covid_stay_fen: int) -> Baseline:  # fmt: skip
    """The formula (its figures are the pack's ``prepayment``; DECISIONS: 230号 unknown)."""
    for name, v in (("prior_year_paid_fen", prior_year_paid_fen), ("months", months),
                    ("expected_patients", expected_patients),
                    ("covid_stay_fen", covid_stay_fen)):  # fmt: skip
        if type(v) is not int or v < 0:
            raise ValueError(f"{name} {v!r} is not a non-negative integer")
    avg = (prior_year_paid_fen * 2 + 12) // 24
    ordinary, covid = avg * months, expected_patients * covid_stay_fen
    return Baseline(prior_year_paid_fen, avg, months, ordinary, expected_patients,
                    covid_stay_fen, covid, ordinary + covid)  # fmt: skip


def split_by_weight(total_fen: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``total_fen`` split over the keys in proportion to ``weights`` (largest remainder,
    ties to the smaller key); equal weights when they are all zero. Sums exactly."""
    if not weights:
        raise ValueError("nothing to split over")
    keys = sorted(weights)
    w = {k: max(0, weights[k]) for k in keys}
    if sum(w.values()) == 0:
        w = dict.fromkeys(keys, 1)
    whole = sum(w.values())
    share = {k: total_fen * w[k] // whole for k in keys}
    rest = total_fen - sum(share.values())
    by_remainder = sorted(keys, key=lambda k: (-(total_fen * w[k] % whole), k))
    for k in by_remainder[:rest]:
        share[k] += 1
    return share


def prepayment_tx(*, tx_id: str, provider_code: str, by_book: Mapping[str, int],
                  booked_on: dt.date, narration: str) -> Transaction:  # fmt: skip
    """A prepayment disbursed: per book, the hospital owes it back (``advance_receivable``)
    and the book's bank pays it."""
    postings: list[Posting] = []
    for book in sorted(by_book):
        fen = by_book[book]
        if type(fen) is not int or fen < 0:
            raise ValueError(f"prepayment {book}: {fen!r} is not a non-negative integer fen")
        if fen:
            postings += [Posting(Account(ADVANCE_RECEIVABLE.code, book, provider_code), fen),
                         Posting(Account(FUND_BANK.code, book), -fen)]  # fmt: skip
    if not postings:
        raise ValueError("a prepayment of 0 fen posts nothing")
    return Transaction(tx_id, booked_on, "advance", tuple(postings), narration=narration)


class StatementLine(NamedTuple):
    """One book's line of a hospital's monthly statement (fen)."""

    book: str
    owed_ordinary_fen: int  # what the month's settlements (net of reversals) owe, non-COVID
    owed_covid_fen: int  # the same for COVID stays (单列)
    deduction_fen: int  # supervision deductions recovered
    offset_fen: int  # prepayment offset

    @property
    def owed_fen(self) -> int:
        return self.owed_ordinary_fen + self.owed_covid_fen

    @property
    def net_fen(self) -> int:
        """What the book pays the hospital (negative: the hospital pays back)."""
        return self.owed_fen - self.deduction_fen - self.offset_fen


def clearing_lines(owed: Mapping[str, tuple[int, int]], *, deductions: Mapping[str, int],
                   prepaid: Mapping[str, int], offset_bp: int) -> list[StatementLine]:  # fmt: skip
    """The statement's lines: per book, ``owed`` (ordinary, COVID), less the open
    supervision deductions (up to what is owed), less the prepayment offset — at most
    ``offset_bp`` of what is owed, at most the open prepayment, never more than is left.
    Books with deductions or prepayments but nothing owed get a zero line."""
    if not 0 <= offset_bp <= BP_ONE:
        raise ValueError(f"offset_bp {offset_bp} is outside 0..{BP_ONE}")
    out = []
    for book in sorted(set(owed) | {b for b, f in deductions.items() if f}
                       | {b for b, f in prepaid.items() if f}):  # fmt: skip
        ordinary, covid = owed.get(book, (0, 0))
        due = max(0, ordinary + covid)
        deduction = min(max(0, deductions.get(book, 0)), due)
        offset = min(max(0, prepaid.get(book, 0)), mul_bp(due, offset_bp), due - deduction)
        out.append(StatementLine(book, ordinary, covid, deduction, offset))
    return out


def clearing_tx(*, tx_id: str, provider_code: str, lines: Sequence[StatementLine],
                booked_on: dt.date, narration: str) -> Transaction:  # fmt: skip
    """The monthly clearing paid: per book, the month's payable to the hospital is
    discharged by the deductions recovered, the prepayment offset and the payment."""
    postings: list[Posting] = []
    for ln in sorted(lines):
        for account, fen in (
            (Account(HOSPITAL_PAYABLE.code, ln.book, provider_code), ln.owed_fen),
            (Account(SUPERVISION_DEDUCTION.code, ln.book, provider_code), -ln.deduction_fen),
            (Account(ADVANCE_RECEIVABLE.code, ln.book, provider_code), -ln.offset_fen),
            (Account(FUND_BANK.code, ln.book), -ln.net_fen),
        ):
            if fen:
                postings.append(Posting(account, fen))
    return Transaction(tx_id, booked_on, "clearing", tuple(postings), narration=narration)


def subsidy_payment_tx(*, tx_id: str, provider_code: str, fen: int, booked_on: dt.date,
                       narration: str) -> Transaction:  # fmt: skip
    """Finance pays a hospital's subsidy claim: its ``fiscal_payable`` is discharged."""
    if type(fen) is not int:
        raise ValueError(f"{fen!r} is not integer fen")
    postings = (Posting(Account(FISCAL_PAYABLE.code, FISCAL, provider_code), fen),
                Posting(Account(FUND_BANK.code, FISCAL), -fen)) if fen else ()  # fmt: skip
    return Transaction(tx_id, booked_on, "clearing", postings, narration=narration)


def correction_of(tx: Transaction, *, tx_id: str, booked_on: dt.date) -> Transaction:
    """The exact negation of one of the above (红字冲销): same kind, ``reverses`` = its id."""
    return Transaction(tx_id, booked_on, tx.kind, tuple(p.negated() for p in tx.postings),
                       reverses=tx.id, narration=f"冲销 {tx.id}")  # fmt: skip


def central_due(by_share: Mapping[int, tuple[int, int]]) -> int:
    """Central finance's share of the fiscal subsidy: per share (bp), ``mul_bp`` of the
    total booked at that share (half up; a net negative total symmetrically) — the rule
    of ``post.central_share_adjustment``, over several shares (confirmed 60 %,
    suspected as the overlay says)."""
    due = 0
    for bp, (fiscal, _) in sorted(by_share.items()):
        due += mul_bp(fiscal, bp) if fiscal >= 0 else -mul_bp(-fiscal, bp)
    return due


def central_true_up(by_share: Mapping[int, tuple[int, int]], adjusted_fen: int, *,
                    tx_id: str, booked_on: dt.date) -> Transaction | None:  # fmt: skip
    """The posting that makes the central receivable exactly ``central_due``:
    ``by_share`` maps each share (bp) to (fiscal subsidy, central receivable) posted by
    settlements; ``adjusted_fen`` is what earlier true-ups posted. ``None``: nothing off.
    (``post.central_share_adjustment`` for one share; this is it for several.)"""
    booked = sum(c for _, c in by_share.values()) + adjusted_fen
    gap = central_due(by_share) - booked
    if gap == 0:
        return None
    postings = (Posting(Account(CENTRAL_RECEIVABLE.code, FISCAL), gap),
                Posting(Account(CENTRAL_SHARE.code, FISCAL), -gap))  # fmt: skip
    return Transaction(tx_id, booked_on, "adjustment", postings,
                       narration="中央财政补助 尾差调整（申报）")  # fmt: skip
