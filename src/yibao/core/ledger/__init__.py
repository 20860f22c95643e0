"""The pure double-entry ledger (复式记账): accounts, postings, checks, reconciliation.

- ``accounts``: the chart (``AccountType``) and ``Account(code, book, key)``; each fund
  is its own book, the COVID fiscal subsidy another (单列), patient cash a memo book;
- ``journal``: ``Posting`` (signed fen: debit > 0 > credit), ``Transaction``,
  ``reversal_of`` (exact negation), balances;
- ``post``: ``postings_for(settlement, ...)`` -> one balanced transaction (its postings
  as plain values: ``settlement_legs``, for bulk booking), and ``posted_amounts`` to read
  a transaction back;
- ``checks``: named checks returning problems, ``ledger_problems`` for `yibao ledger
  check` (trial balance, each settlement's balance, accumulators vs postings);
- ``reconcile``: 3201/3202 totals and comparisons.

No I/O, clock or randomness: ids and dates are arguments (ARCHITECTURE.md, STYLE §3).
"""

from yibao.core.ledger.accounts import CHART, FISCAL, PATIENT, Account, AccountType, Kind, Side
from yibao.core.ledger.checks import Booked, ledger_problems, transaction_problems
from yibao.core.ledger.journal import (
    Posting,
    SettlementRef,
    Transaction,
    balances,
    reversal_of,
)
from yibao.core.ledger.post import (
    Posted,
    posted_amounts,
    postings_for,
    settlement_legs,
    settlement_narration,
)
from yibao.core.ledger.reconcile import Totals, compare_totals, daily_totals, period_totals

__all__ = [
    "CHART",
    "FISCAL",
    "PATIENT",
    "Account",
    "AccountType",
    "Booked",
    "Kind",
    "Posted",
    "Posting",
    "SettlementRef",
    "Side",
    "Totals",
    "Transaction",
    "balances",
    "compare_totals",
    "daily_totals",
    "ledger_problems",
    "period_totals",
    "posted_amounts",
    "postings_for",
    "reversal_of",
    "settlement_legs",
    "settlement_narration",
    "transaction_problems",
]
