"""The scalar engine: one snapshot in, one settlement out (SETTLEMENT.md §3–§7).

``settle`` reads top to bottom like the spec: the overlay (§3), the lines (§4), then the
waterfall (§5.1–§5.9), checking the invariants before it returns. Every formula comes
from ``rules`` (shared with the batch engine); this module adds the order and the policy
lookups. It records the inputs of every step in ``Facts``, from which ``explain`` builds
the trace and the ``setldetail`` rows when they are read. Pure: no I/O, no clock.
"""

from __future__ import annotations

from yibao.core.engine.invariants import broken_invariants
from yibao.core.engine.lines import CATALOG_CLAUSE, settle_lines
from yibao.core.engine.model import Accumulators, Facts, SetlInfo, Settlement, SettleRequest
from yibao.core.engine.overlay import covid_applies
from yibao.core.engine.rules import (
    SCALAR,
    account_allowed,
    assistance_base,
    basic_raw,
    deductible,
    fiscal_subsidy,
    paid_capped,
    referral_ratio,
    serious_entitled,
)
from yibao.core.engine.validate import request_problems
from yibao.core.errors import InvalidRequest, InvariantBroken, NoPackApplies
from yibao.core.money import mul_bp
from yibao.core.policy.model import Policy

__all__ = ["scheme_key", "settle"]

def scheme_key(scheme: str, resident_tier: int | None) -> str:
    """employee | resident_1 | resident_2: the key of tables that differ by tier."""
    return f"resident_{resident_tier}" if scheme == "resident" else scheme


def settle(req: SettleRequest, policy: Policy) -> Settlement:
    """Settle one encounter under ``policy`` (the pack selected for it)."""
    ins, prov, enc, acc = req.insuree, req.provider, req.encounter, req.accumulators
    if not policy.covers(ins.insured_region, enc.discharge_date):
        raise NoPackApplies(
            f"insuree.insured_region: pack {policy.id} does not cover insured region "
            f"{ins.insured_region} on discharge date {enc.discharge_date.isoformat()}"
        )
    problems = request_problems(req, policy)
    if problems:
        raise InvalidRequest.of(problems)

    # §3 the overlay in force on the discharge date, if it covers this patient here
    v = policy.overlay_on(enc.discharge_date)
    ov = v if covid_applies(v, enc, prov) else None
    covered = ov is not None and ov.protocol_in_scope

    # §4 the lines
    lines, medfee, own, over, pre, inscp = settle_lines(req.lines, covered)
    out_of_scope = own + over + pre

    s, level, tier = ins.scheme, prov.level, ins.resident_tier
    insured = s != "none"
    k = s if s != "resident" else ("resident_1" if tier == 1 else "resident_2")  # scheme_key
    transfer = enc.transfer_from is not None

    # §5.1 deductible (起付线)
    d = 0
    if insured:
        d = deductible(
            policy.deductible_fen[k][level],
            enc.admission_seq >= 2,
            policy.later_admission_bp,
            transfer,
            policy.transfer_bp,
            SCALAR,
        )
    dedc = inscp if inscp < d else d

    # §5.2 ratio (报销比例), less the unregistered out-of-area cut unless waived
    out_of_area = not policy.in_area(prov.region)
    waived = ov is not None and ov.waive_referral_cut
    cut = out_of_area and enc.filing == "unregistered" and not waived
    r = referral_ratio(policy.ratio_bp[k][level], cut, policy.referral_cut_bp, SCALAR) if insured else 0  # fmt: skip  # noqa: E501

    # §5.3 basic fund (统筹基金), capped per year in the paid form
    raw = basic_raw(inscp, dedc, r)
    cap = policy.basic_cap_fen[s] if insured else 0
    a_before, a_paid = acc.basic_entitled_fen, acc.basic_paid_fen
    a_after = a_before + raw
    hifp = paid_capped(a_after if a_after < cap else cap, a_paid, inscp - dedc, SCALAR)
    pool_selfpay = inscp - dedc - hifp

    # §5.4 serious illness (大额医疗补助 / 大病保险), paid form
    serious = serious_base = g_after = 0
    table = policy.serious[s] if insured else None
    s_paid = acc.serious_paid_fen
    if table is not None:
        serious_base = dedc + pool_selfpay
        s_after = acc.serious_base_fen + serious_base
        if s_after > table.threshold_fen:  # G is 0 up to the threshold: skip the bands
            g_after = serious_entitled(s_after, table, SCALAR)
            serious = paid_capped(g_after, s_paid, serious_base, SCALAR)
    hifob = serious if s == "employee" else 0
    hifmi = serious if s == "resident" else 0

    # §5.5 medical assistance (医疗救助), paid form
    terms = policy.assistance.get(ins.assistance_category)
    m_base = m_raw = maf = 0
    m_before, m_paid = acc.assistance_entitled_fen, acc.assistance_paid_fen
    if terms is not None:
        m_base = assistance_base(
            dedc + pool_selfpay, serious, out_of_scope, terms.include_out_of_scope, SCALAR
        )
        m_raw = mul_bp(m_base, terms.ratio_bp)
        m_after = m_before + m_raw
        m_cap = terms.cap_fen
        maf = paid_capped(m_after if m_after < m_cap else m_cap, m_paid, m_base, SCALAR)

    # §5.6 the funds, and the personal part as a residual
    fund = hifp + hifmi + hifob + maf
    psn_part = medfee - fund

    # §5.7 the COVID fiscal subsidy (财政补助)
    fiscal = 0
    if ov is not None:
        fiscal = fiscal_subsidy(psn_part, out_of_scope, ov.subsidy_scope == "all", SCALAR)

    # §5.8 personal account (个人账户), §5.9 cash
    rest = psn_part - fiscal
    forbidden = ov is not None and ov.account_forbidden
    may = policy.account_may_pay[s] if insured and not forbidden else "none"
    allowed = account_allowed(rest, out_of_scope, may == "all", may == "inscope", SCALAR)
    balance = ins.account_balance_fen
    acct = balance if balance < allowed else allowed
    cash = rest - acct

    info = SetlInfo(
        medfee_sumamt=medfee,
        fulamt_ownpay_amt=own,
        overlmt_selfpay=over,
        preselfpay_amt=pre,
        inscp_scp_amt=inscp,
        act_pay_dedc=dedc,
        hifp_pay=hifp,
        pool_selfpay_amt=pool_selfpay,
        hifmi_pay=hifmi,
        hifob_pay=hifob,
        maf_pay=maf,
        fund_pay_sumamt=fund,
        psn_part_amt=psn_part,
        fiscal_pay=fiscal,
        acct_pay=acct,
        psn_cash_pay=cash,
    )
    facts = Facts(
        scheme=s,
        scheme_key=k,
        level=level,
        admission_seq=enc.admission_seq,
        transfer=transfer,
        line_count=len(lines),
        line_clause=ov.clause if covered and ov is not None else CATALOG_CLAUSE,
        d_fen=d,
        deductible_clause=policy.deductible_clause,
        out_of_area=out_of_area,
        referral_cut=cut,
        cut_waived=out_of_area and waived,
        ratio_clause=policy.ratio_clause,
        basic_raw_fen=raw,
        basic_cap_fen=cap,
        basic_before_fen=a_before,
        basic_paid_before_fen=a_paid,
        basic_cap_clause=policy.basic_cap_clause,
        serious_base_fen=serious_base,
        serious_before_fen=acc.serious_base_fen,
        serious_paid_before_fen=s_paid,
        serious_g_after_fen=g_after,
        serious_threshold_fen=table.threshold_fen if table else 0,
        serious_cap_fen=table.cap_fen if table else 0,
        serious_clause=table.clause if table else "",
        assistance_category=ins.assistance_category,
        assisted=terms is not None,
        assistance_base_fen=m_base,
        assistance_ratio_bp=terms.ratio_bp if terms else 0,
        assistance_raw_fen=m_raw,
        assistance_before_fen=m_before,
        assistance_paid_before_fen=m_paid,
        assistance_cap_fen=terms.cap_fen if terms else 0,
        assistance_clause=policy.assistance_clause,
        covid_status=enc.covid_status,
        subsidy_scope=ov.subsidy_scope if ov else None,
        fiscal_fund_code=ov.fiscal_fund_code if ov else None,
        out_of_scope_fen=out_of_scope,
        account_forbidden=forbidden,
        may_pay=may,
        account_allowed_fen=allowed,
        account_clause=policy.account_clause,
    )
    result = Settlement(
        pack_id=policy.id,
        pack_sha256=policy.sha256,
        encounter_id=enc.id,
        insuree_id=ins.id,
        covid=ov is not None,
        overlay_clause=ov.clause if ov is not None else None,
        ratio_bp=r,
        setlinfo=info,
        lines=lines,
        accumulators_before=acc,
        accumulators_after=Accumulators(
            basic_entitled_fen=a_before + raw,
            basic_paid_fen=a_paid + hifp,
            serious_base_fen=acc.serious_base_fen + serious_base,
            serious_paid_fen=s_paid + serious,
            assistance_entitled_fen=m_before + m_raw,
            assistance_paid_fen=m_paid + maf,
        ),
        account_balance_before_fen=balance,
        account_balance_after_fen=balance - acct,
        facts=facts,
    )
    broken = broken_invariants(result, one_stop=ov is not None and ov.subsidy_scope == "all")
    if broken:
        raise InvariantBroken(f"encounter {enc.id}: " + "; ".join(broken))
    return result
