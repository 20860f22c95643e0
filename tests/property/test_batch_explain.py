"""The batch engine's settlements in full (``batch_explain``) equal the scalar engine's,
settled one by one in order with carried state: every field — amounts, lines, facts,
the six accumulators and the balance before and after — and so the trace and the fund
rows built from them (DECISIONS 0092), also for years that start after a reversal and
years whose caps change from stay to stay."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batch_oracle import requests_of, to_tables
from tests.batch_scalar import ordered, settlements_in_order
from tests.property.test_batch import _shuffle_ids, low_caps, starts, with_starts, years
from tests.strategies import pack_docs, policy_of
from yibao.core.engine.batch import (
    covered,
    line_order,
    line_reasons,
    line_results,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_explain import settlements
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.model import Settlement
from yibao.core.policy import Policy

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def batch_settlements(enc: pl.DataFrame, lines: pl.DataFrame,
                      packs: list[Policy]) -> dict[str, Settlement]:  # fmt: skip
    px = PolicyExprs.of(packs)
    cover = covered(enc.lazy(), px).collect()["encounter_id"]
    totals, order, runs, results = pl.collect_all([
        line_totals(lines.lazy(), cover), line_order(lines.lazy()), line_runs(lines.lazy()),
        line_results(lines.lazy(), cover)])  # fmt: skip
    bad = suspects(totals, order, runs)
    bad_lines = line_reasons(lines.lazy().filter(pl.col("encounter_id").is_in(bad.implode())))
    got = settle_frame(enc, totals, bad_lines.collect(), px, explain=True)
    assert got.rejects.height == 0, got.rejects.to_dicts()
    rows = got.settled
    ins = dict(enc.select("encounter_id", "insuree_id").iter_rows())
    ids = [str(e) for e in rows["encounter_id"]]
    out = settlements(rows, results, px, ids, [str(ins[e]) for e in rows["encounter_id"]])
    return {s.encounter_id: s for s in out}


def scalar_settlements(enc: pl.DataFrame, lines: pl.DataFrame,
                       packs: list[Policy]) -> dict[str, Settlement]:  # fmt: skip
    return {s.encounter_id: s for s in settlements_in_order(ordered(requests_of(enc, lines)),
                                                            packs)}  # fmt: skip


def _same(got: dict[str, Settlement], want: dict[str, Settlement]) -> None:
    assert got.keys() == want.keys()
    for eid, s in want.items():
        g = got[eid]
        for field in Settlement._fields:
            assert getattr(g, field) == getattr(s, field), (eid, field)
        assert g.trace == s.trace
        assert g.setldetail == s.setldetail


@FAST
@given(pack_docs(), years(), st.randoms(), starts)
def test_batch_settlements_equal_scalar_ones(doc: dict, rows: list, rnd: object,
                                             how: list) -> None:  # fmt: skip
    perm = list(range(len(rows)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]  # table order must not matter
    packs = [policy_of(doc)]
    enc, lines = to_tables(_shuffle_ids(with_starts(rows, packs[0], how), perm))
    _same(batch_settlements(enc, lines, packs), scalar_settlements(enc, lines, packs))


@settings(FAST, max_examples=25)
@given(pack_docs(), pack_docs(), years(), starts)
def test_two_packs(a: dict, b: dict, rows: list, how: list) -> None:
    cut = dt.date(2020, 6, 30)
    first = policy_of({**a, "pack": "first-half", "valid_to": cut})
    second = policy_of({**b, "pack": "second-half", "valid_from": cut + dt.timedelta(days=1)})
    enc, lines = to_tables(with_starts(rows, first, how))
    packs = [first, second]
    _same(batch_settlements(enc, lines, packs), scalar_settlements(enc, lines, packs))


@settings(FAST, max_examples=25)
@given(low_caps(), years(mixed=True), starts)
def test_caps_that_change_within_a_year(doc: dict, rows: list, how: list) -> None:
    packs = [policy_of(doc)]
    enc, lines = to_tables(with_starts(rows, packs[0], how))
    _same(batch_settlements(enc, lines, packs), scalar_settlements(enc, lines, packs))
