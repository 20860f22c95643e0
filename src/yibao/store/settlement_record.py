"""A settlement as the store keeps it: the ``record`` column holds every field of the
engine's ``Settlement`` (the facts its trace and ``setldetail`` are built from
included), positional lists for the tuples; the trace and the fund rows are rebuilt
from it when a row is read (``Stored``), the same as when it was settled
(DECISIONS 0084)."""

from __future__ import annotations

from typing import Any

from yibao.core.engine.model import Accumulators, Facts, LineResult, SetlInfo, Settlement

__all__ = [
    "RECORD_VERSION",
    "Stored",
    "acc_list",
    "settlement_from_record",
    "settlement_record",
    "trace_rows",
]

RECORD_VERSION = 1


def acc_list(a: Accumulators) -> list[int]:
    """Accumulators as stored: [basic, serious, assistance]."""
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
        "accumulators_before": acc_list(s.accumulators_before),
        "accumulators_after": acc_list(s.accumulators_after),
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


def trace_rows(s: Settlement) -> list[dict[str, Any]]:
    """The settlement's trace as JSON-ready rows (what the API shows)."""
    return [t._asdict() for t in s.trace]


class Stored:
    """A ``settlements`` row as read, with ``trace`` and ``setldetail`` rebuilt from its
    record (the columns are not stored: DECISIONS 0084); every other attribute is the
    row's."""

    __slots__ = ("_row", "_settlement")

    def __init__(self, row: Any) -> None:
        self._row = row
        self._settlement: Settlement | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)

    @property
    def settlement(self) -> Settlement:
        """The engine's ``Settlement`` of the record."""
        if self._settlement is None:
            self._settlement = settlement_from_record(self._row.record)
        return self._settlement

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Every amount with its step, inputs and clause, as at settlement."""
        return trace_rows(self.settlement)

    @property
    def setldetail(self) -> list[dict[str, Any]]:
        """One row per fund (基金分项), as at settlement."""
        return [r._asdict() for r in self.settlement.setldetail]
