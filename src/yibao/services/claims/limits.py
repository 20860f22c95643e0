"""Each claim step's time limit in working days, read from ``limits.yaml`` (data, with
its clause, versioned by the day the step starts), and the claim's clock over them
(``yibao.core.workdays``: the same working calendar as out-of-area filings)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from yibao.core.workdays import BEIJING, TimeLimit, due, workdays_between

__all__ = [
    "STEP_NAMES",
    "Limit",
    "due_at",
    "limit_for",
    "parse_limits",
    "paused_left",
    "resumed_due",
]

STEP_NAMES = {
    "received": "乡镇移交",
    "forwarded": "初审",
    "reviewed": "复核",
    "checked": "结算",
    "settled": "审批",
    "approved": "纳入支付",
    "in_batch": "银行支付",
}
"""The step a claim in each status waits for (its clock runs while it waits)."""


class _Version(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    from_: dt.date = Field(alias="from")
    clause: str = Field(min_length=1)
    steps: dict[str, int]


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: list[_Version] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Limit:
    status: str
    workdays: int
    clause: str


def parse_limits(doc: Any) -> list[_Version]:
    """The versions of a limits document, newest first; unknown steps or negative day
    counts are refused."""
    got = _Limits.model_validate(doc)
    for v in got.versions:
        for step, days in v.steps.items():
            if step not in STEP_NAMES:
                raise ValueError(f"limits: unknown step {step!r} (known: {sorted(STEP_NAMES)})")
            if days < 0:
                raise ValueError(f"limits: step {step} has a negative day count")
    return sorted(got.versions, key=lambda v: v.from_, reverse=True)


@cache
def _shipped() -> tuple[_Version, ...]:
    text = resources.files(__package__).joinpath("limits.yaml").read_text("utf-8")
    return tuple(parse_limits(yaml.safe_load(text)))


def limit_for(status: str, at: dt.datetime) -> Limit | None:
    """The limit of the step a claim in ``status`` waits for, from the version in force
    on the day (Beijing) the step starts; None when the status has no clock."""
    day = at.astimezone(BEIJING).date()
    for v in _shipped():
        if v.from_ <= day:
            days = v.steps.get(status)
            return None if days is None else Limit(status, days, v.clause)
    return None


def due_at(status: str, at: dt.datetime) -> dt.datetime | None:
    """When the step a claim in ``status`` waits for is due, in UTC (as stored)."""
    lim = limit_for(status, at)
    return None if lim is None else due(at, TimeLimit(workdays=lim.workdays)).astimezone(dt.UTC)


def paused_left(due_time: dt.datetime, at: dt.datetime) -> int:
    """Working days left on a step's clock when it is paused at ``at`` (退回补正):
    0 when already due."""
    return workdays_between(at.astimezone(BEIJING).date(), due_time.astimezone(BEIJING).date())


def resumed_due(left: int, at: dt.datetime) -> dt.datetime:
    """The step's new due time when its clock resumes at ``at`` with ``left`` days."""
    return due(at, TimeLimit(workdays=left)).astimezone(dt.UTC)
