"""The batch engine: a table of encounters settled in one vectorised pass (SETTLEMENT.md §6).

Settling the rows one by one in (insuree, calendar year of discharge_date,
discharge_date, encounter_id) order, carrying the accumulators and the account balance,
gives exactly what this module gives: every formula is a function of ``rules`` called
with Polars expressions and ``POLARS`` operations. Every yearly cap is paid in the paid
form, batch-wise (SETTLEMENT.md §6, ``batch_waterfall.paid_form``): the entitlement
before a row is an exclusive cumulative sum per insuree-year, what the fund has paid a
cumulative sum and a running minimum (``rules.paid_since_start``). The account is
``capped_increment``: what it has paid before an encounter is ``min(balance, Σ allowed
before)``.

Passes: ``covered`` resolves §3 per encounter (the encounter table is small);
``line_totals`` streams the lines through ``split_line`` and sums them per encounter
(§4); ``line_order`` finds the stays whose ``sn`` might repeat; ``settle_frame`` checks
the rows and runs the waterfall (§5, ``batch_waterfall``). Rows that break a rule are
rejected with their whole insuree-year (the later encounters of a year depend on the
earlier ones). Pure: frames in, frames out; reading and writing Parquet belong to
``yibao.services.tools.batch.files`` (DECISIONS 0020–0027).
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from yibao.core.engine.batch_checks import (
    all_hold,
    encounter_checks,
    line_checks,
    reasons,
    start_checks,
)
from yibao.core.engine.batch_ops import POLARS, PolarsOps
from yibao.core.engine.batch_policy import SCHEMES, PolicyExprs
from yibao.core.engine.batch_waterfall import FUNDS, order, place, waterfall
from yibao.core.engine.model import MAX_FEN, SETLINFO_FIELDS
from yibao.core.engine.rules import line_terms, split_line
from yibao.core.errors import InvariantBroken

__all__ = [
    "ACCUMULATOR_FIELDS",
    "EXPLAIN_COLUMNS",
    "LINE_RESULT_COLUMNS",
    "OUT_COLUMNS",
    "POLARS",
    "REJECT_COLUMNS",
    "BatchResult",
    "PolarsOps",
    "covered",
    "line_order",
    "line_reasons",
    "line_results",
    "line_runs",
    "line_totals",
    "settle_frame",
    "suspects",
]

ACCUMULATOR_FIELDS = (
    "basic_entitled_after_fen",
    "basic_paid_after_fen",
    "serious_base_after_fen",
    "serious_paid_after_fen",
    "assistance_entitled_after_fen",
    "assistance_paid_after_fen",
    "account_balance_after_fen",
)
OUT_COLUMNS = ("encounter_id", "covid", *SETLINFO_FIELDS, *ACCUMULATOR_FIELDS)
REJECT_COLUMNS = {
    "encounter_id": pl.Int64,
    "insuree_id": pl.Int64,
    "year": pl.Int32,
    "reason": pl.String,
}
_TOTALS = ("n_lines", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
           "preselfpay_amt", "suspect")  # fmt: skip


class BatchResult(NamedTuple):
    """Settled rows (``OUT_COLUMNS``, by encounter_id) and rejected ones, with reasons."""

    settled: pl.DataFrame
    rejects: pl.DataFrame


# -- §4 the lines ------------------------------------------------------------------------


def covered(encounters: pl.LazyFrame, px: PolicyExprs) -> pl.LazyFrame:
    """§4.2: the encounters (``encounter_id``) under an overlay version that puts
    protocol items and temporary codes in scope; their lines settle as covered."""
    protocol = px.overlay_flag(lambda v: v.protocol_in_scope)
    return (
        _overlay(encounters.select(_OVERLAY_INPUTS), px)
        .filter(pl.col("covid") & protocol)
        .select("encounter_id")
    )


def _line_parts(covered_ids: pl.Series) -> tuple[pl.Expr, tuple[pl.Expr, ...]]:
    """§4 per line: ``covered_item`` (§4.2) and ``split_line``'s amount and four parts."""
    price, cls = pl.col("price_e6"), pl.col("item_class")
    item = pl.col("encounter_id").is_in(covered_ids.implode()) & (
        pl.col("in_protocol") | pl.col("temp_code")
    )  # §4.2 covered_item
    own_pay, selfpay = line_terms(cls == "C", cls == "B", item, pl.col("selfpay_bp"), POLARS)
    cap = pl.col("price_cap_e6").fill_null(price)
    return item, split_line(price, pl.col("qty_e4"), cap, own_pay, selfpay, POLARS)


LINE_RESULT_COLUMNS = ("encounter_id", "sn", "det_item_fee_sumamt", "fulamt_ownpay_amt",
                       "overlmt_amt", "preselfpay_amt", "inscp_scp_amt", "item_class",
                       "covered")  # fmt: skip


def line_results(lines: pl.LazyFrame, covered_ids: pl.Series) -> pl.LazyFrame:
    """§4 for every line, not summed: ``LINE_RESULT_COLUMNS`` in the lines' order (what a
    settlement's ``lines`` hold, ``batch_explain``). The same expressions as
    ``line_totals``."""
    item, parts = _line_parts(covered_ids)
    names = LINE_RESULT_COLUMNS[2:7]
    return lines.select("encounter_id", "sn", *[x.alias(n) for x, n in zip(parts, names,
                                                                          strict=True)],
                        "item_class", covered=item)  # fmt: skip


def line_totals(lines: pl.LazyFrame, covered_ids: pl.Series) -> pl.LazyFrame:
    """§4 for every line, summed per encounter (``medfee_sumamt`` and the three parts
    that are not in scope); ``covered_ids`` are the ids ``covered`` found.

    ``suspect`` counts the lines that may break a rule (a cheap, conservative test:
    byte lengths for character lengths); ``line_reasons`` checks those stays exactly.
    Every term is per row, so the whole pass streams.
    """
    _, parts = _line_parts(covered_ids)
    names = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
    per_line = [x.alias(n) for x, n in zip(parts, names, strict=False)]
    suspect = ~all_hold(line_checks(fast=True))
    return (
        lines.select("encounter_id", *per_line, suspect=suspect.cast(pl.Int64))
        .group_by("encounter_id")
        .agg(pl.len().cast(pl.Int64).alias("n_lines"), pl.all().sum())
    )


def line_order(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The encounter ids whose ``sn`` may repeat, found from the row order alone.

    Lines that follow the previous line of the same stay in (length, text) order of
    ``sn`` cannot repeat one; a stay whose lines are all so, in one contiguous run, has
    unique ``sn``. Returns the ids of the other stays (``line_reasons`` checks them
    exactly), so the hot path hashes no ``sn``. A table sorted by encounter_id has
    contiguous stays; only otherwise are the runs' starts compared. Reads two columns;
    order-dependent, so it is its own pass.
    """
    eid, sn = pl.col("encounter_id"), pl.col("sn")
    n = sn.str.len_bytes()
    after = (n > n.shift(1)) | ((n == n.shift(1)) & (sn > sn.shift(1)))
    same = (eid == eid.shift(1)).fill_null(False)
    back = (eid < eid.shift(1)).fill_null(False)  # not sorted by encounter_id here
    flags = lines.select(eid, unordered=(same & ~after).fill_null(True), unsorted=back)
    return flags.filter(pl.col("unordered") | pl.col("unsorted")).select(eid, "unsorted")


def line_runs(lines: pl.LazyFrame) -> pl.LazyFrame:
    """For a table not sorted by encounter_id: the ids whose lines are not contiguous."""
    eid = pl.col("encounter_id")
    starts = lines.select(eid).filter((eid != eid.shift(1)).fill_null(True))
    return starts.filter(eid.is_duplicated()).unique()


def line_reasons(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Exact problems of the given lines, one row per encounter: ``encounter_id, reason``."""
    checks = line_checks()
    dup = pl.col("sn").is_duplicated().over("encounter_id")
    checks.append(("sn", ~dup, pl.format("duplicate sn '{}'", pl.col("sn"))))
    with_sn = pl.format("lines[sn={}].", pl.col("sn").fill_null("null"))
    return (
        lines.with_columns(reason=pl.concat_str(with_sn, reasons(checks)))
        .filter(pl.col("reason").is_not_null())
        .group_by("encounter_id", maintain_order=True)
        .agg(pl.col("reason").first())
    )


# -- §3 and §5 the encounters --------------------------------------------------------------


_OVERLAY_INPUTS = ("encounter_id", "insured_region", "discharge_date", "diagnoses",
                   "covid_status", "covid_designated")  # fmt: skip


def _overlay(frame: pl.LazyFrame, px: PolicyExprs) -> pl.LazyFrame:
    """§3 per row: the pack (``pack``), the overlay version in force (``v``) and
    whether it covers this patient here (``covid``)."""
    frame = frame.with_columns(pack=px.pack_index(px.covering()))
    return frame.with_columns(v=px.version()).with_columns(covid=px.covid())


def _resolve(frame: pl.LazyFrame, px: PolicyExprs, by_id: bool) -> pl.LazyFrame:
    """Per row, in the table's order: the pack, the codes, the overlay (§3), and whether
    the row keeps every rule that does not depend on its place in the year. ``by_id``:
    the table is sorted by encounter_id (a repeated id is then next to its twin)."""
    scheme, tier = pl.col("scheme"), pl.col("resident_tier")
    eid = pl.col("encounter_id")
    twin = (eid == eid.shift(1)) | (eid == eid.shift(-1)) if by_id else eid.is_duplicated()
    frame = _overlay(frame, px).with_columns(
        dup=twin.fill_null(False),
        year=pl.col("discharge_date").dt.year().cast(pl.Int32),
        s=scheme.replace_strict(
            {n: i for i, n in enumerate(SCHEMES)}, default=2, return_dtype=pl.Int8
        ),
        akey=px.assistance_key(),
        out_of_area=~px.provider_in_area(),
    )
    k = pl.when(pl.col("s") == 1).then(tier.cast(pl.Int8, strict=False).fill_null(3))
    return frame.with_columns(
        k=k.otherwise(pl.when(pl.col("s") == 0).then(0).otherwise(3)).cast(pl.Int8),
        inscp_scp_amt=pl.col("medfee_sumamt") - pl.col("fulamt_ownpay_amt")
        - pl.col("overlmt_selfpay") - pl.col("preselfpay_amt"),
        unregistered=pl.col("filing") == "unregistered",
        transferred=pl.col("transfer_from").is_not_null(),
        ok=all_hold(encounter_checks(px.known_category())) & pl.col("line_reason").is_null(),
    )  # fmt: skip


def suspects(totals: pl.DataFrame, order: pl.DataFrame, runs: pl.DataFrame) -> pl.Series:
    """The encounter ids whose lines ``line_reasons`` must check exactly: lines that may
    break a rule (``line_totals``) or repeat an ``sn`` (``line_order``, ``line_runs``)."""
    flagged = totals.filter(pl.col("suspect") > 0)["encounter_id"]
    unordered = order.filter(~pl.col("unsorted"))["encounter_id"]
    ids = [flagged, unordered, runs["encounter_id"]]
    return pl.concat(ids).drop_nulls().unique()


def settle_frame(
    encounters: pl.DataFrame,
    totals: pl.DataFrame,
    bad_lines: pl.DataFrame,
    px: PolicyExprs,
    *,
    explain: bool = False,
) -> BatchResult:
    """Settle ``encounters`` with their ``line_totals``; ``bad_lines`` is ``line_reasons``
    of the lines of every ``suspects`` encounter. Returns the settled rows and rejects;
    with ``explain``, the settled rows also hold ``EXPLAIN_COLUMNS`` (what each step
    read: ``batch_explain`` builds the settlements from them)."""
    more = EXPLAIN_COLUMNS if explain else ()
    by_id = encounters["encounter_id"].is_sorted()
    if by_id:  # both sides sorted: a merge join, not a hash join
        encounters = encounters.with_columns(pl.col("encounter_id").set_sorted())
        totals = totals.sort("encounter_id")
    fit = sums_fit(encounters.height, totals)
    wide, done = _settle(encounters.with_row_index("row"), totals, bad_lines, px, by_id, more,
                         sums_fit=fit)  # fmt: skip
    if (done["inexact"] != 0).any():
        done = _settle_again(done, encounters, totals, bad_lines, px, more, fit)
    orphans = totals.join(encounters.select("encounter_id"), on="encounter_id", how="anti")
    if done["ok"].all() and orphans.height == 0:
        return BatchResult(_out(done, more), pl.DataFrame(schema=REJECT_COLUMNS))
    rejects = _rejects(done, wide, px, orphans)
    keep = done.join(rejects.select("encounter_id").unique(), on="encounter_id", how="anti")
    return BatchResult(_out(keep.filter(pl.col("encounter_id").is_not_null()), more), rejects)


def sums_fit(rows: int, totals: pl.DataFrame) -> bool:
    """Whether every running sum of bounds over the frame stays below 2^62: a bound is
    clipped to its stay's ``medfee_sumamt`` (at most ``MAX_FEN``), so the sum is at most
    the rows times the largest stay (``batch_waterfall.paid_form``)."""
    most = totals["medfee_sumamt"].clip(0, MAX_FEN).max() if totals.height else 0
    return rows * int(most or 0) < 2**62  # type: ignore[arg-type]


def _settle(
    encounters: pl.DataFrame,
    totals: pl.DataFrame,
    bad_lines: pl.DataFrame,
    px: PolicyExprs,
    by_id: bool,
    more: tuple[str, ...],
    *,
    sums_fit: bool,
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """Checks and waterfall over ``encounters`` (with their ``row`` index and, to settle
    again, each fund's ``floor``): the resolved frame (lazy) and the settled rows."""
    joined = (
        encounters.lazy()
        .join(totals.lazy(), on="encounter_id", how="left", maintain_order="left")
        .join(
            bad_lines.lazy().rename({"reason": "line_reason"}),
            on="encounter_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col(name).fill_null(0) for name in _TOTALS)
    )
    wide = _resolve(joined, px, by_id)
    carried = pl.all_horizontal(pl.col(f).is_between(0, MAX_FEN) for f in _CARRIED)
    done = (
        waterfall(
            place(wide, order(encounters, by_id)).with_columns(
                ok=pl.col("ok") & all_hold(start_checks())
            ),
            px,
            sums_fit=sums_fit,
            floors="basic_floor" in encounters.columns,
        )
        .with_columns(carried=carried)
        .with_columns(ok=pl.col("ok") & pl.col("carried"))
        .select(*OUT_COLUMNS, *_KEPT, *(c for c in more if c not in _KEPT))
        .collect(engine="in-memory")  # order-dependent work: faster than streaming
    )
    return wide, done


def _settle_again(
    done: pl.DataFrame,
    encounters: pl.DataFrame,
    totals: pl.DataFrame,
    bad_lines: pl.DataFrame,
    px: PolicyExprs,
    more: tuple[str, ...],
    fit: bool,
) -> pl.DataFrame:
    """The insuree-years where a fund's ``H`` fell below what it had paid (a pack or
    scheme change within the year, ``batch_waterfall.paid_form``), settled again until
    exact, fund by fund in waterfall order.

    Each round raises the first inexact fund's ``floor`` to what it had paid before each
    row in the last round. Those amounts never exceed what settling one by one gives
    (the form is monotone in ``H``, and the earlier funds are exact by then), and each
    round makes at least the first inexact row of every year exact, so the rounds end:
    at most one per row and fund. Years holding a row that breaks a rule are left as
    they are (they are rejected whole)."""
    key = ["insuree_id", "year"]
    bad_years = done.filter(~pl.col("ok")).select(key).unique()
    years = done.filter(pl.col("inexact") != 0).select(key).unique()
    rows = done.join(years.join(bad_years, on=key, how="anti"), on=key, how="semi")["row"]
    if rows.len() == 0:
        return done
    part = encounters.with_row_index("row").filter(pl.col("row").is_in(rows.implode()))
    part = part.with_columns(pl.lit(0, pl.Int64).alias(f"{n}_floor") for n in FUNDS)
    by_id = part["encounter_id"].is_sorted()
    wanted = tuple(dict.fromkeys((*more, *_PAID_BEFORE)))
    for _ in range(len(FUNDS) * part.height + 1):
        _, again = _settle(part, totals, bad_lines, px, by_id, wanted, sums_fit=fit)
        bits = {int(b) for b in again["inexact"].unique() if b}
        if not bits:
            kept = done.filter(~pl.col("row").is_in(rows.implode()))
            return pl.concat([kept, again.select(done.columns)])
        fund = FUNDS[min((b & -b).bit_length() - 1 for b in bits)]  # the earliest fund
        paid = again[f"{fund}_paid_before_fen"]
        part = part.with_columns(pl.max_horizontal(f"{fund}_floor", paid).alias(f"{fund}_floor"))
    raise InvariantBroken("the paid form of a yearly cap did not settle")  # pragma: no cover


_CARRIED = ("a_before", "basic_paid_before_fen", "s_before", "serious_paid_before_fen",
            "m_before", "assistance_paid_before_fen")  # fmt: skip
_PAID_BEFORE = tuple(f"{n}_paid_before_fen" for n in FUNDS)
EXPLAIN_COLUMNS = ("pack", "v", "scheme", "resident_tier", "provider_level", "admission_seq",
                   "transferred", "n_lines", "d", "out_of_area", "cut", "waived", "r", "raw",
                   "a_before", "basic_paid_before_fen", "serious_base", "s_before",
                   "serious_paid_before_fen", "serious_g_after_fen", "m_base", "m_raw",
                   "m_before", "assistance_paid_before_fen", "oos", "rule", "allowed",
                   "balance_before", "covid_status", "assistance_category")  # fmt: skip
"""The columns of each step's inputs that a settlement's facts are read from."""
_KEPT = ("row", "insuree_id", "year", "ok", "carried", "first", "balance_before", "one_stop",
         "inexact")  # fmt: skip


def _rejects(
    done: pl.DataFrame, wide: pl.LazyFrame, px: PolicyExprs, orphans: pl.DataFrame
) -> pl.DataFrame:
    """Every row of each insuree-year that holds a broken row, with its reason."""
    broken = done.filter(~pl.col("ok")).select("row", "first", "carried")
    checks = encounter_checks(px.known_category()) + start_checks()
    carried = pl.when(~pl.col("carried")).then(pl.lit(f"accumulators: carried past {MAX_FEN} fen"))
    why = pl.concat_str(
        [reasons(checks), pl.col("line_reason"), carried], separator="; ", ignore_nulls=True
    )
    own = (
        wide.join(broken.lazy(), on="row", how="inner")
        .select("encounter_id", "insuree_id", "year", reason=why)
        .collect(engine="in-memory")
    )
    orphans = orphans.select(
        "encounter_id",
        insuree_id=pl.lit(None, pl.Int64),
        year=pl.lit(None, pl.Int32),
        reason=pl.lit("lines: no encounter row has this encounter_id"),
    )
    whole = pl.col("year").is_null()
    years = own.filter(~whole).select("insuree_id", "year").unique()
    anyyear = own.filter(whole & pl.col("insuree_id").is_not_null()).select("insuree_id").unique()
    swept = (
        pl.concat(
            [
                done.join(years, on=["insuree_id", "year"], how="semi"),
                done.join(anyyear, on="insuree_id", how="semi"),
            ]
        )
        .select("encounter_id", "insuree_id", "year")
        .unique()
    )
    fellow = swept.join(own.select("encounter_id"), on="encounter_id", how="anti").with_columns(
        reason=pl.lit("insuree-year rejected: another of its encounters is invalid")
    )
    return pl.concat([own, fellow, orphans]).sort("encounter_id", nulls_last=True)


def _out(done: pl.DataFrame, more: tuple[str, ...]) -> pl.DataFrame:
    """The contract's columns (and ``more``), by encounter id, after the invariants
    (SETTLEMENT.md §5)."""
    c = pl.col
    amounts = [c(f) for f in SETLINFO_FIELDS]
    broken = ~(
        pl.all_horizontal(a >= 0 for a in amounts)
        & (
            c("fund_pay_sumamt") + c("fiscal_pay") + c("acct_pay") + c("psn_cash_pay")
            == c("medfee_sumamt")
        )
        & (c("acct_pay") <= c("balance_before"))
        & ~(c("one_stop") & (c("psn_cash_pay") != 0))
    )
    bad = done.filter(broken)
    if bad.height:
        raise InvariantBroken(f"encounter {bad['encounter_id'][0]}: a batch invariant broke")
    out = done.select(*OUT_COLUMNS, *more)
    return out if out["encounter_id"].is_sorted() else out.sort("encounter_id")
