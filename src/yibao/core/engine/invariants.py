"""Invariants checked on every settlement; a broken one refuses the result (§5).

Each check is a named function returning problems (empty when it holds).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

from yibao.core.engine.model import Settlement

__all__ = ["CHECKS", "broken_invariants"]

_AMOUNT = itemgetter(1)  # LineResult.det_item_fee_sumamt


def parts_add_up(s: Settlement) -> list[str]:
    i = s.setlinfo
    parts = i.fulamt_ownpay_amt + i.overlmt_selfpay + i.preselfpay_amt + i.inscp_scp_amt
    return [] if parts == i.medfee_sumamt else [f"line parts {parts} != {i.medfee_sumamt}"]


def payers_add_up(s: Settlement) -> list[str]:
    i = s.setlinfo
    paid = i.fund_pay_sumamt + i.fiscal_pay + i.acct_pay + i.psn_cash_pay
    return [] if paid == i.medfee_sumamt else [f"payers {paid} != {i.medfee_sumamt}"]


def funds_add_up(s: Settlement) -> list[str]:
    i = s.setlinfo
    funds = i.hifp_pay + i.hifmi_pay + i.hifob_pay + i.maf_pay
    return [] if funds == i.fund_pay_sumamt else [f"funds {funds} != {i.fund_pay_sumamt}"]


def lines_add_up(s: Settlement) -> list[str]:
    total = sum(map(_AMOUNT, s.lines))
    ok = total == s.setlinfo.medfee_sumamt
    return [] if ok else [f"lines {total} != medfee_sumamt {s.setlinfo.medfee_sumamt}"]


def non_negative(s: Settlement) -> list[str]:
    if min(s.setlinfo) >= 0:
        return []
    fields = s.setlinfo._fields
    return [f"{f} = {v} < 0" for f, v in zip(fields, s.setlinfo, strict=True) if v < 0]


def account_within_balance(s: Settlement) -> list[str]:
    ok = 0 <= s.setlinfo.acct_pay <= s.account_balance_before_fen
    return [] if ok else [f"acct_pay {s.setlinfo.acct_pay} exceeds the balance"]


def caps_hold(s: Settlement) -> list[str]:
    """No capped fund's standing payments pass its cap, unless they stood above it before
    (the fund then pays 0): SETTLEMENT.md §5."""
    f, b, a = s.facts, s.accumulators_before, s.accumulators_after
    out: list[str] = []
    for name, cap, before, after in (
        ("basic", f.basic_cap_fen, b.basic_paid_fen, a.basic_paid_fen),
        ("serious", f.serious_cap_fen, b.serious_paid_fen, a.serious_paid_fen),
        ("assistance", f.assistance_cap_fen, b.assistance_paid_fen, a.assistance_paid_fen),
    ):
        if after > before and after > cap:
            out.append(f"{name} fund paid {after} past its cap {cap}")
    return out


CHECKS: tuple[Callable[[Settlement], list[str]], ...] = (
    parts_add_up,
    payers_add_up,
    funds_add_up,
    lines_add_up,
    non_negative,
    account_within_balance,
    caps_hold,
)


def _all_hold(s: Settlement, one_stop: bool) -> bool:
    """Every check at once, for the common case where all hold (the hot path)."""
    (medfee, own, over, pre, inscp, _, hifp, _, hifmi, hifob, maf, fund, _, fiscal, acct, cash) = (
        s.setlinfo
    )
    f = s.facts
    return (
        own + over + pre + inscp == medfee
        and fund + fiscal + acct + cash == medfee
        and hifp + hifmi + hifob + maf == fund
        and sum(map(_AMOUNT, s.lines)) == medfee
        and min(s.setlinfo) >= 0
        and acct <= s.account_balance_before_fen
        and not (one_stop and cash != 0)
        and (hifp == 0 or s.accumulators_after.basic_paid_fen <= f.basic_cap_fen)
        and (hifmi + hifob == 0 or s.accumulators_after.serious_paid_fen <= f.serious_cap_fen)
        and (maf == 0 or s.accumulators_after.assistance_paid_fen <= f.assistance_cap_fen)
    )


def broken_invariants(s: Settlement, *, one_stop: bool) -> list[str]:
    """All broken invariants; ``one_stop`` adds "the patient pays no cash" (一站式)."""
    if _all_hold(s, one_stop):
        return []
    problems = [p for check in CHECKS for p in check(s)]
    if one_stop and s.setlinfo.psn_cash_pay != 0:
        problems.append(f"one-stop settlement left psn_cash_pay {s.setlinfo.psn_cash_pay}")
    return problems
