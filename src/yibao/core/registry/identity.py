"""公民身份号码 (GB 11643-1999): 18 characters, the last an ISO 7064 MOD 11-2 check.

Layout: region (6 digits) + birth date (8, YYYYMMDD) + sequence (3) + check (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
from operator import mul

__all__ = ["age_on", "birth_date", "check_char", "psn_no_problem", "sex_code"]

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


def birth_date(psn_no: str) -> dt.date | None:
    """The birth date an 18-character ID number carries (characters 7–14), or None when
    ``psn_no`` is not a valid ID number (a masked one, a card number, a local id)."""
    if psn_no_problem(psn_no) is not None:
        return None
    return dt.date(int(psn_no[6:10]), int(psn_no[10:12]), int(psn_no[12:14]))


def sex_code(psn_no: str) -> str | None:
    """性别 (GB/T 2261.1) from the ID number's sequence: odd 17th digit ``"1"`` 男, even
    ``"2"`` 女; None when ``psn_no`` is not a valid ID number."""
    if psn_no_problem(psn_no) is not None:
        return None
    return "1" if int(psn_no[16]) % 2 else "2"


def age_on(psn_no: str, on: dt.date) -> int | None:
    """Full years of age on ``on`` (a birthday on 29 February counts from 1 March in
    other years); None when ``psn_no`` is not a valid ID number or ``on`` is before the
    birth date."""
    born = birth_date(psn_no)
    if born is None or on < born:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
