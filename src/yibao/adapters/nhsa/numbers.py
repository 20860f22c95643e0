"""Exact numbers on the national wire: JSON text in, integer units out, and back.

Amounts arrive as JSON numbers (``0``, ``0.00``, ``2685.99``), sometimes as strings,
sometimes ``""`` or ``null``. ``loads`` never lets a binary float exist: every JSON
number with a fraction or an exponent is kept as its text (``JsonNumber``, a ``str``),
integers stay ``int``. The field parsers turn that text into integer units exactly —
fen (16,2), basis points (5,4), 1e-6 yuan (``pric`` 16,6), 1e-4 units (``cnt`` 16,4) —
and refuse a value with more decimals than its unit, never rounding it.

Going out, ``yuan`` and ``ratio`` build ``JsonNumber`` texts ("12.30", "0.9000") and
``dumps`` writes them as bare JSON numbers, exactly as built (DECISIONS 0036).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from yibao.core.money import MAX_I64, scaled_int, yuan_from_fen

__all__ = [
    "Bp",
    "Fen",
    "JsonNumber",
    "OptFen",
    "Price6",
    "Qty4",
    "dumps",
    "fen_text",
    "loads",
    "ratio",
    "scaled",
    "yuan",
]


class JsonNumber(str):
    """The exact text of a JSON number (``"2685.99"``): parsed from the wire by
    ``loads``, written unquoted by ``dumps``."""

    __slots__ = ()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number the interface accepts")


def loads(data: str | bytes) -> Any:
    """``json.loads`` without floats: fractions and exponents stay ``JsonNumber`` text;
    ``NaN`` and ``Infinity`` are refused."""
    return json.loads(data, parse_float=JsonNumber, parse_constant=_no_constant)


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("nhsa_number", "{msg}", {"msg": message})


def decimal_text(value: object) -> str | None:
    """A wire value as plain decimal text: ``None`` for ``null`` and ``""``; ``int`` and
    number texts as they are; exponents expanded exactly. Floats and bools are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        kind = "a binary float" if isinstance(value, float) else type(value).__name__
        raise _fail(f"{value!r} is {kind}, not an exact number")
    text = str(value).strip() if not isinstance(value, Decimal) else format(value, "f")
    if text == "":
        return None
    if "e" in text or "E" in text:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _fail(f"{value!r} is not a number") from None
        if not number.is_finite() or not _EXPONENTS[0] <= number.adjusted() <= _EXPONENTS[1]:
            raise _fail(f"{text} is beyond 64 bits in any unit of the interface")
        text = format(number, "f")
    return text


_EXPONENTS = (-40, 19)
"""The decimal exponents a wire number may have once written out: beyond, it is no
64-bit amount in any unit (and writing 1e999999999 out would take a gigabyte)."""


def scaled(value: object, places: int) -> int | None:
    """A wire number as an integer of ``10**-places`` units, exactly, or ``None``."""
    text = decimal_text(value)
    if text is None:
        return None
    try:
        return scaled_int(text, places)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _within_64_bits(got: int | None, value: object) -> int | None:
    if got is not None and not -MAX_I64 - 1 <= got <= MAX_I64:
        raise _fail(f"{decimal_text(value)} yuan is beyond 64 bits in fen")
    return got


def _required(value: object, places: int) -> int:
    got = scaled(value, places)
    if got is None:
        raise _fail("a number is required here")
    return got


def _fen(value: object) -> int:
    got = _within_64_bits(_required(value, 2), value)
    assert got is not None
    return got


def _opt_fen(value: object) -> int | None:
    return _within_64_bits(scaled(value, 2), value)


def _bp(value: object) -> int:
    got = _required(value, 4)
    if not 0 <= got <= 10000:
        raise _fail(f"{value} is not a ratio between 0 and 1")
    return got


Fen = Annotated[int, BeforeValidator(_fen)]
"""Yuan (16,2) on the wire, integer fen here; required."""
OptFen = Annotated[int | None, BeforeValidator(_opt_fen)]
"""Yuan (16,2) on the wire, integer fen here; ``null`` or ``""`` -> ``None``."""
Bp = Annotated[int, BeforeValidator(_bp)]
"""A ratio (5,4) on the wire, basis points here: ``0.1000`` = 1000 bp."""


def _exact(value: object, places: int, name: str, unit: str) -> int:
    """``value`` in ``10**-places`` units; more decimals than that is refused by name."""
    text = decimal_text(value)
    if text is not None and len(text.partition(".")[2].rstrip("0")) > places:
        raise _fail(f"{name} {text} has more than {places} decimals ({name} is exact to "
                    f"{unit}); yibao refuses it, never rounds")  # fmt: skip
    return _required(value, places)


Price6 = Annotated[int, BeforeValidator(lambda v: _exact(v, 6, "pric", "10^-6 yuan"))]
"""``pric`` (16,6) = ``price_e6``, 1:1: integer millionths of a yuan (1 fen = 10 000)."""
Qty4 = Annotated[int, BeforeValidator(lambda v: _exact(v, 4, "cnt", "10^-4"))]
"""``cnt`` (16,4) = ``qty_e4``, 1:1: integer ten-thousandths of a unit (2.5 = 25000)."""


def yuan(fen: int) -> JsonNumber:
    """Integer fen -> a yuan number with two decimals (``1230`` -> ``12.30``)."""
    return JsonNumber(yuan_from_fen(fen))


def fen_text(value: int, places: int) -> JsonNumber:
    """An integer of ``10**-places`` units as a JSON number (``2500, 4`` -> ``0.2500``)."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 10**places)
    return JsonNumber(f"{sign}{whole}.{part:0{places}d}")


def ratio(bp: int) -> JsonNumber:
    """Basis points -> a 5,4 ratio (``9000`` -> ``0.9000``)."""
    return fen_text(bp, 4)


def dumps(doc: object) -> str:
    """Compact JSON (UTF-8 text) with ``JsonNumber`` written as bare numbers; refuses
    floats, so no amount can be rendered through a binary float."""
    if isinstance(doc, JsonNumber):
        return str.__str__(doc)
    if doc is None or isinstance(doc, bool | str):
        return json.dumps(doc, ensure_ascii=False)
    if isinstance(doc, int):
        return str(int(doc))
    if isinstance(doc, Decimal):
        return format(doc, "f")
    if isinstance(doc, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in doc.items())
        return "{" + ",".join(items) + "}"
    if isinstance(doc, list | tuple):
        return "[" + ",".join(dumps(v) for v in doc) + "]"
    raise TypeError(f"cannot write {type(doc).__name__} to the national envelope")
