"""The settlement rules, written once for both engines (SETTLEMENT.md §3–§6).

Each function is one step of SETTLEMENT.md, generic over its numbers: the scalar engine
calls it with Python ints and ``SCALAR`` operations, the batch engine with Polars
expressions and its vectorised operations, so the two cannot drift apart. Conditions
are bools (scalar) or boolean expressions (batch); ``ops.where(cond, a, b)`` picks.

Yearly caps use the paid form (§5, §6): a step returns the *raw* entitlement of this
encounter; ``paid_capped(H(E + x), P, b)`` gives what the fund pays, where ``E`` is the
insuree-year's cumulative entitlement before the encounter, ``P`` what the fund has
paid and ``b`` the fund's base on this bill. The scalar engine reads ``E`` and ``P``
from the accumulators; the batch engine takes ``E`` as an exclusive cumulative sum and
the payments from ``paid_since_start``, the closed form of the same recurrence.
"""

from __future__ import annotations

from typing import Any, Protocol

from yibao.core.money import line_amount, mul_bp
from yibao.core.policy.model import SeriousTable

__all__ = [
    "SCALAR",
    "WATERFALL",
    "Ops",
    "account_allowed",
    "assistance_base",
    "basic_raw",
    "capped_increment",
    "deductible",
    "fiscal_subsidy",
    "line_terms",
    "paid_capped",
    "paid_since_start",
    "referral_ratio",
    "serious_entitled",
    "split_line",
]


WATERFALL = (
    "overlay",  # §3 the COVID-19 overlay in force on the discharge date
    "lines",  # §4 line by line
    "deductible",  # §5.1 起付线
    "ratio",  # §5.2 报销比例
    "basic",  # §5.3 统筹基金 (paid form)
    "serious",  # §5.4 大病保险 / 大额医疗补助 (paid form)
    "assistance",  # §5.5 医疗救助 (paid form)
    "funds",  # §5.6 the funds and the personal part
    "fiscal",  # §5.7 新冠财政补助
    "account",  # §5.8 个人账户 and §5.9 cash
)
"""The order of the steps, declared once: the scalar engine (``settle.STEPS``) and the
batch engine both run their steps by these names in this order."""


class Ops(Protocol):
    """The three non-arithmetic operations the rules need."""

    def least(self, a: Any, b: Any) -> Any: ...
    def greatest(self, a: Any, b: Any) -> Any: ...
    def where(self, cond: Any, a: Any, b: Any) -> Any: ...


class _ScalarOps:
    """Python ints and bools."""

    @staticmethod
    def least(a: int, b: int) -> int:
        return a if a < b else b

    @staticmethod
    def greatest(a: int, b: int) -> int:
        return a if a > b else b

    @staticmethod
    def where(cond: bool, a: int, b: int) -> int:
        return a if cond else b


SCALAR: Ops = _ScalarOps()


def line_terms(
    class_c: Any, class_b: Any, covered_item: Any, selfpay_bp: Any, ops: Ops
) -> tuple[Any, Any]:
    """§4 steps 2, 3 and 5: what ``split_line`` needs to know about a line's class.

    ``covered_item`` is step 2 (``covid and protocol_in_scope and (in_protocol or
    temp_code)``). Returns ``(own_pay, selfpay_bp')``: a class C line pays in full unless
    covered; a class B line pays its 先行自付 ratio first unless covered; others none.
    """
    own_pay = ops.where(covered_item, False, class_c)
    return own_pay, ops.where(covered_item, 0, ops.where(class_b, selfpay_bp, 0))


def split_line(
    price_e6: Any, qty_e4: Any, cap_e6: Any, own_pay: Any, selfpay_bp: Any, ops: Ops
) -> tuple[Any, Any, Any, Any, Any]:
    """§4: a line's amount and its four parts (全自费, 超限价, 先行自付, 政策范围内).

    ``cap_e6`` is the price cap, or the price itself when the item has none;
    ``own_pay`` is "class C and not a covered protocol item" (step 3); ``selfpay_bp``
    is the effective 先行自付 ratio of step 5 (0 for class A and covered items).
    Returns ``(amount, fulamt_ownpay, overlmt, preselfpay, inscp)``.
    """
    amount = line_amount(price_e6, qty_e4)
    own = ops.where(own_pay, amount, 0)
    over = ops.where(own_pay, 0, line_amount(ops.greatest(price_e6 - cap_e6, 0), qty_e4))
    pre = mul_bp(amount - own - over, selfpay_bp)
    return amount, own, over, pre, amount - own - over - pre


def deductible(
    first_fen: Any, later: Any, later_bp: Any, transfer: Any, transfer_bp: Any, ops: Ops
) -> Any:
    """§5.1 起付线: the first-admission figure, reduced for a later admission, then for
    a transfer-in."""
    d = ops.where(later, mul_bp(first_fen, later_bp), first_fen)
    return ops.where(transfer, mul_bp(d, transfer_bp), d)


def referral_ratio(ratio_bp: Any, cut: Any, cut_bp: Any, ops: Ops) -> Any:
    """§5.2 报销比例, less the unregistered out-of-area cut when it applies."""
    return ops.where(cut, ops.greatest(ratio_bp - cut_bp, 0), ratio_bp)


def basic_raw(inscp_fen: Any, deductible_paid_fen: Any, ratio_bp: Any) -> Any:
    """§5.3 the basic fund's uncapped entitlement for this encounter."""
    return mul_bp(inscp_fen - deductible_paid_fen, ratio_bp)


def capped_increment(before_fen: Any, raw_fen: Any, cap_fen: Any, ops: Ops) -> Any:
    """What a running total may add under a limit nothing gives back: the personal
    account's balance over a batch (§5.8). Yearly caps use ``paid_capped``."""
    return ops.least(before_fen + raw_fen, cap_fen) - ops.least(before_fen, cap_fen)


def paid_capped(entitled_after_fen: Any, paid_before_fen: Any, bound_fen: Any, ops: Ops) -> Any:
    """§5 the paid form of a yearly cap: ``min(b, max(0, H(E + x) - P))``, where
    ``entitled_after_fen`` is ``H(E + x)`` (the capped cumulative entitlement after this
    encounter), ``paid_before_fen`` is ``P`` and ``bound_fen`` is ``b``."""
    return ops.least(bound_fen, ops.greatest(entitled_after_fen - paid_before_fen, 0))


def paid_since_start(bound_sum: Any, min_gap: Any, ops: Ops) -> Any:
    """§6 the batch form: what a fund has paid since the start of a table,
    ``P_k - P_0 = B_k + min(0, min_{j<=k}(g_j - B_j))`` with ``bound_sum`` = ``B_k`` and
    ``min_gap`` = the running minimum of ``g_j - B_j`` (``g_j = max(0, H(E_j) - P_0)``)."""
    return bound_sum + ops.least(min_gap, 0)


def serious_entitled(cumulative_fen: Any, table: SeriousTable, ops: Ops) -> Any:
    """§5.4 G(x): what a cumulative base ``x`` entitles under the bands, capped.

    Each band pays its ratio on the part of ``x`` inside it; the products are summed
    before the one rounding.
    """
    total: Any = 0
    for lower, width, ratio_bp in table.bands:
        part = ops.greatest(cumulative_fen - lower, 0)
        if width is not None:
            part = ops.least(part, width)
        total = total + part * ratio_bp
    return ops.least((total + 5000) // 10000, table.cap_fen)


def assistance_base(
    personal_inscope_fen: Any, serious_pay_fen: Any, out_of_scope_fen: Any, include: Any, ops: Ops
) -> Any:
    """§5.5 医疗救助 base: in-scope personal burden after serious-illness pay, plus the
    out-of-scope part for categories that include it."""
    base = personal_inscope_fen - serious_pay_fen
    return ops.where(include, base + out_of_scope_fen, base)


def fiscal_subsidy(psn_part_fen: Any, out_of_scope_fen: Any, scope_all: Any, ops: Ops) -> Any:
    """§5.7 新冠财政补助: the whole personal part, or only its in-scope share."""
    return ops.where(scope_all, psn_part_fen, ops.greatest(psn_part_fen - out_of_scope_fen, 0))


def account_allowed(
    rest_fen: Any, out_of_scope_fen: Any, may_all: Any, may_inscope: Any, ops: Ops
) -> Any:
    """§5.8 what the personal account may pay: all, the in-scope part, or nothing."""
    inscope = ops.greatest(rest_fen - out_of_scope_fen, 0)
    return ops.where(may_all, rest_fen, ops.where(may_inscope, inscope, 0))
