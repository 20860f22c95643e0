"""Exact numbers: JSON text in, integer units out, and back, never through a float."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from yibao.adapters.nhsa import numbers
from yibao.adapters.nhsa.numbers import (
    JsonNumber,
    decimal_text,
    dumps,
    fen_text,
    loads,
    ratio,
    scaled,
    yuan,
)


def test_loads_keeps_decimals_as_text() -> None:
    doc = loads('{"a": 0, "b": 0.00, "c": 2685.99, "d": "12.30", "e": null, "f": 1e2}')
    assert doc == {"a": 0, "b": "0.00", "c": "2685.99", "d": "12.30", "e": None, "f": "1e2"}
    assert isinstance(doc["b"], JsonNumber)
    assert not isinstance(doc["d"], JsonNumber)
    assert not any(isinstance(v, float) for v in doc.values())
    with pytest.raises(ValueError, match="NaN is not a number"):
        loads('{"a": NaN}')


@pytest.mark.parametrize(
    ("value", "fen"),
    [(0, 0), ("0.00", 0), (JsonNumber("2685.99"), 268599), ("12.3", 1230), (12, 1200),
     ("-1.05", -105), (" 7 ", 700), ("1e2", 10000), ("1.5E-1", 15), (Decimal("3.10"), 310),
     (None, None), ("", None), ("  ", None)],
)  # fmt: skip
def test_fen_parsing(value: object, fen: int | None) -> None:
    assert scaled(value, 2) == fen


@pytest.mark.parametrize(
    ("value", "message"),
    [("12.345", "more than 2 decimals"), (1.5, "binary float"), (True, "bool"),
     ("abc", "not a decimal number"), ("1e-3", "more than 2 decimals"), ([], "list"),
     ("1e", "not a number")],
)  # fmt: skip
def test_fen_refusals(value: object, message: str) -> None:
    with pytest.raises(Exception, match=message):
        scaled(value, 2)


def test_decimal_text() -> None:
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(5) == "5"


@given(st.integers(-(10**16), 10**16))
def test_fen_to_yuan_text_to_fen_is_the_identity(fen: int) -> None:
    text = yuan(fen)
    assert scaled(text, 2) == fen
    assert scaled(loads(dumps({"x": text}))["x"], 2) == fen


@given(st.integers(0, 10000))
def test_ratio_round_trip(bp: int) -> None:
    assert scaled(ratio(bp), 4) == bp


@given(st.integers(-(10**12), 10**12), st.integers(1, 8))
def test_fen_text_round_trip(value: int, places: int) -> None:
    assert scaled(fen_text(value, places), places) == value


def test_field_types_through_pydantic() -> None:
    from pydantic import TypeAdapter

    assert TypeAdapter(numbers.Fen).validate_python(JsonNumber("1.10")) == 110
    assert TypeAdapter(numbers.OptFen).validate_python("") is None
    assert TypeAdapter(numbers.Bp).validate_python("0.1000") == 1000
    assert TypeAdapter(numbers.Price6).validate_python("12.345678") == 12345678
    assert TypeAdapter(numbers.Qty4).validate_python(-2) == -20000
    for adapter, bad in ((numbers.Fen, None), (numbers.Bp, "1.5"), (numbers.Bp, "0.12345")):
        with pytest.raises(ValidationError):
            TypeAdapter(adapter).validate_python(bad)


def test_dumps_writes_numbers_bare() -> None:
    doc = {"a": yuan(1230), "b": ratio(9000), "c": None, "d": True, "e": [1, "二"],
           "f": Decimal("0.10"), "g": (fen_text(-5, 2),)}  # fmt: skip
    text = dumps(doc)
    assert text == '{"a":12.30,"b":0.9000,"c":null,"d":true,"e":[1,"二"],"f":0.10,"g":[-0.05]}'
    assert json.loads(text)["e"] == [1, "二"]
    with pytest.raises(TypeError, match="float"):
        dumps({"x": 0.1})
