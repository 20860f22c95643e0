"""The supervision rule set's shape (docs/SUPERVISION.md): strict Pydantic models.

A rule set has versions by date (``valid_from``/``valid_to``, inclusive, never
overlapping); a version lists rules. Each rule has an ``id`` (stable: flags and the
review queue name it), a ``kind`` (which evaluator of the scan applies it), a Chinese
``title``, the ``clause`` that mandates the supervision, a ``severity`` and the kind's
own parameters, checked here: unknown keys are refused, integers must be integers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

__all__ = ["KINDS", "SEVERITIES", "Rule", "RuleSet", "RuleVersion"]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Days = Annotated[int, Strict(), Field(ge=0, le=3660)]
Count = Annotated[int, Strict(), Field(ge=1, le=1_000_000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
SEVERITIES = ("low", "medium", "high")
Severity = Literal["low", "medium", "high"]
Category = Literal["drug", "service", "consumable", "bed", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Base(_Strict):
    id: RuleId
    title: Text
    clause: Text
    severity: Severity


class CovidWithoutDiagnosis(_Base):
    """The overlay applied to a stay none of whose diagnoses is a COVID-19 code."""

    kind: Literal["covid_without_diagnosis"]
    code_prefixes: tuple[Code, ...] = Field(min_length=1)


class CovidDiagnosisAtDischarge(_Base):
    """The overlay applied, the COVID-19 code first recorded on the discharge day of a
    stay of at least ``min_stay_days`` (2403 changed the diagnosis only at the end)."""

    kind: Literal["covid_diagnosis_at_discharge"]
    code_prefixes: tuple[Code, ...] = Field(min_length=1)
    min_stay_days: Days


class SuspectedKept(_Base):
    """Settled under the overlay still 疑似 after a stay longer than the observation."""

    kind: Literal["suspected_kept"]
    max_stay_days: Days


class ProtocolOutsideEdition(_Base):
    """A line of a code on the 诊疗方案 list, dated when no edition listing it was in force."""

    kind: Literal["protocol_outside_edition"]


class DuplicateSameDay(_Base):
    """The same item more than ``max_per_day`` times on one day of one stay."""

    kind: Literal["duplicate_same_day"]
    categories: tuple[Category, ...] = Field(min_length=1)
    max_per_day: Count = 1


class OverlappingStays(_Base):
    """Two stays of one insuree at two hospitals overlapping by at least ``min_days``."""

    kind: Literal["overlapping_stays"]
    min_days: Count = 1


class FeeOutsideStay(_Base):
    """A line dated before admission or after discharge (by more than ``grace_days``)."""

    kind: Literal["fee_outside_stay"]
    grace_days: Days = 0


class PeerOutlier(_Base):
    """A stay whose length or cost lies far from its peers' (same main diagnosis and
    provider level): robust z = (x − median) / (1.4826 · MAD) above ``z_max``."""

    kind: Literal["peer_outlier"]
    measure: Literal["stay_days", "cost"]
    z_max: Annotated[int, Strict(), Field(ge=1, le=100)]
    min_peers: Annotated[int, Strict(), Field(ge=5, le=100_000)]


class LateSettlement(_Base):
    """Settled more than ``max_days`` after discharge with no deferral reason."""

    kind: Literal["late_settlement"]
    max_days: Days


class AboveFiledPrice(_Base):
    """An emergency-procurement drug sold above its filed price (四（一）)."""

    kind: Literal["above_filed_price"]


class MappingIncomplete(_Base):
    """A hospital that settled COVID-19 stays without the 对码 of every protocol item in
    force ``grace_days`` before the period's end, or whose confirmed stays lack the
    disease codes (新增病种并对码)."""

    kind: Literal["mapping_incomplete"]
    grace_days: Days
    disease_codes: tuple[Code, ...] = Field(min_length=1)
    disease_from: dt.date


Rule = Annotated[
    CovidWithoutDiagnosis
    | CovidDiagnosisAtDischarge
    | SuspectedKept
    | ProtocolOutsideEdition
    | DuplicateSameDay
    | OverlappingStays
    | FeeOutsideStay
    | PeerOutlier
    | LateSettlement
    | AboveFiledPrice
    | MappingIncomplete,
    Field(discriminator="kind"),
]
KINDS = ("covid_without_diagnosis", "covid_diagnosis_at_discharge", "suspected_kept",
         "protocol_outside_edition", "duplicate_same_day", "overlapping_stays",
         "fee_outside_stay", "peer_outlier", "late_settlement", "above_filed_price",
         "mapping_incomplete")  # fmt: skip
HOSPITAL_KINDS = frozenset({"mapping_incomplete"})
"""Kinds whose flags are about a hospital, not one stay."""


class RuleVersion(_Strict):
    valid_from: dt.date
    valid_to: dt.date | None = None
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RuleVersion:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rule id {', '.join(dup)} appears twice")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class RuleSet(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
    title: Text
    source: Text
    versions: tuple[RuleVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> RuleSet:
        vs = self.versions
        for a, b in itertools.pairwise(vs):
            if a.valid_to is None or b.valid_from <= a.valid_to:
                raise ValueError(
                    f"version from {b.valid_from} overlaps the one from {a.valid_from}"
                )
        return self

    def version_on(self, day: dt.date) -> RuleVersion | None:
        """The version in force on ``day`` (None: no supervision rules then)."""
        return next((v for v in self.versions if v.covers(day)), None)

    def rule(self, rule_id: str) -> Rule | None:
        """The newest rule called ``rule_id`` (for its title and clause on screens)."""
        return next((r for v in reversed(self.versions) for r in v.rules if r.id == rule_id),
                    None)  # fmt: skip
