"""3201/3202 arithmetic from the journal."""

from __future__ import annotations

import datetime as dt

from tests.settled import settled
from tests.unit.test_ledger import DAY, post_it
from yibao.core.ledger.journal import Transaction, reversal_of
from yibao.core.ledger.reconcile import (
    TOTALS_3202,
    DetailDiff,
    DetailRow,
    Difference,
    StatementKey,
    Totals,
    compare_details,
    compare_totals,
    daily_totals,
    detail_rows,
    owed_by_fund,
    period_totals,
    totals_of,
)

NEXT = DAY + dt.timedelta(days=1)


def _journal() -> list[Transaction]:
    emp = settled("account-inscope-small-balance")
    res = settled("covid-resident-dibao-all-funds")
    t1 = post_it(emp, tx_id="E1", clr_type="21")
    t2 = post_it(res, tx_id="R1", clr_type="21")
    t3 = post_it(emp, tx_id="E2", clr_type="21", booked_on=NEXT)
    return [t1, t2, t3, reversal_of(t1, booked_on=NEXT), Transaction("A", DAY, "adjustment", ())]


def test_totals_of_a_settlement() -> None:
    s = settled("account-inscope-small-balance")
    i = s.setlinfo
    assert totals_of(post_it(s)) == Totals(i.medfee_sumamt, i.fund_pay_sumamt, i.acct_pay,
                                           i.psn_cash_pay, 1)  # fmt: skip


def test_daily_totals_by_scheme_and_day() -> None:
    emp = settled("account-inscope-small-balance").setlinfo
    res = settled("covid-resident-dibao-all-funds").setlinfo
    days = daily_totals(_journal())
    assert days[StatementKey("H1", "employee", "21", DAY)] == Totals(
        emp.medfee_sumamt, emp.fund_pay_sumamt, emp.acct_pay, emp.psn_cash_pay, 1
    )
    # the next day: E2 settles and E1 is reversed: the money nets out, the count too
    assert days[StatementKey("H1", "employee", "21", NEXT)] == Totals(0, 0, 0, 0, 0)
    # the fiscal subsidy is in medfee but not in fund_pay_sumamt
    assert days[StatementKey("H1", "resident", "21", DAY)] == Totals(
        res.medfee_sumamt, res.fund_pay_sumamt, 0, 0, 1
    )
    assert res.fund_pay_sumamt + res.fiscal_pay == res.medfee_sumamt
    assert len(days) == 3


def test_period_totals_and_comparison() -> None:
    txs = _journal()
    emp = settled("account-inscope-small-balance").setlinfo
    ours = period_totals(txs, provider_code="H1", begin=DAY, end=NEXT, scheme="employee",
                         clr_type="21")  # fmt: skip
    assert ours == Totals(emp.medfee_sumamt, emp.fund_pay_sumamt, emp.acct_pay,
                          emp.psn_cash_pay, 1)  # fmt: skip
    every = period_totals(txs, provider_code="H1", begin=DAY, end=NEXT)
    assert every.settlement_count == 2
    assert period_totals(txs, provider_code="H2", begin=DAY, end=NEXT) == Totals(0, 0, 0, 0, 0)
    assert compare_totals(ours, ours) == (True, ())
    theirs = ours._replace(acct_pay=ours.acct_pay + 1, psn_cash_pay=0)
    assert compare_totals(ours, theirs) == (
        False,
        (Difference("acct_pay", ours.acct_pay, ours.acct_pay + 1),),
    )
    result = compare_totals(ours, theirs, fields=TOTALS_3202)
    assert [d.field for d in result.differences] == ["psn_cash_pay"]
    assert (ours + ours).settlement_count == 2
    assert Totals.__add__(ours, 1) is NotImplemented  # type: ignore[arg-type]


def test_detail_rows_and_comparison() -> None:
    txs = _journal()
    ours = detail_rows(txs)
    assert set(ours) == {("E1", False), ("R1", False), ("E2", False), ("E1", True)}
    assert ours[("E1", True)].medfee_sumamt == -ours[("E1", False)].medfee_sumamt
    declared = [r for k, r in ours.items() if k != ("R1", False)]
    e2 = ours[("E2", False)]
    declared = [r for r in declared if r is not e2] + [e2._replace(acct_pay=e2.acct_pay + 5)]
    declared.append(DetailRow("X9", "M", "P", False, 1, 1, 0))
    assert compare_details(ours, declared) == [
        DetailDiff("E2", False, "amounts_differ",
                   (Difference("acct_pay", e2.acct_pay, e2.acct_pay + 5),)),
        DetailDiff("R1", False, "ours_only", ()),
        DetailDiff("X9", False, "declared_only", ()),
    ]  # fmt: skip


def test_owed_by_fund() -> None:
    owed = owed_by_fund(_journal())
    emp = settled("account-inscope-small-balance").setlinfo
    res = settled("covid-resident-dibao-all-funds").setlinfo
    assert owed[("H1", "310100", DAY)] == emp.hifp_pay
    assert owed[("H1", "310200", NEXT)] == 0
    assert owed[("H1", "390200", DAY)] == res.hifmi_pay
    assert owed[("H1", "610100", DAY)] == res.maf_pay
    assert not any(book == "fiscal" for _, book, _ in owed)
