"""The scalar engine: one snapshot in, one settlement out (SETTLEMENT.md §3–§7).

``settle`` checks the request, then runs the steps of ``rules.WATERFALL`` in that order
— the overlay (§3), the lines (§4), the waterfall (§5.1–§5.9) — each a named function
here that reads and writes one ``Stay``, and checks the invariants before it returns.
Every formula comes from ``rules`` (shared with the batch engine, which declares the same
order); this module adds the policy lookups. Each step records its inputs, from which
``explain`` builds the trace and the ``setldetail`` rows when they are read. Pure: no
I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable

from yibao.core.engine.invariants import broken_invariants
from yibao.core.engine.lines import CATALOG_CLAUSE, settle_lines
from yibao.core.engine.model import (
    Accumulators,
    Facts,
    LineResult,
    SetlInfo,
    Settlement,
    SettleRequest,
)
from yibao.core.engine.overlay import covid_applies
from yibao.core.engine.rules import (
    SCALAR,
    WATERFALL,
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
from yibao.core.policy.model import AssistanceTerms, OverlayVersion, Policy, SeriousTable

__all__ = ["STEPS", "Stay", "scheme_key", "settle"]


def scheme_key(scheme: str, resident_tier: int | None) -> str:
    """employee | resident_1 | resident_2: the key of tables that differ by tier."""
    return f"resident_{resident_tier}" if scheme == "resident" else scheme


class Stay:
    """One encounter being settled: the request, its policy, and what each step found.

    Every attribute after ``policy`` is written by exactly one step (named in its
    comment) and read by the later ones."""

    __slots__ = (  # noqa: RUF023 (grouped by the step that writes them)
        "req", "policy", "insured", "k",
        "ov", "covered",  # overlay
        "lines", "medfee", "own", "over", "pre", "inscp", "oos",  # lines
        "d", "dedc",  # deductible
        "out_of_area", "waived", "cut", "r",  # ratio
        "raw", "cap", "hifp", "pool",  # basic
        "table", "s_base", "g_after", "serious",  # serious
        "terms", "m_base", "m_raw", "maf",  # assistance
        "fund", "psn_part",  # funds
        "fiscal",  # fiscal
        "forbidden", "may", "allowed", "acct", "cash",  # account
    )  # fmt: skip

    req: SettleRequest
    policy: Policy
    insured: bool
    k: str
    ov: OverlayVersion | None
    covered: bool
    lines: tuple[LineResult, ...]
    medfee: int
    own: int
    over: int
    pre: int
    inscp: int
    oos: int
    d: int
    dedc: int
    out_of_area: bool
    waived: bool
    cut: bool
    r: int
    raw: int
    cap: int
    hifp: int
    pool: int
    table: SeriousTable | None
    s_base: int
    g_after: int
    serious: int
    terms: AssistanceTerms | None
    m_base: int
    m_raw: int
    maf: int
    fund: int
    psn_part: int
    fiscal: int
    forbidden: bool
    may: str
    allowed: int
    acct: int
    cash: int

    def __init__(self, req: SettleRequest, policy: Policy) -> None:
        self.req, self.policy = req, policy
        ins = req.insuree
        self.insured = ins.scheme != "none"
        self.k = scheme_key(ins.scheme, ins.resident_tier)


def overlay(st: Stay) -> None:
    """§3 the overlay in force on the discharge date, if it covers this patient here."""
    enc = st.req.encounter
    v = st.policy.overlay_on(enc.discharge_date)
    st.ov = v if covid_applies(v, enc, st.req.provider) else None
    st.covered = st.ov is not None and st.ov.protocol_in_scope


def lines(st: Stay) -> None:
    """§4 line by line, and the sums."""
    st.lines, st.medfee, st.own, st.over, st.pre, st.inscp = settle_lines(st.req.lines, st.covered)
    st.oos = st.own + st.over + st.pre


def deductible_step(st: Stay) -> None:
    """§5.1 起付线: the first-admission figure, reduced for a later admission or a
    transfer-in; 0 for the uninsured."""
    p, enc = st.policy, st.req.encounter
    st.d = 0
    if st.insured:
        st.d = deductible(
            p.deductible_fen[st.k][st.req.provider.level],
            enc.admission_seq >= 2,
            p.later_admission_bp,
            enc.transfer_from is not None,
            p.transfer_bp,
            SCALAR,
        )
    st.dedc = st.inscp if st.inscp < st.d else st.d


def ratio(st: Stay) -> None:
    """§5.2 报销比例, less the unregistered out-of-area cut unless the overlay waives it."""
    p = st.policy
    st.out_of_area = not p.in_area(st.req.provider.region)
    st.waived = st.ov is not None and st.ov.waive_referral_cut
    st.cut = st.out_of_area and st.req.encounter.filing == "unregistered" and not st.waived
    st.r = 0
    if st.insured:
        base_bp = p.ratio_bp[st.k][st.req.provider.level]
        st.r = referral_ratio(base_bp, st.cut, p.referral_cut_bp, SCALAR)


def basic(st: Stay) -> None:
    """§5.3 统筹基金, capped per year in the paid form."""
    acc = st.req.accumulators
    st.raw = basic_raw(st.inscp, st.dedc, st.r)
    st.cap = st.policy.basic_cap_fen[st.req.insuree.scheme] if st.insured else 0
    after = acc.basic_entitled_fen + st.raw
    capped = after if after < st.cap else st.cap
    st.hifp = paid_capped(capped, acc.basic_paid_fen, st.inscp - st.dedc, SCALAR)
    st.pool = st.inscp - st.dedc - st.hifp


def serious(st: Stay) -> None:
    """§5.4 大额医疗补助 / 大病保险: G of the cumulative base, in the paid form."""
    acc = st.req.accumulators
    st.table = st.policy.serious[st.req.insuree.scheme] if st.insured else None
    st.s_base = st.g_after = st.serious = 0
    if st.table is not None:
        st.s_base = st.dedc + st.pool
        s_after = acc.serious_base_fen + st.s_base
        if s_after > st.table.threshold_fen:  # G is 0 up to the threshold: skip the bands
            st.g_after = serious_entitled(s_after, st.table, SCALAR)
            st.serious = paid_capped(st.g_after, acc.serious_paid_fen, st.s_base, SCALAR)


def assistance(st: Stay) -> None:
    """§5.5 医疗救助, only for a category the pack lists; paid form."""
    acc = st.req.accumulators
    st.terms = terms = st.policy.assistance.get(st.req.insuree.assistance_category)
    st.m_base = st.m_raw = st.maf = 0
    if terms is not None:
        st.m_base = assistance_base(
            st.dedc + st.pool, st.serious, st.oos, terms.include_out_of_scope, SCALAR
        )
        st.m_raw = mul_bp(st.m_base, terms.ratio_bp)
        after = acc.assistance_entitled_fen + st.m_raw
        capped = after if after < terms.cap_fen else terms.cap_fen
        st.maf = paid_capped(capped, acc.assistance_paid_fen, st.m_base, SCALAR)


def funds(st: Stay) -> None:
    """§5.6 the funds, and the personal part as a residual."""
    st.fund = st.hifp + st.serious + st.maf
    st.psn_part = st.medfee - st.fund


def fiscal(st: Stay) -> None:
    """§5.7 新冠财政补助, only under the overlay."""
    ov = st.ov
    st.fiscal = 0
    if ov is not None:
        st.fiscal = fiscal_subsidy(st.psn_part, st.oos, ov.subsidy_scope == "all", SCALAR)


def account(st: Stay) -> None:
    """§5.8 个人账户 (none when the overlay forbids it), §5.9 cash."""
    ins = st.req.insuree
    rest = st.psn_part - st.fiscal
    st.forbidden = st.ov is not None and st.ov.account_forbidden
    may = st.policy.account_may_pay[ins.scheme] if st.insured and not st.forbidden else "none"
    st.may = may
    st.allowed = account_allowed(rest, st.oos, may == "all", may == "inscope", SCALAR)
    balance = ins.account_balance_fen
    st.acct = balance if balance < st.allowed else st.allowed
    st.cash = rest - st.acct


STEPS: dict[str, Callable[[Stay], None]] = {
    "overlay": overlay,
    "lines": lines,
    "deductible": deductible_step,
    "ratio": ratio,
    "basic": basic,
    "serious": serious,
    "assistance": assistance,
    "funds": funds,
    "fiscal": fiscal,
    "account": account,
}
"""Each step of ``rules.WATERFALL`` by name; ``settle`` runs them in that order."""

_ORDER = tuple(STEPS[name] for name in WATERFALL)


def settle(req: SettleRequest, policy: Policy) -> Settlement:
    """Settle one encounter under ``policy`` (the pack selected for it)."""
    _check(req, policy)
    st = Stay(req, policy)
    for step in _ORDER:
        step(st)
    result = _settlement(st)
    ov = st.ov
    broken = broken_invariants(result, one_stop=ov is not None and ov.subsidy_scope == "all")
    if broken:
        raise InvariantBroken(f"encounter {req.encounter.id}: " + "; ".join(broken))
    return result


def _check(req: SettleRequest, policy: Policy) -> None:
    """The pack covers the insured region on the discharge date; the request breaks no
    rule the schema cannot express."""
    ins, enc = req.insuree, req.encounter
    if not policy.covers(ins.insured_region, enc.discharge_date):
        raise NoPackApplies(
            f"insuree.insured_region: pack {policy.id} does not cover insured region "
            f"{ins.insured_region} on discharge date {enc.discharge_date.isoformat()}"
        )
    problems = request_problems(req, policy)
    if problems:
        raise InvalidRequest.of(problems)


def _settlement(st: Stay) -> Settlement:
    """The result record, by keyword."""
    req, ov = st.req, st.ov
    acc, scheme = req.accumulators, req.insuree.scheme
    hifob = st.serious if scheme == "employee" else 0
    balance = req.insuree.account_balance_fen
    return Settlement(
        pack_id=st.policy.id,
        pack_sha256=st.policy.sha256,
        encounter_id=req.encounter.id,
        insuree_id=req.insuree.id,
        covid=ov is not None,
        overlay_clause=ov.clause if ov is not None else None,
        ratio_bp=st.r,
        setlinfo=SetlInfo(
            medfee_sumamt=st.medfee,
            fulamt_ownpay_amt=st.own,
            overlmt_selfpay=st.over,
            preselfpay_amt=st.pre,
            inscp_scp_amt=st.inscp,
            act_pay_dedc=st.dedc,
            hifp_pay=st.hifp,
            pool_selfpay_amt=st.pool,
            hifmi_pay=st.serious - hifob,
            hifob_pay=hifob,
            maf_pay=st.maf,
            fund_pay_sumamt=st.fund,
            psn_part_amt=st.psn_part,
            fiscal_pay=st.fiscal,
            acct_pay=st.acct,
            psn_cash_pay=st.cash,
        ),
        lines=st.lines,
        accumulators_before=acc,
        accumulators_after=Accumulators(
            basic_entitled_fen=acc.basic_entitled_fen + st.raw,
            basic_paid_fen=acc.basic_paid_fen + st.hifp,
            serious_base_fen=acc.serious_base_fen + st.s_base,
            serious_paid_fen=acc.serious_paid_fen + st.serious,
            assistance_entitled_fen=acc.assistance_entitled_fen + st.m_raw,
            assistance_paid_fen=acc.assistance_paid_fen + st.maf,
        ),
        account_balance_before_fen=balance,
        account_balance_after_fen=balance - st.acct,
        facts=_facts(st),
    )


def _facts(st: Stay) -> Facts:
    """What each step read, by keyword (``explain`` builds the trace from it)."""
    req, p, ov, table, terms = st.req, st.policy, st.ov, st.table, st.terms
    acc, enc = req.accumulators, req.encounter
    return Facts(
        scheme=req.insuree.scheme,
        scheme_key=st.k,
        level=req.provider.level,
        admission_seq=enc.admission_seq,
        transfer=enc.transfer_from is not None,
        line_count=len(st.lines),
        line_clause=ov.clause if st.covered and ov is not None else CATALOG_CLAUSE,
        d_fen=st.d,
        deductible_clause=p.deductible_clause,
        out_of_area=st.out_of_area,
        referral_cut=st.cut,
        cut_waived=st.out_of_area and st.waived,
        ratio_clause=p.ratio_clause,
        basic_raw_fen=st.raw,
        basic_cap_fen=st.cap,
        basic_before_fen=acc.basic_entitled_fen,
        basic_paid_before_fen=acc.basic_paid_fen,
        basic_cap_clause=p.basic_cap_clause,
        serious_base_fen=st.s_base,
        serious_before_fen=acc.serious_base_fen,
        serious_paid_before_fen=acc.serious_paid_fen,
        serious_g_after_fen=st.g_after,
        serious_threshold_fen=table.threshold_fen if table else 0,
        serious_cap_fen=table.cap_fen if table else 0,
        serious_clause=table.clause if table else "",
        assistance_category=req.insuree.assistance_category,
        assisted=terms is not None,
        assistance_base_fen=st.m_base,
        assistance_ratio_bp=terms.ratio_bp if terms else 0,
        assistance_raw_fen=st.m_raw,
        assistance_before_fen=acc.assistance_entitled_fen,
        assistance_paid_before_fen=acc.assistance_paid_fen,
        assistance_cap_fen=terms.cap_fen if terms else 0,
        assistance_clause=p.assistance_clause,
        covid_status=enc.covid_status,
        subsidy_scope=ov.subsidy_scope if ov else None,
        fiscal_fund_code=ov.fiscal_fund_code if ov else None,
        out_of_scope_fen=st.oos,
        account_forbidden=st.forbidden,
        may_pay=st.may,
        account_allowed_fen=st.allowed,
        account_clause=p.account_clause,
    )
