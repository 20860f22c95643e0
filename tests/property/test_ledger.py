"""Ledger properties on random packs and settlements (tests/strategies.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import policies, requests
from yibao.core.engine import Accumulators, SettleRequest, settle
from yibao.core.engine.funds import ACCOUNT
from yibao.core.engine.model import ACCUMULATOR_FIELDS
from yibao.core.ledger.accounts import (
    CENTRAL_RECEIVABLE,
    CENTRAL_SHARE,
    FISCAL,
    FISCAL_PAYABLE,
    FISCAL_SUBSIDY,
    FUND_BOOKS,
)
from yibao.core.ledger.checks import (
    Booked,
    ledger_problems,
    settlement_problems,
    transaction_problems,
    trial_balance_problems,
)
from yibao.core.ledger.journal import balances, reversal_of
from yibao.core.ledger.post import central_share_adjustment, posted_amounts, postings_for
from yibao.core.ledger.reconcile import period_totals
from yibao.core.money import mul_bp
from yibao.core.policy import Policy

DAY = dt.date(2020, 6, 1)
# lists of random packs' requests are big inputs: generating them may be slow on a busy
# machine, which is no property of the ledger
SLOW_INPUTS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
share = st.integers(0, 10000)
FISCAL_CODES = {FISCAL_SUBSIDY.code, FISCAL_PAYABLE.code, CENTRAL_RECEIVABLE.code,
                CENTRAL_SHARE.code}  # fmt: skip


def _post(s, tx_id: str, bp: int):  # type: ignore[no-untyped-def]
    return postings_for(s, tx_id=tx_id, provider_code="H1", booked_on=DAY,
                        accumulator_year=2020, central_share_bp=bp, clr_type="21")  # fmt: skip


@given(policies, requests(), share)
def test_every_settlement_balances_and_posts_itself(
    policy: Policy, req: SettleRequest, bp: int
) -> None:
    s = settle(req, policy)
    tx = _post(s, "S", bp)
    assert transaction_problems(tx) == []
    assert settlement_problems(s, tx, policy=policy) == []
    assert posted_amounts(tx).central_share == mul_bp(s.setlinfo.fiscal_pay, bp)


@given(policies, requests(), share)
def test_settle_and_reverse_sum_to_zero_on_every_account(
    policy: Policy, req: SettleRequest, bp: int
) -> None:
    tx = _post(settle(req, policy), "S", bp)
    assert set(balances([tx, reversal_of(tx)]).values()) <= {0}


@given(policies, requests(), share)
def test_fiscal_subsidy_never_touches_a_fund(policy: Policy, req: SettleRequest, bp: int) -> None:
    s = settle(req, policy)
    tx = _post(s, "S", bp)
    for p in tx.postings:
        assert (p.account.code in FISCAL_CODES) == (p.account.book == FISCAL)
    funds = FUND_BOOKS - {ACCOUNT}
    fund_credits = -sum(p.amount_fen for p in tx.postings
                        if p.account.book in funds and p.amount_fen < 0)  # fmt: skip
    assert fund_credits == s.setlinfo.fund_pay_sumamt  # fiscal_pay is never in it


@settings(SLOW_INPUTS, max_examples=60)
@given(policies, st.lists(requests(), min_size=1, max_size=6), share)
def test_trial_balance_of_many_is_zero(policy: Policy, reqs: list[SettleRequest], bp: int) -> None:
    txs = [_post(settle(r, policy), f"S{n}", bp) for n, r in enumerate(reqs)]
    txs += [reversal_of(t) for t in txs[::2]]
    assert trial_balance_problems(txs) == []
    adj = central_share_adjustment(txs, central_share_bp=bp, tx_id="ADJ", booked_on=DAY)
    after = balances([*txs, *([adj] if adj else [])])
    fiscal = sum(v for a, v in after.items() if a.code == FISCAL_SUBSIDY.code)
    receivable = sum(v for a, v in after.items() if a.code == CENTRAL_RECEIVABLE.code)
    assert receivable == (mul_bp(fiscal, bp) if fiscal >= 0 else -mul_bp(-fiscal, bp))


@settings(SLOW_INPUTS, max_examples=100)
@given(policies, st.lists(st.tuples(requests(), st.booleans()), min_size=1, max_size=6))
def test_one_insuree_year_with_reversals_checks_clean(
    policy: Policy, steps: list[tuple[SettleRequest, bool]]
) -> None:
    """A service-like year: settle with carried accumulators; some settlements are then
    reversed (accumulators lose their contribution). `ledger check` finds nothing, the
    yearly caps hold over the net payments, and 3201 totals equal the standing ones."""
    first = steps[0][0].insuree
    acc = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))
    balance = first.account_balance_fen
    booked: list[Booked] = []
    for n, (r, reverse) in enumerate(steps):
        ins = dataclasses.replace(r.insuree, scheme=first.scheme, resident_tier=first.resident_tier,
                                  assistance_category=first.assistance_category,
                                  account_balance_fen=balance)  # fmt: skip
        s = settle(dataclasses.replace(r, insuree=ins, accumulators=acc), policy)
        tx = _post(s, f"S{n}", 6000)
        booked.append(Booked(s, tx))
        acc, balance = s.accumulators_after, s.account_balance_after_fen
        if reverse:
            booked.append(Booked(s, reversal_of(tx)))
            acc = acc.minus(s.accumulators_after.minus(s.accumulators_before))
            balance += s.setlinfo.acct_pay
    stored = {(first.id, 2020): acc}
    assert ledger_problems(booked, accumulators=stored, packs={policy.id: policy}) == []
    txs = [b.transaction for b in booked]
    standing = [b for b in booked if b.transaction.kind == "settlement"
                and not any(t.reverses == b.transaction.id for t in txs)]  # fmt: skip
    totals = period_totals(txs, provider_code="H1", begin=DAY, end=DAY)
    assert totals.settlement_count == len(standing)
    assert totals.medfee_sumamt == sum(b.settlement.setlinfo.medfee_sumamt for b in standing)
