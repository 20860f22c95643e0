from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.core import money
from yibao.core.money import (
    MAX_I64,
    capped_increment,
    fen_from_yuan,
    line_amount,
    mul_bp,
    paid_capped,
    yuan_from_fen,
)


def test_half_up() -> None:
    assert mul_bp(12345, 1000) == 1235  # 1234.5 -> 1235
    assert mul_bp(12344, 1000) == 1234
    assert line_amount(1500 * 10**4, 3330) == 500  # 15 yuan x 0.333 = 499.5 fen -> 500
    assert line_amount(10**4, 4990) == 0  # 0.499 fen
    assert line_amount(58300, 25000) == 15  # 0.0583 yuan x 2.5 = 14.575 fen
    assert line_amount(58300, 3333) == 2  # 1.943139 fen
    assert mul_bp(0, 10000) == 0


@given(st.integers(0, MAX_I64), st.integers(0, MAX_I64))
def test_line_amount_is_the_one_rounding_up_to_the_bound(price: int, qty: int) -> None:
    """``q + (r >= half)`` is ``(p * q + half) // unit`` exactly, and the Polars form (int64
    columns, the half never added) agrees wherever the product is within 2^63 - 1."""
    import polars as pl

    if price * qty > MAX_I64:
        qty = MAX_I64 // price
    want = (price * qty + 50_000_000) // 100_000_000
    assert line_amount(price, qty) == want
    frame = pl.DataFrame({"p": [price], "q": [qty]}, schema={"p": pl.Int64, "q": pl.Int64})
    assert frame.select(line_amount(pl.col("p"), pl.col("q"))).item() == want


@given(st.integers(0, 10**13), st.integers(0, 10**13), st.integers(0, 10**13))
def test_paid_capped(h_after: int, paid: int, bound: int) -> None:
    got = paid_capped(h_after, paid, bound)
    assert got == min(bound, max(0, h_after - paid))
    assert 0 <= got <= bound
    assert paid + got <= max(paid, h_after)


@given(st.integers(0, 10**13), st.integers(0, 10000))
def test_mul_bp_never_exceeds_and_is_nearest(fen: int, bp: int) -> None:
    got = mul_bp(fen, bp)
    assert 0 <= got <= fen
    assert abs(got * 10000 - fen * bp) <= 5000


@given(st.integers(0, 10**12), st.integers(0, 10**12), st.integers(0, 10**12))
def test_capped_increment_sums_to_the_cap(a: int, b: int, cap: int) -> None:
    first = capped_increment(0, a, cap)
    second = capped_increment(a, b, cap)
    assert first + second == min(a + b, cap)


@pytest.mark.parametrize(
    ("text", "fen"), [("12.30", 1230), ("0", 0), ("0.1", 10), ("-1.05", -105), ("12.300", 1230)]
)
def test_fen_from_yuan(text: str, fen: int) -> None:
    assert fen_from_yuan(text) == fen


@pytest.mark.parametrize("text", ["12.345", "1e3", "abc", "", "1.2.3", "0x10"])
def test_fen_from_yuan_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked elsewhere
        fen_from_yuan(text)


@given(st.integers(-(10**15), 10**15))
def test_yuan_round_trip(fen: int) -> None:
    assert fen_from_yuan(yuan_from_fen(fen)) == fen


def test_scaled_int_six_places() -> None:
    assert money.scaled_int("1.000001", 6) == 1000001


def test_public_names_are_pinned() -> None:
    assert sorted(money.__all__) == [
        "Arith",
        "BP_ONE",
        "E4_ONE",
        "E6_ONE",
        "LINE_UNIT",
        "MAX_I64",
        "capped_increment",
        "fen_from_yuan",
        "line_amount",
        "mul_bp",
        "paid_capped",
        "scaled_int",
        "yuan_from_fen",
    ]
