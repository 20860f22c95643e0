"""JSON -> ``SettleRequest``, strictly: unknown keys, wrong types or enumerations and
negative amounts are refused with the key path of each problem (e.g. ``lines.1.price_e6``).

Pydantic validates the engine's own dataclasses (no second schema to keep in step).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from yibao.core.engine.model import SettleRequest
from yibao.core.errors import InvalidRequest, Problem

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

__all__ = ["parse_request", "request_from_mapping", "validation_problems"]


@functools.cache
def _adapter() -> TypeAdapter[SettleRequest]:
    from pydantic import TypeAdapter

    return TypeAdapter(SettleRequest)


def validation_problems(err: ValidationError) -> list[Problem]:
    """Pydantic errors as (key path, message) pairs, in our words."""
    out: list[Problem] = []
    for e in err.errors(include_url=False):
        path = ".".join(str(p) for p in e["loc"]) or "(request)"
        kind = e["type"]
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):
            msg = "unknown key"
        elif kind in ("missing", "missing_keyword_argument"):
            msg = "missing key"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if "input" in e and kind != "json_invalid":
                msg += f" (got {json.dumps(e['input'], default=str, ensure_ascii=False)[:60]})"
        out.append((path, msg))
    return out


def parse_request(data: bytes | str) -> SettleRequest:
    """Validate a JSON settlement request (SETTLEMENT.md §2, the cases' README)."""
    from pydantic import ValidationError

    try:
        return _adapter().validate_json(data, strict=True)
    except ValidationError as exc:
        raise InvalidRequest.of(validation_problems(exc)) from None


def request_from_mapping(doc: Any) -> SettleRequest:
    """Validate an already-decoded request (dates may be ``date`` or ISO strings)."""
    return parse_request(json.dumps(doc, default=_iso, ensure_ascii=False))


def _iso(x: Any) -> str:
    if hasattr(x, "isoformat"):
        return str(x.isoformat())
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
