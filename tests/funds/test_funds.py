"""Fund management on both databases: a simulated February 2020 for the demo district
(prepayments, a month of settlements, clearing with offsets, subsidy claims paid, the
central share), two-person approval, and `yibao ledger check` catching a statement
that no longer equals the postings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from yibao.core.errors import Conflict, Forbidden, InvalidRequest
from yibao.core.ledger.accounts import FUND_BANK, HOSPITAL_PAYABLE
from yibao.core.money import mul_bp
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.funds import clearing, prepayment
from yibao.services.funds.february import FINANCE_A, FINANCE_B, simulate_february
from yibao.services.reports.reads import ledger_problems
from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.epidemic import live_through_epidemic
from yibao.store.uow import UnitOfWork

INSUREES = 500
PACK = PACKS_DIR / "cq-2020.yaml"


def _ctx(at: dt.datetime | None = None) -> Context:
    ctx = Context.from_folder(PACK)
    if at is not None:
        ctx.clock = lambda: at
    return ctx


@pytest.fixture
def demo(uow: UnitOfWork) -> UnitOfWork:
    load_demo(uow, insurees=INSUREES)
    e = live_through_epidemic(uow, _ctx(), insurees=INSUREES, scale=0.08)
    assert e.settled > 10
    return uow


def test_february_2020_for_the_demo_district(demo: UnitOfWork) -> None:
    uow = demo
    f = simulate_february(uow, _ctx())
    assert f.prepayments
    assert all(p.state == "disbursed" for p in f.prepayments)
    assert any(p.kind == "topup" for p in f.prepayments)
    assert f.batch is not None
    assert f.statements
    assert all(s.state == "paid" for s in f.statements)
    assert f.batch.net_fen == sum(s.net_fen for s in f.statements)
    covid = [s for s in f.statements if s.owed_covid_fen]
    assert covid
    assert all(s.offset_fen > 0 for s in covid)
    for s in f.statements:
        assert s.net_fen == s.owed_ordinary_fen + s.owed_covid_fen - s.offset_fen - s.deduction_fen
    assert f.claims
    assert all(c.state == "paid" and c.items for c in f.claims)
    assert f.central is not None
    with uow:  # 60 % of the confirmed patients' subsidy; suspected: no central share
        by_share, _ = uow.funds.fiscal_by_share(dt.date(2020, 2, 29), "fiscal_subsidy",
                                                "central_receivable")  # fmt: skip
    assert set(by_share) <= {0, 6000}
    assert f.central.central_fen == mul_bp(by_share.get(6000, (0, 0))[0], 6000) > 0
    assert ledger_problems(uow, _ctx().packs) == []
    with uow:
        bank = uow.funds.balances(FUND_BANK.code)
        jan = clearing.month_owed(uow, dt.date(2020, 1, 1))
        mar = clearing.month_owed(uow, dt.date(2020, 3, 1))
        payable = uow.funds.balances(HOSPITAL_PAYABLE.code)
    paid_out = sum(p.proposed_fen or 0 for p in f.prepayments) + f.batch.net_fen
    paid_out += sum(c.fiscal_fen for c in f.claims)
    assert -sum(bank.values()) == paid_out
    for (prov, book), fen in payable.items():  # February's payables are discharged: what
        if book != "999996":  # stays open is January's and March's (the demo clears Feb)
            open_ = sum(jan.get(prov, {}).get(book, (0, 0))) + sum(
                mar.get(prov, {}).get(book, (0, 0))
            )
            assert -fen == open_, (prov, book)
    # what the exclusion changed: COVID spending is on its own line
    assert any(b.covid_fen for b in f.budgets)
    with pytest.raises(Conflict):
        simulate_february(uow, _ctx())
    # the 日报's funds section: on the day of the batch, the clearing it paid
    from yibao.services.reports import daily_report

    r = daily_report(uow, _ctx(), FINANCE_A, f.batch.booked_on, sections=["fund_management"])
    figs = {x.label: x.value for x in r.section("fund_management").figures}
    assert figs["当日清算拨付"] == f.batch.net_fen
    assert figs["预付余额"] == sum(prepayment.open_prepayments(uow).values()) > 0


def test_a_statement_edited_behind_the_service_fails_the_ledger_check(demo: UnitOfWork) -> None:
    uow = demo
    simulate_february(uow, _ctx())
    with uow:
        sid = uow.funds.statements()[0].id
        uow.session.execute(text("UPDATE fund_statements SET lines = :l WHERE id = :i"),
                            {"l": '[["310100", 1, 0, 0, 0]]', "i": sid})  # fmt: skip
        uow.commit()
    problems = ledger_problems(uow, _ctx().packs)
    assert any(sid in p for p in problems)


def test_two_person_approval(demo: UnitOfWork) -> None:
    uow = demo
    ctx = _ctx(dt.datetime(2020, 2, 3, 9, tzinfo=CST))
    with uow:
        code = sorted(clearing.month_owed(uow, dt.date(2020, 2, 1)))[0]
    hospital = Principal("h", "hospital", code)
    with pytest.raises(InvalidRequest):
        prepayment.apply(uow, ctx, hospital, prepayment.PrepaymentIn(code, 0, "", -1))
    p = prepayment.apply(uow, ctx, hospital, prepayment.PrepaymentIn(code, 300_000_00, "收治", 4))
    assert p.baseline is not None
    assert p.baseline["clause"] == "示例"
    with pytest.raises(Forbidden):
        prepayment.propose(uow, ctx, hospital, p.id, 300_000_00)
    prepayment.propose(uow, ctx, FINANCE_A, p.id, 250_000_00)
    with pytest.raises(Forbidden):  # the one who proposed may not approve
        prepayment.approve(uow, ctx, FINANCE_A, p.id)
    with pytest.raises(Conflict):  # not approved yet
        prepayment.disburse(uow, ctx, FINANCE_B, p.id)
    got = prepayment.approve(uow, ctx, FINANCE_B, p.id)
    assert (got.proposed_by, got.approved_by) == ("user:demo-finance-a", "user:demo-finance-b")
    done = prepayment.disburse(uow, ctx, FINANCE_B, p.id)
    assert sum((done.by_book or {}).values()) == 250_000_00
    assert prepayment.open_prepayments(uow)[(code, "310100")] > 0
    with uow:
        assert [e.action for e in uow.funds.events("prepayment", p.id)] == [
            "applied", "proposed", "approved", "disbursed"]  # fmt: skip
    other = Principal("h2", "hospital", "H99999999999")
    with pytest.raises(Forbidden):  # a hospital never approves
        prepayment.approve(uow, ctx, other, p.id)
    assert prepayment.prepayments(uow, other) == []  # nor sees another's
