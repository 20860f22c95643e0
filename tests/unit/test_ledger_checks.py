"""Each ledger check finds what it is named for (and nothing on a sound journal)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from tests.settled import case, settled
from tests.unit.test_ledger import DAY, post_it
from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators
from yibao.core.ledger.accounts import FISCAL, Account
from yibao.core.ledger.checks import (
    Booked,
    accounts_in_their_books,
    balances_in_total,
    books_balance,
    integer_fen,
    ledger_problems,
    reversal_problems,
    settlement_problems,
    trial_balance_problems,
    year_problems,
)
from yibao.core.ledger.journal import Posting, Transaction, reversal_of
from yibao.core.privacy import mask_psn_no

COVID = "covid-resident-dibao-all-funds"


def _tx(*postings: tuple[str, int], kind: str = "adjustment") -> Transaction:
    from yibao.core.ledger.accounts import parse_account

    ps = tuple(Posting(parse_account(label), fen) for label, fen in postings)
    return Transaction("T", DAY, kind, ps)  # type: ignore[arg-type]


def test_unbalanced_transaction() -> None:
    tx = _tx(("benefit:310100:", 5), ("hospital_payable:310100:H1", -4))
    assert balances_in_total(tx) == ["tx T: debits - credits = 1 fen, not 0"]
    assert trial_balance_problems([tx]) == [
        "trial balance: book 310100 (城镇职工基本医疗保险统筹基金) is off by 1 fen",
        "trial balance: debits - credits = 1 fen",
    ]


def test_money_moving_between_funds_is_caught() -> None:
    tx = _tx(("benefit:310100:", 5), ("hospital_payable:390100:H1", -5))
    assert balances_in_total(tx) == []
    assert books_balance(tx) == [
        "tx T: book 310100 (城镇职工基本医疗保险统筹基金) is off by 5 fen",
        "tx T: book 390100 (城乡居民基本医疗保险基金) is off by -5 fen",
    ]


def test_fiscal_subsidy_may_not_touch_a_fund() -> None:
    tx = _tx(("fiscal_subsidy:310100:", 5), ("hospital_payable:310100:H1", -5))
    assert accounts_in_their_books(tx) == ["tx T: fiscal_subsidy:310100: is outside its books"]
    tx = _tx(("benefit:fiscal:", 5), ("fiscal_payable:fiscal:H1", -5))
    assert accounts_in_their_books(tx) == ["tx T: benefit:fiscal: is outside its books"]
    tx = _tx(("advance_receivable:fiscal:H1", 5), ("fiscal_payable:fiscal:H1", -5))
    assert accounts_in_their_books(tx) == []
    bogus = Transaction("T", DAY, "adjustment", (Posting(Account("bogus", FISCAL), 0),))
    assert accounts_in_their_books(bogus) == ["tx T: unknown account code 'bogus'"]


def test_non_integer_amounts() -> None:
    bad = Posting(Account("benefit", "310100"), True)
    assert integer_fen(Transaction("T", DAY, "adjustment", (bad,))) == [
        "tx T: benefit:310100: amount True is not integer fen"
    ]


def test_settlement_posted_wrong() -> None:
    s = settled(COVID)
    tx = post_it(s)
    assert settlement_problems(s, tx) == []
    tampered = dataclasses.replace(tx, postings=tx.postings[2:])  # drop the basic fund
    problems = settlement_problems(s, tampered)
    assert any("posts hifp_pay 0 fen, the settlement says 3068000" in p for p in problems)
    assert any("hifp_pay posted 0 != 3068000, the paid form" in p for p in problems)
    assert any("basic_paid_fen moved 3068000, hifp_pay posted 0" in p for p in problems)
    other = post_it(settled("employee-classes-a-b-c"))
    assert settlement_problems(s, other) == [
        f"tx S1: does not post encounter {s.encounter_id} of {mask_psn_no(s.insuree_id)}"
    ]
    orphan = dataclasses.replace(tx, settlement=None)
    assert len(settlement_problems(s, orphan)) == 1


def test_accumulators_that_do_not_match_the_postings() -> None:
    s = settled(COVID)
    tx = post_it(s)
    acc = s.accumulators_after
    wrong = s._replace(
        accumulators_after=dataclasses.replace(
            acc,
            serious_base_fen=acc.serious_base_fen + 1,
            assistance_entitled_fen=acc.assistance_entitled_fen + 7,
            basic_paid_fen=acc.basic_paid_fen + 2,
        ),
        account_balance_after_fen=s.account_balance_after_fen - 3,
    )
    problems = settlement_problems(wrong, tx)
    assert any("serious_base_fen moved" in p for p in problems)
    assert any("maf_pay posted" in p for p in problems)
    assert any("basic_paid_fen moved" in p for p in problems)
    assert any("the account balance moved 3" in p for p in problems)


def test_serious_pay_against_the_pack_bands() -> None:
    _, policy, s = case(COVID)
    tx = post_it(s)
    assert settlement_problems(s, tx, policy=policy) == []
    facts = s.facts._replace(serious_cap_fen=s.facts.serious_paid_before_fen + 1)
    inflated = s._replace(facts=facts)
    problems = settlement_problems(inflated, tx, policy=policy)
    assert any("exceeds the cap left" in p for p in problems)
    moved = s._replace(
        accumulators_before=s.accumulators_before,
        accumulators_after=dataclasses.replace(s.accumulators_after, serious_base_fen=0),
    )
    assert any("under the pack's bands" in p for p in settlement_problems(moved, tx, policy=policy))
    lower = s.facts._replace(serious_g_after_fen=s.facts.serious_g_after_fen - 1)
    assert any("G(S + base) - P" in p for p in settlement_problems(s._replace(facts=lower), tx))


def test_no_assistance_for_an_unlisted_category() -> None:
    s = settled("employee-classes-a-b-c")
    assert not s.facts.assisted
    tx = post_it(s)
    assert settlement_problems(s, tx) == []
    after = dataclasses.replace(s.accumulators_after, assistance_entitled_fen=5)
    assert any(
        "maf_pay" in p for p in settlement_problems(s._replace(accumulators_after=after), tx)
    )


def test_reversal_checks() -> None:
    s = settled(COVID)
    tx = post_it(s)
    r = reversal_of(tx)
    assert settlement_problems(s, r) == []
    assert reversal_problems(tx, dataclasses.replace(r, reverses="X")) == [
        "tx S1/reversal: is not marked as the reversal of S1"
    ]
    assert reversal_problems(tx, dataclasses.replace(r, postings=r.postings[1:])) == [
        "tx S1/reversal: is not the exact negation of S1"
    ]
    assert reversal_problems(r, reversal_of(r)) == [
        "tx S1/reversal/reversal: reverses S1/reversal, which is not a settlement"
    ]


def test_ledger_problems_on_a_sound_journal() -> None:
    _, policy, s = case(COVID)
    tx = post_it(s)
    r = reversal_of(tx, booked_on=DAY + dt.timedelta(days=2))
    tx2 = post_it(s, tx_id="S2")
    booked = [Booked(s, tx), Booked(s, r), Booked(s, tx2)]
    key = (s.insuree_id, 2020)
    stored, opening = {key: s.accumulators_after}, {key: s.accumulators_before}
    assert ledger_problems(booked, packs={s.pack_id: policy}, accumulators=stored,
                           opening=opening) == []  # fmt: skip


def test_ledger_problems_finds_journal_faults() -> None:
    s = settled(COVID)
    tx = post_it(s)
    r = reversal_of(tx)
    stray = reversal_of(post_it(s, tx_id="GONE"))
    adj = Transaction("ADJ", DAY, "adjustment", ())
    assert ledger_problems([Booked(s, tx)], others=[adj]) == []
    off = Transaction("T", DAY, "adjustment", (Posting(Account("central_share", FISCAL), 1),))
    assert "tx T: debits - credits = 1 fen, not 0" in ledger_problems([], others=[off, adj, adj])
    assert "tx ADJ: booked twice" in ledger_problems([], others=[adj, adj])
    problems = ledger_problems(
        [Booked(s, tx), Booked(s, tx), Booked(s, r), Booked(s, r), Booked(s, stray),
         Booked(s, adj)]
    )  # fmt: skip
    assert "tx S1: booked twice" in problems
    assert "tx S1/reversal: S1 is reversed twice" in problems
    assert "tx GONE/reversal: reverses GONE, which is not booked" in problems


def test_year_caps_and_stored_accumulators() -> None:
    s = settled(COVID)
    tx = post_it(s)
    capped = s._replace(facts=s.facts._replace(basic_cap_fen=1, serious_cap_fen=1,
                                                assistance_cap_fen=1))  # fmt: skip
    problems = year_problems([Booked(capped, tx)])
    psn = s.insuree_id
    assert psn not in " ".join(problems)  # problems reach logs: the ID number masked
    assert (
        f"{mask_psn_no(psn)} 2020: basic fund paid 3068000 fen, above the yearly cap 1" in problems
    )
    assert len(problems) == 3
    assert year_problems([Booked(s, Transaction("A", DAY, "adjustment", ()))]) == []
    key = (psn, 2020)
    before = s.accumulators_before
    stale = {key: before}
    problems = year_problems([Booked(s, tx)], accumulators=stale, opening={key: before})
    assert problems == [
        f"{mask_psn_no(psn)} 2020: {name} is {getattr(before, name)}, the booked settlements imply "
        f"{getattr(s.accumulators_after, name)}"
        for name in ACCUMULATOR_FIELDS
        if getattr(before, name) != getattr(s.accumulators_after, name)
    ] + [
        f"{mask_psn_no(psn)} 2020: {field} is {getattr(before, field)}, "
        f"the {name}'s standing postings are {getattr(s.accumulators_after, field)}"
        for name, field in (
            ("basic fund", "basic_paid_fen"),
            ("serious illness", "serious_paid_fen"),
            ("medical assistance", "assistance_paid_fen"),
        )
        if getattr(before, field) != getattr(s.accumulators_after, field)
    ]
    stored_only = {("nobody", 2020): Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))}
    assert year_problems([], accumulators=stored_only) == []
