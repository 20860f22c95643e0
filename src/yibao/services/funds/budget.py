"""总额预算与新冠单列: each hospital's yearly target (entered or imported, versioned), its
monthly spending with COVID settlements kept out (国医保电〔2020〕5号 三, 渝医保发〔2020〕3号
三（二）: 单列预算; the provincial notice 三（二）: 不受医保总额控制指标限制，年底…调整), and
the year-end adjustment report: what excluding COVID changed for each hospital.

Spending is what the basic funds (统筹基金 310100 / 390100) owe the hospital for the
month's settlements net of reversals, read from the journal (``uow.funds.owed_by_day``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from yibao.core.engine.funds import BASIC
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.accounts import HOSPITAL_PAYABLE
from yibao.core.money import fen_from_yuan
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import Context
from yibao.services.funds.common import event
from yibao.store.uow import UnitOfWork

__all__ = ["BUDGET_BOOKS", "BudgetRow", "import_budgets", "set_budget", "year_report"]

BUDGET_BOOKS = tuple(sorted(set(BASIC.values())))
_MAX_FEN = 10**13


def set_budget(uow: UnitOfWork, ctx: Context, caller: Principal, provider_code: str, year: int,
               target_fen: int, *, prior_paid_fen: int | None = None,
               source: str = "entered") -> int:  # fmt: skip
    """Record a hospital's target for ``year`` (a new version; nothing is overwritten).
    ``prior_paid_fen``: last year's fund payments, where the ledger does not hold that
    year (the prepayment baseline reads it). Returns the version."""
    require(caller, "funds.budget")
    problems = []
    if type(target_fen) is not int or not 0 <= target_fen < _MAX_FEN:
        problems.append("target_fen: 总额指标须为非负金额")
    if prior_paid_fen is not None and (type(prior_paid_fen) is not int
                                       or not 0 <= prior_paid_fen < _MAX_FEN):  # fmt: skip
        problems.append("prior_paid_fen: 上年基金支付须为非负金额")
    if not 2000 <= year <= 2100:
        problems.append(f"year: {year} 不是有效年度")
    if problems:
        raise InvalidRequest("; ".join(problems))
    now = ctx.now()
    with uow(write=True):
        ctx.provider(uow, provider_code, dt.date(year, 1, 1))
        version = uow.funds.budget_version(provider_code, year) + 1
        uow.funds.insert(
            "budget",
            [
                {
                    "provider_code": provider_code,
                    "year": year,
                    "version": version,
                    "target_fen": target_fen,
                    "prior_paid_fen": prior_paid_fen,
                    "source": source[:100],
                    "recorded_by": caller.actor[:64],
                    "recorded_at": now,
                }
            ],
        )
        event(uow, caller, "budget", f"{provider_code}/{year}", "recorded", now,
              version=version, target_fen=target_fen)  # fmt: skip
        uow.commit()
    return version


def import_budgets(uow: UnitOfWork, ctx: Context, caller: Principal, text: str,
                   source: str) -> int:  # fmt: skip
    """A CSV ``provider_code,year,target_yuan[,prior_paid_yuan]`` (header first), all or
    nothing: each problem names its line. Returns the rows recorded."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0][:3]] != ["provider_code", "year", "target_yuan"]:
        raise InvalidRequest("line 1: the header must be provider_code,year,target_yuan"
                             "[,prior_paid_yuan]")  # fmt: skip
    parsed, problems = [], []
    for n, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        try:
            prior = fen_from_yuan(r[3]) if len(r) > 3 and r[3].strip() else None
            parsed.append((r[0].strip(), int(r[1]), fen_from_yuan(r[2]), prior))
        except (ValueError, IndexError, InvalidRequest) as exc:
            problems.append(f"line {n}: {exc}")
    if problems:
        raise InvalidRequest("; ".join(problems[:20]))
    with uow(write=True):
        for code, year, target, prior in parsed:
            set_budget(uow, ctx, caller, code, year, target, prior_paid_fen=prior,
                       source=source)  # fmt: skip
        uow.commit()
    return len(parsed)


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """One hospital's year: target, monthly spending (ordinary, COVID) and what the
    exclusion of COVID changed."""

    provider_code: str
    target_fen: int | None
    months: tuple[tuple[int, int], ...]  # 12 × (ordinary, covid)

    @property
    def ordinary_fen(self) -> int:
        return sum(o for o, _ in self.months)

    @property
    def covid_fen(self) -> int:
        return sum(c for _, c in self.months)

    @property
    def over_with_covid_fen(self) -> int | None:
        """Spending over the target had COVID counted (negative: under it)."""
        t = self.target_fen
        return None if t is None else self.ordinary_fen + self.covid_fen - t

    @property
    def over_fen(self) -> int | None:
        """Spending over the target with COVID excluded (单列): what counts."""
        return None if self.target_fen is None else self.ordinary_fen - self.target_fen

    @property
    def changed(self) -> bool:
        """Excluding COVID moved the hospital from over its target to within it."""
        a, b = self.over_with_covid_fen, self.over_fen
        return a is not None and b is not None and a > 0 >= b

    def as_dict(self) -> dict[str, Any]:
        return {"provider_code": self.provider_code, "target_fen": self.target_fen,
                "months": [{"month": i + 1, "ordinary_fen": o, "covid_fen": c}
                           for i, (o, c) in enumerate(self.months)],
                "ordinary_fen": self.ordinary_fen, "covid_fen": self.covid_fen,
                "over_with_covid_fen": self.over_with_covid_fen, "over_fen": self.over_fen,
                "changed": self.changed}  # fmt: skip


def year_report(uow: UnitOfWork, caller: Principal, year: int,
                through: dt.date | None = None) -> list[BudgetRow]:  # fmt: skip
    """Every hospital with a target or spending in ``year`` (up to ``through``)."""
    require(caller, "funds.read")
    if not 1 <= year <= 9999:
        raise InvalidRequest.of([("year", f"{year} is not a calendar year (1–9999)")])
    end = min(dt.date(year, 12, 31), through) if through else dt.date(year, 12, 31)
    with uow:
        targets = uow.funds.budgets(year)
        rows = uow.funds.owed_by_day(dt.date(year, 1, 1), end, HOSPITAL_PAYABLE.code,
                                     BUDGET_BOOKS)  # fmt: skip
    months: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(12)])
    for r in rows:
        months[r.provider][r.booked_on.month - 1][1 if r.covid else 0] += int(r.fen)
    codes = sorted(set(targets) | set(months))
    if caller.role == "hospital":
        codes = [c for c in codes if c == caller.provider_code]
    return [BudgetRow(c, int(targets[c].target_fen) if c in targets else None,
                      tuple((m[0], m[1]) for m in months[c])) for c in codes]  # fmt: skip
