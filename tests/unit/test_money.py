from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.core import money
from yibao.core.money import capped_increment, fen_from_yuan, line_amount, mul_bp, yuan_from_fen


def test_half_up() -> None:
    assert mul_bp(12345, 1000) == 1235  # 1234.5 -> 1235
    assert mul_bp(12344, 1000) == 1234
    assert line_amount(1500, 333) == 500  # 499.5 -> 500
    assert line_amount(1, 499) == 0
    assert mul_bp(0, 10000) == 0


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
        "MILLI_ONE",
        "capped_increment",
        "fen_from_yuan",
        "line_amount",
        "mul_bp",
        "scaled_int",
        "yuan_from_fen",
    ]
