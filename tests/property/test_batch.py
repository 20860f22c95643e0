"""The batch engine equals the scalar engine settled one by one (SETTLEMENT.md §6).

Random packs and requests (tests/strategies.py: sub-fen prices, fractional quantities)
are grouped into a few insurees, each starting its year from a state without reversals
(paid = H(entitled)) or after one (paid below or above it, at times past the cap); the
scalar side settles them in (insuree, year, discharge_date, encounter_id) order with
carried accumulators and balance (tests/batch_oracle.py); every output column must agree
to the fen, ``covid`` and the seven after-columns included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from unittest import mock

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batch_oracle import differences, scalar_settle, to_tables
from tests.strategies import COVID_CODES, pack_docs, paid_as_entitled, policy_of, requests
from yibao.core.engine import SettleRequest
from yibao.core.engine.batch import (
    POLARS,
    covered,
    line_order,
    line_reasons,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_checks import STARTS
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.rules import SCALAR, capped_increment, deductible, serious_entitled
from yibao.core.policy import Policy

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(FAST, max_examples=30)


def batch_settle(enc: pl.DataFrame, lines: pl.DataFrame, packs: list[Policy]) -> pl.DataFrame:
    """The engine as the service drives it, without files."""
    px = PolicyExprs.of(packs)
    cover = covered(enc.lazy(), px).collect()["encounter_id"]
    totals, order, runs = pl.collect_all(
        [line_totals(lines.lazy(), cover), line_order(lines.lazy()), line_runs(lines.lazy())]
    )
    bad = suspects(totals, order, runs)
    bad_lines = line_reasons(lines.lazy().filter(pl.col("encounter_id").is_in(bad.implode())))
    result = settle_frame(enc, totals, bad_lines.collect(), px)
    assert result.rejects.height == 0, result.rejects.to_dicts()
    return result.settled


Rows = list[tuple[int, int, SettleRequest]]


@st.composite
def years(draw: st.DrawFn, scheme: str | None = None, *, mixed: bool = False) -> Rows:
    """Several insurees, each with a few encounters in 2020 (same scheme, category;
    ``mixed``: each encounter its own, so a fund's cap may change within the year)."""
    out: Rows = []
    for iid in range(draw(st.integers(1, 3))):
        reqs = draw(st.lists(requests(scheme=scheme), min_size=1, max_size=5))
        first = reqs[0].insuree
        for r in reqs:
            if not mixed:
                ins = dataclasses.replace(
                    r.insuree,
                    scheme=first.scheme,
                    resident_tier=first.resident_tier,
                    assistance_category=first.assistance_category,
                )
                r = dataclasses.replace(r, insuree=ins)
            if draw(st.booleans()):  # a COVID-19 patient whom most overlays cover
                r = dataclasses.replace(
                    r,
                    encounter=dataclasses.replace(
                        r.encounter,
                        diagnoses=COVID_CODES,
                        covid_status=draw(st.sampled_from(["confirmed", "suspected"])),
                    ),
                    provider=dataclasses.replace(r.provider, covid_designated=True),
                )
            out.append((len(out) + 1, 1000 + iid, r))
    return out


def _shuffle_ids(rows: Rows, perm: list[int]) -> Rows:
    return [(perm[i] + 1, iid, q) for i, (_, iid, q) in enumerate(rows)]


START = st.sampled_from(["random", "clean", "below", "above"])
starts = st.lists(st.tuples(START, st.integers(1, 40_000_000)), min_size=3, max_size=3)
"""How each insuree starts the year: paid as the entitlement implies ("clean"), that
less or plus an amount (after a reversal: "below", "above", at times past the cap), or
the requests' own random accumulators."""


PAID = ("basic_paid_fen", "serious_paid_fen", "assistance_paid_fen")


def with_starts(rows: Rows, policy: Policy, how: list[tuple[str, int]]) -> Rows:
    """Each request of insuree ``i`` with the starting state ``how[i]`` (only the first
    row of the year in settlement order is read, by both engines)."""
    out: Rows = []
    for eid, iid, q in rows:
        mode, amount = how[iid % len(how)]
        if mode != "random":
            clean = paid_as_entitled(q, policy).accumulators
            sign = {"clean": 0, "below": -1, "above": 1}[mode]
            moved = {f: max(0, getattr(clean, f) + sign * amount) for f in PAID}
            q = dataclasses.replace(q, accumulators=dataclasses.replace(clean, **moved))
        out.append((eid, iid, q))
    return out


@FAST
@given(pack_docs(), years(), st.randoms(), starts)
def test_batch_equals_scalar_one_by_one(doc: dict, rows: Rows, rnd: object, how: list) -> None:
    """Sub-fen prices, fractional quantities, years that start after a reversal."""
    perm = list(range(len(rows)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]  # table order must not matter
    packs = [policy_of(doc)]
    enc, lines = to_tables(_shuffle_ids(with_starts(rows, packs[0], how), perm))
    assert differences(batch_settle(enc, lines, packs), scalar_settle(enc, lines, packs)) == []


@st.composite
def low_caps(draw: st.DrawFn) -> dict:
    """A pack whose yearly caps are low and differ by scheme and category, so that a
    stay of another scheme or category often finds its fund paid past its own cap."""
    doc = draw(pack_docs())
    cap = st.integers(0, 3_000_000)
    doc["basic_cap"]["fen"] = {"employee": draw(cap), "resident": draw(cap)}
    for name in ("employee", "resident"):
        doc["serious"][name]["cap_fen"] = draw(cap)
    for terms in doc["assistance"]["categories"].values():
        terms["cap_fen"] = draw(cap)
    return doc


@settings(FEWER, max_examples=60)
@given(low_caps(), years(mixed=True), starts)
def test_caps_that_change_within_a_year(doc: dict, rows: Rows, how: list) -> None:
    """Schemes and assistance categories that change from stay to stay: a fund's cap may
    fall below what it has paid (the batch settles such years again, ``paid_form``)."""
    packs = [policy_of(doc)]
    enc, lines = to_tables(with_starts(rows, packs[0], how))
    assert differences(batch_settle(enc, lines, packs), scalar_settle(enc, lines, packs)) == []


@FEWER
@given(low_caps(), years(mixed=True), starts)
def test_running_minimum_per_year_with_over(doc: dict, rows: Rows, how: list) -> None:
    """The per-year running minimum taken with ``over`` (when the frame's sums of bounds
    might pass 2^62) gives the same table as the offset form."""
    packs = [policy_of(doc)]
    enc, lines = to_tables(with_starts(rows, packs[0], how))
    with mock.patch("yibao.core.engine.batch.sums_fit", return_value=False):
        got = batch_settle(enc, lines, packs)
    assert differences(got, scalar_settle(enc, lines, packs)) == []


@FEWER
@given(pack_docs(), pack_docs(), years(), st.dates(dt.date(2020, 2, 1), dt.date(2020, 11, 30)),
       starts)  # fmt: skip
def test_two_packs_split_the_year(a: dict, b: dict, rows: Rows, cut: dt.date, how: list) -> None:
    """Each encounter settles under the pack of its discharge date; the year's
    accumulators carry across the packs (whose caps may differ either way)."""
    first = policy_of({**a, "pack": "first-half", "valid_to": cut})
    second = policy_of({**b, "pack": "second-half", "valid_from": cut + dt.timedelta(days=1)})
    enc, lines = to_tables(with_starts(rows, first, how))
    packs = [first, second]
    assert differences(batch_settle(enc, lines, packs), scalar_settle(enc, lines, packs)) == []


@FEWER
@given(pack_docs(), years(), st.integers(0, 10**6))
def test_only_the_first_row_of_a_year_is_read(doc: dict, rows: list, junk: int) -> None:
    """Starting state on later rows of an insuree-year is ignored."""
    enc, lines = to_tables(rows)
    packs = [policy_of(doc)]
    want = batch_settle(enc, lines, packs)
    order = enc.sort("insuree_id", "discharge_date", "encounter_id")
    later = order.filter(pl.col("insuree_id").is_first_distinct().not_())["encounter_id"]
    noisy = enc.with_columns(
        pl.when(pl.col("encounter_id").is_in(later.implode()))
        .then(junk)
        .otherwise(pl.col(c))
        .alias(c)
        for c in STARTS
    )
    assert batch_settle(noisy, lines, packs).equals(want)


def test_polars_ops_agree_with_scalar_ops() -> None:
    xs = [0, 1, 7, 10_000, 123_456_789]
    frame = pl.DataFrame({"a": xs, "b": xs[::-1]})
    got = frame.select(
        least=POLARS.least(pl.col("a"), pl.col("b")),
        greatest=POLARS.greatest(pl.col("a"), 5),
        where=POLARS.where(pl.col("a") > 5, pl.col("a"), pl.col("b")),
        cap=capped_increment(pl.col("a"), pl.col("b"), 1000, POLARS),
        d=deductible(pl.col("a"), pl.col("b") > 5, 5000, pl.col("a") > 100, 3333, POLARS),
    )
    for i, (a, b) in enumerate(zip(xs, xs[::-1], strict=True)):
        assert got.row(i) == (
            SCALAR.least(a, b),
            SCALAR.greatest(a, 5),
            SCALAR.where(a > 5, a, b),
            capped_increment(a, b, 1000, SCALAR),
            deductible(a, b > 5, 5000, a > 100, 3333, SCALAR),
        )
    assert POLARS.least(3, 4) == 3
    assert POLARS.where(True, 1, 2) == 1


@given(pack_docs(), st.lists(st.integers(0, 90_000_000), min_size=1, max_size=20))
def test_serious_bands_agree(doc: dict, xs: list[int]) -> None:
    pol = policy_of(doc)
    for table in pol.serious.values():
        got = pl.DataFrame({"x": xs}).select(serious_entitled(pl.col("x"), table, POLARS))
        assert got.to_series().to_list() == [serious_entitled(x, table, SCALAR) for x in xs]


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(2019, 2021), st.integers(0, 2**62)),
        min_size=1,
        max_size=30,
    )
)
def test_exclusive_sums_equal_cum_sum_over(rows: list[tuple[int, int, int]]) -> None:
    """``before`` is ``cum_sum().over(insuree, year) - x`` in year order, computed
    without sorting the frame; int64 overflow of the running sum does not matter."""
    from yibao.core.engine.batch_waterfall import before, order, place

    frame = pl.DataFrame(rows, schema=["insuree_id", "year", "x"], orient="row").with_columns(
        encounter_id=pl.int_range(pl.len(), dtype=pl.Int64).reverse(),
        discharge_date=pl.date(pl.col("year"), 6, 1),
    )
    got = (
        place(frame.lazy(), order(frame, by_id=False))
        .pipe(before, "b", pl.col("x"))
        .select("encounter_id", "b")
        .collect()
    )
    want = frame.sort("insuree_id", "discharge_date", "encounter_id").select(
        "encounter_id", b=pl.col("x").cum_sum().over("insuree_id", "year") - pl.col("x")
    )
    assert got.sort("encounter_id").equals(want.sort("encounter_id"))


@pytest.mark.parametrize(
    ("sns", "eids", "flagged"),
    [
        (["1", "2", "3", "10"], [1, 1, 1, 1], []),
        (["1", "3", "2"], [1, 1, 1], [1]),  # out of order: checked exactly
        (["1", "2", "1"], [1, 2, 1], [1]),  # not contiguous
        (["a", "b", "b"], [1, 1, 1], [1]),
        (["1", "2", "1", "2"], [2, 2, 1, 1], []),  # grouped, not sorted by id: fine
        (["1", "2", "1", "2", "3"], [2, 2, 1, 1, 2], [2]),  # 2 comes back later
    ],
)
def test_line_order(sns: list[str], eids: list[int], flagged: list[int]) -> None:
    lines = pl.DataFrame({"encounter_id": eids, "sn": sns})
    order, runs = line_order(lines.lazy()).collect(), line_runs(lines.lazy()).collect()
    empty = pl.DataFrame(
        {"encounter_id": [], "suspect": []}, schema={"encounter_id": pl.Int64, "suspect": pl.Int64}
    )
    assert sorted(suspects(empty, order, runs).to_list()) == flagged


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.integers(2019, 2020),
            st.integers(0, 10**6),
            st.integers(0, 10**7),
            st.integers(0, 10**7),
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
    st.booleans(),
)
def test_paid_form_equals_paying_one_by_one(rows: list, monotone: bool, fit: bool) -> None:
    """``paid_form`` (a cumulative sum and a running minimum per insuree-year, the frame
    never sorted) pays what ``min(b, max(0, H - P))`` pays row by row in ``ORDER``. Where
    ``H`` never decreases within a year that holds exactly; where it does, the rows before
    the first one flagged inexact hold, and a year with none flagged holds whole."""
    from yibao.core.engine.batch_waterfall import order, paid_form, place

    frame = pl.DataFrame(rows, schema=["insuree_id", "year", "b", "h", "p0"], orient="row")
    frame = frame.with_columns(
        encounter_id=pl.int_range(pl.len(), dtype=pl.Int64).reverse(),
        discharge_date=pl.date(pl.col("year"), 6, 1),
        medfee_sumamt=pl.lit(10**9, pl.Int64),
    )
    in_order = frame.sort("insuree_id", "discharge_date", "encounter_id")
    if monotone:  # H of a year never decreases (one pack, one scheme)
        in_order = in_order.with_columns(pl.col("h").cum_max().over("insuree_id", "year"))
        frame = frame.drop("h").join(in_order.select("encounter_id", "h"), on="encounter_id")
    frame = frame.with_columns(start_test_paid_fen=pl.col("p0"))
    got = (
        place(frame.lazy(), order(frame, by_id=False))
        .pipe(paid_form, "test", pl.col("h"), pl.col("b"), sums_fit=fit)
        .select(
            "encounter_id",
            "test_pay",
            "test_paid_before_fen",
            short=(pl.col("test_b") > 0)
            & (pl.col("test_g") < pl.col("test_paid_before_fen") - pl.col("test_p0")),
        )
        .collect()
    )
    by_id = {r[0]: r[1:] for r in got.iter_rows()}
    paid: dict[tuple[int, int], int] = {}
    flagged: set[tuple[int, int]] = set()
    for r in frame.sort("insuree_id", "discharge_date", "encounter_id").iter_rows(named=True):
        key = (r["insuree_id"], r["year"])
        before = paid.setdefault(key, r["p0"])
        pay = min(r["b"], max(0, r["h"] - before))
        paid[key] = before + pay
        pay_b, before_b, short = by_id[r["encounter_id"]]
        flagged |= {key} if short else set()
        if key not in flagged:
            assert (pay_b, before_b) == (pay, before), r
    assert not (monotone and flagged)
