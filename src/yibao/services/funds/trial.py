"""试算平衡表: the balance of every account of the chart per book, from the journal,
up to a day — what the finance pages show beside the statements. A sound ledger's
every book totals zero (debits equal credits); the page says which book does not."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.core.errors import Forbidden
from yibao.core.ledger.accounts import CHART, book_name
from yibao.services.access.rights import Principal, require
from yibao.store.uow import UnitOfWork

__all__ = ["TrialBalance", "TrialRow", "trial_balance"]


@dataclass(frozen=True, slots=True)
class TrialRow:
    code: str
    name: str
    normal: str  # "debit" | "credit"
    book: str
    book_name: str
    debit_fen: int  # the net balance when on the debit side, else 0
    credit_fen: int  # the net balance when on the credit side, else 0
    keys: int  # sub-ledger keys with a balance (hospitals, insurees, regions)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    end: dt.date | None
    rows: tuple[TrialRow, ...]

    def books(self) -> dict[str, tuple[int, int]]:
        """Per book: (debits, credits) of its accounts' balances."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.rows:
            d, c = out.get(r.book, (0, 0))
            out[r.book] = (d + r.debit_fen, c + r.credit_fen)
        return dict(sorted(out.items()))

    @property
    def unbalanced(self) -> list[str]:
        return [b for b, (d, c) in self.books().items() if d != c]


def trial_balance(uow: UnitOfWork, caller: Principal, *, end: dt.date | None = None
                  ) -> TrialBalance:  # fmt: skip
    """Every account's balance per book (summed over its keys), booked up to ``end``
    (all when None): the bureau's view, not a hospital's."""
    require(caller, "funds.read")
    if caller.role == "hospital":
        raise Forbidden("the trial balance is the bureau's (试算平衡表仅限医保局查看)")
    rows: list[TrialRow] = []
    with uow:
        for code, t in CHART.items():
            per_book: dict[str, tuple[int, int]] = {}
            for (_key, book), fen in uow.funds.balances(code, end=end).items():
                net, keys = per_book.get(book, (0, 0))
                per_book[book] = (net + fen, keys + 1)
            for book, (net, keys) in sorted(per_book.items()):
                if net == 0 and keys == 0:
                    continue
                rows.append(TrialRow(code, t.name, str(t.normal_side), book, book_name(book),
                                     net if net > 0 else 0, -net if net < 0 else 0,
                                     keys))  # fmt: skip
    rows.sort(key=lambda r: (r.book, r.code))
    return TrialBalance(end, tuple(rows))
