"""A line at the wire's precision in the batch: sub-fen prices, fractional quantities and
the 2^63 − 1 bound on ``price_e6 * qty_e4`` (SETTLEMENT.md §1), checked without the
product ever being formed in an int64 column (which would wrap silently)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.batch_oracle import E_SCHEMA, L_SCHEMA, differences, scalar_settle
from tests.property.test_batch import batch_settle
from yibao.core.engine.batch import (
    BatchResult,
    covered,
    line_order,
    line_reasons,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_checks import all_hold, line_checks
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.money import MAX_I64, line_amount
from yibao.packs import shipped_pack
from yibao.packs.files import load_pack

CQ = load_pack(shipped_pack("cq-2020"))
STAY: dict[str, Any] = {
    "encounter_id": 1, "insuree_id": 1, "scheme": "employee", "resident_tier": None,
    "insured_region": "500102", "assistance_category": "none", "provider_code": "H1",
    "provider_region": "500102", "provider_level": 3, "covid_designated": False,
    "med_type": "21", "admit_date": dt.date(2020, 5, 1), "discharge_date": dt.date(2020, 5, 9),
    "diagnoses": ["J18.900"], "covid_status": "none", "filing": "not_needed",
    "admission_seq": 1, "transfer_from": None, "account_balance_fen": 0,
    "start_basic_entitled_fen": 0, "start_serious_base_fen": 0,
    "start_assistance_entitled_fen": 0, "start_basic_paid_fen": 0, "start_serious_paid_fen": 0,
    "start_assistance_paid_fen": 0,
}  # fmt: skip
LINE: dict[str, Any] = {
    "encounter_id": 1, "sn": "1", "code": "X1", "category": "drug", "item_class": "A",
    "selfpay_bp": 0, "price_e6": 0, "qty_e4": 0, "price_cap_e6": None, "in_protocol": False,
    "temp_code": False,
}  # fmt: skip


def _tables(price: int, qty: int, cap: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    line = {**LINE, "price_e6": price, "qty_e4": qty, "price_cap_e6": cap}
    return pl.DataFrame([STAY], schema=E_SCHEMA), pl.DataFrame([line], schema=L_SCHEMA)


def _settle(enc: pl.DataFrame, lines: pl.DataFrame) -> BatchResult:
    px = PolicyExprs.of([CQ])
    cover = covered(enc.lazy(), px).collect()["encounter_id"]
    lf = lines.lazy()
    totals, order, runs = pl.collect_all([line_totals(lf, cover), line_order(lf), line_runs(lf)])
    bad = suspects(totals, order, runs)
    bad_lines = line_reasons(lf.filter(pl.col("encounter_id").is_in(bad.implode()))).collect()
    return settle_frame(enc, totals, bad_lines, px)


@pytest.mark.parametrize(
    ("price", "qty"),
    [
        (583, 3333),  # 0.000583 yuan x 0.3333: 0 fen
        (58300, 25000),  # 0.0583 yuan x 2.5 = 0.14575 yuan: 15 fen (half up)
        (MAX_I64, 1),  # the largest price, once
        (1, MAX_I64),  # the largest quantity, at the smallest price
        (3037000499, 3037000499),  # just under 2^63 - 1
        (MAX_I64 // 7, 7),  # the bound's largest multiple of 7
        (2**40 - 1, 2**23 - 1),  # inside the fast check's bounds
        (2**40, 2**22),  # outside them, checked exactly
    ],
)
def test_a_line_up_to_the_bound_settles_as_the_scalar_engine(price: int, qty: int) -> None:
    enc, lines = _tables(price, qty)
    got = batch_settle(enc, lines, [CQ])
    assert got["medfee_sumamt"][0] == line_amount(price, qty)
    assert differences(got, scalar_settle(enc, lines, [CQ])) == []


@pytest.mark.parametrize(
    ("price", "qty"),
    [
        (MAX_I64, 2),
        (2, MAX_I64 // 2 + 1),
        (3037000500, 3037000500),  # wraps to a negative int64
        (2**32, 2**31),  # exactly 2^63: wraps to -2^63
        (2**33, 2**33),  # 2^66: wraps to 0, which would look valid
    ],
)
def test_a_line_past_the_bound_is_refused(price: int, qty: int) -> None:
    assert price * qty > MAX_I64
    result = _settle(*_tables(price, qty))
    assert result.settled.height == 0
    reason = result.rejects["reason"][0]
    assert f"lines[sn=1].qty_e4: price_e6 × qty_e4 = {price} × {qty} exceeds 2^63 − 1" in reason


def test_an_over_cap_line_at_sub_fen_precision() -> None:
    """超限价 on a sub-fen price: ``line_amount(price - cap, qty)``, half up once."""
    enc, lines = _tables(123_456_789, 33_333, cap=100_000_001)
    got = batch_settle(enc, lines, [CQ])
    assert got["overlmt_selfpay"][0] == line_amount(23_456_788, 33_333) == 7819
    assert differences(got, scalar_settle(enc, lines, [CQ])) == []


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.integers(0, MAX_I64), st.integers(0, 2**32)),
    st.one_of(st.integers(0, MAX_I64), st.integers(0, 2**32)),
)
def test_the_bound_check_is_exact_for_every_int64_pair(price: int, qty: int) -> None:
    """Including the pairs whose product wraps in an int64 column; the fast form (no
    division) may flag a line that fits, never pass one that does not."""
    line = pl.DataFrame([{**LINE, "price_e6": price, "qty_e4": qty}], schema=L_SCHEMA)
    assert line.select(all_hold(line_checks())).item() == (price * qty <= MAX_I64)
    if line.select(all_hold(line_checks(fast=True))).item():
        assert price * qty <= MAX_I64
