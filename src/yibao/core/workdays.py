"""Working days and due times, by China's official calendar (国务院办公厅 holiday
notices, with the adjusted working weekends and 2020's Spring Festival extension to
2020-02-02), from the `chinesecalendar` package's data. Pure: no clock, no I/O.

A time limit is data (configured per step, with the clause that sets it):
``TimeLimit(hours=24)`` runs over holidays (渝医保发〔2020〕3号 四(一): filings answered at
once, holidays included); ``TimeLimit(workdays=5)`` ends at the close of the fifth
working day after the start's, a day in Beijing time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar

from yibao.core.errors import InvalidRequest

__all__ = ["BEIJING", "TimeLimit", "due", "is_workday", "next_workday", "workdays_between"]

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_CLOSE = dt.time(23, 59, 59, tzinfo=BEIJING)


def is_workday(day: dt.date) -> bool:
    """A working day in China on ``day`` (weekends and holidays off, adjusted working
    weekends on). Years the calendar does not know are refused, never guessed."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        known = f"chinesecalendar {chinese_calendar.__version__}"
        problem = ("date", f"{day} is outside the working calendar ({known})")
        raise InvalidRequest.of([problem]) from exc


def next_workday(day: dt.date) -> dt.date:
    """The first working day after ``day``."""
    d = day + dt.timedelta(days=1)
    while not is_workday(d):
        d += dt.timedelta(days=1)
    return d


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end`` <= ``start``)."""
    n, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        n += is_workday(d)
    return n


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """How long a step may take: calendar hours (holidays included) or working days."""

    hours: int | None = None
    workdays: int | None = None

    def __post_init__(self) -> None:
        if (self.hours is None) == (self.workdays is None):
            raise ValueError("a time limit is either hours or workdays")
        if (self.hours or 0) < 0 or (self.workdays or 0) < 0:
            raise ValueError("a time limit is not negative")


def due(start: dt.datetime, limit: TimeLimit) -> dt.datetime:
    """When a step that began at ``start`` (an aware time) is due: ``start`` + hours, or
    the close (Beijing time) of the ``workdays``-th working day after ``start``'s day in
    Beijing (with 0: the close of that day, or of the next working day on a day off)."""
    if start.tzinfo is None:
        raise ValueError("due() takes an aware time")
    if limit.hours is not None:
        return start + dt.timedelta(hours=limit.hours)
    d = start.astimezone(BEIJING).date()
    for _ in range(limit.workdays or 0):
        d = next_workday(d)
    if limit.workdays == 0 and not is_workday(d):
        d = next_workday(d)
    return dt.datetime.combine(d, _CLOSE)
