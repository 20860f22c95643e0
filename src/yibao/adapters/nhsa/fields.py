"""Field types shared by the wire models, and the mapping of their errors to problems.

Every wire model derives from ``Wire``: national field names as attribute names,
unknown fields kept (``extra="allow"``) so that ``unknown_fields`` can list them for
the log — "ignore unknown fields (log them), refuse only what is wrong" — and codes
that arrive as numbers (``"insutype": 310``) read as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, ClassVar, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError

from yibao.core.errors import InvalidRequest, Problem

__all__ = [
    "CST",
    "Code",
    "Date",
    "DateTime",
    "Decoded",
    "OptDateTime",
    "OptText",
    "Text",
    "Wire",
    "key_path",
    "problems_of",
    "unknown_fields",
    "validate",
    "wall_time",
]

CST = dt.timezone(dt.timedelta(hours=8), "CST")
"""The platform's clock: every wire time is Beijing time (UTC+8), written without zone."""

T = TypeVar("T")
M = TypeVar("M", bound="Wire")


class Wire(BaseModel):
    """Base of the wire models: national names, unknown fields kept, frozen.

    ``known`` lists the fields of the national schema a model accepts without reading
    them, so that they are not reported as unknown."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, frozen=True)
    known: ClassVar[frozenset[str]] = frozenset()


class Decoded(NamedTuple, Generic[T]):
    """A decoded input: the record in our vocabulary, and the unknown national fields
    the request carried (key paths, for the log)."""

    record: T
    unknown: tuple[str, ...]


def _blank_none(value: object) -> object:
    return None if isinstance(value, str) and value.strip() == "" else value


def _time(value: object, formats: tuple[str, ...], what: str) -> object:
    if not isinstance(value, str):
        return value
    for fmt in formats:
        try:
            return dt.datetime.strptime(value.strip(), fmt).replace(tzinfo=CST)
        except ValueError:
            continue
    raise PydanticCustomError("nhsa_time", "{msg}", {"msg": f"{value!r} is not {what}"})


def _datetime(value: object) -> object:
    value = _blank_none(value)
    return _time(value, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"), "yyyy-MM-dd HH:mm:ss")


def _date(value: object) -> object:
    got = _time(_blank_none(value), ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"), "yyyy-MM-dd")
    return got.date() if isinstance(got, dt.datetime) else got


def wall_time(at: dt.datetime) -> dt.datetime:
    """``at`` on the platform's clock (CST); a naive time is refused, not guessed."""
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone: pass an aware datetime")
    return at.astimezone(CST)


Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A required text field (ids, codes); a number is read as its text."""
OptText = Annotated[str | None, BeforeValidator(_blank_none)]
"""An optional text: ``null`` and ``""`` both mean absent."""
Code = Annotated[str, StringConstraints(min_length=1, max_length=30)]
DateTime = Annotated[dt.datetime, BeforeValidator(_datetime)]
"""``yyyy-MM-dd HH:mm:ss`` (a bare date reads as midnight), read as Beijing time."""
OptDateTime = Annotated[dt.datetime | None, BeforeValidator(_datetime)]
Date = Annotated[dt.date, BeforeValidator(_date)]


def problems_of(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Pydantic's errors as ``(national key path, message)`` problems."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        out.append((key_path(prefix, *err["loc"]), err["msg"]))
    return out


def key_path(prefix: str, *parts: object) -> str:
    """The national key path of ``parts`` under ``prefix``: names joined by dots, list
    indexes in brackets (``input.feedetail[3].pric``), as the platform writes them."""
    out = prefix
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def validate(
    model: type[M],
    doc: object,
    prefix: str,
    explain: Callable[[Problem], Problem] | None = None,
) -> M:
    """``model`` from ``doc``, or ``InvalidRequest`` naming every national key path."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        problems = problems_of(exc, prefix)
        raise InvalidRequest.of([explain(p) for p in problems] if explain else problems) from None


def unknown_fields(model: BaseModel, prefix: str = "") -> tuple[str, ...]:
    """Key paths of every field the national schema does not list, nested included."""
    known = model.known if isinstance(model, Wire) else frozenset()
    out = [f"{prefix}{name}" for name in sorted(model.model_extra or {}) if name not in known]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = list(enumerate(value)) if isinstance(value, list | tuple) else [(None, value)]
        for i, item in items:
            if isinstance(item, BaseModel):
                where = f"{prefix}{name}" + (f"[{i}]." if i is not None else ".")
                out += unknown_fields(item, where)
    return tuple(out)
