"""The compiled policy: plain, read-only lookups the scalar and batch engines share.

``compile_policy`` turns a validated ``PackSpec`` into a ``Policy`` once; the engines
read figures only through it, so no figure, date or clause lives in engine code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the compiled view never needs Pydantic at run time (DECISIONS 0090)
    from yibao.core.policy.schema import PackSpec, SeriousSpec

__all__ = [
    "AssistanceTerms",
    "OverlayVersion",
    "Policy",
    "PrepaymentTerms",
    "SeriousTable",
    "compile_policy",
]

SCHEME_KEYS = ("employee", "resident_1", "resident_2")
SCHEMES = ("employee", "resident")


@dataclass(frozen=True, slots=True)
class OverlayVersion:
    """One dated version of the COVID-19 overlay (新冠政策叠加, SETTLEMENT.md §3)."""

    from_date: dt.date
    to_date: dt.date | None  # inclusive; None = open
    clause: str
    statuses: frozenset[str]
    disease_codes: frozenset[str]
    designated_only: bool
    waive_referral_cut: bool
    protocol_in_scope: bool
    subsidy_scope: str  # all | inscope
    account_forbidden: bool
    fiscal_fund_code: str | None
    central_share_bp: Mapping[str, int]  # status -> bp of fiscal_pay central finance bears
    central_share_clause: str | None

    def central_share_for(self, covid_status: str) -> int:
        """Central finance's share (bp) of this status's fiscal subsidy; 0 if unlisted."""
        return self.central_share_bp.get(covid_status, 0)

    def contains(self, day: dt.date) -> bool:
        """Is ``day`` within [from, to] (inclusive; ``to`` None = open)?"""
        return self.from_date <= day and (self.to_date is None or day <= self.to_date)


@dataclass(frozen=True, slots=True)
class SeriousTable:
    """大病保险 / 大额医疗补助 for one scheme: threshold, bands and yearly cap (§5.4).

    ``bands`` holds ``(lower_fen, width_fen or None, ratio_bp)``: the part of the
    cumulative base above ``lower_fen`` (and within ``width_fen``) pays ``ratio_bp``.
    """

    clause: str
    threshold_fen: int
    bands: tuple[tuple[int, int | None, int], ...]
    cap_fen: int

    @classmethod
    def of(cls, spec: SeriousSpec) -> SeriousTable:
        bands: list[tuple[int, int | None, int]] = []
        lower = spec.threshold_fen
        for band in spec.bands:
            width = None if band.upto_fen is None else band.upto_fen - lower
            bands.append((lower, width, band.ratio_bp))
            lower = band.upto_fen if band.upto_fen is not None else lower
        return cls(spec.clause, spec.threshold_fen, tuple(bands), spec.cap_fen)


@dataclass(frozen=True, slots=True)
class AssistanceTerms:
    """医疗救助 terms for one category (§5.5)."""

    ratio_bp: int
    cap_fen: int
    include_out_of_scope: bool


@dataclass(frozen=True, slots=True)
class PrepaymentTerms:
    """预付 (issue 20): ``months`` of last year's average monthly fund payment, plus
    expected COVID patients × ``covid_stay_fen`` (until settlements measure it), over the
    fund ``books``; clearings offset at most ``offset_bp`` of what is owed."""

    months: int
    covid_stay_fen: int
    books: tuple[str, ...]
    offset_bp: int
    clause: str


@dataclass(frozen=True, slots=True)
class Policy:
    """One pack, compiled: every figure the engines read, with the clause it comes from."""

    id: str
    sha256: str
    title: str
    pooling_area: tuple[str, ...]
    valid_from: dt.date
    valid_to: dt.date
    deductible_fen: Mapping[str, Mapping[int, int]]  # scheme key -> level -> fen
    later_admission_bp: int
    transfer_bp: int
    deductible_clause: str
    ratio_bp: Mapping[str, Mapping[int, int]]  # scheme key -> level -> bp
    referral_cut_bp: int
    ratio_clause: str
    basic_cap_fen: Mapping[str, int]  # scheme -> fen
    basic_cap_clause: str
    serious: Mapping[str, SeriousTable]  # scheme -> table
    assistance: Mapping[str, AssistanceTerms]  # category -> terms
    assistance_clause: str
    account_may_pay: Mapping[str, str]  # scheme -> all | inscope | none
    account_clause: str
    overlay: tuple[OverlayVersion, ...]  # sorted by from_date
    filing_limits: Mapping[str, tuple[int | None, int | None, str]] | None = None
    """Optional (issue 18): ``covid`` | ``other`` -> (hours, workdays, clause)."""
    prepayment: PrepaymentTerms | None = None
    """Optional (issue 20): the prepayment formula's figures."""

    def in_area(self, region: str) -> bool:
        """A region is in the pooling area when it starts with one of its prefixes."""
        return region.startswith(self.pooling_area)

    def covers(self, insured_region: str, discharge_date: dt.date) -> bool:
        """Does this pack apply to an insuree of this region discharged on this date?"""
        return self.in_area(insured_region) and self.valid_from <= discharge_date <= self.valid_to

    def overlay_on(self, discharge_date: dt.date) -> OverlayVersion | None:
        """The overlay version in force on the settlement (discharge) date, if any."""
        for version in self.overlay:  # a handful of versions at most
            if version.contains(discharge_date):
                return version
        return None


def _freeze(table: Mapping[str, Mapping[int, int]]) -> Mapping[str, Mapping[int, int]]:
    # Plain dicts behind a read-only type: the engines look these up for every encounter,
    # and a dict lookup costs half a MappingProxyType one. Nothing writes to them.
    return {k: dict(v) for k, v in table.items()}


def compile_policy(spec: PackSpec, sha256: str) -> Policy:
    """Build the engines' read-only view of a validated pack."""
    fa, rb = spec.deductible.first_admission_fen, spec.ratio.bp
    overlay = tuple(
        OverlayVersion(
            v.from_,
            v.to,
            v.clause,
            frozenset(v.statuses),
            frozenset(v.disease_codes),
            v.designated_only,
            v.waive_referral_cut,
            v.protocol_in_scope,
            v.subsidy_scope,
            v.account_forbidden,
            v.fiscal_fund_code,
            {str(k): bp for k, bp in v.central_share.bp.items()} if v.central_share else {},
            v.central_share.clause if v.central_share else None,
        )
        for v in sorted(spec.covid_overlay, key=lambda v: v.from_)
    )
    return Policy(
        id=spec.pack,
        sha256=sha256,
        title=spec.title,
        pooling_area=tuple(spec.pooling_area),
        valid_from=spec.valid_from,
        valid_to=spec.valid_to,
        deductible_fen=_freeze({k: getattr(fa, k) for k in SCHEME_KEYS}),
        later_admission_bp=spec.deductible.later_admission_bp,
        transfer_bp=spec.deductible.transfer_bp,
        deductible_clause=spec.deductible.clause,
        ratio_bp=_freeze({k: getattr(rb, k) for k in SCHEME_KEYS}),
        referral_cut_bp=spec.ratio.unregistered_referral_cut_bp,
        ratio_clause=spec.ratio.clause,
        basic_cap_fen={s: getattr(spec.basic_cap.fen, s) for s in SCHEMES},
        basic_cap_clause=spec.basic_cap.clause,
        serious={s: SeriousTable.of(getattr(spec.serious, s)) for s in SCHEMES},
        assistance={
            name: AssistanceTerms(c.ratio_bp, c.cap_fen, c.include_out_of_scope)
            for name, c in spec.assistance.categories.items()
        },
        assistance_clause=spec.assistance.clause,
        account_may_pay={s: getattr(spec.account.may_pay, s) for s in SCHEMES},
        account_clause=spec.account.clause,
        overlay=overlay,
        filing_limits=None if spec.filing_limits is None else {
            k: (lim.hours, lim.workdays, lim.clause)
            for k, lim in (("covid", spec.filing_limits.covid),
                           ("other", spec.filing_limits.other))
        },
        prepayment=None if spec.prepayment is None else PrepaymentTerms(
            spec.prepayment.months, spec.prepayment.covid_stay_fen,
            tuple(spec.prepayment.books), spec.prepayment.offset_bp, spec.prepayment.clause),
    )  # fmt: skip
