"""Cell parsers: the text of a cell -> a value, or ``ValueError`` with the reason.

Cells arrive stripped; an empty cell is handled by the column (``Column.required`` and
``Column.default``), never by the parser. Reasons never repeat personal data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from yibao.core.registry.identity import psn_no_problem
from yibao.core.registry.regions import is_region

__all__ = [
    "Parser",
    "Value",
    "boolean",
    "choice",
    "code",
    "date",
    "integer",
    "psn_no",
    "region",
    "text",
    "township",
    "value_text",
]

Value = str | int | bool | dt.date | None
Parser = Callable[[str], Value]

_TRUE = frozenset({"true", "1", "yes", "y", "是"})
_FALSE = frozenset({"false", "0", "no", "n", "否"})
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._\-]*\Z")


def text(max_len: int) -> Parser:
    def parse(cell: str) -> str:
        if len(cell) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        return cell

    return parse


def code(max_len: int) -> Parser:
    """A code: letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit."""

    def parse(cell: str) -> str:
        if len(cell) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        if not _CODE.match(cell):
            raise ValueError(f"{cell!r} is not a code (letters, digits, . _ -)")
        return cell

    return parse


def choice(*options: str) -> Parser:
    allowed = frozenset(options)

    def parse(cell: str) -> str:
        if cell not in allowed:
            raise ValueError(f"{cell!r} is not one of {', '.join(options)}")
        return cell

    return parse


def integer(lo: int, hi: int) -> Parser:
    def parse(cell: str) -> int:
        if not (cell.isascii() and (cell.isdigit() or (cell[0] == "-" and cell[1:].isdigit()))):
            raise ValueError(f"{cell!r} is not a whole number")
        n = int(cell)
        if not lo <= n <= hi:
            raise ValueError(f"{n} is outside {lo}..{hi}")
        return n

    return parse


def _date(cell: str) -> dt.date:
    if len(cell) != 10:
        raise ValueError(f"{cell!r} is not a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(cell)
    except ValueError:
        raise ValueError(f"{cell!r} is not a date YYYY-MM-DD") from None


def _boolean(cell: str) -> bool:
    low = cell.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{cell!r} is not true/false (1/0, 是/否)")


def _psn_no(cell: str) -> str:
    problem = psn_no_problem(cell)
    if problem is not None:
        raise ValueError(f"not a valid ID number: {problem}")
    return cell


def _region(cell: str) -> str:
    if not is_region(cell):
        raise ValueError(f"{cell!r} is not a 6-digit region code")
    return cell


def _township(cell: str) -> str:
    if not (len(cell) == 9 and is_region(cell[:6]) and cell.isdigit()):
        raise ValueError(f"{cell!r} is not a 9-digit township code (region + 3 digits)")
    return cell


date: Parser = _date
boolean: Parser = _boolean
psn_no: Parser = _psn_no
region: Parser = _region
township: Parser = _township


def value_text(value: Value) -> str:
    """The cell text of a value, as exports write it and imports read it back."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
