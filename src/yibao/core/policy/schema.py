"""The policy-pack shape (POLICY-PACKS.md) as strict Pydantic models.

Unknown keys are refused (``extra="forbid"``), money and ratios must be integers (a
YAML ``200.5`` or ``true`` is an error, not a coercion), ratios lie in 0..10000, every
scheme and every provider level must be present, serious-illness bands increase, and
overlay versions never overlap. Errors carry the key path (``deductible.
first_admission_fen.employee``); ``load`` adds the file.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

__all__ = [
    "AccountBlock",
    "AssistanceBlock",
    "AssistanceCategory",
    "Band",
    "BasicCapBlock",
    "ByLevel",
    "CentralShareSpec",
    "DeductibleBlock",
    "FilingLimit",
    "FilingLimitsBlock",
    "OverlayVersionSpec",
    "PackSpec",
    "PrepaymentBlock",
    "RatioBlock",
    "SeriousBlock",
    "SeriousSpec",
    "Source",
]

Fen = Annotated[int, Strict(), Field(ge=0)]
Bp = Annotated[int, Strict(), Field(ge=0, le=10000)]
Clause = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Level = Literal[1, 2, 3]
MayPay = Literal["all", "inscope", "none"]
LEVELS: tuple[int, ...] = (1, 2, 3)


def _all_levels(table: dict[int, int]) -> dict[int, int]:
    missing = [lv for lv in LEVELS if lv not in table]
    if missing:
        raise ValueError(f"missing provider level {', '.join(map(str, missing))}")
    return table


ByLevel = Annotated[dict[Level, Fen], AfterValidator(_all_levels)]
BpByLevel = Annotated[dict[Level, Bp], AfterValidator(_all_levels)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Block):
    """A document a clause may cite; ``date`` may be null where it is not known."""

    title: str
    date: dt.date | None


class FenByTier(_Block):
    """A table by scheme key (employee, resident tier 1, resident tier 2) and level."""

    employee: ByLevel
    resident_1: ByLevel
    resident_2: ByLevel


class BpByTier(_Block):
    employee: BpByLevel
    resident_1: BpByLevel
    resident_2: BpByLevel


class FenByScheme(_Block):
    employee: Fen
    resident: Fen


class DeductibleBlock(_Block):
    """起付线 (SETTLEMENT.md §5.1)."""

    clause: Clause
    first_admission_fen: FenByTier
    later_admission_bp: Bp
    transfer_bp: Bp


class RatioBlock(_Block):
    """报销比例 (SETTLEMENT.md §5.2)."""

    clause: Clause
    bp: BpByTier
    unregistered_referral_cut_bp: Bp


class BasicCapBlock(_Block):
    """统筹基金年度最高支付限额 (SETTLEMENT.md §5.3)."""

    clause: Clause
    fen: FenByScheme


class Band(_Block):
    upto_fen: Fen | None
    ratio_bp: Bp


class SeriousSpec(_Block):
    """大额医疗补助 / 大病保险 for one scheme (SETTLEMENT.md §5.4)."""

    clause: Clause
    threshold_fen: Fen
    bands: list[Band] = Field(min_length=1)
    cap_fen: Fen

    @model_validator(mode="after")
    def _bands_increase(self) -> SeriousSpec:
        *closed, last = self.bands
        if last.upto_fen is not None:
            raise ValueError("bands: the last band must be open (upto_fen: null)")
        lower = self.threshold_fen
        for i, band in enumerate(closed):
            if band.upto_fen is None:
                raise ValueError(f"bands.{i}: only the last band may be open (upto_fen: null)")
            if band.upto_fen <= lower:
                raise ValueError(
                    f"bands.{i}: upto_fen {band.upto_fen} must exceed {lower} "
                    "(bands increase from threshold_fen)"
                )
            lower = band.upto_fen
        return self


class SeriousBlock(_Block):
    employee: SeriousSpec
    resident: SeriousSpec


class AssistanceCategory(_Block):
    ratio_bp: Bp
    cap_fen: Fen
    include_out_of_scope: Annotated[bool, Strict()]


CategoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class AssistanceBlock(_Block):
    """医疗救助 by category (SETTLEMENT.md §5.5); a category not listed gets none."""

    clause: Clause
    categories: dict[CategoryName, AssistanceCategory]

    @model_validator(mode="after")
    def _no_none(self) -> AssistanceBlock:
        if "none" in self.categories:
            raise ValueError("categories: 'none' means no assistance and cannot be listed")
        return self


class MayPayByScheme(_Block):
    employee: MayPay
    resident: MayPay


class AccountBlock(_Block):
    """个人账户 (SETTLEMENT.md §5.8)."""

    clause: Clause
    may_pay: MayPayByScheme


class CentralShareSpec(_Block):
    """中央财政补助: central finance's share of the fiscal subsidy, by patient status
    (财社〔2020〕2号 一: 60 % of the actual cost for confirmed patients). A status not
    listed gets no central share (suspected patients: "视情", so none unless a pack says)."""

    clause: Clause
    bp: dict[Literal["confirmed", "suspected"], Bp] = Field(min_length=1)


class OverlayVersionSpec(_Block):
    """One dated version of the COVID-19 overlay (SETTLEMENT.md §3)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date | None
    clause: Clause
    statuses: list[Literal["confirmed", "suspected"]] = Field(min_length=1)
    disease_codes: list[Annotated[str, StringConstraints(min_length=1)]] = Field(min_length=1)
    designated_only: Annotated[bool, Strict()]
    waive_referral_cut: Annotated[bool, Strict()]
    protocol_in_scope: Annotated[bool, Strict()]
    subsidy_scope: Literal["all", "inscope"]
    account_forbidden: Annotated[bool, Strict()]
    fiscal_fund_code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    """Optional local fund code under which ``fiscal_pay`` appears in ``setldetail``
    (the national dictionary has none; GLOSSARY.md). Absent: not listed there."""
    central_share: CentralShareSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    """Optional: central finance's share of ``fiscal_pay`` by status, booked to the
    central receivable (DECISIONS 0040). Absent: no central share. Left out of the
    canonical dump when absent, so packs without it keep their hash."""

    @model_validator(mode="after")
    def _ordered(self) -> OverlayVersionSpec:
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"to {self.to} is before from {self.from_}")
        return self


class FilingLimit(_Block):
    """How long one step of an out-of-area filing (异地就医备案) may take: calendar
    ``hours`` (holidays included) or ``workdays`` (by China's official calendar)."""

    clause: Clause
    hours: Annotated[int, Strict(), Field(ge=0, le=8760)] | None = None
    workdays: Annotated[int, Strict(), Field(ge=0, le=365)] | None = None

    @model_validator(mode="after")
    def _one(self) -> FilingLimit:
        if (self.hours is None) == (self.workdays is None):
            raise ValueError("give either hours or workdays")
        return self


class FilingLimitsBlock(_Block):
    """Optional (issue 18): each step of a filing (受理, 报送, 审核) is due within the
    limit of its class — ``covid`` for COVID-19 care, ``other`` for the rest."""

    covid: FilingLimit
    other: FilingLimit


class PrepaymentBlock(_Block):
    """Optional (issue 20): the prepayment formula (预付, 渝人社发〔2012〕230号, whose figures
    are not public) and how clearings recover it. Baseline = ``months`` × last year's
    average monthly fund payment to the hospital + expected COVID patients × the average
    fund cost of a confirmed stay (measured from settlements; ``covid_stay_fen`` until one
    is settled). Each monthly clearing offsets at most ``offset_bp`` of what is owed."""

    clause: Clause
    months: Annotated[int, Strict(), Field(ge=0, le=12)]
    covid_stay_fen: Fen
    books: list[Annotated[str, StringConstraints(pattern=r"^\d{6}$")]] = Field(min_length=1)
    offset_bp: Bp


class PackSpec(_Block):
    """A whole policy pack: one pooling area (统筹区), one period."""

    pack: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    title: str
    pooling_area: list[Annotated[str, Strict(), StringConstraints(pattern=r"^\d{1,6}$")]] = Field(
        min_length=1
    )
    valid_from: dt.date
    valid_to: dt.date
    sources: dict[str, Source]
    deductible: DeductibleBlock
    ratio: RatioBlock
    basic_cap: BasicCapBlock
    serious: SeriousBlock
    assistance: AssistanceBlock
    account: AccountBlock
    covid_overlay: list[OverlayVersionSpec]
    filing_limits: FilingLimitsBlock | None = Field(default=None, exclude_if=lambda v: v is None)
    """Optional (issue 18): the filing steps' time limits. Absent: the filing workflow
    says the pack sets none. Left out of the canonical dump when absent (hash kept)."""
    prepayment: PrepaymentBlock | None = Field(default=None, exclude_if=lambda v: v is None)
    """Optional (issue 20): the prepayment formula's figures. Absent: prepayments are
    applied for with their amount only (no baseline), and clearings offset nothing."""

    @model_validator(mode="after")
    def _periods(self) -> PackSpec:
        if self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        ordered = sorted(enumerate(self.covid_overlay), key=lambda iv: iv[1].from_)
        for (_, a), (j, b) in itertools.pairwise(ordered):
            if a.to is None or a.to >= b.from_:
                raise ValueError(
                    f"covid_overlay.{j}: version from {b.from_} overlaps the version "
                    f"from {a.from_} to {a.to or 'open'}"
                )
        return self

    def clauses(self) -> list[tuple[str, str]]:
        """Every (key path, clause) in the pack, for the citation check."""
        out = [
            ("deductible", self.deductible.clause),
            ("ratio", self.ratio.clause),
            ("basic_cap", self.basic_cap.clause),
            ("serious.employee", self.serious.employee.clause),
            ("serious.resident", self.serious.resident.clause),
            ("assistance", self.assistance.clause),
            ("account", self.account.clause),
        ]
        for i, v in enumerate(self.covid_overlay):
            out.append((f"covid_overlay.{i}", v.clause))
            if v.central_share is not None:
                out.append((f"covid_overlay.{i}.central_share", v.central_share.clause))
        if self.filing_limits is not None:
            out.append(("filing_limits.covid", self.filing_limits.covid.clause))
            out.append(("filing_limits.other", self.filing_limits.other.clause))
        if self.prepayment is not None:
            out.append(("prepayment", self.prepayment.clause))
        return out
