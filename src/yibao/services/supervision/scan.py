"""The supervision scan: a rule set evaluated over Polars tables, vectorised (issue 22).

The tables (``Tables``) are the batch engine's shapes (the cases' README, "The batch
command") with what supervision needs beside them:

- ``stays``, one row per settled stay: ``encounter_id`` (i64 as in the batch contract,
  or the store's str), ``insuree_id``, ``provider_code``, ``provider_level`` (i8),
  ``admit_date``, ``discharge_date``, ``diagnoses`` (list of str), ``covid_status``, and
  from the settlement ``covid`` (the overlay applied), ``medfee_sumamt``,
  ``fund_pay_sumamt``, ``fiscal_pay`` (i64 fen), ``settled_on`` (date), and
  ``deferral_reason`` (str, null: never deferred);
- ``lines``, one row per charge line: ``encounter_id``, ``sn``, ``code``, ``category``,
  ``service_date``, ``amount_fen``, ``price_e6``;
- ``protocol``: ``code``, ``valid_from``, ``valid_to`` (null: open) — one row per
  诊疗方案 edition listing the code;
- ``mappings``: ``provider_code``, ``code``, ``valid_from``, ``valid_to`` (对码 rows).
- ``filed_prices`` (optional): ``encounter_id``, ``sn``, ``filed_e6`` — the price an
  emergency-procurement drug had to be sold at by the line's hospital on its day (四（一）
  零差率销售; services/drugs ``filed_price``), one row per line that has one; the rule
  that reads them is skipped without them.
- ``dx_history`` (optional): ``encounter_id``, ``on`` (date), ``diagnoses`` — a stay's
  diagnoses at admission and after each 2403 change (only the stays whose history
  matters need rows); without it the rule on diagnoses changed at discharge is skipped.

``scan`` returns one row per flag (``FLAG_SCHEMA``): the rule, the subject (a stay, or a
hospital and month), the amount at risk in integer fen (what the flagged lines or the
stay cost the funds and the fiscal subsidy; a reviewer decides what to recover) and the
evidence as JSON. Statistics (the peers' median and MAD) are floats: they choose what to
look at, never an amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from yibao.core.supervision.schema import (
    AboveFiledPrice,
    CovidDiagnosisAtDischarge,
    CovidWithoutDiagnosis,
    DuplicateSameDay,
    FeeOutsideStay,
    LateSettlement,
    MappingIncomplete,
    OverlappingStays,
    PeerOutlier,
    ProtocolOutsideEdition,
    SuspectedKept,
)

if TYPE_CHECKING:
    from yibao.core.supervision.schema import Rule, RuleSet, RuleVersion

__all__ = ["FLAG_SCHEMA", "LINE_COLUMNS", "PERIOD_KINDS", "STAY_COLUMNS", "Tables", "scan"]

STAY_COLUMNS = ("encounter_id", "insuree_id", "provider_code", "provider_level", "admit_date",
                "discharge_date", "diagnoses", "covid_status", "covid", "medfee_sumamt",
                "fund_pay_sumamt", "fiscal_pay", "settled_on", "deferral_reason")  # fmt: skip
LINE_COLUMNS = ("encounter_id", "sn", "code", "category", "service_date", "amount_fen",
                "price_e6")  # fmt: skip
FLAG_SCHEMA = {
    "rule_id": pl.String, "kind": pl.String, "severity": pl.String, "subject": pl.String,
    "subject_key": pl.String, "encounter_id": pl.String, "provider_code": pl.String,
    "on": pl.Date, "amount_fen": pl.Int64, "evidence": pl.String,
}  # fmt: skip
PERIOD_KINDS = frozenset({"peer_outlier", "mapping_incomplete"})
"""Kinds that judge a stay against a whole period (peers, a hospital's month): the scan
of recent settlements leaves them to the period scan."""


@dataclass(frozen=True, slots=True)
class Tables:
    stays: pl.DataFrame
    lines: pl.DataFrame
    protocol: pl.DataFrame
    mappings: pl.DataFrame
    filed_prices: pl.DataFrame | None = None
    dx_history: pl.DataFrame | None = None


def scan(tables: Tables, rules: RuleSet, *, as_of: dt.date | None = None,
         kinds: Collection[str] | None = None,
         focus: Collection[Any] | None = None) -> pl.DataFrame:  # fmt: skip
    """Every flag the rules raise on ``tables``: each stay is judged by the rule-set
    version in force on its discharge date, hospital rules by the one in force on
    ``as_of`` (default: the newest discharge). ``kinds`` limits the evaluators;
    ``focus`` keeps only the flags of these stays (their peers are still read)."""
    stays = tables.stays
    if stays.height == 0:
        return pl.DataFrame(schema=FLAG_SCHEMA)
    as_of = as_of or stays["discharge_date"].max()  # type: ignore[assignment]
    lo, hi = stays["discharge_date"].min(), stays["discharge_date"].max()
    plans: list[pl.LazyFrame] = []
    for version in rules.versions:
        if (version.valid_to or dt.date.max) < lo or version.valid_from > hi:  # type: ignore[operator]
            continue
        plans += _version_plans(tables, version, as_of, kinds)  # type: ignore[arg-type]
    if not plans:
        return pl.DataFrame(schema=FLAG_SCHEMA)
    frames = pl.collect_all(plans)
    out = pl.concat([f.select(list(FLAG_SCHEMA)).cast(FLAG_SCHEMA) for f in frames])  # type: ignore[arg-type]
    if focus is not None:
        keep = pl.Series([str(e) for e in focus], dtype=pl.String)
        out = out.filter(
            pl.col("encounter_id").is_in(keep.implode()) | (pl.col("subject") == "hospital")
        )
    return out.sort("rule_id", "subject_key")


def _version_plans(tables: Tables, version: RuleVersion, as_of: dt.date,
                   kinds: Collection[str] | None) -> list[pl.LazyFrame]:  # fmt: skip
    within = pl.col("discharge_date").is_between(version.valid_from,
                                                 version.valid_to or dt.date.max)  # fmt: skip
    stays = tables.stays.lazy().filter(within)
    ctx = _Ctx(tables, stays, as_of)
    out = []
    for rule in version.rules:
        if kinds is not None and rule.kind not in kinds:
            continue
        plan = _EVALUATORS[rule.kind](ctx, rule)
        if plan is not None:
            out.append(plan)
    return out


class _Ctx:
    def __init__(self, tables: Tables, stays: pl.LazyFrame, as_of: dt.date) -> None:
        self.tables, self.stays, self.as_of = tables, stays, as_of
        self.lines = tables.lines.lazy()

    def stay_lines(self) -> pl.LazyFrame:
        """Lines with their stay's dates, provider and covid flag."""
        keys = self.stays.select("encounter_id", "provider_code", "admit_date", "discharge_date",
                                 "covid")  # fmt: skip
        return self.lines.join(keys, on="encounter_id", how="inner")


def _stay_flags(frame: pl.LazyFrame, rule: Rule, evidence: list[pl.Expr],
                amount: pl.Expr | None = None) -> pl.LazyFrame:  # fmt: skip
    """Flags about stays: ``frame`` has the stay's columns and one row per stay."""
    amount = amount if amount is not None else pl.col("fund_pay_sumamt") + pl.col("fiscal_pay")
    return frame.select(
        rule_id=pl.lit(rule.id), kind=pl.lit(rule.kind), severity=pl.lit(rule.severity),
        subject=pl.lit("stay"), subject_key=pl.col("encounter_id").cast(pl.String),
        encounter_id=pl.col("encounter_id").cast(pl.String), provider_code=pl.col("provider_code"),
        on=pl.col("discharge_date"), amount_fen=amount.cast(pl.Int64),
        evidence=pl.struct(evidence).struct.json_encode(),
    )  # fmt: skip


def _covid_code(prefixes: tuple[str, ...]) -> pl.Expr:
    hit = pl.lit(False)
    for p in prefixes:
        hit = hit | pl.element().str.starts_with(p)
    return pl.col("diagnoses").list.eval(hit).list.any().fill_null(False)


def _stay_days() -> pl.Expr:
    return (pl.col("discharge_date") - pl.col("admit_date")).dt.total_days()


def _covid_without_diagnosis(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: CovidWithoutDiagnosis = rule
    found = ctx.stays.filter(pl.col("covid") & ~_covid_code(r.code_prefixes))
    return _stay_flags(found, r, [pl.col("diagnoses"), pl.col("covid_status")])


def _covid_dx_at_discharge(ctx: _Ctx, rule: Any) -> pl.LazyFrame | None:
    r: CovidDiagnosisAtDischarge = rule
    if ctx.tables.dx_history is None:
        return None
    covid = ctx.stays.filter("covid")
    since = (
        ctx.tables.dx_history.lazy().join(covid.select("encounter_id"), on="encounter_id",
                                          how="semi")
        .filter(_covid_code(r.code_prefixes))
        .group_by("encounter_id").agg(pl.col("on").min().alias("covid_dx_since"))
    )  # fmt: skip
    found = covid.join(since, on="encounter_id", how="inner").filter(
        pl.col("covid") & (pl.col("covid_dx_since") >= pl.col("discharge_date"))
        & (_stay_days() >= r.min_stay_days)
    )  # fmt: skip
    return _stay_flags(found, r, [pl.col("admit_date"), pl.col("discharge_date"),
                                  pl.col("covid_dx_since"), pl.col("diagnoses")])  # fmt: skip


def _suspected_kept(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: SuspectedKept = rule
    found = ctx.stays.filter(
        pl.col("covid") & (pl.col("covid_status") == "suspected") & (_stay_days() > r.max_stay_days)
    )  # fmt: skip
    return _stay_flags(found, r, [pl.col("covid_status"), _stay_days().alias("stay_days")])


def _per_stay(lines: pl.LazyFrame, ctx: _Ctx, rule: Rule, detail: list[pl.Expr]) -> pl.LazyFrame:
    """Flags of stays from their offending ``lines`` (amount: the lines' total)."""
    per = lines.group_by("encounter_id").agg(
        pl.col("amount_fen").sum().alias("lines_fen"), pl.len().alias("line_count"),
        pl.struct(detail).head(20).alias("lines"),
    )  # fmt: skip
    found = ctx.stays.join(per, on="encounter_id", how="inner")
    return _stay_flags(found, rule, [pl.col("line_count"), pl.col("lines")],
                       amount=pl.col("lines_fen"))  # fmt: skip


def _protocol_outside(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: ProtocolOutsideEdition = rule
    proto = ctx.tables.protocol.lazy().select(
        "code", "valid_from", pl.col("valid_to").fill_null(dt.date.max)
    )  # fmt: skip
    listed = ctx.stay_lines().filter("covid").join(proto.select("code").unique(), on="code",
                                                   how="semi")  # fmt: skip
    covered = (
        listed.select("encounter_id", "sn", "code", "service_date")
        .join(proto, on="code", how="inner")
        .filter(pl.col("service_date").is_between(pl.col("valid_from"), pl.col("valid_to")))
        .select("encounter_id", "sn").unique()
    )  # fmt: skip
    outside = listed.join(covered, on=["encounter_id", "sn"], how="anti")
    return _per_stay(outside, ctx, r, [pl.col("sn"), pl.col("code"), pl.col("service_date")])


def _duplicate_same_day(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: DuplicateSameDay = rule
    groups = (
        ctx.lines.filter(pl.col("category").is_in(list(r.categories)))
        .group_by("encounter_id", "code", "service_date")
        .agg(pl.len().alias("n"), pl.col("amount_fen").sum().alias("fen"))
        .filter(pl.col("n") > r.max_per_day)
        .with_columns(amount_fen=pl.col("fen") * (pl.col("n") - r.max_per_day) // pl.col("n"))
    )  # fmt: skip
    return _per_stay(groups, ctx, r, [pl.col("code"), pl.col("service_date"), pl.col("n")])


def _overlapping(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: OverlappingStays = rule
    cols = ["encounter_id", "insuree_id", "provider_code", "admit_date", "discharge_date"]
    everyone = ctx.tables.stays.lazy().select(cols)  # the other stay may be of any version
    multi = everyone.filter(pl.len().over("insuree_id") > 1)
    pairs = (
        ctx.stays.select(cols).join(multi, on="insuree_id", how="inner", suffix="_other")
        .filter(pl.col("provider_code") != pl.col("provider_code_other"))
        .with_columns(overlap_days=(pl.min_horizontal("discharge_date", "discharge_date_other")
                                    - pl.max_horizontal("admit_date", "admit_date_other"))
                      .dt.total_days())
        .filter(pl.col("overlap_days") >= r.min_days)
        .group_by("encounter_id")
        .agg(pl.struct(pl.col("encounter_id_other").cast(pl.String).alias("encounter_id"),
                       pl.col("provider_code_other").alias("provider_code"),
                       pl.col("admit_date_other").alias("admit_date"),
                       pl.col("discharge_date_other").alias("discharge_date"),
                       "overlap_days").alias("overlaps"))
    )  # fmt: skip
    found = ctx.stays.join(pairs, on="encounter_id", how="inner")
    return _stay_flags(found, r, [pl.col("admit_date"), pl.col("discharge_date"),
                                  pl.col("overlaps")])  # fmt: skip


def _fee_outside(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: FeeOutsideStay = rule
    grace = dt.timedelta(days=r.grace_days)
    outside = ctx.stay_lines().filter(
        (pl.col("service_date") < pl.col("admit_date") - grace)
        | (pl.col("service_date") > pl.col("discharge_date") + grace)
    )  # fmt: skip
    return _per_stay(outside, ctx, r, [pl.col("sn"), pl.col("code"), pl.col("service_date")])


_MAD_SCALE = 1.4826  # MAD of a normal distribution's sigma


def _peer_outlier(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: PeerOutlier = rule
    if r.measure == "stay_days":
        x, floor = _stay_days().cast(pl.Float64), 1.0
    else:  # cost on a log scale: costs are skewed; MAD at least 5 % of the median
        x, floor = pl.col("medfee_sumamt").clip(1).cast(pl.Float64).log(), 0.05
    peers = ["main_dx", "provider_level"]
    frame = ctx.stays.with_columns(main_dx=pl.col("diagnoses").list.first(), x=x)
    stats = frame.with_columns(
        median=pl.col("x").median().over(peers), peers=pl.len().over(peers)
    ).with_columns(
        mad=(pl.col("x") - pl.col("median")).abs().median().over(peers)
    ).with_columns(
        z=(pl.col("x") - pl.col("median")) / (pl.max_horizontal(pl.col("mad"), pl.lit(floor))
                                             * _MAD_SCALE)
    )  # fmt: skip
    found = stats.filter((pl.col("peers") >= r.min_peers) & (pl.col("z") > r.z_max))
    shown = (pl.col("median").exp().round(0).cast(pl.Int64) if r.measure == "cost"
             else pl.col("median").round(1))  # fmt: skip
    return _stay_flags(found, r, [
        pl.col("main_dx"), pl.col("provider_level"), pl.lit(r.measure).alias("measure"),
        (_stay_days() if r.measure == "stay_days" else pl.col("medfee_sumamt")).alias("value"),
        shown.alias("peer_median"), pl.col("peers"), pl.col("z").round(1).alias("robust_z"),
    ])  # fmt: skip


def _late_settlement(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: LateSettlement = rule
    late = (pl.col("settled_on") - pl.col("discharge_date")).dt.total_days()
    found = ctx.stays.filter((late > r.max_days) & pl.col("deferral_reason").is_null())
    return _stay_flags(found, r, [pl.col("discharge_date"), pl.col("settled_on"),
                                  late.alias("days_after_discharge")])  # fmt: skip


def _above_filed_price(ctx: _Ctx, rule: Any) -> pl.LazyFrame | None:
    r: AboveFiledPrice = rule
    filed = ctx.tables.filed_prices
    if filed is None:
        return None
    above = ctx.lines.join(filed.lazy(), on=["encounter_id", "sn"], how="inner").filter(
        pl.col("price_e6") > pl.col("filed_e6")
    ).with_columns(amount_fen=(pl.col("amount_fen") * (pl.col("price_e6") - pl.col("filed_e6"))
                               // pl.col("price_e6")))  # fmt: skip
    return _per_stay(above, ctx, r, [pl.col("sn"), pl.col("code"), pl.col("price_e6"),
                                     pl.col("filed_e6")])  # fmt: skip


def _mapping_incomplete(ctx: _Ctx, rule: Any) -> pl.LazyFrame:
    r: MappingIncomplete = rule
    ref = ctx.as_of - dt.timedelta(days=r.grace_days)
    month = ctx.as_of.strftime("%Y-%m")
    covid = ctx.stays.filter("covid")
    hospitals = covid.select("provider_code").unique()
    in_force = pl.col("valid_from") <= ref
    in_force = in_force & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= ref))
    required = ctx.tables.protocol.lazy().filter(in_force).select("code").unique()
    mapped = ctx.tables.mappings.lazy().filter(in_force).select("provider_code", "code")
    missing = (
        hospitals.join(required, how="cross")
        .join(mapped, on=["provider_code", "code"], how="anti")
        .group_by("provider_code")
        .agg(pl.col("code").sort().alias("unmapped_items"))
    )  # fmt: skip
    match = pl.lit(False)
    for code in r.disease_codes:
        match = match | (pl.element() == code)
    wanted = pl.col("diagnoses").list.eval(match).list.any()
    undiagnosed = (
        ctx.stays.filter((pl.col("covid_status") == "confirmed")
                         & (pl.col("discharge_date") >= r.disease_from) & ~wanted.fill_null(False))
        .group_by("provider_code").agg(pl.len().alias("stays_without_disease_code"))
    )  # fmt: skip
    both = missing.join(undiagnosed, on="provider_code", how="full", coalesce=True)
    return both.select(
        rule_id=pl.lit(r.id), kind=pl.lit(r.kind), severity=pl.lit(r.severity),
        subject=pl.lit("hospital"), subject_key=pl.col("provider_code") + f"@{month}",
        encounter_id=pl.lit(None, pl.String), provider_code=pl.col("provider_code"),
        on=pl.lit(ctx.as_of), amount_fen=pl.lit(0, pl.Int64),
        evidence=pl.struct(
            pl.col("unmapped_items").fill_null(pl.lit([], pl.List(pl.String))),
            pl.col("stays_without_disease_code").fill_null(0),
            pl.lit(list(r.disease_codes), pl.List(pl.String)).alias("disease_codes"),
            pl.lit(ref).alias("in_force_on"),
        ).struct.json_encode(),
    )  # fmt: skip


_EVALUATORS: dict[str, Callable[[_Ctx, Any], pl.LazyFrame | None]] = {
    "covid_without_diagnosis": _covid_without_diagnosis,
    "covid_diagnosis_at_discharge": _covid_dx_at_discharge,
    "suspected_kept": _suspected_kept,
    "protocol_outside_edition": _protocol_outside,
    "duplicate_same_day": _duplicate_same_day,
    "overlapping_stays": _overlapping,
    "fee_outside_stay": _fee_outside,
    "peer_outlier": _peer_outlier,
    "late_settlement": _late_settlement,
    "above_filed_price": _above_filed_price,
    "mapping_incomplete": _mapping_incomplete,
}
