"""A settlement as a stored record and back: every field of the engine's ``Settlement``
(the facts its trace and ``setldetail`` are built from included), positional lists for
the tuples, so a stored settlement is explained and checked years later exactly as it
was computed (``yibao ledger check`` rebuilds them from here)."""

from __future__ import annotations

from typing import Any

from yibao.core.engine.model import Accumulators, Facts, LineResult, SetlInfo, Settlement

__all__ = ["RECORD_VERSION", "settlement_from_record", "settlement_record"]

RECORD_VERSION = 1


def _acc(a: Accumulators) -> list[int]:
    return [a.basic_entitled_fen, a.serious_base_fen, a.assistance_entitled_fen]


def settlement_record(s: Settlement) -> dict[str, Any]:
    """The settlement as JSON-ready data (ints, strings, bools, lists)."""
    return {
        "v": RECORD_VERSION,
        "pack_id": s.pack_id,
        "pack_sha256": s.pack_sha256,
        "encounter_id": s.encounter_id,
        "insuree_id": s.insuree_id,
        "covid": s.covid,
        "overlay_clause": s.overlay_clause,
        "ratio_bp": s.ratio_bp,
        "setlinfo": list(s.setlinfo),
        "lines": [list(ln) for ln in s.lines],
        "accumulators_before": _acc(s.accumulators_before),
        "accumulators_after": _acc(s.accumulators_after),
        "account_balance_before_fen": s.account_balance_before_fen,
        "account_balance_after_fen": s.account_balance_after_fen,
        "facts": list(s.facts),
    }


def settlement_from_record(d: dict[str, Any]) -> Settlement:
    """The engine's ``Settlement`` from ``settlement_record``'s data."""
    if d.get("v") != RECORD_VERSION:
        raise ValueError(f"settlement record version {d.get('v')!r} is not {RECORD_VERSION}")
    return Settlement(
        d["pack_id"],
        d["pack_sha256"],
        d["encounter_id"],
        d["insuree_id"],
        d["covid"],
        d["overlay_clause"],
        d["ratio_bp"],
        SetlInfo(*d["setlinfo"]),
        tuple(LineResult(*ln) for ln in d["lines"]),
        Accumulators(*d["accumulators_before"]),
        Accumulators(*d["accumulators_after"]),
        d["account_balance_before_fen"],
        d["account_balance_after_fen"],
        Facts(*d["facts"]),
    )
