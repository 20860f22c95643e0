"""Working days over 2020's Spring Festival (extended to 2020-02-02 by the State Council)
and its adjusted working Sunday 2020-01-19."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.core.errors import InvalidRequest
from yibao.core.workdays import BEIJING, TimeLimit, due, is_workday, next_workday, workdays_between


def test_2020_spring_festival_and_its_extension_are_days_off() -> None:
    assert is_workday(dt.date(2020, 1, 19))  # Sunday, worked for the holiday
    assert not is_workday(dt.date(2020, 1, 24))  # 除夕
    assert not is_workday(dt.date(2020, 1, 31))  # the extension (国办发明电〔2020〕1号)
    assert not is_workday(dt.date(2020, 2, 2))
    assert is_workday(dt.date(2020, 2, 3))
    assert next_workday(dt.date(2020, 1, 23)) == dt.date(2020, 2, 3)


def test_due_in_workdays_skips_the_holiday_and_hours_do_not() -> None:
    t = dt.datetime(2020, 1, 23, 16, 0, tzinfo=BEIJING)
    assert due(t, TimeLimit(workdays=1)) == dt.datetime(2020, 2, 3, 23, 59, 59, tzinfo=BEIJING)
    assert due(t, TimeLimit(workdays=3)) == dt.datetime(2020, 2, 5, 23, 59, 59, tzinfo=BEIJING)
    assert due(t, TimeLimit(hours=24)) == dt.datetime(2020, 1, 24, 16, 0, tzinfo=BEIJING)
    late = dt.datetime(2020, 1, 23, 17, 0, tzinfo=dt.UTC)  # already 01-24 in Beijing
    assert due(late, TimeLimit(workdays=0)).date() == dt.date(2020, 2, 3)
    with pytest.raises(ValueError, match="aware"):
        due(t.replace(tzinfo=None), TimeLimit(hours=1))
    assert workdays_between(dt.date(2020, 1, 20), dt.date(2020, 2, 4)) == 5


def test_a_limit_is_hours_or_workdays_and_unknown_years_are_refused() -> None:
    with pytest.raises(ValueError, match="either"):
        TimeLimit()
    with pytest.raises(ValueError, match="either"):
        TimeLimit(hours=1, workdays=1)
    with pytest.raises(InvalidRequest, match="outside the working calendar"):
        is_workday(dt.date(1990, 1, 1))
