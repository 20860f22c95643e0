"""Property, through the service and the store (both databases): whatever the order of
settlements, reversals (2305), re-settlements and 冲正 (2601) of one insuree's year, with
bills large enough to reach the basic and serious-illness caps, no capped fund's
standing payments ever exceed its cap, the stored paid accumulators are the standing
payments, and `ledger check` is clean after every step (SETTLEMENT.md §6, §8; issue 14).
"""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reentry.files import psn
from tests.registry_data import CENTRE, load_examples, put
from yibao.core.engine.rules import SCALAR, serious_entitled
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.encounters.requests import compensate
from yibao.services.reports import reads as reports
from yibao.store.uow import UnitOfWork

WHO = Principal("k1", "hospital", CENTRE)
CTX = Context(Context.from_folder(PACKS_DIR).packs,
              clock=lambda: dt.datetime(2020, 3, 30, 10, tzinfo=CST))  # fmt: skip
POLICY = CTX.packs.select("500102", dt.date(2020, 2, 12))
CODE = "ZL-0001"  # 静脉输液 甲: all in scope, no price cap
_n = itertools.count(1)


def _insuree(uow: UnitOfWork) -> str:
    """A fresh tier-1 resident without assistance (one insuree-year per example)."""
    with uow:
        empty = uow.hospital.counts()["encounters"] == 0
    if empty:
        load_examples(uow)
    who = psn(500 + next(_n))
    put(uow, "insurees", {"psn_no": who, "name": "测试", "scheme": "resident",
                          "resident_tier": "1", "insured_region": "500102",
                          "assistance_category": "none", "account_opening_fen": "0",
                          "enrolled": "true", "valid_from": "2020-01-01"})  # fmt: skip
    return who


def _stay(uow: UnitOfWork, who: str, fen: int) -> str:
    """A discharged stay with one in-scope line of ``fen`` (price_e6 × qty_e4 exact)."""
    t = dt.datetime(2020, 2, 1, 8, tzinfo=CST) + dt.timedelta(minutes=next(_n))
    enc = uc.admit(uow, CTX, WHO, uc.Admit(who, "21", t, (uc.Diagnosis("J18.900", True),)),
                   msgid=None)  # fmt: skip
    line = uc.FeeIn("1", CODE, price_e6=fen * 10**4, qty_e4=10**4)
    uc.upload_fees(uow, CTX, WHO, enc.id, [line], msgid=None)
    return enc.id


def _standing(uow: UnitOfWork, who: str) -> tuple[int, int, int]:
    """What each capped fund has paid this year over the standing settlements."""
    hifp = serious = maf = 0
    with uow:
        for r in uow.hospital.settlements():
            if r.psn_no != who:
                continue
            sign, i = (-1 if r.kind == "reversal" else 1), r.settlement.setlinfo
            hifp += sign * i.hifp_pay
            serious += sign * (i.hifmi_pay + i.hifob_pay)
            maf += sign * i.maf_pay
    return hifp, serious, maf


def _check(uow: UnitOfWork, who: str) -> None:
    hifp, serious, maf = _standing(uow, who)
    assert 0 <= hifp <= POLICY.basic_cap_fen["resident"]
    assert 0 <= serious <= POLICY.serious["resident"].cap_fen
    assert maf == 0
    with uow:
        acc = uow.hospital.accumulators(who, 2020)
    assert (acc.basic_paid_fen, acc.serious_paid_fen, acc.assistance_paid_fen) == (
        hifp, serious, maf)  # fmt: skip
    assert reports.ledger_problems(uow, CTX.packs) == []


STEPS = st.lists(st.tuples(st.sampled_from(("settle", "settle", "reverse", "compensate")),
                           st.integers(0, 2)), min_size=3, max_size=9)  # fmt: skip
BILLS = st.lists(st.integers(2_000_000, 60_000_000), min_size=3, max_size=3)
"""In-scope fen per stay: two or three of them reach both yearly caps."""


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bills=BILLS, steps=STEPS)  # fmt: skip
def test_no_fund_passes_its_cap_whatever_the_order(
    uow: UnitOfWork, bills: list[int], steps: list[tuple[str, int]]
) -> None:
    who = _insuree(uow)
    stays = [_stay(uow, who, fen) for fen in bills]
    standing: dict[int, tuple[str, str]] = {}  # stay -> (settlement id, msgid)
    for what, k in steps:
        if what == "settle" and k not in standing:
            msgid = f"M{next(_n)}"
            s = uc.settle(uow, CTX, WHO, stays[k], discharge_date=dt.date(2020, 2, 12),
                          msgid=msgid)  # fmt: skip
            standing[k] = (s.settlement_id or "", msgid)
        elif what == "reverse" and k in standing:
            uc.reverse(uow, CTX, WHO, standing.pop(k)[0])
        elif what == "compensate" and k in standing:
            compensate(uow, CTX, WHO, standing.pop(k)[1], "2304", by_msgid=f"C{next(_n)}")
        else:
            continue
        _check(uow, who)


def test_issue_14_reverse_and_settle_again_stands_at_both_caps(uow: UnitOfWork) -> None:
    """A (8,280,000 in scope, first admission), B (40,000,000), A reversed, A settled
    again: paid against what each fund has paid, A pays again exactly what it paid first
    and both funds stand at their caps (the plain cumulative form put serious illness
    past its cap). The figures come from the pack."""
    who = _insuree(uow)
    a, b = _stay(uow, who, 8_280_000), _stay(uow, who, 40_000_000)
    day = dt.date(2020, 2, 12)
    first = uc.settle(uow, CTX, WHO, a, discharge_date=day)
    second = uc.settle(uow, CTX, WHO, b, discharge_date=day)
    uc.reverse(uow, CTX, WHO, first.settlement_id or "")
    again = uc.settle(uow, CTX, WHO, a, discharge_date=day)
    cap_b, table = POLICY.basic_cap_fen["resident"], POLICY.serious["resident"]
    f1, f2 = first.settlement.setlinfo, second.settlement.setlinfo
    entitled = again.accumulators_after.basic_entitled_fen
    s_total = again.accumulators_after.serious_base_fen
    assert entitled > cap_b  # the two stays reach the basic cap …
    assert serious_entitled(s_total, table, SCALAR) == table.cap_fen  # … and the serious one
    i = again.settlement.setlinfo
    assert i.hifp_pay == cap_b - f2.hifp_pay == f1.hifp_pay
    assert i.hifmi_pay == table.cap_fen - f2.hifmi_pay == f1.hifmi_pay
    assert _standing(uow, who)[:2] == (cap_b, table.cap_fen)
    if POLICY.id.startswith("cq-2020") and cap_b == 15_000_000:  # the issue's figures
        assert (i.hifp_pay, i.hifmi_pay) == (3_280_000, 1_750_000)
    _check(uow, who)
