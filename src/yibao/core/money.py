"""Money, ratios and quantities as integers, and the one rounding rule (SETTLEMENT.md §1).

- money is integer fen (分);
- a ratio is integer basis points (万分比, 10000 = 100 %);
- a unit price is integer millionths of a yuan (``price_e6``: 0.0583 yuan = 58300), a
  quantity integer ten-thousandths (``qty_e4``: 2.5 boxes = 25000): the national wire's
  ``pric`` and ``cnt``, 1:1.

Every product rounds half up on non-negative values. Yuan strings exist only at the
adapters' edges: ``fen_from_yuan`` and ``yuan_from_fen`` convert exactly, never through
a float.
"""

from __future__ import annotations

import re
from typing import Protocol, TypeVar

__all__ = [
    "BP_ONE",
    "E4_ONE",
    "E6_ONE",
    "LINE_UNIT",
    "MAX_I64",
    "Arith",
    "capped_increment",
    "fen_from_yuan",
    "line_amount",
    "mul_bp",
    "paid_capped",
    "scaled_int",
    "yuan_from_fen",
]

BP_ONE = 10000  # 100 % in basis points
E6_ONE = 10**6  # one yuan in price_e6
E4_ONE = 10**4  # one unit in qty_e4
LINE_UNIT = 10**8  # price_e6 * qty_e4 counts 10^-8 fen
MAX_I64 = 2**63 - 1  # the bound of price_e6, qty_e4 and their product (SETTLEMENT.md §1)
_HALF = LINE_UNIT // 2


class Arith(Protocol):
    """What the formula shapes need: ints and Polars expressions both qualify."""

    def __add__(self: A, other: A | int, /) -> A: ...
    def __sub__(self: A, other: A | int, /) -> A: ...
    def __mul__(self: A, other: A | int, /) -> A: ...
    def __floordiv__(self: A, other: A | int, /) -> A: ...


A = TypeVar("A", bound=Arith)


def mul_bp(fen: A, bp: A | int) -> A:
    """``fen`` times a ratio in basis points, rounded half up (SETTLEMENT.md §1)."""
    return (fen * bp + 5000) // 10000


def line_amount(price_e6: A, qty_e4: A | int) -> A:
    """Unit price (millionths of a yuan) times quantity (ten-thousandths) in fen, rounded
    half up once (det_item_fee_sumamt, SETTLEMENT.md §1).

    The product counts 10^-8 fen and may be as large as 2^63 − 1, so the half is never
    added to it (that would overflow an int64 column). Instead it is counted in half fen
    first and the half fen rounded up: ``(p // (10^8 / 2) + 1) // 2`` equals
    ``floor(p / 10^8 + 1/2)`` for every p ≥ 0 (floor(floor(y) / 2) = floor(y / 2)), and
    no intermediate exceeds p. The same expression serves ints and Polars expressions;
    on a column it is one wide division instead of a division and a remainder.
    """
    return (price_e6 * qty_e4 // _HALF + 1) // 2


def capped_increment(before_fen: int, raw_fen: int, cap_fen: int) -> int:
    """``min(before + raw, cap) - min(before, cap)``: what a running total may add under a
    limit that nothing ever gives back (a personal account's balance over a batch)."""
    return min(before_fen + raw_fen, cap_fen) - min(before_fen, cap_fen)


def paid_capped(entitled_after_fen: int, paid_before_fen: int, bound_fen: int) -> int:
    """The paid form of a yearly cap (SETTLEMENT.md §5, §6): what the capped cumulative
    entitlement ``entitled_after_fen`` (``H(E + x)``) leaves over what the fund has paid,
    never below 0 and never above this bill's base ``bound_fen``."""
    gap = entitled_after_fen - paid_before_fen
    if gap <= 0:
        return 0
    return bound_fen if bound_fen < gap else gap


_DECIMAL = re.compile(r"^(-?)(\d+)(?:\.(\d*))?$")


def scaled_int(text: str, places: int) -> int:
    """Parse a decimal string into an integer of ``10**-places`` units, exactly.

    More decimals than ``places`` (other than trailing zeros) is an error, never a
    rounding: ``scaled_int("12.345", 2)`` raises ``ValueError``.
    """
    m = _DECIMAL.match(text.strip())
    if m is None:
        raise ValueError(f"not a decimal number: {text!r}")
    sign, whole, frac = m.group(1), m.group(2), (m.group(3) or "")
    frac = frac.rstrip("0")
    if len(frac) > places:
        raise ValueError(f"{text!r} has more than {places} decimals")
    value: int = int(whole) * 10**places + (int(frac.ljust(places, "0")) if frac else 0)
    return -value if sign else value


def fen_from_yuan(text: str) -> int:
    """``"12.30"`` (yuan, at most two decimals) -> 1230 fen, exactly."""
    return scaled_int(text, 2)


def yuan_from_fen(fen: int) -> str:
    """1230 fen -> ``"12.30"``; exact, for the national envelope and reports."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"
