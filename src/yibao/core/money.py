"""Money, ratios and quantities as integers, and the one rounding rule (SETTLEMENT.md §1).

- money is integer fen (分);
- a ratio is integer basis points (万分比, 10000 = 100 %);
- a quantity is integer thousandths (``qty_milli``: 2.5 boxes = 2500).

Every product rounds half up on non-negative values. Yuan strings exist only at the
adapters' edges: ``fen_from_yuan`` and ``yuan_from_fen`` convert exactly, never through
a float.
"""

from __future__ import annotations

import re
from typing import Protocol, TypeVar

__all__ = [
    "BP_ONE",
    "MILLI_ONE",
    "Arith",
    "capped_increment",
    "fen_from_yuan",
    "line_amount",
    "mul_bp",
    "scaled_int",
    "yuan_from_fen",
]

BP_ONE = 10000  # 100 % in basis points
MILLI_ONE = 1000  # one unit in thousandths


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


def line_amount(price_fen: A, qty_milli: A | int) -> A:
    """Unit price times a quantity in thousandths, rounded half up (det_item_fee_sumamt)."""
    return (price_fen * qty_milli + 500) // 1000


def capped_increment(before_fen: int, raw_fen: int, cap_fen: int) -> int:
    """What this encounter may add under a yearly cap (SETTLEMENT.md §6).

    ``min(before + raw, cap) - min(before, cap)``: settling encounters one by one with
    carried cumulative totals gives the same fen as one cumulative pass over the year.
    """
    return min(before_fen + raw_fen, cap_fen) - min(before_fen, cap_fen)


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
