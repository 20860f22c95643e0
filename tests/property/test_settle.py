"""Properties of the scalar engine on random valid packs and requests."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import lines, policies, requests
from yibao.core.engine import Accumulators, Line, SettleRequest, settle
from yibao.core.engine.invariants import broken_invariants
from yibao.core.engine.lines import settle_lines
from yibao.core.engine.model import ACCUMULATOR_FIELDS
from yibao.core.engine.rules import SCALAR, line_terms, split_line
from yibao.core.policy import Policy


@given(policies, requests())
def test_invariants_hold(policy: Policy, req: SettleRequest) -> None:
    s = settle(req, policy)
    assert broken_invariants(s, one_stop=False) == []
    i = s.setlinfo
    assert i.fiscal_pay == 0 or s.covid
    assert s.account_balance_after_fen == req.insuree.account_balance_fen - i.acct_pay


@given(policies, requests(), st.booleans())
def test_one_stop_under_subsidy_all(policy: Policy, req: SettleRequest, account: bool) -> None:
    """A confirmed patient at a designated hospital under subsidy_scope all pays no cash."""
    v = policy.overlay_on(req.encounter.discharge_date)
    if v is None or "confirmed" not in v.statuses or v.subsidy_scope != "all":
        return
    enc = dataclasses.replace(
        req.encounter,
        covid_status="confirmed",
        diagnoses=(*req.encounter.diagnoses, *sorted(v.disease_codes)),
    )
    prov = dataclasses.replace(req.provider, covid_designated=True)
    ins = dataclasses.replace(req.insuree, account_balance_fen=10**9 if account else 0)
    s = settle(dataclasses.replace(req, encounter=enc, provider=prov, insuree=ins), policy)
    assert s.covid
    assert s.setlinfo.psn_cash_pay == 0


@settings(max_examples=150)
@given(policies, st.lists(requests(), min_size=1, max_size=6), st.integers(0, 500_000))
def test_carried_accumulators_never_exceed_a_cap(
    policy: Policy, reqs: list[SettleRequest], balance: int
) -> None:
    """One insuree's year, settled one encounter at a time with carried state."""
    scheme, tier = reqs[0].insuree.scheme, reqs[0].insuree.resident_tier
    cat = reqs[0].insuree.assistance_category
    acc = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))
    paid = {"hifp": 0, "serious": 0, "maf": 0, "acct": 0}
    for r in reqs:
        ins = dataclasses.replace(
            r.insuree,
            scheme=scheme,
            resident_tier=tier,
            assistance_category=cat,
            account_balance_fen=balance,
        )
        s = settle(dataclasses.replace(r, insuree=ins, accumulators=acc), policy)
        acc, balance = s.accumulators_after, s.account_balance_after_fen
        i = s.setlinfo
        paid["hifp"] += i.hifp_pay
        paid["serious"] += i.hifmi_pay + i.hifob_pay
        paid["maf"] += i.maf_pay
        paid["acct"] += i.acct_pay
    if scheme != "none":
        assert paid["hifp"] <= policy.basic_cap_fen[scheme]
        assert paid["serious"] <= policy.serious[scheme].cap_fen
    else:
        assert paid["hifp"] == paid["serious"] == 0
    terms = policy.assistance.get(cat)
    assert paid["maf"] <= (terms.cap_fen if terms else 0)
    assert balance >= 0


@settings(max_examples=150)
@given(policies, st.lists(requests(), min_size=1, max_size=6))
def test_paid_accumulators_from_any_start_stay_within_their_caps(
    policy: Policy, reqs: list[SettleRequest]
) -> None:
    """A year that starts after a reversal (paid below or above what the entitlement
    implies, at times past the cap): each fund's paid accumulator moves by exactly what
    it pays and never passes ``max(start, cap)`` (SETTLEMENT.md §5, §6)."""
    first = reqs[0]
    acc, start = first.accumulators, first.accumulators
    for r in reqs:
        ins = dataclasses.replace(
            r.insuree,
            scheme=first.insuree.scheme,
            resident_tier=first.insuree.resident_tier,
            assistance_category=first.insuree.assistance_category,
        )
        s = settle(dataclasses.replace(r, insuree=ins, accumulators=acc), policy)
        i, a = s.setlinfo, s.accumulators_after
        assert a.basic_paid_fen == acc.basic_paid_fen + i.hifp_pay
        assert a.serious_paid_fen == acc.serious_paid_fen + i.hifmi_pay + i.hifob_pay
        assert a.assistance_paid_fen == acc.assistance_paid_fen + i.maf_pay
        acc = a
    scheme = first.insuree.scheme
    terms = policy.assistance.get(first.insuree.assistance_category)
    caps = (
        policy.basic_cap_fen[scheme] if scheme != "none" else 0,
        policy.serious[scheme].cap_fen if scheme != "none" else 0,
        terms.cap_fen if terms else 0,
    )
    for f, cap in zip(("basic_paid_fen", "serious_paid_fen", "assistance_paid_fen"), caps,
                      strict=True):  # fmt: skip
        assert getattr(acc, f) <= max(getattr(start, f), cap), f


@given(policies, requests(), st.integers(0, 10**10), st.sampled_from(["A", "B"]))
def test_an_in_scope_line_never_lowers_the_funds_pay(
    policy: Policy, req: SettleRequest, price: int, cls: str
) -> None:
    extra = Line(
        sn="extra",
        code="X",
        category="service",
        item_class=cls,  # type: ignore[arg-type]
        selfpay_bp=1000,
        price_e6=price,
        qty_e4=10000,
        price_cap_e6=None,
        in_protocol=False,
        temp_code=False,
    )
    before = settle(req, policy).setlinfo.fund_pay_sumamt
    after = settle(dataclasses.replace(req, lines=(*req.lines, extra)), policy).setlinfo
    assert after.fund_pay_sumamt >= before


@given(lines(max_size=20), st.booleans())
def test_scalar_lines_equal_the_shared_rule(ls: tuple[Line, ...], covered_ok: bool) -> None:
    """``settle_lines`` is ``rules.line_terms`` and ``rules.split_line`` written out for
    speed: they agree."""
    results, *_ = settle_lines(ls, covered_ok)
    for ln, res in zip(ls, results, strict=True):
        covered = covered_ok and (ln.in_protocol or ln.temp_code)
        own, sp = line_terms(ln.item_class == "C", ln.item_class == "B", covered,
                             ln.selfpay_bp, SCALAR)  # fmt: skip
        cap = ln.price_e6 if ln.price_cap_e6 is None else ln.price_cap_e6
        want = split_line(ln.price_e6, ln.qty_e4, cap, own, sp, SCALAR)
        assert want == (
            res.det_item_fee_sumamt,
            res.fulamt_ownpay_amt,
            res.overlmt_amt,
            res.preselfpay_amt,
            res.inscp_scp_amt,
        )


def test_overlay_follows_the_discharge_date() -> None:
    """Admitted before the overlay, discharged inside it: covered (§3)."""
    from tests.golden.casefile import PUBLIC
    from yibao.packs.files import load_pack

    pol = load_pack(PUBLIC / "packs" / "example-2020.yaml")
    assert pol.overlay_on(dt.date(2020, 1, 22)) is None
    assert pol.overlay_on(dt.date(2020, 1, 23)) is not None
