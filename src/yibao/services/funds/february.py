"""February 2020 for the demo district, through the fund services (``yibao funds
february``, after ``yibao demo load``): every step an actor would take, on a simulated
clock.

- 2020-02-01: each hospital that treats COVID patients applies for a prepayment
  (expected patients: its confirmed stays so far, at least 5); finance A proposes the
  formula's baseline (the pack's ``prepayment``), finance B approves, it is disbursed;
- 2020-02-14: the busiest of them applies for a top-up (the load grew);
- 2020-03-02: the February statements are prepared (offsets per the pack), confirmed by
  each hospital, paid in one batch;
- 2020-03-03: each hospital claims the patient share it advanced up to 2020-02-29,
  finance pays each claim, and the central share up to 2020-02-29 is claimed.

The demo's budgets are demo figures (the demo has no 2019): last year's payments taken
as 12 × the hospital's ordinary basic-fund spending of February 2020, the 2020 target
the same (source ``demo:february``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from yibao.core.errors import Conflict
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.funds import budget, clearing, prepayment, subsidy
from yibao.store.uow import UnitOfWork

__all__ = ["FINANCE_A", "FINANCE_B", "February", "simulate_february"]

FINANCE_A = Principal("demo-finance-a", "finance", None, kind="user")
FINANCE_B = Principal("demo-finance-b", "finance", None, kind="user")
CLERK = Principal("demo-clerk", "district_clerk", None, kind="user")


class _Clock:
    def __init__(self) -> None:
        self.t = dt.datetime(2020, 2, 1, 9, tzinfo=CST)

    def __call__(self) -> dt.datetime:
        return self.t


@dataclass
class February:
    prepayments: list[prepayment.PrepaymentView] = field(default_factory=list)
    statements: list[clearing.StatementView] = field(default_factory=list)
    batch: clearing.Batch | None = None
    claims: list[subsidy.ClaimView] = field(default_factory=list)
    central: subsidy.CentralView | None = None
    budgets: list[budget.BudgetRow] = field(default_factory=list)


def _hospital(code: str) -> Principal:
    return Principal(f"demo-{code}", "hospital", code)


def simulate_february(uow: UnitOfWork, ctx: Context) -> February:
    """Run the month (module docstring); ``Conflict`` if it already ran."""
    clock = _Clock()
    sim = Context(ctx.packs, clock=clock, recheck_s=ctx.recheck_s)
    out = February()
    with uow:
        if uow.funds.prepayments() or uow.funds.statements():
            raise Conflict("the fund month has already been simulated (基金月度模拟已运行)")
        jan = clearing.month_owed(uow, dt.date(2020, 1, 1))
        feb = clearing.month_owed(uow, dt.date(2020, 2, 1))
        covid = sorted(p for p, books in feb.items() if any(c for _, c in books.values()))
        n_confirmed, _ = uow.funds.confirmed_stays(dt.date(2020, 1, 31))
    if not feb:
        raise Conflict("no February 2020 settlements: run `yibao demo load` first")
    for code in sorted(set(jan) | set(feb)):
        spent = sum(o for b, (o, _) in feb.get(code, {}).items() if b in budget.BUDGET_BOOKS)
        budget.set_budget(uow, sim, CLERK, code, 2020, 12 * spent, prior_paid_fen=12 * spent,
                          source="demo:february")  # fmt: skip
    for code in covid:
        clock.t = dt.datetime(2020, 2, 1, 9, tzinfo=CST)
        patients = max(5, n_confirmed // max(1, len(covid)))
        got = prepayment.baseline_for(uow, sim, code, patients, clock.t.date())
        amount = got[0].total_fen if got and got[0].total_fen else 100_000_00
        p = prepayment.apply(uow, sim, _hospital(code), prepayment.PrepaymentIn(
            code, amount, "新冠肺炎定点救治，申请医保基金预付", patients))  # fmt: skip
        clock.t += dt.timedelta(hours=2)
        prepayment.propose(uow, sim, FINANCE_A, p.id, amount)
        clock.t += dt.timedelta(hours=2)
        prepayment.approve(uow, sim, FINANCE_B, p.id)
        clock.t += dt.timedelta(hours=1)
        out.prepayments.append(prepayment.disburse(uow, sim, FINANCE_B, p.id))
    if covid:
        busiest = max(covid, key=lambda c: sum(v for _, v in feb[c].values()))
        clock.t = dt.datetime(2020, 2, 14, 10, tzinfo=CST)
        p = prepayment.apply(uow, sim, _hospital(busiest), prepayment.PrepaymentIn(
            busiest, 50_000_00, "收治人数增加，申请追加预付", 3))  # fmt: skip
        prepayment.propose(uow, sim, FINANCE_A, p.id, 50_000_00)
        prepayment.approve(uow, sim, FINANCE_B, p.id)
        out.prepayments.append(prepayment.disburse(uow, sim, FINANCE_B, p.id))
    clock.t = dt.datetime(2020, 3, 2, 9, tzinfo=CST)
    made = clearing.prepare(uow, sim, FINANCE_A, dt.date(2020, 2, 1))
    clock.t += dt.timedelta(hours=3)
    for s in made:
        clearing.confirm(uow, sim, _hospital(s.provider_code), s.id, ref="demo")
    clock.t += dt.timedelta(hours=3)
    out.batch = clearing.pay(uow, sim, FINANCE_B, dt.date(2020, 2, 1))
    out.statements = clearing.statements(uow, FINANCE_A, month=dt.date(2020, 2, 1))
    clock.t = dt.datetime(2020, 3, 3, 9, tzinfo=CST)
    for code in sorted(set(jan) | set(feb)):
        try:
            c = subsidy.claim(uow, sim, _hospital(code), code, dt.date(2020, 2, 29))
        except Conflict:
            continue  # nothing advanced
        out.claims.append(subsidy.pay_claim(uow, sim, FINANCE_B, c.id))
    clock.t += dt.timedelta(hours=4)
    out.central = subsidy.central_claim(uow, sim, FINANCE_A, dt.date(2020, 2, 29))
    out.budgets = budget.year_report(uow, FINANCE_A, 2020, dt.date(2020, 2, 29))
    return out
