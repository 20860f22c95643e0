"""For any generated month of settlements, reversals, prepayments, supervision
deductions and subsidy claims: every statement equals the postings, the clearing
discharges exactly the month's payables, and the ledger balances (core only)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.core.ledger import Posting, Transaction, balances, reversal_of
from yibao.core.ledger.accounts import (
    ADVANCE_RECEIVABLE,
    BENEFIT,
    FISCAL,
    FISCAL_PAYABLE,
    FISCAL_SUBSIDY,
    HOSPITAL_PAYABLE,
    SUPERVISION_DEDUCTION,
    Account,
)
from yibao.core.ledger.checks import (
    statement_problems,
    transaction_problems,
    trial_balance_problems,
)
from yibao.core.ledger.funds import (
    clearing_lines,
    clearing_tx,
    prepayment_tx,
    split_by_weight,
    subsidy_payment_tx,
)

BOOKS = ("310100", "390100", "330100", "610100")
PROVIDERS = ("H1", "H2", "H3")
DAY = dt.date(2020, 2, 10)

settlement = st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(BOOKS),
                       st.integers(0, 5_000_000), st.integers(0, 300_000), st.booleans(),
                       st.booleans())  # fmt: skip


def _settlement(n: int, prov: str, book: str, fund: int, fiscal: int) -> Transaction:
    legs = [Posting(Account(BENEFIT.code, book), fund),
            Posting(Account(HOSPITAL_PAYABLE.code, book, prov), -fund),
            Posting(Account(FISCAL_SUBSIDY.code, FISCAL), fiscal),
            Posting(Account(FISCAL_PAYABLE.code, FISCAL, prov), -fiscal)]  # fmt: skip
    return Transaction(f"s{n}", DAY, "settlement", tuple(p for p in legs if p.amount_fen))


@settings(max_examples=150)
@given(st.lists(settlement, max_size=40),
       st.dictionaries(st.sampled_from(PROVIDERS), st.integers(1, 20_000_000)),
       st.dictionaries(st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(BOOKS)),
                       st.integers(1, 3_000_000)),
       st.integers(0, 10_000))  # fmt: skip
def test_statements_equal_postings_and_the_ledger_balances(rows, prepay, deduct, offset_bp):
    journal: list[Transaction] = []
    covid_of: dict[str, bool] = {}
    for n, (prov, book, fund, fiscal, covid, reverse) in enumerate(rows):
        tx = _settlement(n, prov, book, fund, fiscal)
        journal.append(tx)
        covid_of[tx.id] = covid
        if reverse:
            rev = reversal_of(tx, tx_id=f"r{n}")
            journal.append(rev)
            covid_of[rev.id] = covid
    for prov, fen in prepay.items():
        split = split_by_weight(fen, dict.fromkeys(BOOKS[:2], 1))
        assert sum(split.values()) == fen
        journal.append(prepayment_tx(tx_id=f"p{prov}", provider_code=prov, by_book=split,
                                     booked_on=DAY, narration=""))  # fmt: skip
    for (prov, book), fen in deduct.items():  # supervision books a confirmed deduction
        journal.append(Transaction(f"d{prov}{book}", DAY, "adjustment", (
            Posting(Account(SUPERVISION_DEDUCTION.code, book, prov), fen),
            Posting(Account(BENEFIT.code, book), -fen))))  # fmt: skip
    # the oracle: what the month's settlements and reversals owe, by hand
    owed: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for tx in journal:
        if tx.kind in ("settlement", "reversal"):
            for p in tx.postings:
                if p.account.code == HOSPITAL_PAYABLE.code:
                    owed[p.account.key][p.account.book][1 if covid_of[tx.id] else 0] -= p.amount_fen
    bal = balances(journal)
    for prov in PROVIDERS:
        posted = {b: (v[0], v[1]) for b, v in owed[prov].items()}
        lines = clearing_lines(
            posted,
            deductions={b: bal.get(Account(SUPERVISION_DEDUCTION.code, b, prov), 0) for b in BOOKS},
            prepaid={b: bal.get(Account(ADVANCE_RECEIVABLE.code, b, prov), 0) for b in BOOKS},
            offset_bp=offset_bp,
        )  # fmt: skip
        for ln in lines:
            assert ln.deduction_fen >= 0
            assert ln.offset_fen >= 0
            assert ln.net_fen == ln.owed_fen - ln.deduction_fen - ln.offset_fen
            assert ln.net_fen >= 0 or ln.owed_fen < 0
        clr = clearing_tx(tx_id=f"c{prov}", provider_code=prov, lines=lines, booked_on=DAY,
                          narration="")  # fmt: skip
        assert transaction_problems(clr) == []
        assert statement_problems(f"st{prov}", lines, posted, clr, provider_code=prov) == []
        journal.append(clr)
        fiscal = -bal.get(Account(FISCAL_PAYABLE.code, FISCAL, prov), 0)
        if fiscal:
            journal.append(subsidy_payment_tx(tx_id=f"f{prov}", provider_code=prov, fen=fiscal,
                                              booked_on=DAY, narration=""))  # fmt: skip
    assert trial_balance_problems(journal) == []
    after = balances(journal)
    for prov in PROVIDERS:
        for book in BOOKS:  # the month's payables are discharged; nothing recovered twice
            assert after.get(Account(HOSPITAL_PAYABLE.code, book, prov), 0) == 0
            assert after.get(Account(ADVANCE_RECEIVABLE.code, book, prov), 0) >= 0
            assert after.get(Account(SUPERVISION_DEDUCTION.code, book, prov), 0) >= 0
        assert after.get(Account(FISCAL_PAYABLE.code, FISCAL, prov), 0) == 0


def test_a_statement_that_differs_from_the_postings_is_reported() -> None:
    lines = clearing_lines({"310100": (100, 50)}, deductions={}, prepaid={"310100": 60},
                           offset_bp=5000)  # fmt: skip
    assert lines[0].offset_fen == 60
    assert lines[0].net_fen == 90
    clr = clearing_tx(tx_id="c", provider_code="H1", lines=lines, booked_on=DAY, narration="")
    assert statement_problems("s", lines, {"310100": (100, 49)}, clr, provider_code="H1")
    other = clearing_tx(tx_id="c", provider_code="H1", lines=lines[:0], booked_on=DAY,
                        narration="")  # fmt: skip
    assert statement_problems("s", lines, {"310100": (100, 50)}, other, provider_code="H1")
