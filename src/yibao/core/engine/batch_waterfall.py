"""§5 over the encounter frame, with §6's cumulative sums per insuree-year.

``place`` gives every row its place in the settlement order without sorting the frame
(DECISIONS 0021); ``before``/``start`` read the carried state through it; ``waterfall``
is §5.1–§5.9, each step a function of ``rules``. Used by ``batch.settle_frame``.
"""

from __future__ import annotations

import polars as pl

from yibao.core.engine.batch_ops import POLARS
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.rules import (
    account_allowed,
    assistance_base,
    basic_raw,
    capped_increment,
    deductible,
    fiscal_subsidy,
    referral_ratio,
)
from yibao.core.money import mul_bp

__all__ = ["ORDER", "before", "order", "place", "start", "waterfall"]

ORDER = ("insuree_id", "discharge_date", "encounter_id")


def before(x: pl.Expr) -> pl.Expr:
    """Σ x over the earlier rows of the row's insuree-year (in ``ORDER``).

    The same values as ``x.cum_sum().over(insuree, year)`` less ``x`` in that order,
    without sorting the frame or hashing the group keys: ``x`` is gathered into year
    order (``perm``), summed running, less the running sum at the year's first row, and
    scattered back (``inv``). int64 sums wrap, so the difference is exact whenever the
    true value fits (DECISIONS 0022).
    """
    xs = x.gather(pl.col("perm"))
    upto = xs.cum_sum() - xs
    return (upto - pl.when(pl.col("first_s")).then(upto).forward_fill()).gather(pl.col("inv"))


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


def waterfall(frame: pl.LazyFrame, px: PolicyExprs) -> pl.LazyFrame:
    """§5.1–§5.9 with the cumulative sums of §6, one stage per carried quantity."""
    c = pl.col
    insured = c("s") != 2
    inscp = c("inscp_scp_amt")
    oos = c("fulamt_ownpay_amt") + c("overlmt_selfpay") + c("preselfpay_amt")
    ov = px.overlay_flag
    waived = c("covid") & ov(lambda v: v.waive_referral_cut)
    cut = c("out_of_area") & c("unregistered") & ~waived
    d = deductible(
        px.first_admission_fen(),
        c("admission_seq") >= 2,
        px.later_admission_bp(),
        c("transferred"),
        px.transfer_bp(),
        POLARS,
    )
    r = pl.when(insured).then(referral_ratio(px.ratio_bp(), cut, px.referral_cut_bp(), POLARS))
    frame = (
        frame.with_columns(
            d=pl.when(insured).then(d).otherwise(0),
            r=r.otherwise(0),
            oos=oos,
            cut=cut,
            waived=waived,
        )
        .with_columns(act_pay_dedc=POLARS.least(inscp, c("d")))
        .with_columns(raw=basic_raw(inscp, c("act_pay_dedc"), c("r")))
        .with_columns(a_before=start("start_basic_entitled_fen") + before(c("raw")))
    )
    hifp = capped_increment(c("a_before"), c("raw"), px.basic_cap_fen(), POLARS)
    pool = inscp - c("act_pay_dedc") - c("hifp_pay")
    frame = (
        frame.with_columns(hifp_pay=hifp)
        .with_columns(
            pool_selfpay_amt=pool,
            serious_base=pl.when(insured).then(c("act_pay_dedc") + pool).otherwise(0),
        )
        .with_columns(s_before=start("start_serious_base_fen") + before(c("serious_base")))
    )
    g_after = px.serious_entitled(c("s_after"), POLARS)
    frame = frame.with_columns(s_after=c("s_before") + c("serious_base")).with_columns(
        serious=g_after - px.serious_entitled(c("s_before"), POLARS)
    )
    include = px.assistance_term(lambda p, k: int(p.assistance[k].include_out_of_scope)) == 1
    m_base = assistance_base(
        c("act_pay_dedc") + c("pool_selfpay_amt"), c("serious"), c("oos"), include, POLARS
    )
    ratio_m = px.assistance_term(lambda p, k: p.assistance[k].ratio_bp)  # 0: not assisted
    frame = (
        frame.with_columns(
            hifob_pay=pl.when(c("s") == 0).then(c("serious")).otherwise(0),
            hifmi_pay=pl.when(c("s") == 1).then(c("serious")).otherwise(0),
            m_base=pl.when(px.assisted()).then(m_base).otherwise(0),
        )
        .with_columns(m_raw=mul_bp(c("m_base"), ratio_m))
        .with_columns(m_before=start("start_assistance_entitled_fen") + before(c("m_raw")))
    )
    cap_m = px.assistance_term(lambda p, k: p.assistance[k].cap_fen)
    return _personal(
        frame.with_columns(maf_pay=capped_increment(c("m_before"), c("m_raw"), cap_m, POLARS)), px
    )


def _personal(frame: pl.LazyFrame, px: PolicyExprs) -> pl.LazyFrame:
    """§5.6–§5.9: funds, the personal part, the fiscal subsidy, the account, cash."""
    c = pl.col
    fund = c("hifp_pay") + c("hifmi_pay") + c("hifob_pay") + c("maf_pay")
    subsidy_all = px.overlay_flag(lambda v: v.subsidy_scope == "all")
    fiscal = fiscal_subsidy(c("psn_part_amt"), c("oos"), subsidy_all, POLARS)
    forbidden = c("covid") & px.overlay_flag(lambda v: v.account_forbidden)
    rule = pl.when((c("s") != 2) & ~forbidden).then(px.account_rule()).otherwise(0)
    rest = c("psn_part_amt") - c("fiscal_pay")
    may_all, may_inscope = c("rule") == 2, c("rule") == 1
    frame = (
        frame.with_columns(fund_pay_sumamt=fund, rule=rule)
        .with_columns(psn_part_amt=c("medfee_sumamt") - c("fund_pay_sumamt"))
        .with_columns(fiscal_pay=pl.when(c("covid")).then(fiscal).otherwise(0))
        .with_columns(allowed=account_allowed(rest, c("oos"), may_all, may_inscope, POLARS))
        .with_columns(balance=start("account_balance_fen"), paid_before=before(c("allowed")))
        .with_columns(balance_before=c("balance") - POLARS.least(c("paid_before"), c("balance")))
    )
    acct = capped_increment(c("paid_before"), c("allowed"), c("balance"), POLARS)
    return frame.with_columns(acct_pay=acct).with_columns(
        psn_cash_pay=rest - c("acct_pay"),
        basic_entitled_after_fen=c("a_before") + c("raw"),
        serious_base_after_fen=c("s_after"),
        assistance_entitled_after_fen=c("m_before") + c("m_raw"),
        account_balance_after_fen=c("balance_before") - c("acct_pay"),
        one_stop=c("covid") & subsidy_all,
    )
