"""The trace and the ``setldetail`` rows of a settlement, built from its ``Facts`` (§7).

Every amount of ``setlinfo`` gets one entry: the step that produced it, its inputs and
the pack clause that mandates it, so a reader can follow each fen back to a notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from yibao.core.engine.funds import ASSISTANCE, BASIC, FISCAL_NAME, FUND_NAMES, SERIOUS

if TYPE_CHECKING:
    from yibao.core.engine.model import Settlement

__all__ = ["FundRow", "Trace", "setldetail_of", "trace_of"]


class Trace(NamedTuple):
    """Where an amount comes from: the step, its inputs and the clause that mandates it."""

    field: str
    amount: int
    rule: str
    inputs: Mapping[str, int | str | bool | None]
    clause: str


class FundRow(NamedTuple):
    """One ``setldetail`` row: a fund's payment under its national code."""

    fund_pay_type: str
    fund_pay_type_name: str
    inscp_scp_amt: int
    crt_payb_lmt_amt: int | None  # limit remaining before this settlement (None: no cap)
    fund_payamt: int
    clause: str


def trace_of(s: Settlement) -> tuple[Trace, ...]:
    """One trace entry for each amount of the settlement, in waterfall order."""
    return (
        *_lines(s),
        *_deductible_and_basic(s),
        *_serious(s),
        _assistance(s),
        *_funds(s),
        _fiscal(s),
        *_account(s),
    )


def _lines(s: Settlement) -> tuple[Trace, ...]:
    """§4: the sums over the lines."""
    f, i = s.facts, s.setlinfo
    lc = f.line_clause
    return (
        Trace(
            "medfee_sumamt",
            i.medfee_sumamt,
            "§4.1 sum of line amounts (price_e6 x qty_e4, half up to the fen)",
            {"lines": f.line_count},
            lc,
        ),
        Trace("fulamt_ownpay_amt", i.fulamt_ownpay_amt, "§4.3 class-C lines not covered", {}, lc),
        Trace("overlmt_selfpay", i.overlmt_selfpay, "§4.4 above the price caps", {}, lc),
        Trace("preselfpay_amt", i.preselfpay_amt, "§4.5 class-B self-pay-first", {}, lc),
        Trace("inscp_scp_amt", i.inscp_scp_amt, "§4.6 in scope", {}, lc),
    )


def _deductible_and_basic(s: Settlement) -> tuple[Trace, ...]:
    """§5.1–§5.3: the deductible, the ratio and the basic fund in the paid form."""
    f, i = s.facts, s.setlinfo
    return (
        Trace(
            "act_pay_dedc",
            i.act_pay_dedc,
            "§5.1 min(inscp_scp_amt, D)",
            {
                "inscp_scp_amt": i.inscp_scp_amt,
                "D": f.d_fen,
                "scheme_key": f.scheme_key,
                "level": f.level,
                "admission_seq": f.admission_seq,
                "transfer": f.transfer,
            },
            f.deductible_clause,
        ),
        Trace(
            "hifp_pay",
            i.hifp_pay,
            "§5.3 min(inscp - act_pay_dedc, max(0, min(A + raw, CAP) - P));"
            " raw = (inscp - act_pay_dedc) x R",
            {
                "raw": f.basic_raw_fen,
                "R_bp": s.ratio_bp,
                "A": f.basic_before_fen,
                "P": f.basic_paid_before_fen,
                "CAP": f.basic_cap_fen,
                "insured": f.scheme != "none",
                "out_of_area": f.out_of_area,
                "referral_cut": f.referral_cut,
                "cut_waived_by_overlay": f.cut_waived,
            },
            f.ratio_clause if i.hifp_pay == f.basic_raw_fen else f.basic_cap_clause,
        ),
        Trace(
            "pool_selfpay_amt",
            i.pool_selfpay_amt,
            "§5.3 inscp - act_pay_dedc - hifp_pay",
            {
                "inscp_scp_amt": i.inscp_scp_amt,
                "act_pay_dedc": i.act_pay_dedc,
                "hifp_pay": i.hifp_pay,
            },
            f.ratio_clause,
        ),
    )


def _serious(s: Settlement) -> tuple[Trace, ...]:
    """§5.4: serious illness, under the scheme's own fund; the other fund pays 0."""
    f, i = s.facts, s.setlinfo
    serious_in = {
        "base": f.serious_base_fen,
        "S": f.serious_before_fen,
        "P": f.serious_paid_before_fen,
        "G(S + base)": f.serious_g_after_fen,
        "threshold": f.serious_threshold_fen,
        "cap": f.serious_cap_fen,
    }
    out = []
    for field in ("hifob_pay", "hifmi_pay"):
        mine = (field == "hifob_pay") == (f.scheme == "employee") and f.scheme != "none"
        out.append(
            Trace(
                field,
                getattr(i, field),
                "§5.4 min(base, max(0, G(S + base) - P))"
                if mine
                else "§5.4 not this scheme's fund",
                serious_in if mine else {"scheme": f.scheme},
                f.serious_clause if mine else f.deductible_clause,
            )
        )
    return tuple(out)


def _assistance(s: Settlement) -> Trace:
    """§5.5: medical assistance in the paid form, or why there is none."""
    f = s.facts
    return Trace(
        "maf_pay",
        s.setlinfo.maf_pay,
        "§5.5 min(base, max(0, min(M + mraw, cap) - P)); mraw = base x ratio"
        if f.assisted
        else "§5.5 category not listed in the pack: no assistance",
        {
            "category": f.assistance_category,
            "base": f.assistance_base_fen,
            "ratio_bp": f.assistance_ratio_bp,
            "mraw": f.assistance_raw_fen,
            "M": f.assistance_before_fen,
            "P": f.assistance_paid_before_fen,
            "cap": f.assistance_cap_fen,
        },
        f.assistance_clause,
    )


def _funds(s: Settlement) -> tuple[Trace, ...]:
    """§5.6: the funds' total and the personal part."""
    f, i = s.facts, s.setlinfo
    return (
        Trace(
            "fund_pay_sumamt",
            i.fund_pay_sumamt,
            "§5.6 hifp + hifmi + hifob + maf",
            {},
            f.ratio_clause,
        ),
        Trace(
            "psn_part_amt",
            i.psn_part_amt,
            "§5.6 medfee_sumamt - fund_pay_sumamt",
            {},
            f.ratio_clause,
        ),
    )


def _fiscal(s: Settlement) -> Trace:
    """§5.7: the COVID fiscal subsidy, or why there is none."""
    f, i = s.facts, s.setlinfo
    if s.covid:
        rule, clause = f"§5.7 subsidy_scope {f.subsidy_scope}", s.overlay_clause or ""
    else:
        rule, clause = "§5.7 no COVID-19 overlay applies", f.line_clause
    inputs: dict[str, int | str | bool | None] = {
        "psn_part_amt": i.psn_part_amt,
        "out_of_scope": f.out_of_scope_fen,
        "covid_status": f.covid_status,
    }
    return Trace("fiscal_pay", i.fiscal_pay, rule, inputs, clause)


def _account(s: Settlement) -> tuple[Trace, ...]:
    """§5.8–§5.9: the personal account and cash."""
    f, i = s.facts, s.setlinfo
    acct_in: dict[str, int | str | bool | None] = {
        "balance": s.account_balance_before_fen,
        "allowed": f.account_allowed_fen,
        "may_pay": f.may_pay,
    }
    if f.account_forbidden:
        rule, clause = "§5.8 account_forbidden under the overlay", s.overlay_clause or ""
    else:
        rule, clause = f"§5.8 min(balance, allowed); may_pay {f.may_pay}", f.account_clause
    cash_rule = "§5.9 psn_part_amt - fiscal_pay - acct_pay"
    return (
        Trace("acct_pay", i.acct_pay, rule, acct_in, clause),
        Trace("psn_cash_pay", i.psn_cash_pay, cash_rule, {}, f.account_clause),
    )


def setldetail_of(s: Settlement) -> tuple[FundRow, ...]:
    """``setldetail``: one row per fund the insuree is covered by, with the limit left
    before this settlement (``crt_payb_lmt_amt``: the cap less what the fund has paid
    this year over the settlements that stand, never below 0)."""
    f, i = s.facts, s.setlinfo
    rows: list[FundRow] = []
    if f.scheme != "none":
        code = BASIC[f.scheme]
        left = max(0, f.basic_cap_fen - f.basic_paid_before_fen)
        rows.append(
            FundRow(code, FUND_NAMES[code], i.inscp_scp_amt, left, i.hifp_pay, f.basic_cap_clause)
        )
        code = SERIOUS[f.scheme]
        left = max(0, f.serious_cap_fen - f.serious_paid_before_fen)
        paid = i.hifob_pay + i.hifmi_pay
        rows.append(FundRow(code, FUND_NAMES[code], i.inscp_scp_amt, left, paid, f.serious_clause))
    if f.assisted:
        left = max(0, f.assistance_cap_fen - f.assistance_paid_before_fen)
        rows.append(
            FundRow(
                ASSISTANCE,
                FUND_NAMES[ASSISTANCE],
                i.inscp_scp_amt,
                left,
                i.maf_pay,
                f.assistance_clause,
            )
        )
    if s.covid and f.fiscal_fund_code is not None:
        rows.append(
            FundRow(
                f.fiscal_fund_code,
                FISCAL_NAME,
                i.inscp_scp_amt,
                None,
                i.fiscal_pay,
                s.overlay_clause or "",
            )
        )
    return tuple(rows)
