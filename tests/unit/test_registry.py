"""Registry rows: ID check digits, regions, cell parsing and the cross-column rules."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.core.registry import KINDS, kind_named
from yibao.core.registry.identity import check_char, psn_no_problem
from yibao.core.registry.regions import ancestors, is_region, prefix

# GB 11643-1999's own example and two computed by hand (ISO 7064 MOD 11-2).
VALID = ["11010519491231002X", "500102198003150016", "440524188001010014"]


@pytest.mark.parametrize("psn_no", VALID)
def test_valid_id_numbers(psn_no: str) -> None:
    assert psn_no_problem(psn_no) is None
    assert check_char(psn_no[:17]) == psn_no[17]


@pytest.mark.parametrize(
    ("psn_no", "reason"),
    [
        ("500102198003150017", "check digit"),
        ("50010219800315001", "18 characters"),
        ("5001021980031500160", "18 characters"),
        ("50010219800315001x", "check digit"),  # lower-case x is not the check character
        ("500102198013150016", "birth date"),
        ("A00102198003150016", "digits"),
        ("000102198003150016", "digits"),
    ],
)
def test_invalid_id_numbers_say_why_without_the_number(psn_no: str, reason: str) -> None:
    problem = psn_no_problem(psn_no)
    assert problem is not None
    assert reason in problem
    assert psn_no not in problem


def test_regions() -> None:
    assert is_region("500102")
    assert not is_region("050102")
    assert not is_region("50010")
    assert prefix("500000") == "50"
    assert prefix("500100") == "5001"
    assert prefix("500102") == "500102"
    assert ancestors("500102") == ("500102", "500100", "500000")
    assert ancestors("500100") == ("500100", "500000")
    assert ancestors("500000") == ("500000",)


def _insuree(**over: str) -> list[str]:
    row = dict.fromkeys(KINDS["insurees"].names, "")
    row |= {
        "psn_no": VALID[1],
        "name": "张三",
        "scheme": "employee",
        "insured_region": "500102",
        "enrolled": "true",
        "valid_from": "2020-01-01",
    }
    row |= over
    return list(row.values())


def test_a_good_row_parses_to_values_with_defaults() -> None:
    values, problems = KINDS["insurees"].parse_row(_insuree())
    assert problems == []
    got = dict(zip(KINDS["insurees"].names, values, strict=True))
    assert got["assistance_category"] == "none"
    assert got["account_opening_fen"] == 0
    assert got["enrolled"] is True
    assert got["valid_from"] == dt.date(2020, 1, 1)
    assert got["valid_to"] is None


@pytest.mark.parametrize(
    ("over", "column", "reason"),
    [
        ({"scheme": "resident"}, "resident_tier", "required for scheme resident"),
        ({"resident_tier": "1"}, "resident_tier", "empty otherwise"),
        ({"scheme": "farmer"}, "scheme", "not one of"),
        ({"township": "500101001"}, "township", "not inside insured_region"),
        ({"assistance_category": "dibao"}, "assistance_from", "required for"),
        ({"assistance_from": "2020-01-01"}, "assistance_from", "only with"),
        ({"valid_to": "2019-12-31"}, "valid_to", "before valid_from"),
        ({"valid_from": "2020-13-01"}, "valid_from", "not a date"),
        ({"account_opening_fen": "12.50"}, "account_opening_fen", "whole number"),
        ({"account_opening_fen": "-1"}, "account_opening_fen", "outside"),
        ({"enrolled": "maybe"}, "enrolled", "true/false"),
        ({"name": ""}, "name", "required"),
        ({"name": "张" * 51}, "name", "longer than 50"),
    ],
)
def test_row_rules(over: dict[str, str], column: str, reason: str) -> None:
    _, problems = KINDS["insurees"].parse_row(_insuree(**over))
    assert any(c == column and reason in why for c, why in problems), problems


def test_every_field_problem_of_a_row_is_reported() -> None:
    _, problems = KINDS["insurees"].parse_row(
        _insuree(psn_no="123", scheme="x", enrolled="?", valid_from="")
    )
    assert [c for c, _ in problems] == ["psn_no", "scheme", "enrolled", "valid_from"]


def test_catalog_selfpay_only_for_class_b() -> None:
    k = KINDS["catalog"]
    row = ["500000", "X1", "药", "drug", "A", "1000", "", "", "2020-01-01", ""]
    assert k.parse_row(row)[1] == [
        ("selfpay_bp", "only class B items have a 先行自付 ratio, not A")
    ]
    row[4] = "B"
    assert k.parse_row(row)[1] == []


def test_provider_dates_in_order() -> None:
    k = KINDS["providers"]
    row = [
        "H1",
        "医院",
        "500102",
        "",
        "2",
        "",
        "2020-01-01",
        "2020-02-01",
        "2020-01-01",
        "2019-01-01",
        "",
    ]
    cols = [c for c, _ in k.parse_row(row)[1]]
    assert cols == ["designated_from", "covid_designated_to"]


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="insurees, providers, catalog"):
        kind_named("people")
