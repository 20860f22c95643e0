"""公民身份号码 (GB 11643-1999): 18 characters, the last an ISO 7064 MOD 11-2 check.

Layout: region (6 digits) + birth date (8, YYYYMMDD) + sequence (3) + check (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
from operator import mul

__all__ = ["check_char", "psn_no_problem"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2**(17-i) mod 11
_CHECK = "10X98765432"  # indexed by the weighted sum mod 11
_DIGITS = frozenset("0123456789")
_ZERO = ord("0") * sum(_WEIGHTS)  # the weighted sum of "0" * 17: subtract it from bytes


def check_char(body17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(map(mul, body17.encode("ascii"), _WEIGHTS)) - _ZERO
    return _CHECK[total % 11]


def psn_no_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-character ID number, or None when it is.

    The reason never repeats the number (it is personal data)."""
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    body = value[:17]
    if not _DIGITS.issuperset(body) or value[0] == "0":
        return "the first 17 characters must be digits (region first)"
    try:
        dt.date.fromisoformat(f"{body[6:10]}-{body[10:12]}-{body[12:14]}")
    except ValueError:
        return "characters 7-14 are not a birth date YYYYMMDD"
    if value[17] != check_char(body):
        return "check digit does not match (ISO 7064 MOD 11-2)"
    return None
