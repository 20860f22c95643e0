"""The ledger's accounts, journal and postings, on the public golden settlements."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.settled import SETTLED_CASES, settled
from yibao.core import ledger
from yibao.core.engine.model import Settlement
from yibao.core.errors import InvariantBroken
from yibao.core.ledger import accounts, checks, journal, post, reconcile
from yibao.core.ledger.accounts import (
    BENEFIT,
    CHART,
    FISCAL,
    PATIENT,
    Account,
    Kind,
    Side,
    account_type,
    book_name,
    parse_account,
)
from yibao.core.ledger.journal import (
    Posting,
    Transaction,
    balance_of,
    balances,
    normal_balance,
    reversal_of,
)
from yibao.core.ledger.post import (
    central_share_adjustment,
    paid_by_fund,
    posted_amounts,
    postings_for,
)

DAY = dt.date(2020, 2, 10)


def post_it(s: Settlement, tx_id: str = "S1", bp: int = 6000, **kw: object) -> Transaction:
    args: dict[str, object] = {
        "tx_id": tx_id,
        "provider_code": "H1",
        "booked_on": DAY,
        "accumulator_year": 2020,
        "central_share_bp": bp,
    }
    args.update(kw)
    return postings_for(s, **args)  # type: ignore[arg-type]


def test_public_api_is_pinned() -> None:
    assert sorted(ledger.__all__) == sorted(
        [
            "CHART", "FISCAL", "PATIENT", "Account", "AccountType", "Booked", "Kind", "Posted",
            "Posting", "SettlementRef", "Side", "Totals", "Transaction", "balances",
            "compare_totals", "daily_totals", "ledger_problems", "period_totals",
            "posted_amounts", "postings_for", "reversal_of", "settlement_legs",
            "settlement_narration", "transaction_problems",
        ]
    )  # fmt: skip
    for module in (accounts, journal, post, checks, reconcile):
        assert all(hasattr(module, name) for name in module.__all__)


def test_chart_normal_sides() -> None:
    sides = {code: t.normal_side for code, t in CHART.items()}
    assert sides["benefit"] is Side.DEBIT
    assert sides["hospital_payable"] is Side.CREDIT
    assert sides["personal_account"] is Side.CREDIT
    assert sides["central_receivable"] is Side.DEBIT
    assert sides["central_share"] is Side.CREDIT
    assert {t.kind for t in CHART.values()} <= set(Kind)
    assert Kind.NET_ASSETS not in {Kind.ASSET, Kind.EXPENSE}


def test_account_labels_round_trip() -> None:
    a = Account("hospital_payable", "310100", "H:1")
    assert a.label == "hospital_payable:310100:H:1"
    assert parse_account(a.label) == a
    assert a.type is CHART["hospital_payable"]
    assert account_type("benefit") is BENEFIT
    with pytest.raises(KeyError, match="unknown account code 'nope'"):
        parse_account("nope:310100:")
    for bad in ("benefit", "benefit::x"):
        with pytest.raises(ValueError, match="not an account label"):
            parse_account(bad)


def test_book_names() -> None:
    assert book_name("310100") == "城镇职工基本医疗保险统筹基金"
    assert "单列" in book_name(FISCAL)
    assert book_name(PATIENT) != PATIENT
    assert book_name("999999") == "999999"


def test_posting_sides() -> None:
    a = Account("benefit", "310100")
    debit, credit = Posting(a, 5), Posting(a, -5)
    assert (debit.debit_fen, debit.credit_fen, debit.side) == (5, 0, Side.DEBIT)
    assert (credit.debit_fen, credit.credit_fen, credit.side) == (0, 5, Side.CREDIT)
    assert debit.negated() == credit
    assert normal_balance(a, 7) == 7
    assert normal_balance(Account("hospital_payable", "310100", "H1"), -7) == 7


@pytest.mark.parametrize("name", SETTLED_CASES)
def test_every_golden_settlement_posts_cleanly(name: str) -> None:
    s = settled(name)
    tx = post_it(s)
    assert checks.transaction_problems(tx) == []
    assert checks.settlement_problems(s, tx) == []
    got = posted_amounts(tx)
    i = s.setlinfo
    assert got.fund_pay_sumamt == i.fund_pay_sumamt
    assert got.to_hospital == i.medfee_sumamt
    assert got.fiscal_pay == i.fiscal_pay
    assert all(p.amount_fen != 0 for p in tx.postings)


def test_covid_employee_postings() -> None:
    s = settled("covid-confirmed-designated-employee")
    tx = post_it(s)
    assert [(p.account.label, p.amount_fen) for p in tx.postings] == [
        ("benefit:310100:", 200940),
        ("hospital_payable:310100:H1", -200940),
        ("fiscal_subsidy:fiscal:", 148860),
        ("fiscal_payable:fiscal:H1", -148860),
        ("central_receivable:fiscal:", 89316),  # 60 % of 148860
        ("central_share:fiscal:", -89316),
    ]
    assert tx.settlement is not None
    assert tx.settlement.settlement_id == "S1"
    assert tx.settlement.encounter_id == s.encounter_id
    assert tx.kind == "settlement"
    assert tx.total_fen == 0


def test_central_share_comes_from_the_argument() -> None:
    s = settled("covid-confirmed-designated-employee")
    assert posted_amounts(post_it(s, bp=0)).central_share == 0
    assert posted_amounts(post_it(s, bp=10000)).central_share == 148860
    assert posted_amounts(post_it(s, bp=4000)).central_share == 59544
    for bad in (-1, 10001):
        with pytest.raises(ValueError, match="central_share_bp"):
            post_it(s, bp=bad)


def test_settlement_id_and_clr_type() -> None:
    tx = post_it(settled("employee-classes-a-b-c"), settlement_id="SETL9", clr_type="21")
    assert tx.settlement is not None
    assert (tx.settlement.settlement_id, tx.settlement.clr_type) == ("SETL9", "21")


def test_a_fund_payment_for_an_uninsured_scheme_is_refused() -> None:
    s = settled("employee-classes-a-b-c")
    broken = s._replace(facts=s.facts._replace(scheme="none"))
    with pytest.raises(InvariantBroken, match="hifp_pay"):
        post_it(broken)


def test_account_and_cash_postings() -> None:
    s = settled("account-inscope-small-balance")
    tx = post_it(s)
    psn = s.insuree_id
    assert balance_of([tx], Account("personal_account", "310200", psn)) == s.setlinfo.acct_pay
    assert balance_of([tx], Account("patient_cash", PATIENT, psn)) == s.setlinfo.psn_cash_pay
    assert paid_by_fund([tx]) == {"310100": s.setlinfo.hifp_pay, "310200": s.setlinfo.acct_pay}


def test_reversal_is_the_exact_negation() -> None:
    s = settled("covid-resident-dibao-all-funds")
    tx = post_it(s)
    r = reversal_of(tx, booked_on=DAY + dt.timedelta(days=1))
    assert r.id == "S1/reversal"
    assert r.reverses == "S1"
    assert r.kind == "reversal"
    assert r.booked_on == DAY + dt.timedelta(days=1)
    assert r.settlement == tx.settlement
    assert all(v == 0 for v in balances([tx, r]).values())
    assert checks.reversal_problems(tx, r) == []
    same_day = reversal_of(tx, tx_id="R1")
    assert (same_day.id, same_day.booked_on) == ("R1", DAY)
    assert posted_amounts(r) == post.Posted(*(-v for v in posted_amounts(tx)))


def test_central_share_adjustment() -> None:
    s = settled("covid-confirmed-designated-employee")
    # three settlements of 1 fen of subsidy: each rounds 0.6 up to 1, the total should be 2
    one = s._replace(
        setlinfo=s.setlinfo._replace(
            medfee_sumamt=1, fulamt_ownpay_amt=0, overlmt_selfpay=0, inscp_scp_amt=1,
            act_pay_dedc=1, hifp_pay=0, pool_selfpay_amt=0, fund_pay_sumamt=0,
            psn_part_amt=1, fiscal_pay=1)
    )  # fmt: skip
    txs = [post_it(one, tx_id=f"S{n}") for n in range(3)]
    assert posted_amounts(txs[0]).central_share == 1
    adj = central_share_adjustment(txs, central_share_bp=6000, tx_id="A1", booked_on=DAY)
    assert adj is not None
    assert adj.kind == "adjustment"
    assert [p.amount_fen for p in adj.postings] == [-1, 1]
    assert central_share_adjustment([*txs, adj], central_share_bp=6000, tx_id="A2",
                                    booked_on=DAY) is None  # fmt: skip
    # after reversals the subsidy total can be negative in a period: symmetric rounding
    revs = [reversal_of(t) for t in txs]
    adj2 = central_share_adjustment(revs, central_share_bp=6000, tx_id="A3", booked_on=DAY)
    assert adj2 is not None
    assert [p.amount_fen for p in adj2.postings] == [1, -1]


def test_transaction_defaults() -> None:
    tx = Transaction("T", DAY, "adjustment", ())
    assert (tx.settlement, tx.reverses, tx.narration, tx.total_fen) == (None, None, "", 0)
    assert dataclasses.is_dataclass(tx)
