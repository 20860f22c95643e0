"""The national platform's hospital interface (定点医药机构接口): the envelope codec.

Pure functions and Pydantic models, no HTTP: the service (issue 6) reads the body with
``parse_request``, decodes ``input`` with ``decode``, calls one service function and
answers with ``success_response`` / ``error_response`` written by ``dumps``.

- ``numbers``: exact JSON (``loads`` keeps decimals as text, ``dumps`` writes them
  bare), yuan/ratio/pric/cnt <-> integer units, refusing what does not fit;
- ``fields``: shared field types, unknown-field collection, error paths;
- ``envelope``: request/response envelopes, ``inf_refmsgid``, ``time17``, ``err_msg``;
- ``records``: decoded inputs in our vocabulary;
- ``inputs`` / ``fees``: one decoder per infno; ``fees`` also the 2301 result rows;
- ``outputs``: setlinfo/setldetail and 5206, and reading a settlement output back;
- ``statements``: 3201/3202 in and out; ``codes``: the national codes mapped.

docs/NHSA.md is the field-by-field reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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
from yibao.adapters.nhsa.exchange import EXCHANGE_DECODERS
from yibao.adapters.nhsa.fees import decode_2301, decode_2302, fee_results
from yibao.adapters.nhsa.fields import Decoded
from yibao.adapters.nhsa.inputs import DECODERS as _INPUT_DECODERS
from yibao.adapters.nhsa.numbers import JsonNumber, dumps, loads, ratio, yuan
from yibao.adapters.nhsa.outputs import (
    cumulative_output,
    read_settlement_output,
    settlement_output,
)
from yibao.adapters.nhsa.statements import (
    decode_3201,
    decode_3202,
    detail_result_rows,
    statement_output,
)
from yibao.adapters.nhsa.stay import STAY_DECODERS
from yibao.core.errors import InvalidRequest

__all__ = [
    "DECODERS",
    "Decoded",
    "JsonNumber",
    "RequestEnvelope",
    "ResponseEnvelope",
    "cumulative_output",
    "decode",
    "detail_result_rows",
    "dumps",
    "err_msg_of",
    "error_response",
    "fee_results",
    "inf_refmsgid",
    "loads",
    "parse_request",
    "parse_response",
    "ratio",
    "read_settlement_output",
    "settlement_output",
    "statement_output",
    "success_response",
    "time17",
    "yuan",
]

DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {
    **_INPUT_DECODERS,
    "2301": decode_2301,
    "2302": decode_2302,
    "3201": decode_3201,
    "3202": decode_3202,
    **EXCHANGE_DECODERS,
    **STAY_DECODERS,
}
"""infno -> input decoder, for every transaction the service implements."""


def decode(envelope: RequestEnvelope) -> Decoded[Any]:
    """The envelope's ``input`` decoded by its ``infno``; an infno we do not implement
    is an ``InvalidRequest`` on ``infno``."""
    decoder = DECODERS.get(envelope.infno)
    if decoder is None:
        raise InvalidRequest.of([("infno", f"交易 {envelope.infno} 不支持 (transaction "
                                  f"{envelope.infno} is not supported)")])  # fmt: skip
    return decoder(envelope.input)
