"""The batch engine equals the scalar engine settled one by one (SETTLEMENT.md §6).

Random packs and requests (tests/strategies.py) are grouped into a few insurees; the
scalar side settles them in (insuree, year, discharge_date, encounter_id) order with
carried accumulators and balance (tests/batch_oracle.py); every output column must agree,
``covid`` and the four after-columns included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batch_oracle import differences, scalar_settle, to_tables
from tests.strategies import COVID_CODES, pack_docs, policy_of, requests
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


@st.composite
def years(draw: st.DrawFn, scheme: str | None = None) -> list[tuple[int, int, SettleRequest]]:
    """Several insurees, each with a few encounters in 2020 (same scheme, category)."""
    out: list[tuple[int, int, SettleRequest]] = []
    for iid in range(draw(st.integers(1, 3))):
        reqs = draw(st.lists(requests(scheme=scheme), min_size=1, max_size=5))
        first = reqs[0].insuree
        for r in reqs:
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


def _shuffle_ids(
    rows: list[tuple[int, int, SettleRequest]], perm: list[int]
) -> list[tuple[int, int, SettleRequest]]:
    return [(perm[i] + 1, iid, q) for i, (_, iid, q) in enumerate(rows)]


@FAST
@given(pack_docs(), years(), st.randoms())
def test_batch_equals_scalar_one_by_one(doc: dict, rows: list, rnd: object) -> None:
    perm = list(range(len(rows)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]  # table order must not matter
    enc, lines = to_tables(_shuffle_ids(rows, perm))
    packs = [policy_of(doc)]
    assert differences(batch_settle(enc, lines, packs), scalar_settle(enc, lines, packs)) == []


@FEWER
@given(pack_docs(), pack_docs(), years(), st.dates(dt.date(2020, 2, 1), dt.date(2020, 11, 30)))
def test_two_packs_split_the_year(a: dict, b: dict, rows: list, cut: dt.date) -> None:
    """Each encounter settles under the pack of its discharge date; the year's
    accumulators carry across the packs."""
    first = policy_of({**a, "pack": "first-half", "valid_to": cut})
    second = policy_of({**b, "pack": "second-half", "valid_from": cut + dt.timedelta(days=1)})
    enc, lines = to_tables(rows)
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
        for c in (
            "account_balance_fen",
            "start_basic_entitled_fen",
            "start_serious_base_fen",
            "start_assistance_entitled_fen",
        )
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
        .select("encounter_id", b=before(pl.col("x")))
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
