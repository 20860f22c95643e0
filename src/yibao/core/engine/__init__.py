"""The settlement engine: pure functions from a snapshot to a settlement.

- ``model``: request and result records; ``parse``: JSON -> request, strictly;
- ``rules``: each SETTLEMENT.md step once, generic over ints and Polars expressions;
- ``settle``: the scalar engine; ``batch``: the vectorised engine (Polars, imported
  only when used);
- ``validate``, ``invariants``, ``funds``, ``serialize``.
"""

from yibao.core.engine.model import (
    Accumulators,
    Encounter,
    Insuree,
    Line,
    LineResult,
    Provider,
    SetlInfo,
    Settlement,
    SettleRequest,
    Trace,
)
from yibao.core.engine.parse import parse_request, request_from_mapping
from yibao.core.engine.serialize import settlement_to_dict
from yibao.core.engine.settle import settle

__all__ = [
    "Accumulators",
    "Encounter",
    "Insuree",
    "Line",
    "LineResult",
    "Provider",
    "SetlInfo",
    "SettleRequest",
    "Settlement",
    "Trace",
    "parse_request",
    "request_from_mapping",
    "settle",
    "settlement_to_dict",
]
