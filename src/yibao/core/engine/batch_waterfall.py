"""§5 over the encounter frame, with §6's cumulative sums per insuree-year.

``place`` gives every row its place in the settlement order without sorting the frame
(DECISIONS 0021); ``before``/``start`` read the carried state through it; ``paid_form``
is §6's batch form of a yearly cap (a cumulative sum and a running minimum per
insuree-year); ``waterfall`` is §5.1–§5.9, each step a function of ``rules``. Used by
``batch.settle_frame``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import polars as pl

from yibao.core.engine.batch_ops import POLARS
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.model import MAX_FEN
from yibao.core.engine.rules import (
    WATERFALL,
    account_allowed,
    assistance_base,
    basic_raw,
    capped_increment,
    deductible,
    fiscal_subsidy,
    paid_since_start,
    referral_ratio,
)
from yibao.core.money import mul_bp

__all__ = [
    "FUNDS",
    "ORDER",
    "STEPS",
    "before",
    "order",
    "paid_form",
    "place",
    "start",
    "waterfall",
]

FUNDS = ("basic", "serious", "assistance")
"""The capped funds, in waterfall order: ``{fund}_pay``, ``{fund}_paid_before_fen``,
``{fund}_floor`` and ``start_{fund}_paid_fen`` are named after them."""

ORDER = ("insuree_id", "discharge_date", "encounter_id")


def before(frame: pl.LazyFrame, name: str, x: pl.Expr) -> pl.LazyFrame:
    """``frame`` with ``name``: Σ x over the earlier rows of the row's insuree-year (in
    ``ORDER``).

    The same values as ``x.cum_sum().over(insuree, year)`` less ``x`` in that order,
    without sorting the frame or hashing the group keys: ``x`` is gathered into year
    order (``perm``), summed running (exclusive), less that sum at the year's first row,
    and scattered back (``inv``). Two stages, so that nothing is computed twice. int64
    sums wrap, so the difference is exact whenever the true value fits (DECISIONS 0022).
    """
    upto = f"{name}_upto_s"
    running = x.gather(pl.col("perm")).cum_sum().shift(1, fill_value=0)
    first = pl.when(pl.col("first_s")).then(pl.col(upto)).forward_fill()
    return frame.with_columns(**{upto: running}).with_columns(
        **{name: (pl.col(upto) - first).gather(pl.col("inv"))}
    )


def start(col: str) -> pl.Expr:
    """The state before the insuree-year: read on its first row (``head``) only."""
    return pl.col(col).gather(pl.col("head")).fill_null(0)


def order(encounters: pl.DataFrame, by_id: bool) -> pl.Expr:
    """The permutation that lists the rows in ``ORDER``.

    When the table is sorted by encounter_id and the insuree ids and dates span a small
    enough range, (insuree, day) fits one int64 and a stable sort of it keeps the id
    order among ties: several times cheaper than sorting by three columns."""
    ins, day = encounters["insuree_id"], encounters["discharge_date"].cast(pl.Int32)
    lo, hi, d0, d1 = ins.min(), ins.max(), day.min(), day.max()
    if by_id and all(isinstance(x, int) for x in (lo, hi, d0, d1)):
        span = int(d1) - int(d0) + 1  # type: ignore[arg-type]
        if (int(hi) - int(lo) + 1) * span < 2**62:  # type: ignore[arg-type]
            key = (pl.col("insuree_id") - lo) * span + pl.col("discharge_date").cast(pl.Int32) - d0
            return pl.arg_sort_by(key, maintain_order=True, nulls_last=True)
    return pl.arg_sort_by(list(ORDER), nulls_last=True)


def place(frame: pl.LazyFrame, order: pl.Expr) -> pl.LazyFrame:
    """Each row's place in its insuree-year (§6): ``perm`` lists the rows in ``ORDER``,
    ``inv`` is its inverse, ``first_s`` marks years' first rows in that order, ``first``
    the same rows in the table's order and ``head`` each row's first row of its year.
    The frame itself is never sorted."""
    ins, year = pl.col("insuree_id"), pl.col("year")
    ins_s, year_s = ins.gather(pl.col("perm")), year.gather(pl.col("perm"))
    first_s = ((ins_s != ins_s.shift(1)) | (year_s != year_s.shift(1))).fill_null(True)
    return (
        frame.with_columns(perm=order)
        .with_columns(inv=pl.col("perm").arg_sort(), first_s=first_s)
        .with_columns(
            first=pl.col("first_s").gather(pl.col("inv")),
            head=pl.when(pl.col("first_s")).then(pl.col("perm")).forward_fill().gather(
                pl.col("inv")),
        )
    )  # fmt: skip


# The running minimum is taken in year order without sorting the frame: gathered
# through ``perm``, made per insuree-year by an offset, scattered back through ``inv``.
# With ``S`` the sum of the bounds of all earlier years (in ``ORDER``) and
# ``m_j = min(0, g_j − B_j)``, every ``S − m_j`` of a year is at least its ``S``, which
# is at least every such value of the years before; so one running maximum of
# ``S − m_j`` over the whole frame, less ``S``, is the year's own running minimum. The
# bounds are clipped to ``[0, medfee_sumamt]`` and the gaps to ``[0, MAX_FEN]`` (no
# change on a valid row, SETTLEMENT.md §5), so ``S`` never passes the table's rows
# times its largest stay; ``sums_fit`` says that is below 2^62 (``batch.settle_frame``).
# Otherwise the running minimum is taken per year with ``over`` (slower, same values).
#
# The form holds when ``H(E_k)`` never falls below what the fund has paid (one pack
# and scheme over the year: ``E`` and ``H`` never decrease). Where a pack or scheme
# change lowers ``H`` below it, ``inexact`` (``waterfall``) flags the row and
# ``settle_frame`` settles the year again with ``{fund}_floor`` raised to what the
# fund had paid (``floor``): ``max(H(E_k), P_{k−1})`` pays the same 0 there.
def paid_form(
    frame: pl.LazyFrame,
    fund: str,
    entitled_after: pl.Expr,
    bound: pl.Expr,
    *,
    sums_fit: bool,
    floor: bool = False,
) -> pl.LazyFrame:
    """§6 the batch form of a yearly cap: what ``fund`` pays on each row and what it had
    paid before (``{fund}_pay``, ``{fund}_paid_before_fen``).

    ``entitled_after`` is ``H(E_k)`` (the capped cumulative entitlement after the row),
    ``bound`` is ``b_k``; ``P_0`` is ``start_{fund}_paid_fen`` on the year's first row.
    With ``g_k = max(0, H(E_k) − P_0)`` and ``B_k`` the cumulative bound,
    ``P_k − P_0 = B_k + min(0, min_{j<=k}(g_j − B_j))`` (``rules.paid_since_start``) in
    ``ORDER``, and ``pay_k`` is the difference of consecutive ``P``'s. A row with
    ``b_k = 0`` pays nothing and leaves ``P`` as it was (its gap term counts as 0).

    How the running minimum is taken, and when the form needs a second pass: the
    comment above.
    """
    c = pl.col
    p0, g, b = f"{fund}_p0", f"{fund}_g", f"{fund}_b"  # in the table's order
    names = ("b", "g", "upto", "earlier", "gap", "f", "f_prev")
    bs, gs, upto, s, gap, f, f_prev = (f"{fund}_{x}_s" for x in names)  # in ORDER
    if floor:
        entitled_after = pl.max_horizontal(entitled_after, c(f"{fund}_floor"))
    bound_sum = c(upto) - c(s)  # B_k
    # One stage per term, each a column: Polars would evaluate a repeated subexpression
    # (a gather, a cumulative sum) again for each use.
    frame = (
        frame.with_columns(**{p0: start(f"start_{fund}_paid_fen")})
        .with_columns(
            **{
                g: (entitled_after - c(p0)).clip(0, MAX_FEN),
                b: bound.clip(0, c("medfee_sumamt").clip(0, MAX_FEN)),
            }
        )
        .with_columns(**{bs: c(b).gather(c("perm")), gs: c(g).gather(c("perm"))})  # in ORDER
        .with_columns(**{upto: c(bs).cum_sum()})
        .with_columns(**{s: pl.when(c("first_s")).then(c(upto) - c(bs)).forward_fill()})
        .with_columns(
            **{gap: pl.when(c(bs) > 0).then(pl.min_horizontal(c(gs) - bound_sum, 0)).otherwise(0)}
        )
    )
    if sums_fit:  # S: the sum of the bounds of the years before, in ORDER
        min_gap = c(s) - (c(s) - c(gap)).cum_max()
    else:
        min_gap = c(gap).cum_min().over(c("first_s").cum_sum())
    return (
        frame.with_columns(**{f: paid_since_start(bound_sum, min_gap, POLARS)})
        .with_columns(**{f_prev: pl.when(c("first_s")).then(0).otherwise(c(f).shift(1))})
        .with_columns(
            **{
                f"{fund}_pay": (c(f) - c(f_prev)).gather(c("inv")),
                f"{fund}_paid_before_fen": c(p0) + c(f_prev).gather(c("inv")),
            }
        )
    )


def _inexact() -> pl.Expr:
    """Bit ``2^i`` for ``FUNDS[i]``: the row pays under a bound (``b > 0``) while its
    ``g`` is below what the fund has paid since the start (``paid_form``)."""
    c = pl.col
    short = [(c(f"{n}_b") > 0) & (c(f"{n}_g") < c(f"{n}_paid_before_fen") - c(f"{n}_p0"))
             for n in FUNDS]  # fmt: skip
    bits = [s.cast(pl.Int8) * (1 << i) for i, s in enumerate(short)]
    return pl.sum_horizontal(bits).cast(pl.Int8)


class _Opts(NamedTuple):
    """What every capped step passes to ``paid_form``."""

    sums_fit: bool
    floor: bool


def deductible_step(frame: pl.LazyFrame, px: PolicyExprs, _: _Opts) -> pl.LazyFrame:
    """§5.1 起付线 (0 for the uninsured), and the out-of-scope part later steps read."""
    c = pl.col
    d = deductible(
        px.first_admission_fen(),
        c("admission_seq") >= 2,
        px.later_admission_bp(),
        c("transferred"),
        px.transfer_bp(),
        POLARS,
    )
    oos = c("fulamt_ownpay_amt") + c("overlmt_selfpay") + c("preselfpay_amt")
    return frame.with_columns(d=pl.when(_insured()).then(d).otherwise(0), oos=oos).with_columns(
        act_pay_dedc=POLARS.least(c("inscp_scp_amt"), c("d"))
    )


def ratio_step(frame: pl.LazyFrame, px: PolicyExprs, _: _Opts) -> pl.LazyFrame:
    """§5.2 报销比例, less the unregistered out-of-area cut unless the overlay waives it."""
    c = pl.col
    waived = c("covid") & px.overlay_flag(lambda v: v.waive_referral_cut)
    cut = c("out_of_area") & c("unregistered") & ~waived
    r = referral_ratio(px.ratio_bp(), cut, px.referral_cut_bp(), POLARS)
    return frame.with_columns(r=pl.when(_insured()).then(r).otherwise(0), cut=cut, waived=waived)


def basic_step(frame: pl.LazyFrame, px: PolicyExprs, opts: _Opts) -> pl.LazyFrame:
    """§5.3 统筹基金 in the paid form; the entitlement before a row is an exclusive sum."""
    c = pl.col
    inscp = c("inscp_scp_amt")
    frame = (
        frame.with_columns(raw=basic_raw(inscp, c("act_pay_dedc"), c("r")))
        .pipe(before, "a_sum", c("raw"))
        .with_columns(a_before=start("start_basic_entitled_fen") + c("a_sum"))
    )
    a_after = POLARS.least(c("a_before") + c("raw"), px.basic_cap_fen())
    bound = pl.when(_insured()).then(inscp - c("act_pay_dedc")).otherwise(0)  # else pays 0
    return (
        paid_form(frame, "basic", a_after, bound, **opts._asdict())
        .with_columns(hifp_pay=c("basic_pay"))
        .with_columns(pool_selfpay_amt=inscp - c("act_pay_dedc") - c("hifp_pay"))
    )


def serious_step(frame: pl.LazyFrame, px: PolicyExprs, opts: _Opts) -> pl.LazyFrame:
    """§5.4 大病保险 / 大额医疗补助: G of the cumulative base, in the paid form."""
    c = pl.col
    base = pl.when(_insured()).then(c("act_pay_dedc") + c("pool_selfpay_amt")).otherwise(0)
    frame = (
        frame.with_columns(serious_base=base)
        .pipe(before, "s_sum", c("serious_base"))
        .with_columns(s_before=start("start_serious_base_fen") + c("s_sum"))
        .with_columns(s_after=c("s_before") + c("serious_base"))
        .with_columns(serious_g_after_fen=px.serious_entitled(c("s_after"), POLARS))
    )
    frame = paid_form(frame, "serious", c("serious_g_after_fen"), c("serious_base"),
                      **opts._asdict())  # fmt: skip
    return frame.with_columns(
        hifob_pay=pl.when(c("s") == 0).then(c("serious_pay")).otherwise(0),
        hifmi_pay=pl.when(c("s") == 1).then(c("serious_pay")).otherwise(0),
    )


def assistance_step(frame: pl.LazyFrame, px: PolicyExprs, opts: _Opts) -> pl.LazyFrame:
    """§5.5 医疗救助 for the categories the pack lists, in the paid form."""
    c = pl.col
    include = px.assistance_term(lambda p, k: int(p.assistance[k].include_out_of_scope)) == 1
    m_base = assistance_base(
        c("act_pay_dedc") + c("pool_selfpay_amt"), c("serious_pay"), c("oos"), include, POLARS
    )
    ratio_m = px.assistance_term(lambda p, k: p.assistance[k].ratio_bp)  # 0: not assisted
    frame = (
        frame.with_columns(m_base=pl.when(px.assisted()).then(m_base).otherwise(0))
        .with_columns(m_raw=mul_bp(c("m_base"), ratio_m))
        .pipe(before, "m_sum", c("m_raw"))
        .with_columns(m_before=start("start_assistance_entitled_fen") + c("m_sum"))
    )
    cap_m = px.assistance_term(lambda p, k: p.assistance[k].cap_fen)
    m_after = POLARS.least(c("m_before") + c("m_raw"), cap_m)
    frame = paid_form(frame, "assistance", m_after, c("m_base"), **opts._asdict())
    return frame.with_columns(maf_pay=c("assistance_pay"))


def funds_step(frame: pl.LazyFrame, _px: PolicyExprs, _: _Opts) -> pl.LazyFrame:
    """§5.6 the funds, and the personal part as a residual."""
    c = pl.col
    fund = c("hifp_pay") + c("hifmi_pay") + c("hifob_pay") + c("maf_pay")
    return frame.with_columns(fund_pay_sumamt=fund).with_columns(
        psn_part_amt=c("medfee_sumamt") - c("fund_pay_sumamt")
    )


def fiscal_step(frame: pl.LazyFrame, px: PolicyExprs, _: _Opts) -> pl.LazyFrame:
    """§5.7 新冠财政补助, only under the overlay."""
    c = pl.col
    subsidy_all = px.overlay_flag(lambda v: v.subsidy_scope == "all")
    fiscal = fiscal_subsidy(c("psn_part_amt"), c("oos"), subsidy_all, POLARS)
    return frame.with_columns(
        fiscal_pay=pl.when(c("covid")).then(fiscal).otherwise(0),
        one_stop=c("covid") & subsidy_all,
    )


def account_step(frame: pl.LazyFrame, px: PolicyExprs, _: _Opts) -> pl.LazyFrame:
    """§5.8 个人账户 as a capped running sum of what each stay allows, §5.9 cash."""
    c = pl.col
    forbidden = c("covid") & px.overlay_flag(lambda v: v.account_forbidden)
    rule = pl.when(_insured() & ~forbidden).then(px.account_rule()).otherwise(0)
    rest = c("psn_part_amt") - c("fiscal_pay")
    may_all, may_inscope = c("rule") == 2, c("rule") == 1
    frame = (
        frame.with_columns(rule=rule)
        .with_columns(allowed=account_allowed(rest, c("oos"), may_all, may_inscope, POLARS))
        .pipe(before, "paid_before", c("allowed"))
        .with_columns(balance=start("account_balance_fen"))
        .with_columns(balance_before=c("balance") - POLARS.least(c("paid_before"), c("balance")))
    )
    acct = capped_increment(c("paid_before"), c("allowed"), c("balance"), POLARS)
    return frame.with_columns(acct_pay=acct).with_columns(psn_cash_pay=rest - c("acct_pay"))


STEPS: dict[str, Callable[[pl.LazyFrame, PolicyExprs, _Opts], pl.LazyFrame]] = {
    "deductible": deductible_step,
    "ratio": ratio_step,
    "basic": basic_step,
    "serious": serious_step,
    "assistance": assistance_step,
    "funds": funds_step,
    "fiscal": fiscal_step,
    "account": account_step,
}
"""The waterfall's steps (§5) by the names of ``rules.WATERFALL``; the overlay (§3) and the
lines (§4) are ``batch.covered`` and ``batch.line_totals``, passes of their own."""


def _insured() -> pl.Expr:
    return pl.col("s") != 2


def waterfall(
    frame: pl.LazyFrame, px: PolicyExprs, *, sums_fit: bool = True, floors: bool = False
) -> pl.LazyFrame:
    """§5.1–§5.9: the steps of ``rules.WATERFALL`` in that order, each yearly cap in the
    paid form (``paid_form``; ``sums_fit``, ``floors`` as there); then the state after."""
    opts = _Opts(sums_fit=sums_fit, floor=floors)
    for name in WATERFALL:
        step = STEPS.get(name)
        if step is not None:
            frame = step(frame, px, opts)
    c = pl.col
    return frame.with_columns(
        basic_entitled_after_fen=c("a_before") + c("raw"),
        basic_paid_after_fen=c("basic_paid_before_fen") + c("hifp_pay"),
        serious_base_after_fen=c("s_after"),
        serious_paid_after_fen=c("serious_paid_before_fen") + c("serious_pay"),
        assistance_entitled_after_fen=c("m_before") + c("m_raw"),
        assistance_paid_after_fen=c("assistance_paid_before_fen") + c("maf_pay"),
        account_balance_after_fen=c("balance_before") - c("acct_pay"),
        inexact=_inexact(),
    )
