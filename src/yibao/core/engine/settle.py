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
    capped_increment,
    deductible,
    fiscal_subsidy,
    referral_ratio,
    serious_entitled,
)
from yibao.core.engine.validate import request_problems
from yibao.core.errors import InvalidRequest, InvariantBroken, NoPackApplies
from yibao.core.money import mul_bp
from yibao.core.policy.model import Policy

__all__ = ["scheme_key", "settle"]

_new = tuple.__new__  # builds the result tuples without namedtuple's Python __new__


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

    # §5.3 basic fund (统筹基金), capped per year in the cumulative form
    raw = basic_raw(inscp, dedc, r)
    cap = policy.basic_cap_fen[s] if insured else 0
    a_before = acc.basic_entitled_fen
    hifp = capped_increment(a_before, raw, cap, SCALAR)
    pool_selfpay = inscp - dedc - hifp

    # §5.4 serious illness (大额医疗补助 / 大病保险)
    serious = serious_base = g_before = 0
    table = policy.serious[s] if insured else None
    if table is not None:
        serious_base = dedc + pool_selfpay
        s_after = acc.serious_base_fen + serious_base
        if s_after > table.threshold_fen:  # G is 0 up to the threshold: skip the bands
            g_before = serious_entitled(acc.serious_base_fen, table, SCALAR)
            serious = serious_entitled(s_after, table, SCALAR) - g_before
    hifob = serious if s == "employee" else 0
    hifmi = serious if s == "resident" else 0

    # §5.5 medical assistance (医疗救助)
    terms = policy.assistance.get(ins.assistance_category)
    m_base = m_raw = maf = 0
    if terms is not None:
        m_base = assistance_base(
            dedc + pool_selfpay, serious, out_of_scope, terms.include_out_of_scope, SCALAR
        )
        m_raw = mul_bp(m_base, terms.ratio_bp)
        maf = capped_increment(acc.assistance_entitled_fen, m_raw, terms.cap_fen, SCALAR)

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

    info = _new(
        SetlInfo,
        (
            medfee,
            own,
            over,
            pre,
            inscp,
            dedc,
            hifp,
            pool_selfpay,
            hifmi,
            hifob,
            maf,
            fund,
            psn_part,
            fiscal,
            acct,
            cash,
        ),
    )
    facts = _new(
        Facts,
        (
            s,
            k,
            level,
            enc.admission_seq,
            transfer,
            len(lines),
            ov.clause if covered and ov is not None else CATALOG_CLAUSE,
            d,
            policy.deductible_clause,
            out_of_area,
            cut,
            out_of_area and waived,
            policy.ratio_clause,
            raw,
            cap,
            a_before,
            policy.basic_cap_clause,
            serious_base,
            acc.serious_base_fen,
            g_before,
            table.threshold_fen if table else 0,
            table.cap_fen if table else 0,
            table.clause if table else "",
            ins.assistance_category,
            terms is not None,
            m_base,
            terms.ratio_bp if terms else 0,
            m_raw,
            acc.assistance_entitled_fen,
            terms.cap_fen if terms else 0,
            policy.assistance_clause,
            enc.covid_status,
            ov.subsidy_scope if ov else None,
            ov.fiscal_fund_code if ov else None,
            out_of_scope,
            forbidden,
            may,
            allowed,
            policy.account_clause,
        ),
    )
    result = _new(
        Settlement,
        (
            policy.id,
            policy.sha256,
            enc.id,
            ins.id,
            ov is not None,
            ov.clause if ov is not None else None,
            r,
            info,
            lines,
            acc,
            Accumulators(
                a_before + raw,
                acc.serious_base_fen + serious_base,
                acc.assistance_entitled_fen + m_raw,
            ),
            balance,
            balance - acct,
            facts,
        ),
    )
    broken = broken_invariants(result, one_stop=ov is not None and ov.subsidy_scope == "all")
    if broken:
        raise InvariantBroken(f"encounter {enc.id}: " + "; ".join(broken))
    return result
