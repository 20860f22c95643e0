"""What an 18-character ID number tells: birth date, sex, age (1101's brdy, gend, age)."""

from __future__ import annotations

import datetime as dt

from yibao.core.registry.identity import age_on, birth_date, check_char, sex_code


def _id(body17: str) -> str:
    return body17 + check_char(body17)


MALE = _id("50010219800315001")  # sequence 001: odd, 男
FEMALE = _id("50010219920229002")  # born on 29 February 1992, sequence 002: even, 女


def test_birth_date_and_sex_come_from_the_number() -> None:
    assert birth_date(MALE) == dt.date(1980, 3, 15)
    assert sex_code(MALE) == "1"
    assert birth_date(FEMALE) == dt.date(1992, 2, 29)
    assert sex_code(FEMALE) == "2"


def test_age_counts_full_years_and_leap_birthdays() -> None:
    assert age_on(MALE, dt.date(2020, 3, 14)) == 39
    assert age_on(MALE, dt.date(2020, 3, 15)) == 40
    assert age_on(FEMALE, dt.date(2021, 2, 28)) == 28  # no 29 February in 2021
    assert age_on(FEMALE, dt.date(2021, 3, 1)) == 29
    assert age_on(FEMALE, dt.date(1990, 1, 1)) is None  # before the birth


def test_anything_but_a_valid_number_tells_nothing() -> None:
    masked = MALE[:6] + "********" + MALE[14:]
    wrong_check = MALE[:17] + ("0" if MALE[17] != "0" else "1")
    for value in (masked, wrong_check, "H123", ""):
        assert birth_date(value) is None
        assert sex_code(value) is None
        assert age_on(value, dt.date(2020, 1, 1)) is None
