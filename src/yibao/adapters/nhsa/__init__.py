"""The national platform's hospital interface (定点医药机构接口): the envelope codec.

Pure functions and Pydantic models, no HTTP: the service (issue 6) reads the body with
``parse_request`` and answers with ``success_response`` / ``error_response`` written by
``dumps``.

- ``numbers``: exact JSON (``loads`` keeps decimals as text, ``dumps`` writes them
  bare), yuan/ratio/pric/cnt <-> integer units, refusing what does not fit;
- ``fields``: shared field types, unknown-field collection, error paths;
- ``envelope``: request/response envelopes, ``inf_refmsgid``, ``time17``, ``err_msg``.
"""

from __future__ import annotations

from yibao.adapters.nhsa.envelope import (
    RequestEnvelope,
    ResponseEnvelope,
    err_msg_of,
    error_response,
    inf_refmsgid,
    parse_request,
    parse_response,
    success_response,
    time17,
)
from yibao.adapters.nhsa.fields import Decoded
from yibao.adapters.nhsa.numbers import JsonNumber, dumps, loads, ratio, yuan

__all__ = [
    "Decoded",
    "JsonNumber",
    "RequestEnvelope",
    "ResponseEnvelope",
    "dumps",
    "err_msg_of",
    "error_response",
    "inf_refmsgid",
    "loads",
    "parse_request",
    "parse_response",
    "ratio",
    "success_response",
    "time17",
    "yuan",
]
